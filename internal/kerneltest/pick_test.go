// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPickDaemons: GONTP_KERNEL_BENCH_DAEMONS picks the guests' daemons by their first word,
// a daemon named twice gets a second guest with its own kept directory, and an unknown name
// is refused with the name.
func TestPickDaemons(t *testing.T) {
	ds, err := pickDaemons("gontp,chrony,gontp,chrony")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, d := range ds {
		got = append(got, display(d, keepNames(ds)[i]))
	}
	want := []string{"gontp", "chrony 4.3", "gontp (gontp-2)", "chrony 4.3 (chrony-2)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("guests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"gontp", "chrony", "classic"}, keepNames(mustPick(t, ""))); diff != "" {
		t.Errorf("default guests (-want +got):\n%s", diff)
	}
	if _, err := pickDaemons("gontp,ntpsec"); err == nil || !strings.Contains(err.Error(), `"ntpsec"`) {
		t.Errorf(`pickDaemons("gontp,ntpsec") = %v, want an error naming "ntpsec"`, err)
	}
}

func mustPick(t *testing.T, list string) []daemonSpec {
	t.Helper()
	ds, err := pickDaemons(list)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
