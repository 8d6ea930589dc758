// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"math"
	"testing"

	"gontp/internal/uml"
	"gontp/internal/uml/plan"
)

// Issue 13's scenario: the guest starts 0.3 s ahead of the host with its tick raised to 10001
// (+100 ppm, which the ntpd family never touches: the daemon must find -100 ppm of frequency).
const (
	startOffset = 300 * 1e6 // ns
	startTick   = 10001
)

// convergeRun is how long the daemon runs in the convergence tests, s. Issue 13's lab figures
// put gontp below 1 ms after about 95 s; the bound is only "converged by the end".
const convergeRun = 240

// runConverge boots one guest that runs `ntpd -n -g` with conf for convergeRun seconds and
// returns its samples.
func runConverge(t *testing.T, extra ...string) []point {
	l := newLab(t, "")
	b := uml.Build(t)
	dir := t.TempDir()
	conf := write(t, dir, "ntp.conf", ntpdConf(l.server.Addr().String(), append([]string{"driftfile " + dir + "/ntp.drift"}, extra...)...))
	g := uml.Boot(t, l.net, uml.Config{Name: "gontp", Dir: dir, Timeout: secs(convergeRun + 90), Plan: plan.Plan{
		Offset: startOffset, Tick: startTick,
		Steps: []plan.Step{
			{Name: "ntpd", Argv: []string{b.NTPD, "-n", "-g", "-c", conf}, Background: true},
			{At: convergeRun, Stop: "ntpd"},
		},
	}})
	g.Wait()
	ps := points(g)
	if testing.Verbose() || t.Failed() {
		trace(t, ps, 10)
	}
	if len(ps) < convergeRun-10 {
		t.Fatalf("only %d samples in %d s", len(ps), convergeRun)
	}
	if e := ps[0].err; math.Abs(e-0.3) > 0.001 {
		t.Errorf("the guest started %+.6f s from the host, want +0.3 s (the plan's error did not take)", e)
	}
	end := window(ps, convergeRun-30, convergeRun)
	if m := maxAbs(end); m > 1e-3 {
		t.Errorf("in the last 30 s the guest clock was up to %.6f s from the host's; want it converged within 1 ms\n%s", m, g.ReadFile("ntpd.log"))
	}
	if steps := ps[len(ps)-1].s.Steps; steps != 1 {
		t.Errorf("the daemon stepped the clock %d times, want exactly once (the 0.3 s start error)", steps)
	}
	return ps
}

// TestConvergeKernel: kernel discipline (the default). The daemon must hand the phase to the
// kernel PLL (STA_PLL set) and find the oscillator's +100 ppm.
func TestConvergeKernel(t *testing.T) {
	t.Parallel()
	ps := runConverge(t)
	last := ps[len(ps)-1].s
	if last.Kernel.Status&staPLL == 0 {
		t.Errorf("kernel mode, but the kernel's status at the end is %#x (no STA_PLL)", last.Kernel.Status)
	}
	if r := rateError(last); math.Abs(r) > 20 {
		t.Errorf("rate error at the end %+.3f ppm: the daemon did not find the oscillator's +100 ppm", r)
	}
}

// TestConvergeNoKernel: `disable kernel`: the daemon slews with adjtime and never enables the
// kernel PLL.
func TestConvergeNoKernel(t *testing.T) {
	t.Parallel()
	ps := runConverge(t, "disable kernel")
	for _, p := range ps {
		if p.s.Kernel.Status&staPLL != 0 {
			t.Fatalf("disable kernel, but at t=%.1f s the kernel's status is %#x (STA_PLL)", p.mono, p.s.Kernel.Status)
		}
	}
}

// TestQuit: `ntpd -q -g` sets the clock once and exits; the guest's clock is then within 1 ms
// of the host's.
func TestQuit(t *testing.T) {
	t.Parallel()
	l := newLab(t, "")
	b := uml.Build(t)
	dir := t.TempDir()
	conf := write(t, dir, "ntp.conf", ntpdConf(l.server.Addr().String()))
	g := uml.Boot(t, l.net, uml.Config{Name: "gontp-q", Dir: dir, Plan: plan.Plan{
		Offset: startOffset,
		Steps: []plan.Step{
			{Name: "ntpd", Argv: []string{b.NTPD, "-q", "-g", "-c", conf}, Timeout: 60},
			{Sleep: 3},
		},
	}})
	g.Wait()
	var exit *plan.Call
	for _, c := range g.Calls() {
		if c.Name == "ntpd" {
			exit = &c
		}
	}
	log := g.ReadFile("ntpd.log")
	if exit == nil || exit.ExitCode != 0 || exit.Err != "" {
		t.Fatalf("ntpd -q did not exit cleanly: %+v\n%s", exit, log)
	}
	ps := points(g)
	after := window(ps, exit.Mono+0.5, exit.Mono+10)
	if len(after) == 0 {
		t.Fatalf("no samples after ntpd -q exited at %.1f s", exit.Mono)
	}
	if m := maxAbs(after); m > 1e-3 {
		t.Errorf("after ntpd -q the guest clock is %.6f s from the host's, want within 1 ms\n%s", m, log)
	}
	if steps := after[len(after)-1].s.Steps; steps != 1 {
		t.Errorf("ntpd -q set the clock %d times, want once\n%s", steps, log)
	}
}

// TestDriftFile: a drift file written by an earlier run (-100 ppm, exactly what tick 10001
// needs) is read at start-up and goes straight into the kernel: the frequency is right within
// seconds, with no frequency training, and the clock converges.
func TestDriftFile(t *testing.T) {
	t.Parallel()
	l := newLab(t, "")
	b := uml.Build(t)
	dir := t.TempDir()
	write(t, dir, "ntp.drift", "-100.000\n")
	conf := write(t, dir, "ntp.conf", ntpdConf(l.server.Addr().String(), "driftfile "+dir+"/ntp.drift"))
	const run = 150
	g := uml.Boot(t, l.net, uml.Config{Name: "gontp-drift", Dir: dir, Timeout: secs(run + 90), Plan: plan.Plan{
		Offset: startOffset, Tick: startTick,
		Steps: []plan.Step{
			{Name: "ntpd", Argv: []string{b.NTPD, "-n", "-g", "-c", conf}, Background: true},
			{At: run, Stop: "ntpd"},
		},
	}})
	g.Wait()
	ps := points(g)
	if testing.Verbose() {
		trace(t, ps, 5)
	}
	log := g.ReadFile("ntpd.log")
	// From the daemon's start the kernel runs at the drift file's frequency: written when
	// the daemon starts, as classic's LOOP_DRIFTINIT does, before the first update (the
	// iburst's fourth sample, about 7 s in; 3-5 s is before it), and not trained after it.
	for _, w := range [][2]float64{{3, 5}, {10, 15}} {
		early := window(ps, w[0], w[1])
		if len(early) == 0 {
			t.Fatalf("no samples %g-%g s after the start", w[0], w[1])
		}
		for _, p := range early {
			if r := rateError(p.s); math.Abs(r) > 1 {
				t.Fatalf("at t=%.1f s the guest clock's rate error is %+.3f ppm (kernel freq %+.3f ppm): the drift file's -100 ppm was not applied at start-up\n%s",
					p.mono, r, float64(p.s.Kernel.Freq)/65536, log)
			}
		}
	}
	if m := maxAbs(window(ps, run-30, run)); m > 1e-3 {
		t.Errorf("in the last 30 s the guest clock was up to %.6f s from the host's; want within 1 ms\n%s", m, log)
	}
}
