// SPDX-License-Identifier: BSD-2-Clause

//go:build linux

package adjtimex

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gontp/clock"
)

// TestConstantsMatchKernel checks that package clock's modes and status bits, which the
// simulated kernel implements, are the kernel's.
func TestConstantsMatchKernel(t *testing.T) {
	pairs := []struct {
		name      string
		ours, sys int64
	}{
		{"ADJ_OFFSET", clock.ModeOffset, unix.ADJ_OFFSET},
		{"ADJ_FREQUENCY", clock.ModeFrequency, unix.ADJ_FREQUENCY},
		{"ADJ_MAXERROR", clock.ModeMaxError, unix.ADJ_MAXERROR},
		{"ADJ_ESTERROR", clock.ModeEstError, unix.ADJ_ESTERROR},
		{"ADJ_STATUS", clock.ModeStatus, unix.ADJ_STATUS},
		{"ADJ_TIMECONST", clock.ModeTimeConst, unix.ADJ_TIMECONST},
		{"ADJ_TAI", clock.ModeTAI, unix.ADJ_TAI},
		{"ADJ_SETOFFSET", clock.ModeSetOffset, unix.ADJ_SETOFFSET},
		{"ADJ_MICRO", clock.ModeMicro, unix.ADJ_MICRO},
		{"ADJ_NANO", clock.ModeNano, unix.ADJ_NANO},
		{"ADJ_TICK", clock.ModeTick, unix.ADJ_TICK},
		{"ADJ_OFFSET_SINGLESHOT", clock.ModeOffsetSingleshot, unix.ADJ_OFFSET_SINGLESHOT},
		{"ADJ_OFFSET_SS_READ", clock.ModeOffsetSSRead, unix.ADJ_OFFSET_SS_READ},
		{"STA_PLL", clock.StaPLL, unix.STA_PLL},
		{"STA_PPSFREQ", clock.StaPPSFreq, unix.STA_PPSFREQ},
		{"STA_PPSTIME", clock.StaPPSTime, unix.STA_PPSTIME},
		{"STA_FLL", clock.StaFLL, unix.STA_FLL},
		{"STA_INS", clock.StaIns, unix.STA_INS},
		{"STA_DEL", clock.StaDel, unix.STA_DEL},
		{"STA_UNSYNC", clock.StaUnsync, unix.STA_UNSYNC},
		{"STA_FREQHOLD", clock.StaFreqHold, unix.STA_FREQHOLD},
		{"STA_PPSSIGNAL", clock.StaPPSSig, unix.STA_PPSSIGNAL},
		{"STA_PPSJITTER", clock.StaPPSJit, unix.STA_PPSJITTER},
		{"STA_PPSWANDER", clock.StaPPSWand, unix.STA_PPSWANDER},
		{"STA_PPSERROR", clock.StaPPSErr, unix.STA_PPSERROR},
		{"STA_CLOCKERR", clock.StaClockErr, unix.STA_CLOCKERR},
		{"STA_NANO", clock.StaNano, unix.STA_NANO},
		{"STA_MODE", clock.StaMode, unix.STA_MODE},
		{"STA_CLK", clock.StaClk, unix.STA_CLK},
		{"TIME_OK", clock.TimeOK, unix.TIME_OK},
		{"TIME_INS", clock.TimeIns, unix.TIME_INS},
		{"TIME_DEL", clock.TimeDel, unix.TIME_DEL},
		{"TIME_OOP", clock.TimeOOP, unix.TIME_OOP},
		{"TIME_WAIT", clock.TimeWait, unix.TIME_WAIT},
		{"TIME_ERROR", clock.TimeError, unix.TIME_ERROR},
	}
	for _, p := range pairs {
		if p.ours != p.sys {
			t.Errorf("%s: clock has %#x, the kernel %#x", p.name, p.ours, p.sys)
		}
	}
}

// TestKernelReadOnlyMatchesModel reads the host kernel's state through Kernel with modes 0
// (nothing is changed) and checks that the simulated kernel reports the same fields in the
// same units.
func TestKernelReadOnlyMatchesModel(t *testing.T) {
	var k Kernel
	var tx clock.Timex
	before := time.Now()
	state, err := k.Adjtimex(&tx)
	after := time.Now()
	if err != nil {
		t.Fatalf("adjtimex read: %v", err)
	}
	if state < clock.TimeOK || state > clock.TimeError {
		t.Errorf("state %d", state)
	}
	if tx.Time.Before(before.Add(-time.Millisecond)) || tx.Time.After(after.Add(time.Millisecond)) {
		t.Errorf("kernel time %v not between %v and %v", tx.Time, before, after)
	}
	start := time.Now()
	m := clock.NewModel(start, func() time.Duration { return time.Since(start) }, 0, 0)
	var mx clock.Timex
	if _, err := m.Adjtimex(&mx); err != nil {
		t.Fatal(err)
	}
	if tx.Tolerance != mx.Tolerance {
		t.Errorf("tolerance: kernel %d, model %d (scaled ppm)", tx.Tolerance, mx.Tolerance)
	}
	if tx.Precision != mx.Precision {
		t.Errorf("precision: kernel %d µs, model %d µs", tx.Precision, mx.Precision)
	}
	if tx.Tick < 900 || tx.Tick > 100000 || mx.Tick != 10000 {
		t.Errorf("tick: kernel %d µs, model %d µs", tx.Tick, mx.Tick)
	}
	if tx.MaxError < 0 || tx.MaxError > 16000000 || mx.MaxError != 16000000 {
		t.Errorf("maxerror: kernel %d µs, model %d µs (both ≤ 16 s)", tx.MaxError, mx.MaxError)
	}
	if f := clock.FromScaledPPM(tx.Freq); f < -clock.MaxFreq || f > clock.MaxFreq {
		t.Errorf("kernel frequency %v s/s beyond ±500 ppm", f)
	}
	// A clock that nobody synchronises has STA_UNSYNC; the model starts as a booted kernel.
	if mx.Status&clock.StaUnsync == 0 {
		t.Errorf("model status %#x lacks STA_UNSYNC", mx.Status)
	}
	var ss clock.Timex
	ss.Modes = clock.ModeOffsetSSRead
	if _, err := k.Adjtimex(&ss); err != nil {
		t.Errorf("ADJ_OFFSET_SS_READ: %v", err)
	}
	t.Logf("host kernel: state %d status %#x freq %.3f ppm offset %d maxerror %d µs tc %d tick %d µs",
		state, tx.Status, float64(tx.Freq)/65536, tx.Offset, tx.MaxError, tx.Constant, tx.Tick)
}
