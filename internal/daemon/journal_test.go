// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestStreamIsJournal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	own := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	for _, c := range []struct {
		env  string
		want bool
	}{
		{own, true},
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false}, // another stream (stderr redirected)
		{"", false}, // not under systemd
		{"garbage", false},
		{"1:x", false},
	} {
		if got := StreamIsJournal(f, c.env); got != c.want {
			t.Errorf("JOURNAL_STREAM=%q: %v, want %v", c.env, got, c.want)
		}
	}
}
