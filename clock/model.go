// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Model is a simulated kernel clock that behaves like Linux's for everything the
// discipline uses: a free-running oscillator with a natural frequency error, the frequency
// correction (ADJ_FREQUENCY), the PLL's phase amortisation (ADJ_OFFSET with STA_PLL: each
// second 1/2^(2+constant) of the remaining offset), its frequency update (unless
// STA_FREQHOLD), adjtime's 500 ppm single-shot slew, ADJ_SETOFFSET steps, maximum error
// growth and STA_UNSYNC, and the leap second insert/delete at UTC midnight.
//
// It runs over a source of true elapsed time: the host's monotonic clock for the daemon's
// --virtual-clock, simulated time in tests and the simulator. Unlike Linux, the read-back
// of the remaining offset includes the part of the current second's chunk not yet applied
// and a new offset cancels it, so that a discipline's bookkeeping of what was applied is
// exact; Linux finishes the current chunk (at most one second's worth). Its seconds start on
// true time, a real kernel's on the clock's own reading: after a step by a fraction of a second
// the two are that fraction apart. internal/kerneltest checks the model against Linux 6.1 and
// states the bounds.
//
// Model is safe for concurrent use: the engine adjusts it while the server reads Now.
type Model struct {
	mu      sync.Mutex
	origin  time.Time            // true time at elapsed 0
	elapsed func() time.Duration // true time since origin

	last    time.Duration // elapsed at the last evaluation
	next    time.Duration // elapsed of the next second boundary
	phase   float64       // virtual minus true time at last, s
	natural float64       // oscillator error, s/s (+: fast)

	freq     int64   // scaled ppm
	offset   float64 // PLL offset still to amortise after this second, s
	pllLeft  float64 // part of this second's PLL chunk not yet applied, s
	adjust   float64 // single-shot slew still to do after this second, s
	ssLeft   float64 // part of this second's single-shot chunk not yet applied, s
	status   int32
	constant int64
	maxerr   int64
	esterr   int64
	tai      int32
	reftime  int64 // the clock's whole seconds when the PLL last took an offset or was switched on (time_reftime)
	state    int
	nextLeap int64 // the clock's whole second at which the armed leap happens, 0 if none (ntp_next_leap_sec)
	steps    int
}

// Steps returns how many times the clock was stepped (ModeSetOffset), for simulations
// that count steps.
func (m *Model) Steps() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.steps
}

// NewModel makes a kernel clock that starts offset seconds ahead of true time (origin +
// elapsed()) with an oscillator ppm parts per million fast. Its status is the kernel's at
// boot: STA_UNSYNC, no PLL, maximum error 16 s.
func NewModel(origin time.Time, elapsed func() time.Duration, offset, ppm float64) *Model {
	e := elapsed()
	return &Model{origin: origin, elapsed: elapsed, last: e, next: e.Truncate(time.Second) + time.Second,
		phase: offset, natural: ppm * 1e-6, status: StaUnsync, maxerr: phaseLimit, esterr: phaseLimit,
		state: TimeOK}
}

// ParseVirtual parses the --virtual-clock argument "OFFSET,PPM" (seconds, parts per
// million), e.g. "0.25,30".
func ParseVirtual(s string) (offset, ppm float64, err error) {
	var o, p float64
	n, err := fmt.Sscanf(s, "%g,%g", &o, &p)
	if err != nil || n != 2 {
		return 0, 0, fmt.Errorf("virtual clock %q: want OFFSET,PPM (seconds, parts per million), e.g. 0.25,30", s)
	}
	if math.IsNaN(o) || math.IsInf(o, 0) || math.Abs(o) > 1e9 {
		return 0, 0, fmt.Errorf("virtual clock %q: offset %g s out of range", s, o)
	}
	if math.IsNaN(p) || math.Abs(p) > 500 {
		return 0, 0, fmt.Errorf("virtual clock %q: frequency error %g ppm beyond the kernel's ±500 ppm", s, p)
	}
	return o, p, nil
}

// SetNatural changes the oscillator's frequency error (s/s) from now on: the simulation's
// wander and temperature.
func (m *Model) SetNatural(f float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(m.elapsed())
	m.natural = f
}

// Natural returns the oscillator's frequency error, s/s.
func (m *Model) Natural() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.natural
}

// Error returns how far the clock is ahead of true time now, s.
func (m *Model) Error() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(m.elapsed())
	return m.phase
}

// Now returns the model's time.
func (m *Model) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.elapsed()
	m.advance(e)
	return m.origin.Add(e).Add(time.Duration(math.Round(m.phase * 1e9)))
}

// rate is the clock's rate error without the chunks, s/s.
func (m *Model) rate() float64 { return m.natural + FromScaledPPM(m.freq) }

// advance brings the state to elapsed e, second by second as the kernel's second_overflow
// does, jumping over seconds in which nothing but the frequency acts.
func (m *Model) advance(e time.Duration) {
	for m.last < e {
		end := min(e, m.next)
		dt := (end - m.last).Seconds()
		span := (m.next - m.last).Seconds()
		m.phase += dt * m.rate()
		if span > 0 {
			p, s := m.pllLeft*dt/span, m.ssLeft*dt/span
			m.phase += p + s
			m.pllLeft -= p
			m.ssLeft -= s
		}
		m.last = end
		if end < m.next {
			return
		}
		m.second()
		idle := m.offset == 0 && m.adjust == 0 && m.pllLeft == 0 && m.ssLeft == 0 && m.status&(StaIns|StaDel) == 0 &&
			m.state == TimeOK
		if idle && e-m.last > time.Second {
			// Nothing but the frequency acts: jump the whole seconds.
			n := (e - m.last) / time.Second
			m.phase += float64(n) * m.rate()
			m.last += n * time.Second
			m.next = m.last + time.Second
			m.maxerr = min(m.maxerr+int64(n)*500, phaseLimit)
			m.unsyncCheck()
		}
	}
}

// second is the kernel's once-a-second work at the boundary m.next.
func (m *Model) second() {
	m.pllLeft, m.ssLeft = 0, 0
	if m.offset != 0 {
		d := m.offset / math.Ldexp(1, shiftPLL+int(m.constant))
		if math.Abs(m.offset-d) < 1e-10 {
			d = m.offset
		}
		m.offset -= d
		m.pllLeft = d
	}
	if m.adjust != 0 {
		d := math.Copysign(min(math.Abs(m.adjust), singleshotRate), m.adjust)
		m.adjust -= d
		if math.Abs(m.adjust) < 1e-10 {
			m.adjust = 0
		}
		m.ssLeft = d
	}
	m.maxerr = min(m.maxerr+500, phaseLimit)
	m.unsyncCheck()
	m.leapCheck()
	m.next += time.Second
}

func (m *Model) unsyncCheck() {
	if m.maxerr >= phaseLimit {
		m.status |= StaUnsync
	}
}

// leapCheck is the kernel's leap second state machine (Linux 6.1 kernel/time/ntp.c
// second_overflow), run as the clock starts a new second: STA_INS arms TIME_INS, and the
// second that would start at UTC midnight is inserted (the clock goes back to 23:59:59) in
// TIME_OOP; STA_DEL arms TIME_DEL and 23:59:59 is skipped. TIME_WAIT follows and lasts until
// STA_INS and STA_DEL are both cleared: the kernel never clears them itself, so a daemon that
// leaves STA_INS set does not get a second leap the next midnight. Clearing the bit before
// midnight disarms. Checked against the real kernel by internal/kerneltest.
func (m *Model) leapCheck() {
	// The clock's reading as it starts this second, to the whole second.
	secs := m.origin.Add(m.next).Add(time.Duration(math.Round(m.phase * 1e9))).Round(time.Second).Unix()
	const day = 86400
	switch m.state {
	case TimeOK:
		if m.status&StaIns != 0 {
			m.state = TimeIns
			m.nextLeap = secs + day - mod(secs, day)
		} else if m.status&StaDel != 0 {
			m.state = TimeDel
			m.nextLeap = secs + day - mod(secs+1, day)
		}
	case TimeIns:
		if m.status&StaIns == 0 {
			m.state, m.nextLeap = TimeOK, 0
		} else if secs == m.nextLeap {
			m.phase--
			m.state = TimeOOP
		}
	case TimeDel:
		if m.status&StaDel == 0 {
			m.state, m.nextLeap = TimeOK, 0
		} else if secs == m.nextLeap {
			m.phase++
			m.state, m.nextLeap = TimeWait, 0
		}
	case TimeOOP:
		m.state, m.nextLeap = TimeWait, 0
	case TimeWait:
		if m.status&(StaIns|StaDel) == 0 {
			m.state = TimeOK
		}
	}
}

// mod is the non-negative remainder.
func mod(a, b int64) int64 { return ((a % b) + b) % b }

// seconds is the clock's reading in whole seconds (__ktime_get_real_seconds), which the kernel
// PLL measures its update intervals in.
func (m *Model) seconds(e time.Duration) int64 {
	return m.origin.Add(e).Add(time.Duration(math.Round(m.phase * 1e9))).Unix()
}

// ErrInvalid is returned for adjtimex arguments Linux refuses with EINVAL.
var ErrInvalid = errors.New("invalid argument")

// Adjtimex implements Kernel.
func (m *Model) Adjtimex(tx *Timex) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.elapsed()
	m.advance(e)
	switch tx.Modes {
	case ModeOffsetSSRead:
		tx.Offset = int64(math.Round((m.adjust + m.ssLeft) * 1e6))
		m.fill(tx, e)
		return m.result(), nil
	case ModeOffsetSingleshot:
		old := m.adjust + m.ssLeft
		m.adjust, m.ssLeft = float64(tx.Offset)*1e-6, 0
		tx.Offset = int64(math.Round(old * 1e6))
		m.fill(tx, e)
		return m.result(), nil
	}
	if tx.Modes&0x8000 != 0 {
		return 0, fmt.Errorf("adjtimex modes %#x: %w", tx.Modes, ErrInvalid)
	}
	if tx.Modes&ModeNano != 0 {
		m.status |= StaNano
	}
	if tx.Modes&ModeMicro != 0 {
		m.status &^= StaNano
	}
	if tx.Modes&ModeSetOffset != 0 {
		// Linux does the step first (do_adjtimex), and a step clears the NTP state
		// (timekeeping_inject_offset, ntp_clear): the adjtime slew and the PLL offset still
		// to apply are dropped, the clock is unsynchronised with its maximum error at the
		// limit, and an armed leap second will not happen (ntp_next_leap_sec).
		m.phase += tx.SetOffset.Seconds()
		m.steps++
		m.adjust, m.ssLeft, m.offset, m.pllLeft = 0, 0, 0, 0
		m.status |= StaUnsync
		m.maxerr, m.esterr = phaseLimit, phaseLimit
		m.nextLeap = 0
	}
	if tx.Modes&ModeStatus != 0 {
		// Linux process_adj_status: switching the PLL off resets the leap state; switching it
		// on restarts the PLL's interval.
		if m.status&StaPLL != 0 && tx.Status&StaPLL == 0 {
			m.state, m.nextLeap = TimeOK, 0
		}
		if m.status&StaPLL == 0 && tx.Status&StaPLL != 0 {
			m.reftime = m.seconds(e)
		}
		m.status = m.status&staReadOnly | tx.Status&^staReadOnly
		if m.status&StaPLL == 0 {
			m.offset, m.pllLeft = 0, 0
		}
	}
	if tx.Modes&ModeFrequency != 0 {
		m.freq = max(min(tx.Freq, ScaledPPM(MaxFreq)), -ScaledPPM(MaxFreq))
	}
	if tx.Modes&ModeMaxError != 0 {
		m.maxerr = min(max(tx.MaxError, 0), phaseLimit)
	}
	if tx.Modes&ModeEstError != 0 {
		m.esterr = min(max(tx.EstError, 0), phaseLimit)
	}
	if tx.Modes&ModeTimeConst != 0 {
		c := tx.Constant
		if m.status&StaNano == 0 {
			c += 4
		}
		m.constant = min(max(c, 0), maxTC)
	}
	if tx.Modes&ModeTAI != 0 && tx.TAI >= 0 {
		m.tai = tx.TAI
	}
	if tx.Modes&ModeOffset != 0 && m.status&StaPLL != 0 {
		off := float64(tx.Offset) * 1e-6
		if m.status&StaNano != 0 {
			off = float64(tx.Offset) * 1e-9
		}
		off = max(min(off, MaxPhase), -MaxPhase)
		// Linux ntp_update_offset: the interval is in the clock's whole seconds; the FLL
		// (STA_FLL, or any interval over MAXSEC) acts on intervals of at least MINSEC and
		// reports itself in STA_MODE; the PLL's interval is clamped to 2^(SHIFT_PLL+1+constant).
		now := m.seconds(e)
		secs := float64(now - m.reftime)
		if m.status&StaFreqHold != 0 {
			secs = 0
		}
		m.reftime = now
		df := 0.0
		m.status &^= StaMode
		if (m.status&StaFLL != 0 || secs > 2048) && secs >= 256 {
			df = off / secs / 4 // SHIFT_FLL
			m.status |= StaMode
		}
		secs = min(secs, math.Ldexp(1, shiftPLL+1+int(m.constant)))
		df += off * secs / math.Ldexp(1, 2*(shiftPLL+2+int(m.constant)))
		f := max(min(FromScaledPPM(m.freq)+df, MaxFreq), -MaxFreq)
		m.freq = ScaledPPM(f)
		m.offset, m.pllLeft = off, 0
	}
	m.fill(tx, e)
	return m.result(), nil
}

// result is the call's return value: the leap state, or TIME_ERROR while STA_UNSYNC is set
// (Linux is_error_status, without the PPS cases the model lacks).
func (m *Model) result() int {
	if m.status&StaUnsync != 0 {
		return TimeError
	}
	return m.state
}

// fill reports the state as Linux does (ntp.c process_adjtimex_modes and __do_adjtimex).
func (m *Model) fill(tx *Timex, e time.Duration) {
	if tx.Modes != ModeOffsetSSRead && tx.Modes != ModeOffsetSingleshot {
		rem := m.offset + m.pllLeft
		if m.status&StaNano != 0 {
			tx.Offset = int64(math.Round(rem * 1e9))
		} else {
			tx.Offset = int64(math.Round(rem * 1e6))
		}
	}
	tx.Freq = m.freq
	tx.MaxError = m.maxerr
	tx.EstError = m.esterr
	tx.Status = m.status
	tx.Constant = m.constant
	tx.Precision = 1
	tx.Tolerance = ScaledPPM(MaxFreq)
	tx.Tick = 10000
	tx.TAI = m.tai
	tx.Time = m.origin.Add(e).Add(time.Duration(math.Round(m.phase * 1e9)))
}

// Virtual converts a host clock reading (a kernel receive timestamp, taken on the real
// clock) to the model's time at that instant, for the daemon's --virtual-clock: the server
// and the associations must see every timestamp on the virtual clock. host must not be
// later than now; the current rate is used to go back from now to host.
func (m *Model) Virtual(host time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.elapsed()
	m.advance(e)
	at := host.Sub(m.origin)
	back := (e - at).Seconds()
	rate := m.rate()
	if span := (m.next - m.last).Seconds(); span > 0 {
		rate += (m.pllLeft + m.ssLeft) / span
	}
	phase := m.phase - back*rate
	return host.Add(time.Duration(math.Round(phase * 1e9)))
}
