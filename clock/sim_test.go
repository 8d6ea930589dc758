// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// world is a small numeric simulation of one host: true time, the simulated kernel clock
// (Model) with an oscillator error and wander, and offset measurements with network noise
// standing in for the servers, the clock filter and the combine step.
type world struct {
	t      time.Duration // true time since the start
	m      *Model
	d      *Discipline
	rng    *rand.Rand
	sigma  float64 // per-server offset noise from path jitter, s
	nsrv   int     // servers averaged by the combine step
	wander float64 // random-walk frequency wander, s/s per √s
	next   time.Duration
	burst  int     // iburst-like quick updates left
	fast   bool    // poll at Result.FastPoll while the discipline trains, as the engine does
	spike  float64 // added to the next measurement only, s
	steps  int
	log    func(string, ...any)
}

var simStart = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func newWorld(t *testing.T, offset, ppm, sigma float64, nsrv int, p Params) *world {
	w := &world{rng: rand.New(rand.NewPCG(1, 2)), sigma: sigma, nsrv: nsrv, burst: 6, log: t.Logf}
	w.m = NewModel(simStart, func() time.Duration { return w.t }, offset, ppm)
	w.d = New(w.m, p, nil)
	w.next = time.Second
	return w
}

// measure is the system offset the engine would hand over: true minus local, plus the
// path noise of nsrv servers averaged. Each server's error is half the difference of
// the two directions' queueing delays (exponential, mean sigma).
func (w *world) measure() float64 {
	n := 0.0
	for range w.nsrv {
		n += (w.rng.ExpFloat64() - w.rng.ExpFloat64()) * w.sigma / 2
	}
	return -w.m.Error() + n/float64(w.nsrv) + w.spike
}

// run advances true time to end in steps of dt, updating the discipline when due; up
// reports whether the network is up at a time; probe sees the true error every dt.
func (w *world) run(t *testing.T, end, dt time.Duration, up func(time.Duration) bool, probe func(time.Duration, float64)) {
	t.Helper()
	for w.t < end {
		w.t += dt
		if w.wander != 0 {
			w.m.SetNatural(w.m.Natural() + w.wander*math.Sqrt(dt.Seconds())*w.rng.NormFloat64())
		}
		if w.t >= w.next && (up == nil || up(w.t)) {
			r, err := w.d.Process(w.measure(), w.sigma/math.Sqrt(float64(w.nsrv)), w.m.Now())
			if err != nil {
				t.Fatalf("at %v: %v", w.t, err)
			}
			if r.Stepped {
				w.steps++
				w.burst = 6 // the engine resets the associations: a new iburst
			}
			switch {
			case w.burst > 0:
				w.burst--
				w.next = w.t + 2*time.Second
			case r.FastPoll > 0 && w.fast:
				w.next = w.t + time.Duration(1<<r.FastPoll)*time.Second
			default:
				w.next = w.t + time.Duration(1<<r.Poll)*time.Second
			}
			if w.spike != 0 {
				w.spike = 0
			}
		} else if w.t >= w.next {
			w.burst = 0
			w.next = w.t + 64*time.Second // polls that get no answer
		}
		if probe != nil {
			probe(w.t, w.m.Error())
		}
	}
}

// freqError is the residual frequency error of the disciplined clock, s/s.
func (w *world) freqError() float64 { return w.m.Natural() + w.d.led.freq }

func TestSimLAN(t *testing.T) {
	for _, kernel := range []bool{true, false} {
		name := "kernel"
		if !kernel {
			name = "daemon"
		}
		t.Run(name, func(t *testing.T) {
			p := DefaultParams()
			p.Kernel = kernel
			w := newWorld(t, 0.3, 50, 10e-6, 4, p)
			worst60 := 0.0
			var sum2 float64
			var n int
			freqChecked := false
			w.run(t, 25*time.Hour, time.Second, nil, func(at time.Duration, e float64) {
				if at >= 60*time.Second && at < time.Hour {
					worst60 = math.Max(worst60, math.Abs(e))
				}
				if at >= 30*time.Minute && !freqChecked {
					freqChecked = true
					if fe := w.freqError(); math.Abs(fe) > 0.1e-6 {
						t.Errorf("frequency error after 30 min %.3f ppm, want < 0.1", fe*1e6)
					} else {
						t.Logf("frequency error after 30 min: %.4f ppm", fe*1e6)
					}
				}
				if at >= time.Hour {
					sum2 += e * e
					n++
				}
			})
			rms := math.Sqrt(sum2 / float64(n))
			t.Logf("steps %d, worst |offset| 60 s..1 h %.1f µs, RMS hours 1-24 %.2f µs, final poll %d, state %v",
				w.steps, worst60*1e6, rms*1e6, w.d.Poll(), w.d.state)
			if w.steps != 1 {
				t.Errorf("%d steps, want 1 (0.3 s is above the step threshold)", w.steps)
			}
			if worst60 > 1e-3 {
				t.Errorf("worst offset after 60 s %.1f µs, want < 1 ms", worst60*1e6)
			}
			if rms > 30e-6 {
				t.Errorf("RMS offset over hours 1-24 %.2f µs, want < 30 µs", rms*1e6)
			}
		})
	}
}

func TestSimWAN(t *testing.T) {
	w := newWorld(t, 0.05, -20, 1e-3, 4, DefaultParams())
	w.wander = 1e-9
	var sum2 float64
	var n int
	w.run(t, 25*time.Hour, time.Second, nil, func(at time.Duration, e float64) {
		if at >= time.Hour {
			sum2 += e * e
			n++
		}
	})
	rms := math.Sqrt(sum2 / float64(n))
	t.Logf("WAN: RMS hours 1-24 %.1f µs, poll %d, steps %d", rms*1e6, w.d.Poll(), w.steps)
	if rms > 500e-6 {
		t.Errorf("RMS offset %.1f µs, want < 500 µs", rms*1e6)
	}
}

func TestSimOutage(t *testing.T) {
	w := newWorld(t, 0.01, 50, 10e-6, 4, DefaultParams())
	day := 24 * time.Hour
	up := func(at time.Duration) bool { return at%day < 30*time.Minute }
	worst := 0.0
	var prev float64
	w.run(t, 5*day, 10*time.Second, up, func(at time.Duration, e float64) {
		// The end of an outage: the last probe before the network returns.
		if at > day && at%day == 0 {
			worst = math.Max(worst, math.Abs(prev))
			t.Logf("day %d: offset at the end of the outage %.3f ms", at/day, prev*1e3)
		}
		prev = e
	})
	if worst > 10e-3 {
		t.Errorf("worst offset at the end of an outage %.3f ms, want < 10 ms", worst*1e3)
	}
}

func TestSimStepOnce(t *testing.T) {
	w := newWorld(t, 5, 20, 10e-6, 4, DefaultParams())
	w.run(t, 6*time.Hour, time.Second, nil, nil)
	if w.steps != 1 || w.m.Steps() != 1 {
		t.Errorf("%d steps (kernel saw %d), want exactly 1", w.steps, w.m.Steps())
	}
	if e := w.m.Error(); math.Abs(e) > 100e-6 {
		t.Errorf("offset after 6 h %.1f µs", e*1e6)
	}
}

func TestPanic(t *testing.T) {
	w := newWorld(t, 2000, 0, 10e-6, 1, DefaultParams())
	_, err := w.d.Process(-2000, 1e-5, w.m.Now())
	var pe *PanicError
	if !errors.Is(err, ErrPanic) || !errors.As(err, &pe) {
		t.Fatalf("2000 s without -g: err %v, want ErrPanic", err)
	}
	if got, want := err.Error(), "-2000 s; set clock manually within 1000 s."; got != want {
		t.Errorf("message %q, want classic's %q", got, want)
	}
	if e := w.m.Error(); e != 2000 {
		t.Errorf("clock changed to %v on panic", e)
	}

	p := DefaultParams()
	p.PanicGate = true
	w = newWorld(t, 2000, 0, 10e-6, 1, p)
	r, err := w.d.Process(-2000, 1e-5, w.m.Now())
	if err != nil || !r.Stepped {
		t.Fatalf("2000 s with -g: %+v %v, want a step", r, err)
	}
	if e := w.m.Error(); math.Abs(e) > 1e-6 {
		t.Errorf("after the step the clock is %v off", e)
	}
	// The gate closes after the first update below the step threshold.
	w.t += 2 * time.Second
	if _, err := w.d.Process(0, 1e-5, w.m.Now()); err != nil {
		t.Fatal(err)
	}
	w.t += 2 * time.Second
	if _, err := w.d.Process(3000, 1e-5, w.m.Now()); !errors.Is(err, ErrPanic) {
		t.Errorf("second big offset with -g: %v, want ErrPanic", err)
	}
}

// TestStepout checks classic's spike handling: in SYNC a big offset is ignored (SPIK) and
// the clock is stepped only when big offsets persist past the stepout after the last good
// update; a good offset in between returns to SYNC.
func TestStepout(t *testing.T) {
	w := newWorld(t, 0, 0, 10e-6, 4, DefaultParams())
	w.run(t, 20*time.Minute, time.Second, nil, nil)
	if w.d.state != SYNC {
		t.Fatalf("state %v after 20 min, want SYNC", w.d.state)
	}
	last := w.m.Now()
	w.t += 64 * time.Second
	r, _ := w.d.Process(0.2, 1e-5, w.m.Now())
	if !r.Ignored || w.d.state != SPIK || r.Event != "spike_detect" {
		t.Fatalf("first spike: %+v state %v", r, w.d.state)
	}
	w.t += 64 * time.Second
	r, _ = w.d.Process(-w.m.Error(), 1e-5, w.m.Now())
	if r.Ignored || w.d.state != SYNC {
		t.Fatalf("good sample after a spike: %+v state %v, want SYNC", r, w.d.state)
	}
	last = w.m.Now()
	for i := 1; ; i++ {
		w.t += 64 * time.Second
		now := w.m.Now()
		r, _ = w.d.Process(0.2, 1e-5, now)
		if r.Stepped {
			if mu := now.Sub(last); mu < 300*time.Second || mu > 364*time.Second {
				t.Errorf("stepped %v after the last good update, want the first update after 300 s", mu)
			}
			break
		}
		if !r.Ignored || i > 10 {
			t.Fatalf("update %d: %+v", i, r)
		}
	}
}

func TestSlewOnlyX(t *testing.T) {
	p := DefaultParams()
	p.StepFwd, p.StepBack = 600, 600
	w := newWorld(t, 5, 0, 10e-6, 4, p)
	if w.d.led.pll {
		t.Fatal("-x must turn the kernel loop off")
	}
	w.run(t, 2*time.Hour, time.Second, nil, nil)
	if w.steps != 0 {
		t.Errorf("%d steps with -x", w.steps)
	}
	if e := w.m.Error(); e > 4.99 || e < 0 {
		t.Errorf("after 2 h of slewing at 500 ppm the error is %v, want 5 s - 3.6 s", e)
	}
}

func TestOnce(t *testing.T) {
	p := DefaultParams()
	p.Once = true
	w := newWorld(t, -0.5, 0, 10e-6, 4, p)
	r, err := w.d.Process(0.5, 1e-5, w.m.Now())
	if err != nil || !r.Done || !r.Stepped || r.Message != "ntpd: time set +0.500000s" {
		t.Fatalf("%+v %v", r, err)
	}
	w = newWorld(t, -0.05, 0, 10e-6, 4, p)
	r, err = w.d.Process(0.05, 1e-5, w.m.Now())
	if err != nil || !r.Done || r.Stepped || r.Message != "ntpd: time slew +0.050000s" {
		t.Fatalf("%+v %v", r, err)
	}
	w.t += 200 * time.Second
	if e := w.m.Error(); math.Abs(e) > 1e-6 {
		t.Errorf("slew left %v", e)
	}
}

func TestDriftFileStartsInFSET(t *testing.T) {
	p := DefaultParams()
	f := -50.0
	p.Drift = &f
	w := newWorld(t, 0.001, 50, 10e-6, 4, p)
	// Classic's start-up clamp (freq_cnt) runs in FSET too: settling until an update
	// comes within CLOCK_FLOOR (0.5 ms).
	if w.d.state != FSET || !w.d.Settling() {
		t.Fatalf("state %v settling %v", w.d.state, w.d.Settling())
	}
	r, err := w.d.Process(-0.001, 1e-5, w.m.Now())
	if err != nil || !r.Synchronised || w.d.state != SYNC || !r.Settling {
		t.Fatalf("%+v %v state %v", r, err, w.d.state)
	}
	w.t += 16 * time.Second
	r, err = w.d.Process(-0.0002, 1e-5, w.m.Now())
	if err != nil || !r.Synchronised || r.Settling || w.d.Settling() {
		t.Fatalf("after an update within 0.5 ms: %+v %v", r, err)
	}
}

// TestClampEndsAfterStepout: without an update within CLOCK_FLOOR the start-up clamp ends
// once the stepout (300 s) has passed in SYNC, as classic's freq_cnt counts down.
func TestClampEndsAfterStepout(t *testing.T) {
	p := DefaultParams()
	f := 0.0
	p.Drift = &f
	w := newWorld(t, 0.001, 0, 10e-6, 4, p)
	for i := 0; i < 20; i++ {
		r, err := w.d.Process(0.002, 1e-5, w.m.Now())
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Duration(i) * 16 * time.Second; r.Settling != (elapsed < 300*time.Second) {
			t.Fatalf("update %d at %v: settling %v", i, elapsed, r.Settling)
		}
		w.t += 16 * time.Second
	}
}

// TestInterference: a frequency written behind the discipline's back is noticed and
// logged once, and no warning appears in normal operation.
func TestInterference(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	w := newWorld(t, 0.01, 10, 10e-6, 4, DefaultParams())
	w.d = New(w.m, DefaultParams(), log)
	w.run(t, 10*time.Minute, time.Second, nil, nil)
	if buf.Len() != 0 {
		t.Fatalf("warnings in normal operation: %s", buf.String())
	}
	tx := Timex{Modes: ModeFrequency, Freq: ScaledPPM(100e-6)}
	w.m.Adjtimex(&tx)
	w.run(t, 15*time.Minute, time.Second, nil, nil)
	if !strings.Contains(buf.String(), "another time daemon") {
		t.Errorf("interference not reported; log: %q", buf.String())
	}
}

func BenchmarkProcess(b *testing.B) {
	var e time.Duration
	m := NewModel(simStart, func() time.Duration { return e }, 0, 20)
	d := New(m, DefaultParams(), nil)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for b.Loop() {
		e += 64 * time.Second
		if _, err := d.Process(-m.Error()+rng.NormFloat64()*5e-6, 5e-6, m.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// driftFileWorld starts from a drift file of 0 ppm on a clock 50 ms off and +20 ppm,
// polled every 8 s between the kernel's second boundaries.
func driftFileWorld(t *testing.T) *world {
	p := DefaultParams()
	f := 0.0
	p.Drift = &f
	p.MinPoll, p.MaxPoll = 3, 3
	w := newWorld(t, 0.05, 20, 10e-6, 1, p)
	w.next = 900 * time.Millisecond
	return w
}

// TestDriftFileSlewAtShortPoll is the production test's set-up in numbers: a drift file
// 20 ppm wrong, a clock 50 ms off (below the step threshold, so the kernel PLL slews it
// with time constant 0, a quarter of the rest each second) and updates every 8 s that fall
// between the kernel's second boundaries. The estimator must not mistake the PLL's
// progress for frequency: once it did, by up to a chunk of the 50 ms, and the frequency ran
// to the 500 ppm bound.
func TestDriftFileSlewAtShortPoll(t *testing.T) {
	w := driftFileWorld(t)
	worst := 0.0
	w.run(t, 30*time.Minute, 100*time.Millisecond, nil, nil)
	// The run above is 30 minutes; watch the frequency along another 30.
	w.run(t, time.Hour, 100*time.Millisecond, nil, func(time.Duration, float64) {
		worst = math.Max(worst, math.Abs(w.d.Frequency()+20))
	})
	if w.steps != 0 {
		t.Errorf("%d steps, want none (50 ms is slewed)", w.steps)
	}
	if worst > 0.5 {
		t.Errorf("frequency strayed %.3f ppm from -20 ppm in the second half hour", worst)
	}
	if e := w.m.Error(); math.Abs(e) > 50e-6 {
		t.Errorf("offset after an hour %.1f µs", e*1e6)
	}
}

// TestDriftFileFrequencyEarly: the same start, watched over its first two minutes: the
// frequency heads for -20 ppm and never beyond ±60 ppm on the way.
func TestDriftFileFrequencyEarly(t *testing.T) {
	w := driftFileWorld(t)
	worst := 0.0
	w.run(t, 2*time.Minute, 100*time.Millisecond, nil, func(time.Duration, float64) {
		worst = math.Max(worst, math.Abs(w.d.Frequency()))
	})
	if worst > 60 {
		t.Errorf("frequency reached %.1f ppm in the first two minutes", worst)
	}
	if fr := w.d.Frequency(); math.Abs(fr+20) > 3 {
		t.Errorf("frequency after two minutes %.3f ppm, want -20 ± 3", fr)
	}
}

// TestTAIPushedToKernel: TAI-UTC from the leap file reaches the kernel (ADJ_TAI) with the
// kernel loop, at the first update and whenever it changes, never before the first update
// (`disable ntp`) and not with `disable kernel`, as classic.
func TestTAIPushedToKernel(t *testing.T) {
	for _, kernel := range []bool{true, false} {
		p := DefaultParams()
		p.Kernel = kernel
		w := newWorld(t, 0.001, 0, 10e-6, 4, p)
		if err := w.d.SetTAI(37); err != nil {
			t.Fatal(err)
		}
		var tx Timex
		w.m.Adjtimex(&tx)
		if tx.TAI != 0 {
			t.Fatalf("TAI %d written before the first update", tx.TAI)
		}
		if _, err := w.d.Process(-0.001, 1e-5, w.m.Now()); err != nil {
			t.Fatal(err)
		}
		want := int32(0)
		if kernel {
			want = 37
		}
		w.m.Adjtimex(&tx)
		if tx.TAI != want {
			t.Errorf("kernel %v: TAI %d after the first update, want %d", kernel, tx.TAI, want)
		}
		if err := w.d.SetTAI(38); err != nil {
			t.Fatal(err)
		}
		if kernel {
			want = 38
		}
		w.m.Adjtimex(&tx)
		if tx.TAI != want {
			t.Errorf("kernel %v: TAI %d after SetTAI(38), want %d", kernel, tx.TAI, want)
		}
	}
}
