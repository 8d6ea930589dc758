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
// exact; Linux finishes the current chunk (at most one second's worth).
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
	reftime  time.Duration // when the PLL last took an offset (time_reftime)
	state    int
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
		idle := m.offset == 0 && m.adjust == 0 && m.pllLeft == 0 && m.ssLeft == 0 && m.status&(StaIns|StaDel) == 0
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

// leapCheck inserts or deletes a second when the virtual clock crosses UTC midnight with
// STA_INS or STA_DEL set (Linux ntp_leap_second / second_overflow).
func (m *Model) leapCheck() {
	if m.status&(StaIns|StaDel) == 0 {
		if m.state != TimeOK {
			m.state = TimeOK
		}
		return
	}
	v := m.origin.Add(m.next).Add(time.Duration(m.phase * 1e9))
	prev := v.Add(-time.Second)
	if v.Truncate(24 * time.Hour).Equal(prev.Truncate(24 * time.Hour)) {
		if m.status&StaIns != 0 {
			m.state = TimeIns
		} else {
			m.state = TimeDel
		}
		return
	}
	if m.status&StaIns != 0 {
		m.phase--
	} else {
		m.phase++
	}
	m.status &^= StaIns | StaDel
	m.state = TimeWait
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
	if tx.Modes&ModeStatus != 0 {
		m.status = m.status&staReadOnly | tx.Status&^staReadOnly
		if m.status&StaPLL == 0 {
			m.offset, m.pllLeft = 0, 0
		}
		if m.status&(StaIns|StaDel) == 0 && (m.state == TimeIns || m.state == TimeDel) {
			m.state = TimeOK
		}
	}
	if tx.Modes&ModeSetOffset != 0 {
		m.phase += tx.SetOffset.Seconds()
		m.steps++
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
		secs := (e - m.reftime).Seconds()
		if m.status&StaFreqHold != 0 {
			secs = 0
		}
		m.reftime = e
		df := 0.0
		if m.status&StaFLL != 0 || secs > 2048 {
			if secs >= 256 {
				df = off / secs / 4 // SHIFT_FLL
			}
		}
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
