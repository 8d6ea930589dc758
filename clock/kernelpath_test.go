// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

// kernelStatus reads the model's status word and state without changing anything.
func kernelStatus(t *testing.T, m *Model) (Timex, int) {
	t.Helper()
	var tx Timex
	st, err := m.Adjtimex(&tx)
	if err != nil {
		t.Fatal(err)
	}
	return tx, st
}

// leapWorld is a discipline in kernel mode on a model clock whose true time starts at
// start, already synchronised (one update).
func leapWorld(t *testing.T, start time.Time, log *slog.Logger) (*Discipline, *Model, *time.Duration) {
	t.Helper()
	el := new(time.Duration)
	m := NewModel(start, func() time.Duration { return *el }, 0, 0)
	d := New(m, DefaultParams(), log)
	if _, err := d.Process(0, 1e-5, m.Now()); err != nil {
		t.Fatal(err)
	}
	return d, m, el
}

// TestLeapBitsKeptInEveryStatusWrite: once armed, STA_INS stays in the kernel through every
// later update of the kernel loop (the loop's status word used to replace the leap bits
// with STA_PLL|STA_FREQHOLD, so the kernel never inserted the second), and the kernel
// inserts it at midnight.
func TestLeapBitsKeptInEveryStatusWrite(t *testing.T) {
	start := time.Date(2026, 6, 30, 20, 0, 0, 0, time.UTC)
	d, m, el := leapWorld(t, start, nil)
	s, err := d.Leap(m.Now(), true, false)
	if err != nil || !s.Armed || s.LeapIndicator() != 1 {
		t.Fatalf("vote on the last day: %+v %v, want armed, indicator 1", s, err)
	}
	for i := 0; i < 10; i++ {
		*el += 64 * time.Second
		if _, err := d.Process(-m.Error(), 1e-5, m.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Leap(m.Now(), true, false); err != nil {
			t.Fatal(err)
		}
		if tx, st := kernelStatus(t, m); tx.Status&StaIns == 0 || tx.Status&StaPLL == 0 || st != TimeIns {
			t.Fatalf("update %d: status %#x state %d, want STA_PLL|STA_INS and TIME_INS", i, tx.Status, st)
		}
	}
	// Past midnight the kernel has inserted the second: the clock reads one second less
	// than true UTC until the daemon steps... no: until UTC itself has the second too.
	before := m.Error()
	*el = 4*time.Hour + 10*time.Second
	if got := m.Error() - before; math.Abs(got+1) > 1e-3 {
		t.Fatalf("after midnight the clock moved %+.6f s against true time, want -1 (a second inserted)", got)
	}
	// After the leap nothing is armed any more: the next status write clears STA_INS and
	// the kernel returns to TIME_OK.
	if _, err := d.Process(-m.Error()-1, 1e-5, m.Now()); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.Leap(m.Now(), false, false); s.Armed || s.Scheduled {
		t.Fatalf("after the leap: %+v", s)
	}
	*el += 2 * time.Second
	if tx, st := kernelStatus(t, m); tx.Status&(StaIns|StaDel) != 0 || st != TimeOK {
		t.Errorf("after the leap: status %#x state %d, want no leap bits and TIME_OK", tx.Status, st)
	}
}

// TestLeapVoteScheduledForMonthEnd: servers announcing on 10 June schedule the leap for the
// end of June; the kernel is armed and the indicator served only on 30 June (classic's
// leapsec_add_dyn and LSPROX_ANNOUNCE), never the night of 10 June.
func TestLeapVoteScheduledForMonthEnd(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	d, m, el := leapWorld(t, start, nil)
	s, err := d.Leap(m.Now(), true, false)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	if !s.Scheduled || !s.Insert || s.FromFile || !s.At.Equal(want) || s.Armed || s.LeapIndicator() != 0 {
		t.Fatalf("vote on 10 June: %+v, want scheduled for %v, not armed, indicator 0", s, want)
	}
	if tx, _ := kernelStatus(t, m); tx.Status&(StaIns|StaDel) != 0 {
		t.Fatalf("kernel armed on 10 June: status %#x", tx.Status)
	}
	// Through the night of 10 June nothing happens.
	*el = 13 * time.Hour
	if e := m.Error(); math.Abs(e) > 1e-3 {
		t.Fatalf("the clock leapt on 10 June: error %v", e)
	}
	// 30 June, 01:00: the last day.
	*el = 19*24*time.Hour + 13*time.Hour
	if _, err := d.Process(-m.Error(), 1e-5, m.Now()); err != nil {
		t.Fatal(err)
	}
	s, err = d.Leap(m.Now(), true, false)
	if err != nil || !s.Armed || s.LeapIndicator() != 1 {
		t.Fatalf("on 30 June: %+v %v, want armed", s, err)
	}
	*el += 2 * time.Second // the kernel enters TIME_INS at its next second
	if tx, st := kernelStatus(t, m); tx.Status&StaIns == 0 || st != TimeIns {
		t.Fatalf("on 30 June: status %#x state %d, want STA_INS, TIME_INS", tx.Status, st)
	}
}

// TestLeapVoteWithdrawn: when the majority stops announcing, a leap the vote armed is
// disarmed in the kernel and no longer served.
func TestLeapVoteWithdrawn(t *testing.T) {
	start := time.Date(2026, 12, 31, 6, 0, 0, 0, time.UTC)
	d, m, el := leapWorld(t, start, nil)
	if s, _ := d.Leap(m.Now(), false, true); !s.Armed || s.LeapIndicator() != 2 {
		t.Fatalf("deletion vote on the last day: %+v", s)
	}
	*el += 2 * time.Second
	if tx, st := kernelStatus(t, m); tx.Status&StaDel == 0 || st != TimeDel {
		t.Fatalf("status %#x state %d, want STA_DEL, TIME_DEL", tx.Status, st)
	}
	*el += time.Hour
	s, err := d.Leap(m.Now(), false, false)
	if err != nil || s.Armed || s.Scheduled || s.LeapIndicator() != 0 {
		t.Fatalf("vote withdrawn: %+v %v", s, err)
	}
	*el += 2 * time.Second // the kernel leaves TIME_DEL at its next second
	if tx, st := kernelStatus(t, m); tx.Status&(StaIns|StaDel) != 0 || st != TimeOK {
		t.Fatalf("after withdrawal: status %#x state %d, want no leap bits, TIME_OK", tx.Status, st)
	}
	// Nothing happens at midnight.
	*el = 19 * time.Hour
	if e := m.Error(); math.Abs(e) > 1e-3 {
		t.Errorf("the clock leapt after the vote was withdrawn: error %v", e)
	}
}

// table is a LeapTable with one leap second.
type table struct {
	at  time.Time
	ins bool
}

func (tb table) TAI(now time.Time) int {
	if now.Before(tb.at) {
		return 37
	}
	if tb.ins {
		return 38
	}
	return 36
}

func (tb table) NextLeap(now time.Time) (time.Time, bool, bool) {
	return tb.at, tb.ins, now.Before(tb.at)
}

// TestLeapFileWinsOverVote: the leap file's entry is armed on its last day whatever the
// servers say, and TAI-UTC follows the file into the kernel.
func TestLeapFileWinsOverVote(t *testing.T) {
	start := time.Date(2026, 12, 31, 6, 0, 0, 0, time.UTC)
	d, m, _ := leapWorld(t, start, nil)
	if err := d.SetLeapTable(table{at: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ins: true}, m.Now()); err != nil {
		t.Fatal(err)
	}
	s, err := d.Leap(m.Now(), false, true)
	if err != nil || !s.Armed || !s.Insert || !s.FromFile {
		t.Fatalf("file insertion against a deletion vote: %+v %v", s, err)
	}
	if tx, _ := kernelStatus(t, m); tx.Status&StaIns == 0 || tx.TAI != 37 {
		t.Fatalf("status %#x TAI %d, want STA_INS and 37", tx.Status, tx.TAI)
	}
}

// TestStepResetsClockJitter: after a step classic resets clock_jitter to the precision and
// last_offset to 0 (rstclock), so the first update after a 0.5 s step does not read as
// hundreds of milliseconds of jitter (it used to: 177 ms, still 19.5 ms two hours later,
// widening the poll gate).
func TestStepResetsClockJitter(t *testing.T) {
	w := newWorld(t, -0.5, 0, 10e-6, 4, DefaultParams())
	r, err := w.d.Process(0.5, 1e-5, w.m.Now())
	if err != nil || !r.Stepped {
		t.Fatalf("%+v %v, want a step", r, err)
	}
	if v := w.d.Vars(); v.Offset != 0 || v.ClkJitter > 1e-5 {
		t.Fatalf("after the step: offset %v clk_jitter %v, want 0 and the precision", v.Offset, v.ClkJitter)
	}
	w.t += 2 * time.Second
	if _, err := w.d.Process(-w.m.Error(), 1e-5, w.m.Now()); err != nil {
		t.Fatal(err)
	}
	if j := w.d.Vars().ClkJitter; j > 1e-3 {
		t.Errorf("clk_jitter %v s after the first update following the step, want well under 1 ms", j)
	}
}

// TestPanicGateClearedAfterStep: -g lets the first update exceed the panic threshold and
// is cleared by it even when it steps (classic clears allow_panic right after the check);
// a second huge offset then stops the daemon.
func TestPanicGateClearedAfterStep(t *testing.T) {
	p := DefaultParams()
	p.PanicGate = true
	w := newWorld(t, 2000, 0, 10e-6, 1, p)
	if r, err := w.d.Process(-2000, 1e-5, w.m.Now()); err != nil || !r.Stepped {
		t.Fatalf("2000 s with -g: %+v %v, want a step", r, err)
	}
	w.t += 2 * time.Second
	if _, err := w.d.Process(3000, 1e-5, w.m.Now()); !errors.Is(err, ErrPanic) {
		t.Errorf("3000 s right after the -g step: %v, want ErrPanic", err)
	}
}

// TestKernelMaxErrorFromRootDistance: the kernel's maximum error is rootdelay/2 + rootdisp
// and its estimated error clock_jitter, as classic's local_clock sets them.
func TestKernelMaxErrorFromRootDistance(t *testing.T) {
	w := newWorld(t, 0.002, 0, 10e-6, 4, DefaultParams())
	w.d.SetRootDistance(0.010, 0.0025)
	if _, err := w.d.Process(-0.002, 1e-5, w.m.Now()); err != nil {
		t.Fatal(err)
	}
	tx, _ := kernelStatus(t, w.m)
	if tx.MaxError < 7500 || tx.MaxError > 7501 {
		t.Errorf("maxerror %d µs, want 7500 (10 ms / 2 + 2.5 ms)", tx.MaxError)
	}
	if want := int64(w.d.Vars().ClkJitter * 1e6); tx.EstError != want {
		t.Errorf("esterror %d µs, want clk_jitter %d µs", tx.EstError, want)
	}
}

// failing is a kernel that refuses every changing call while fail is set, as Linux does
// without CAP_SYS_TIME (EPERM) or with a bad argument (EINVAL).
type failing struct {
	*Model
	fail  error
	calls int
}

func (f *failing) Adjtimex(tx *Timex) (int, error) {
	if f.fail != nil && tx.Modes != 0 && tx.Modes != ModeOffsetSSRead {
		f.calls++
		return 0, f.fail
	}
	return f.Model.Adjtimex(tx)
}

// TestAdjtimexErrorKeepsState: a refused adjtimex call is reported with the call, and the
// discipline's state (estimator, ledger, policy) is as it was before the update, so the
// next update after the kernel accepts again starts from a consistent state.
func TestAdjtimexErrorKeepsState(t *testing.T) {
	for _, e := range []error{errors.New("operation not permitted"), errors.New("invalid argument")} {
		w := newWorld(t, 0.01, 20, 10e-6, 4, DefaultParams())
		k := &failing{Model: w.m}
		w.d = New(k, DefaultParams(), nil)
		w.run(t, 5*time.Minute, time.Second, nil, nil)
		before := w.d.Vars()
		nest, pend := w.d.est.n(), w.d.led.pending
		k.fail = e
		w.t += 64 * time.Second
		_, err := w.d.Process(-w.m.Error(), 1e-5, w.m.Now())
		if err == nil || !errors.Is(err, e) || !strings.Contains(err.Error(), "adjtimex(") {
			t.Fatalf("refused update: err %v, want the call named and %v wrapped", err, e)
		}
		if after := w.d.Vars(); after != before || w.d.est.n() != nest || w.d.led.pending != pend {
			t.Errorf("%v: state changed by a refused update: %+v -> %+v", e, before, after)
		}
		k.fail = nil
		w.run(t, w.t+30*time.Minute, time.Second, nil, nil)
		if e := w.m.Error(); math.Abs(e) > 100e-6 {
			t.Errorf("after the kernel accepts again: error %v", e)
		}
	}
}

// TestInterferenceStatus: another program turning the kernel PLL off (or arming a leap) is
// reported, once, naming what changed; the discipline writes its own state again.
func TestInterferenceStatus(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	w := newWorld(t, 0.01, 10, 10e-6, 4, DefaultParams())
	w.d = New(w.m, DefaultParams(), log)
	w.run(t, 10*time.Minute, time.Second, nil, nil)
	if buf.Len() != 0 {
		t.Fatalf("warnings in normal operation: %s", buf.String())
	}
	tx := Timex{Modes: ModeStatus, Status: StaIns}
	w.m.Adjtimex(&tx)
	w.run(t, 20*time.Minute, time.Second, nil, nil)
	if n := strings.Count(buf.String(), "behind gontp's back (status"); n != 1 {
		t.Errorf("interference reported %d times, want once; log: %q", n, buf.String())
	}
	if tx, _ := kernelStatus(t, w.m); tx.Status&StaPLL == 0 || tx.Status&StaIns != 0 {
		t.Errorf("status %#x: the discipline did not restore its own", tx.Status)
	}
}

// TestLeapBitsWithoutKernelLoop: with `disable kernel` the loop slews with adjtime(2), and
// the leap bits still go to the kernel, which inserts the second whatever the PLL's state.
func TestLeapBitsWithoutKernelLoop(t *testing.T) {
	el := new(time.Duration)
	start := time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC)
	m := NewModel(start, func() time.Duration { return *el }, 0, 0)
	p := DefaultParams()
	p.Kernel = false
	d := New(m, p, nil)
	if _, err := d.Process(0, 1e-5, m.Now()); err != nil {
		t.Fatal(err)
	}
	if s, err := d.Leap(m.Now(), true, false); err != nil || !s.Armed {
		t.Fatalf("%+v %v", s, err)
	}
	for i := 0; i < 3; i++ {
		*el += 64 * time.Second
		if _, err := d.Process(-m.Error(), 1e-5, m.Now()); err != nil {
			t.Fatal(err)
		}
		if tx, _ := kernelStatus(t, m); tx.Status&StaIns == 0 || tx.Status&StaPLL != 0 {
			t.Fatalf("update %d: status %#x, want STA_INS without STA_PLL", i, tx.Status)
		}
	}
}

// TestKernelPPSBits: while a bound PPS source is the system peer (SetKernelPPS), every
// status word of the kernel loop carries STA_PPSTIME|STA_PPSFREQ beside STA_PLL and the leap
// bits, as classic's local_clock writes them with hardpps_enable, and the change is logged;
// when the source stops being the system peer (or flag3 goes) the bits go at once.
// Without the kernel loop they are never set.
func TestKernelPPSBits(t *testing.T) {
	var buf strings.Builder
	start := time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC)
	d, m, el := leapWorld(t, start, slog.New(slog.NewTextHandler(&buf, nil)))
	if _, err := d.Leap(m.Now(), true, false); err != nil {
		t.Fatal(err)
	}
	update := func() Timex {
		t.Helper()
		*el += 16 * time.Second
		if _, err := d.Process(-m.Error(), 1e-5, m.Now()); err != nil {
			t.Fatal(err)
		}
		tx, _ := kernelStatus(t, m)
		return tx
	}
	if tx := update(); tx.Status&(StaPPSTime|StaPPSFreq) != 0 {
		t.Fatalf("status %#x before SetKernelPPS", tx.Status)
	}
	if err := d.SetKernelPPS(true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		want := int32(StaPLL | StaFreqHold | StaIns | StaPPSTime | StaPPSFreq)
		if tx := update(); tx.Status&want != want {
			t.Fatalf("update %d: status %#x, want %#x set", i, tx.Status, want)
		}
	}
	// The kernel's hardpps sets the frequency from the pulses (STA_PPSFREQ): the loop
	// leaves it, takes it as its own, and does not take it for another daemon.
	pps := Timex{Modes: ModeFrequency, Freq: ScaledPPM(3.25e-6)}
	if _, err := m.Adjtimex(&pps); err != nil {
		t.Fatal(err)
	}
	if tx := update(); tx.Freq != ScaledPPM(3.25e-6) || math.Abs(d.Frequency()-3.25) > 1e-3 {
		t.Fatalf("kernel frequency %.3f ppm, loop's %.3f ppm after the kernel's PPS set 3.25 ppm",
			FromScaledPPM(tx.Freq)*1e6, d.Frequency())
	}
	// Off goes to the kernel at once: the source may stop being the system peer with no
	// update to follow.
	if err := d.SetKernelPPS(false); err != nil {
		t.Fatal(err)
	}
	if tx, _ := kernelStatus(t, m); tx.Status&(StaPPSTime|StaPPSFreq) != 0 || tx.Status&(StaIns|StaPLL) != StaIns|StaPLL {
		t.Fatalf("status %#x after SetKernelPPS(false), want the PPS bits gone, STA_PLL and STA_INS kept", tx.Status)
	}
	if tx := update(); tx.Status&(StaPPSTime|StaPPSFreq) != 0 {
		t.Fatalf("status %#x at the next update", tx.Status)
	}
	l := buf.String()
	if strings.Count(l, "kernel PPS discipline enabled") != 1 || strings.Count(l, "kernel PPS discipline disabled") != 1 ||
		strings.Contains(l, "behind gontp's back") || strings.Contains(l, "frequency") {
		t.Fatalf("log: %s", l)
	}

	p := DefaultParams()
	p.Kernel = false
	m2 := NewModel(start, func() time.Duration { return *el }, 0, 0)
	d2 := New(m2, p, nil)
	d2.SetKernelPPS(true)
	if _, err := d2.Process(0, 1e-5, m2.Now()); err != nil {
		t.Fatal(err)
	}
	if tx, _ := kernelStatus(t, m2); tx.Status&(StaPPSTime|StaPPSFreq) != 0 {
		t.Fatalf("without the kernel loop: status %#x", tx.Status)
	}
}
