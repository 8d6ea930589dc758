// SPDX-License-Identifier: BSD-2-Clause

package keys

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

// TestKeygenReadable: the file ntp-keygen -M writes reads back as twenty trusted keys, ten
// MD5 and ten SHA1, in the layout classic's ntp-keygen uses.
func TestKeygenReadable(t *testing.T) {
	now := time.Date(2026, 12, 6, 13, 24, 32, 0, time.UTC)
	name := KeygenName("vm", now)
	if name != "ntpkey_MD5key_vm.4005552272" { // what classic ntp-keygen named its file at that second
		t.Fatalf("name %s", name)
	}
	var b bytes.Buffer
	if err := WriteKeygen(&b, name, now, rand.Reader); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if lines[0] != "# ntpkey_MD5key_vm.4005552272" || lines[1] != "# Sun Dec  6 13:24:32 2026" || lines[2] != "" ||
		!strings.HasPrefix(lines[3], " 1 MD5 ") || !strings.HasSuffix(lines[3], "  # MD5 key") ||
		!strings.HasPrefix(lines[13], "11 SHA1 ") || len(lines) != 24 {
		t.Fatalf("layout:\n%s", b.String())
	}
	s, errs := Parse(name, &b)
	if s == nil || len(errs) != 0 || s.Len() != 20 {
		t.Fatalf("read back: %v", errs)
	}
	for id := uint32(1); id <= 20; id++ {
		want := "MD5"
		if id > 10 {
			want = "SHA1"
		}
		if k := s.Key(id); k.Type != want || len(k.Secret) != 20 {
			t.Errorf("key %d: %s, %d octets", id, k.Type, len(k.Secret))
		}
	}
}
