// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "t.csv")
	plot := filepath.Join(dir, "p.svg")
	if st := run([]string{"-trace", trace, "-plot", plot, "../../testdata/sim/iburst.scn"}); st != 0 {
		t.Fatalf("iburst.scn: exit status %d, want 0", st)
	}
	for _, f := range []string{trace, plot} {
		b, err := os.ReadFile(f)
		if err != nil || len(b) < 100 {
			t.Errorf("%s: %d bytes, %v", f, len(b), err)
		}
	}
	// A failing limit gives status 1, a broken scenario 2.
	bad := filepath.Join(dir, "fail.scn")
	if err := os.WriteFile(bad, []byte("duration 10m\nserver a iburst\nlimit first_syspeer < 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st := run([]string{bad}); st != 1 {
		t.Errorf("failing limit: exit status %d, want 1", st)
	}
	broken := filepath.Join(dir, "broken.scn")
	if err := os.WriteFile(broken, []byte("duration 10m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st := run([]string{broken}); st != 2 {
		t.Errorf("broken scenario: exit status %d, want 2", st)
	}
	if st := run(nil); st != 2 {
		t.Errorf("no arguments: exit status %d, want 2", st)
	}
	if st := run([]string{"-trace", trace, bad, broken}); st != 2 {
		t.Errorf("-trace with two scenarios: exit status %d, want 2", st)
	}
}

func TestHostFlag(t *testing.T) {
	if st := run([]string{"-host", "standin", "../../testdata/sim/iburst.scn"}); st != 0 {
		t.Errorf("-host standin: exit status %d, want 0", st)
	}
	if st := run([]string{"-host", "kernel", "../../testdata/sim/step.scn"}); st != 0 {
		t.Errorf("-host kernel: exit status %d, want 0", st)
	}
	if st := run([]string{"-host", "chrony", "../../testdata/sim/iburst.scn"}); st != 2 {
		t.Errorf("-host chrony: exit status %d, want 2", st)
	}
}
