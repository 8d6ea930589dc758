// SPDX-License-Identifier: BSD-2-Clause

// Package clock is gontp's clock discipline: it turns the system offset that selection and
// combining produce into adjustments of the kernel clock, with classic ntpd 4.2.8p15's
// observable policy (states NSET, FSET, SPIK, FREQ, SYNC; step threshold and stepout; panic
// threshold and -g; -x; -q; kernel or daemon loop) and the variables ntpq shows (offset,
// frequency, sys_jitter, clk_jitter, clk_wander, tc, mintc).
//
// Each concept has one file: discipline.go the policy, estimator.go the estimate of offset
// and frequency from the samples, ledger.go every call to the kernel and what the kernel
// did with it (the STA_* word, leap bits included), leap.go the leap-second decisions
// (scheduled, armed, withdrawn, the served leap indicator), model.go the simulated kernel.
//
// The package reaches the clock only through the Kernel interface, which is shaped like Linux
// adjtimex(2) and clock_gettime(2): clock/adjtimex is the real one, Model a simulated kernel
// clock used by tests, the simulator and the daemon's --virtual-clock.
package clock

import (
	"time"
)

// Kernel is the kernel clock as Linux offers it: reading CLOCK_REALTIME and adjtimex(2).
// Steps are made with adjtimex ModeSetOffset (ADJ_SETOFFSET), which adds an offset to the
// clock atomically, so there is no read-then-write race as with clock_settime.
type Kernel interface {
	Now() time.Time
	// Adjtimex applies the modes of tx and fills tx with the kernel's state after the call,
	// returning the clock state (TimeOK...). Units are the kernel's (see Timex).
	Adjtimex(tx *Timex) (state int, err error)
}

// Timex is struct timex of <sys/timex.h>, with the kernel's units, so that the real kernel
// and Model are interchangeable and checked against each other field by field.
type Timex struct {
	Modes uint32
	// Offset is the PLL time offset: nanoseconds when STA_NANO is set (gontp always sets
	// it), microseconds otherwise. For ModeOffsetSingleshot it is always microseconds.
	Offset int64
	// Freq is the frequency offset in ppm scaled by 2^16 (positive: the clock runs faster).
	Freq     int64
	MaxError int64 // µs
	EstError int64 // µs
	Status   int32 // STA_* bits
	Constant int64 // PLL time constant (log2; the kernel adds 4 in microsecond mode)
	// Precision is the clock precision, µs (read only).
	Precision int64
	// Tolerance is the maximum frequency error, ppm scaled by 2^16 (read only; 500 ppm).
	Tolerance int64
	// Tick is the length of a clock tick, µs.
	Tick int64
	// TAI is TAI-UTC, s (ModeTAI sets it).
	TAI int32
	// Time is the clock's time when the call returned (read only).
	Time time.Time
	// SetOffset is the amount added to the clock by ModeSetOffset (ADJ_SETOFFSET).
	SetOffset time.Duration
}

// adjtimex modes (linux/timex.h ADJ_*).
const (
	ModeOffset           = 0x0001
	ModeFrequency        = 0x0002
	ModeMaxError         = 0x0004
	ModeEstError         = 0x0008
	ModeStatus           = 0x0010
	ModeTimeConst        = 0x0020
	ModeTAI              = 0x0080
	ModeSetOffset        = 0x0100
	ModeMicro            = 0x1000
	ModeNano             = 0x2000
	ModeTick             = 0x4000
	ModeOffsetSingleshot = 0x8001 // adjtime(2): slew by Offset µs at 500 ppm
	ModeOffsetSSRead     = 0xa001 // read what remains of a single-shot slew
)

// Status bits (linux/timex.h STA_*).
const (
	StaPLL      = 0x0001
	StaPPSFreq  = 0x0002
	StaPPSTime  = 0x0004
	StaFLL      = 0x0008
	StaIns      = 0x0010
	StaDel      = 0x0020
	StaUnsync   = 0x0040
	StaFreqHold = 0x0080
	StaPPSSig   = 0x0100
	StaPPSJit   = 0x0200
	StaPPSWand  = 0x0400
	StaPPSErr   = 0x0800
	StaClockErr = 0x1000
	StaNano     = 0x2000
	StaMode     = 0x4000
	StaClk      = 0x8000

	// staReadOnly are the bits the kernel owns; ModeStatus cannot change them.
	staReadOnly = StaPPSSig | StaPPSJit | StaPPSWand | StaPPSErr | StaClockErr | StaNano | StaMode | StaClk
)

// Clock states returned by adjtimex.
const (
	TimeOK    = 0
	TimeIns   = 1
	TimeDel   = 2
	TimeOOP   = 3
	TimeWait  = 4
	TimeError = 5
)

// Kernel limits (Linux kernel/time/ntp.c).
const (
	// MaxPhase is the largest PLL offset the kernel accepts (MAXPHASE, 0.5 s); larger
	// corrections must be stepped or slewed with ModeOffsetSingleshot.
	MaxPhase = 0.5
	// MaxFreq is the largest frequency correction (MAXFREQ, 500 ppm), s/s.
	MaxFreq = 500e-6
	// maxTC is the largest PLL time constant (MAXTC).
	maxTC = 10
	// shiftPLL is the kernel's PLL shift (SHIFT_PLL): the PLL amortises its offset with a
	// time constant of 2^(shiftPLL+constant) seconds.
	shiftPLL = 2
	// singleshotRate is how fast adjtime(2) slews (MAX_TICKADJ: 500 µs a second).
	singleshotRate = 500e-6
	// phaseLimit is the maximum error beyond which the kernel sets STA_UNSYNC (NTP_PHASE_LIMIT 16 s), µs.
	phaseLimit = 16000000
)

// ScaledPPM converts a frequency in s/s to the kernel's scaled ppm.
func ScaledPPM(f float64) int64 { return int64(f * 1e6 * 65536) }

// FromScaledPPM converts the kernel's scaled ppm to s/s.
func FromScaledPPM(v int64) float64 { return float64(v) / 65536 / 1e6 }
