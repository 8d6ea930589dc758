// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"math"
	"testing"
	"time"
)

func newTestModel(offset, ppm float64) (*Model, *time.Duration) {
	var e time.Duration
	return NewModel(simStart, func() time.Duration { return e }, offset, ppm), &e
}

func TestModelFrequency(t *testing.T) {
	m, e := newTestModel(0, 50)
	*e = 1000 * time.Second
	if got := m.Error(); math.Abs(got-0.05) > 1e-12 {
		t.Errorf("after 1000 s at +50 ppm the clock is %v ahead, want 0.05", got)
	}
	tx := Timex{Modes: ModeFrequency, Freq: ScaledPPM(-50e-6)}
	if _, err := m.Adjtimex(&tx); err != nil {
		t.Fatal(err)
	}
	*e = 5000 * time.Second
	if got := m.Error(); math.Abs(got-0.05) > 1e-9 {
		t.Errorf("corrected frequency: error %v, want it to stay at 0.05", got)
	}
	tx = Timex{Modes: ModeFrequency, Freq: ScaledPPM(900e-6)}
	m.Adjtimex(&tx)
	if tx.Freq != ScaledPPM(MaxFreq) {
		t.Errorf("frequency not clamped to 500 ppm: %d", tx.Freq)
	}
}

// TestModelPLL checks the kernel PLL's phase amortisation: with time constant c the
// offset decays by 1/2^(2+c) a second, and the read-back is what remains.
func TestModelPLL(t *testing.T) {
	m, e := newTestModel(0, 0)
	tx := Timex{Modes: ModeStatus | ModeNano, Status: StaPLL | StaFreqHold}
	m.Adjtimex(&tx)
	tx = Timex{Modes: ModeOffset | ModeTimeConst, Offset: 1e6, Constant: 2} // 1 ms, τ = 16 s
	m.Adjtimex(&tx)
	*e = 16 * time.Second
	got := m.Error()
	// The kernel starts on the offset at the next second boundary: 15 chunks in 16 s.
	want := 1e-3 * (1 - math.Pow(1-1.0/16, 15))
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("after 16 s the PLL applied %v, want about %v", got, want)
	}
	var rd Timex
	m.Adjtimex(&rd)
	if rem := float64(rd.Offset) * 1e-9; math.Abs(rem+got-1e-3) > 1e-9 {
		t.Errorf("remaining %v + applied %v != 1 ms", rem, got)
	}
	if rd.Freq != 0 {
		t.Errorf("STA_FREQHOLD: frequency changed to %d", rd.Freq)
	}
	*e = 2000 * time.Second
	if got := m.Error(); math.Abs(got-1e-3) > 1e-9 {
		t.Errorf("after 2000 s %v applied, want all of 1 ms", got)
	}
	// Without FREQHOLD an offset after some time moves the frequency.
	tx = Timex{Modes: ModeStatus, Status: StaPLL}
	m.Adjtimex(&tx)
	tx = Timex{Modes: ModeOffset, Offset: 1e6}
	m.Adjtimex(&tx)
	*e = 2100 * time.Second
	tx = Timex{Modes: ModeOffset, Offset: 1e6}
	m.Adjtimex(&tx)
	if tx.Freq <= 0 {
		t.Errorf("PLL did not raise the frequency for a positive offset: %d", tx.Freq)
	}
}

func TestModelSingleshotAndStep(t *testing.T) {
	m, e := newTestModel(-0.01, 0)
	tx := Timex{Modes: ModeOffsetSingleshot, Offset: 10000} // 10 ms at 500 ppm: 20 s
	m.Adjtimex(&tx)
	*e = 11 * time.Second // the slew starts at the next second boundary
	rd := Timex{Modes: ModeOffsetSSRead}
	m.Adjtimex(&rd)
	if got := m.Error(); math.Abs(got+0.005) > 1e-9 || rd.Offset != 5000 {
		t.Errorf("after 10 s of slewing: error %v (want -0.005), remaining %d µs (want 5000)", got, rd.Offset)
	}
	*e = 30 * time.Second
	if got := m.Error(); math.Abs(got) > 1e-9 {
		t.Errorf("after the slew the error is %v", got)
	}
	tx = Timex{Modes: ModeSetOffset, SetOffset: -1500 * time.Millisecond}
	m.Adjtimex(&tx)
	if got := m.Error(); math.Abs(got+1.5) > 1e-9 {
		t.Errorf("after a -1.5 s step the error is %v", got)
	}
	if want := simStart.Add(30 * time.Second).Add(-1500 * time.Millisecond); !m.Now().Equal(want) {
		t.Errorf("Now %v, want %v", m.Now(), want)
	}
}

// TestModelLeapInsert follows the kernel's leap state machine (the real kernel's is checked
// by internal/kerneltest): TIME_INS before midnight, TIME_OOP during the inserted second,
// TIME_WAIT after it with STA_INS kept until the daemon clears it, then TIME_OK, and no second
// leap at the next midnight.
func TestModelLeapInsert(t *testing.T) {
	// Start one minute before midnight.
	var e time.Duration
	origin := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	m := NewModel(origin, func() time.Duration { return e }, 0, 0)
	tx := Timex{Modes: ModeStatus | ModeMaxError, Status: StaIns, MaxError: 1000}
	m.Adjtimex(&tx)
	state := func(at time.Duration) (int, Timex) {
		e = at
		var rd Timex
		st, _ := m.Adjtimex(&rd)
		return st, rd
	}
	if st, _ := state(30 * time.Second); st != TimeIns {
		t.Errorf("state %d before midnight, want TIME_INS", st)
	}
	if st, rd := state(60*time.Second + 500*time.Millisecond); st != TimeOOP || rd.Time.Second() != 59 {
		t.Errorf("during the inserted second: state %d at %v, want TIME_OOP at 23:59:59.5", st, rd.Time)
	}
	st, rd := state(2 * time.Minute)
	if got := m.Error(); got != -1 {
		t.Errorf("after an inserted second the clock is %v ahead, want -1", got)
	}
	if st != TimeWait || rd.Status&StaIns == 0 {
		t.Errorf("after the leap: state %d, status %#x; want TIME_WAIT with STA_INS kept", st, rd.Status)
	}
	tx = Timex{Modes: ModeStatus}
	m.Adjtimex(&tx)
	if st, _ := state(2*time.Minute + 1500*time.Millisecond); st != TimeOK {
		t.Errorf("STA_INS cleared: state %d, want TIME_OK", st)
	}
	if state(25 * time.Hour); m.Error() != -1 {
		t.Errorf("a second leap: the clock is %v ahead a day later", m.Error())
	}
}

// TestModelLeapKeptArmed: a daemon that never clears STA_INS gets one leap, not one a day.
func TestModelLeapKeptArmed(t *testing.T) {
	var e time.Duration
	origin := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	m := NewModel(origin, func() time.Duration { return e }, 0, 0)
	tx := Timex{Modes: ModeStatus | ModeMaxError, Status: StaIns, MaxError: 1000}
	m.Adjtimex(&tx)
	e = 49 * time.Hour
	if got := m.Error(); got != -1 {
		t.Errorf("two days with STA_INS set: the clock is %v ahead, want -1 (one leap)", got)
	}
}

// TestModelLeapDelete: STA_DEL skips 23:59:59.
func TestModelLeapDelete(t *testing.T) {
	var e time.Duration
	origin := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	m := NewModel(origin, func() time.Duration { return e }, 0, 0)
	tx := Timex{Modes: ModeStatus | ModeMaxError, Status: StaDel, MaxError: 1000}
	m.Adjtimex(&tx)
	e = 58*time.Second + 500*time.Millisecond
	if now := m.Now(); now.Second() != 58 {
		t.Errorf("before the deletion: %v", now)
	}
	e = 59*time.Second + 500*time.Millisecond
	if now := m.Now(); !now.Equal(time.Date(2027, 1, 1, 0, 0, 0, 500e6, time.UTC)) {
		t.Errorf("23:59:59 not skipped: %v", now)
	}
}

func TestParseVirtual(t *testing.T) {
	o, p, err := ParseVirtual("0.25,30")
	if err != nil || o != 0.25 || p != 30 {
		t.Errorf("0.25,30: %v %v %v", o, p, err)
	}
	for _, bad := range []string{"", "1", "x,y", "0,600", "NaN,1"} {
		if _, _, err := ParseVirtual(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestModelVirtual(t *testing.T) {
	m, e := newTestModel(0.25, 30)
	*e = 100 * time.Second
	host := simStart.Add(90 * time.Second)
	want := host.Add(time.Duration((0.25 + 90*30e-6) * 1e9))
	if got := m.Virtual(host); got.Sub(want).Abs() > time.Microsecond {
		t.Errorf("Virtual(%v) = %v, want %v", host, got, want)
	}
}
