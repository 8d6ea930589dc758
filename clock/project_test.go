// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"math"
	"testing"
	"time"
)

// TestOneSampleLeavesFrequency: a single sample says nothing about the slope. The fit once
// took the rounding residue of its time (about 1e-16 s) for a measurement and set the
// frequency to the 500 ppm limit until the second update.
func TestOneSampleLeavesFrequency(t *testing.T) {
	var el time.Duration
	m := NewModel(simStart, func() time.Duration { return el }, 0.01, 0)
	d := New(m, DefaultParams(), nil)
	el = 3*time.Second + 7*time.Millisecond
	if _, err := d.Process(-m.Error(), 1e-5, m.Now()); err != nil {
		t.Fatal(err)
	}
	if f := d.Vars().Frequency; math.Abs(f) > 1e-6 {
		t.Fatalf("frequency %g ppm after one sample, want 0", f)
	}
}

// TestProjectFollowsTheKernelPhase: while the kernel amortises a commanded offset, an old
// sample's offset is projected to what the clock shows now.
func TestProjectFollowsTheKernelPhase(t *testing.T) {
	var el time.Duration
	m := NewModel(simStart, func() time.Duration { return el }, 0.05, 0)
	d := New(m, DefaultParams(), nil)
	// Mid-second: the kernel's first chunk comes half a second later, the average wait.
	el = 1500 * time.Millisecond
	at := m.Now()
	off := -m.Error()
	if _, err := d.Process(off, 1e-5, at); err != nil {
		t.Fatal(err)
	}
	for _, after := range []time.Duration{10 * time.Second, 60 * time.Second, 300 * time.Second} {
		el = 1500*time.Millisecond + after
		got, want := d.Project(off, at, m.Now()), -m.Error()
		if math.Abs(got-want) > 50e-6 {
			t.Errorf("%v after the update: projected %.6f s, the clock is %.6f s off", after, got, want)
		}
	}
	if got := d.Project(off, at, at); got != off {
		t.Errorf("projection to its own time changed the offset: %g", got)
	}
}

// TestProcessAtPlacesOldSamples: the clock filter may hand on a stage several polls old.
// With ProcessAt at its own time the frequency estimate stays right; taken as measured
// now, the frequency corrected in between would bend it.
func TestProcessAtPlacesOldSamples(t *testing.T) {
	var el time.Duration
	const ppm = 50
	m := NewModel(simStart, func() time.Duration { return el }, 0.001, ppm)
	d := New(m, DefaultParams(), nil)
	type stage struct {
		at  time.Time
		off float64
	}
	var stages []stage
	for i := 1; i <= 40; i++ {
		el = time.Duration(i) * 64 * time.Second
		stages = append(stages, stage{m.Now(), -m.Error()})
		// Hand on a stage three polls old, as the least-delay stage can be.
		s := stages[max(len(stages)-4, 0)]
		if _, err := d.ProcessAt(s.off, 1e-5, s.at, m.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.Vars().Frequency; math.Abs(got+ppm) > 0.05 {
		t.Fatalf("frequency %.4f ppm, want %.1f ± 0.05", got, -float64(ppm))
	}
}
