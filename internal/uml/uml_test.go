// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package uml

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"gontp/internal/uml/plan"
	"gontp/internal/uml/probe"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// TestAgentRefusesOutsideUML: the guest's init sets clocks, so anywhere but as PID 1 of a
// User-Mode Linux kernel it must refuse before touching anything.
func TestAgentRefusesOutsideUML(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the agent")
	}
	b := Build(t)
	out, err := exec.Command(b.Agent).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("agent outside a guest: %v, want exit status 2; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "refusing") {
		t.Errorf("agent outside a guest printed %q, want a refusal", out)
	}
}

// TestHostClockInterpolates: counter values between two readings map linearly, beyond the last
// one at the measured rate.
func TestHostClockInterpolates(t *testing.T) {
	h := &HostClock{recs: []probe.Reading{{TSC: 1000, Ns: 5000}, {TSC: 3000, Ns: 6000}, {TSC: 5000, Ns: 7000}}}
	for _, c := range []struct {
		tsc  uint64
		want int64
	}{{1000, 5000}, {2000, 5500}, {4000, 6500}, {7000, 8000}, {0, 4500}} {
		if got := h.Ns(c.tsc); got != c.want {
			t.Errorf("Ns(%d) = %d, want %d", c.tsc, got, c.want)
		}
	}
	if e := h.Error(plan.Sample{TSC: 2000, Ns: 5500 + 300}); e != 300e-9 {
		t.Errorf("Error = %g, want 300 ns", e)
	}
	if g := h.GHz(); g != 2 {
		t.Errorf("GHz = %g, want 2", g)
	}
}

// TestProbe: a reading is this machine's clock, bracketed by the counter.
func TestProbe(t *testing.T) {
	before := time.Now().UnixNano()
	r := probe.Read(9)
	after := time.Now().UnixNano()
	if r.Ns < before-1e6 || r.Ns > after+1e6 || r.Width == 0 || r.TSC == 0 {
		t.Errorf("probe.Read = %+v, taken between %d and %d", r, before, after)
	}
	if b := probe.Rdtsc(); b <= r.TSC {
		t.Errorf("the counter went back: %d after %d", b, r.TSC)
	}
}
