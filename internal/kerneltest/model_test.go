// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"gontp/clock"
	"gontp/internal/uml"
	"gontp/internal/uml/plan"
)

// Bounds of TestModelMatchesKernel: how far clock.Model may be from the real kernel (Linux 6.1
// in a UML guest) running the same adjtimex calls at the same instants. README's "Real-kernel
// tests" section repeats them.
const (
	// boundPhase: the clock's error against true time. The guest's reading is a bracket of
	// about 10-20 µs (one ptrace-intercepted system call), the host maps the counter to true
	// time to well under 1 µs; the kernel applies each second's PLL chunk through its
	// multiplier adjustments at tick and NO_HZ wake-up times instead of uniformly.
	boundPhase = 50e-6 // s
	// boundFreq: the frequency correction. The kernel's is integer arithmetic in 2^-16 ppm
	// with 2^-32 ns fractions; the model's is float64.
	boundFreq = 0.001 // ppm
	// boundOffsetAbs plus one second's PLL chunk: the PLL offset still to apply. The kernel
	// takes a whole second's chunk out of time_offset when the second starts; the model's
	// read-back still counts the part of the current chunk not yet applied (on purpose: see
	// clock.Model).
	boundOffsetAbs = 2e-6 // s
	// edge: samples this close to a second boundary of the guest's clock are not compared
	// for state and status (the model starts its seconds on true time, the kernel on the
	// clock's own reading; the two differ by the clock's error, kept under 30 ms here).
	edge = 0.06 // s
)

// modelSequence is the scripted adjtimex sequence (times in seconds from the plan's start),
// chosen to cover each piece of the kernel's NTP code the discipline and the simulator use.
// midnightStep is the ADJ_SETOFFSET that brings the clock to about 23:59:48.
func modelSequence(midnightStep int64) []plan.Step {
	const ppm = 65536
	at := func(t float64, tx plan.Timex) plan.Step { return plan.Step{At: t, Adjtimex: &tx} }
	const (
		adjOffset    = 0x0001
		adjFrequency = 0x0002
		adjMaxError  = 0x0004
		adjEstError  = 0x0008
		adjStatus    = 0x0010
		adjTimeConst = 0x0020
		adjSetOffset = 0x0100
		adjMicro     = 0x1000
		adjNano      = 0x2000
		adjSingle    = 0x8001
	)
	return []plan.Step{
		// The tick is 10001 (+100 ppm): cancel it with the frequency, so that the clock's
		// error (and the model's second boundaries' distance from the kernel's) stays small.
		at(1.5, plan.Timex{Modes: adjFrequency, Freq: -100 * ppm}),
		// PLL on, time constant 0 (micro mode: the kernel adds 4), synchronised.
		at(2.5, plan.Timex{Modes: adjStatus | adjMaxError | adjEstError | adjTimeConst, Status: staPLL, Constant: 0}),
		// +20 ms to the PLL: amortised at 1/64 a second.
		at(3.5, plan.Timex{Modes: adjOffset, Offset: 20000}),
		// A step to about 23:59:48 (whole seconds), then arm a leap second.
		at(5.5, plan.Timex{Modes: adjSetOffset, SetOffset: midnightStep}),
		at(6.5, plan.Timex{Modes: adjStatus, Status: staPLL | staIns}),
		// Well after midnight, disarm: TIME_WAIT ends.
		at(40.5, plan.Timex{Modes: adjStatus, Status: staPLL}),
		// A frequency change and an adjtime(2)-style single-shot slew of 3 ms at 500 ppm.
		at(60.5, plan.Timex{Modes: adjFrequency, Freq: -105 * ppm}),
		at(70.5, plan.Timex{Modes: adjSingle, Offset: 3000}),
		// FLL: an offset 259 s after the last one (at least MINSEC = 256): the FLL's term
		// acts, STA_MODE is set, and the PLL's interval is clamped to 2^(2+1+4) = 128 s.
		at(262.5, plan.Timex{Modes: adjStatus | adjOffset, Status: staPLL | staFLL, Offset: -8000}),
		// Nanosecond mode, time constant 3 (not offset by 4 in nano mode).
		at(264.5, plan.Timex{Modes: adjNano | adjOffset | adjTimeConst, Offset: 4000000, Constant: 3}),
		// Back to microseconds, FLL off, a negative offset (whose read-back in micro mode is
		// the kernel's (u32) quirk, see kernelOffset).
		at(284.5, plan.Timex{Modes: adjMicro | adjStatus, Status: staPLL}),
		at(290.5, plan.Timex{Modes: adjOffset, Offset: -3000}),
		{At: 300},
	}
}

// kernelOffset decodes a sample's PLL offset to seconds. In microsecond mode Linux reports
// (u32)offset_ns / 1000 (kernel/time/ntp.c __do_adjtimex), so a negative offset reads as about
// 4294967 µs minus its size; undo that.
func kernelOffset(k plan.Kernel) float64 {
	ns := k.Offset // the agent already multiplied µs by 1000
	if k.Status&staNano == 0 && ns >= 1<<31 {
		ns -= 1 << 32
	}
	return float64(ns) * 1e-9
}

// TestModelMatchesKernel runs modelSequence in a guest and on clock.Model at the same true
// instants and compares the two trajectories: the clock's error, the frequency, the PLL offset
// still to apply, the status word and the leap state (TIME_INS, TIME_OOP during the inserted
// second, TIME_WAIT with STA_INS kept until cleared, TIME_OK).
func TestModelMatchesKernel(t *testing.T) {
	t.Parallel()
	uml.Require(t)
	now := time.Now().UTC()
	// The guest's clock equals the host's; the step runs about 5.5 s after the plan starts,
	// which is a few seconds after boot.
	midnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	step := midnight.Add(-12 * time.Second).Sub(now.Add(8 * time.Second)).Round(time.Second)
	seq := modelSequence(step.Nanoseconds())
	g := uml.Boot(t, nil, uml.Config{Name: "model", Timeout: 7 * time.Minute, Plan: plan.Plan{
		Tick: 10001, SampleMs: 250, Steps: seq,
	}})
	g.Wait()
	samples, calls := g.Samples(), g.Calls()
	if len(calls) != len(seq)-1 {
		t.Fatalf("%d adjtimex calls recorded, want %d", len(calls), len(seq)-1)
	}
	for _, c := range calls {
		if c.Err != "" {
			t.Fatalf("step %d: adjtimex %+v: %s", c.Step, *c.In, c.Err)
		}
	}
	h := uml.Host()

	// The model starts at the first sample: same error, +100 ppm oscillator (tick 10001), its
	// seconds starting where the guest clock's do.
	s0 := samples[0]
	h0 := time.Unix(0, h.Ns(s0.TSC))
	err0 := h.Error(s0)
	frac := float64(s0.Ns%1e9) / 1e9
	origin := h0.Add(-secs(frac))
	var cur time.Duration
	m := clock.NewModel(origin, func() time.Duration { return cur }, err0-100e-6*frac, 100)
	// It starts as the kernel does after boot (maxerror 16 s, STA_UNSYNC).

	type event struct {
		host time.Time
		s    *plan.Sample
		c    *plan.Call
	}
	var evs []event
	for i := range samples {
		evs = append(evs, event{host: time.Unix(0, h.Ns(samples[i].TSC)), s: &samples[i]})
	}
	for i := range calls {
		mid := calls[i].TSC0 + (calls[i].TSC1-calls[i].TSC0)/2
		evs = append(evs, event{host: time.Unix(0, h.Ns(mid)), c: &calls[i]})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].host.Before(evs[j].host) })

	var worstPhase, worstFreq, worstOff float64
	var worstPhaseAt, worstFreqAt, worstOffAt float64
	var states []string
	lastState := -1
	mismatches := 0
	var log strings.Builder
	for _, ev := range evs {
		cur = ev.host.Sub(origin)
		if ev.c != nil {
			in := ev.c.In
			tx := clock.Timex{Modes: in.Modes, Offset: in.Offset, Freq: in.Freq, Status: in.Status,
				Constant: in.Constant, SetOffset: time.Duration(in.SetOffset)}
			if _, err := m.Adjtimex(&tx); err != nil {
				t.Fatalf("model: step %d: %v", ev.c.Step, err)
			}
			fmt.Fprintf(&log, "  t=%7.3f call %+v\n", ev.c.Mono, *in)
			continue
		}
		s := ev.s
		var rd clock.Timex
		mstate, _ := m.Adjtimex(&rd)
		kerr := h.Error(*s)
		merr := m.Error()
		if d := math.Abs(kerr - merr); d > worstPhase {
			worstPhase, worstPhaseAt = d, s.Mono
		}
		if d := math.Abs(float64(s.Kernel.Freq-rd.Freq)) / 65536; d > worstFreq {
			worstFreq, worstFreqAt = d, s.Mono
		}
		moff := float64(rd.Offset) * 1e-6
		if rd.Status&clock.StaNano != 0 {
			moff = float64(rd.Offset) * 1e-9
		}
		koff := kernelOffset(s.Kernel)
		chunk := math.Abs(koff) / math.Ldexp(1, 2+int(s.Kernel.Constant))
		if d := math.Abs(koff-moff) - chunk; d > worstOff {
			worstOff, worstOffAt = d, s.Mono
		}
		if f := float64(s.Ns%1e9) / 1e9; f > edge && f < 1-edge {
			const mask = staPLL | staFLL | staIns | staUnsync | staNano | staMode
			if s.Kernel.State != mstate || s.Kernel.Status&mask != rd.Status&mask {
				mismatches++
				if mismatches <= 10 {
					t.Errorf("t=%.2f s (guest %s): kernel state %d status %#x, model state %d status %#x",
						s.Mono, time.Unix(0, s.Ns).UTC().Format("15:04:05.000"), s.Kernel.State, s.Kernel.Status, mstate, rd.Status)
				}
			}
		}
		if s.Kernel.State != lastState {
			states = append(states, fmt.Sprintf("%d@%s", s.Kernel.State, time.Unix(0, s.Ns).UTC().Format("15:04:05.00")))
			lastState = s.Kernel.State
		}
		if int(s.Mono*4)%20 == 0 {
			fmt.Fprintf(&log, "  t=%7.3f kernel err %+.6f freq %+9.4f off %+.6f st %d %#x | model err %+.6f freq %+9.4f off %+.6f st %d %#x\n",
				s.Mono, kerr, float64(s.Kernel.Freq)/65536, koff, s.Kernel.State, s.Kernel.Status,
				merr, float64(rd.Freq)/65536, moff, mstate, rd.Status)
		}
	}
	t.Logf("kernel states (state@guest time): %s", strings.Join(states, " "))
	t.Logf("model against kernel: phase %.1f µs (at t=%.1f s, bound %.0f µs), frequency %.5f ppm (at t=%.1f s, bound %.3f ppm), PLL offset %.1f µs beyond one chunk (at t=%.1f s, bound %.0f µs)",
		worstPhase*1e6, worstPhaseAt, boundPhase*1e6, worstFreq, worstFreqAt, boundFreq, worstOff*1e6, worstOffAt, boundOffsetAbs*1e6)
	if testing.Verbose() || worstPhase > boundPhase || worstFreq > boundFreq || worstOff > boundOffsetAbs {
		t.Logf("trajectory:\n%s", log.String())
	}
	if worstPhase > boundPhase {
		t.Errorf("the model's clock error is %.1f µs from the kernel's at t=%.1f s, bound %.0f µs", worstPhase*1e6, worstPhaseAt, boundPhase*1e6)
	}
	if worstFreq > boundFreq {
		t.Errorf("the model's frequency is %.5f ppm from the kernel's at t=%.1f s, bound %.3f ppm", worstFreq, worstFreqAt, boundFreq)
	}
	if worstOff > boundOffsetAbs {
		t.Errorf("the model's PLL offset is %.1f µs beyond one chunk from the kernel's at t=%.1f s, bound %.0f µs", worstOff*1e6, worstOffAt, boundOffsetAbs*1e6)
	}
	want := []int{timeIns, timeOOP, timeWait, timeOK}
	if !subsequence(states, want) {
		t.Errorf("kernel leap states %v, want TIME_INS, TIME_OOP, TIME_WAIT, TIME_OK in that order", states)
	}
}

// subsequence reports whether the states (as "N@time") contain want in order.
func subsequence(states []string, want []int) bool {
	i := 0
	for _, s := range states {
		if i < len(want) && strings.HasPrefix(s, fmt.Sprintf("%d@", want[i])) {
			i++
		}
	}
	return i == len(want)
}
