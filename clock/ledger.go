// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// corrPoint is the state of the corrections left at an update: the total applied up to
// time line t, and what was then commanded, from which the total at a later time follows
// (the frequency integrates linearly; the kernel PLL amortises the phase geometrically,
// 1/2^shift of the rest each second; a single-shot slew runs at 500 ppm).
type corrPoint struct {
	t, c    float64
	pending float64 // phase commanded, s
	ss      bool    // as a single-shot slew
	shift   int     // the PLL's shift, shiftPLL+constant
	freq    float64 // frequency correction, s/s
}

// pllLag is the average wait, s, between a PLL command and the kernel's first chunk of it.
const pllLag = 0.5

// at is the total correction at time line t ≥ p.t, as the kernel applies the commands.
func (p corrPoint) at(t float64) float64 {
	dt := t - p.t
	c := p.c + p.freq*dt
	switch {
	case p.pending == 0:
	case p.ss:
		c += math.Copysign(math.Min(math.Abs(p.pending), singleshotRate*dt), p.pending)
	default:
		// The kernel computes each second's chunk at the second's start and applies it
		// during that second; a new offset waits for the next start, on average half a
		// second away.
		c += p.pending * (1 - math.Pow(1-math.Ldexp(1, -p.shift), math.Max(dt-pllLag, 0)))
	}
	return c
}

// interferenceEvery is how often interference is reported at most: a second time daemon
// would otherwise be reported at every update.
const interferenceEvery = time.Hour

// watchedStatus are the status bits the ledger owns; the kernel itself sets STA_UNSYNC
// (after 16 s of maximum error) and the read-only bits.
const watchedStatus = StaPLL | StaFLL | StaFreqHold | StaIns | StaDel | StaPPSFreq | StaPPSTime

// ledger is the one owner of the kernel clock's state as gontp drives it: what was asked of
// the kernel (frequency, phase, time constant, the STA_* word with the leap bits, TAI-UTC,
// maximum and estimated error), what the kernel has done with it (the phase applied, read
// back at every update, and the integral of the frequency), and whether someone else
// changed it. Every adjtimex call of the discipline goes through it, so that the status
// word is built in one place: the loop's bits (STA_PLL|STA_FREQHOLD with the kernel loop),
// STA_UNSYNC until synchronised, and STA_INS or STA_DEL while a leap second is armed.
type ledger struct {
	k   Kernel
	log *slog.Logger
	pll bool // the kernel PLL amortises the phase (enable kernel); else single-shot slews
	// hardpps is the kernel's own PPS discipline (fudge flag3 of the PPS driver): the
	// driver bound the pulses to the kernel (PPS_KC_BIND) and the PPS source is the system
	// peer, so that STA_PPSTIME|STA_PPSFREQ go into the status word with the kernel loop.
	hardpps bool

	started  bool
	epoch    time.Time // origin of the time line
	stepSum  float64   // steps made since epoch, s
	phaseSum float64   // phase corrections applied (steps excluded), s
	freqSum  float64   // integral of the frequency correction, s
	lastT    float64   // time line of the last account
	pending  float64   // phase correction commanded and not yet applied at lastT, s
	ss       bool      // it went to the single-shot slew
	freq     float64   // frequency correction commanded, s/s
	// corr is the history of the total correction at each update, on the time line, so
	// that an offset measured earlier than now is mapped back with the corrections of
	// its own time.
	corr []corrPoint

	synced    bool  // the last status written claimed synchronisation
	leapBits  int32 // STA_INS or STA_DEL while a leap second is armed
	status    int32 // status word last written (STA_NANO excluded)
	kfreq     int64 // frequency last written, scaled ppm
	tai       int   // TAI-UTC to keep in the kernel, s (0: unknown)
	kernelTAI int   // TAI-UTC last written
	warned    time.Time
}

func (l *ledger) clone() ledger {
	c := *l
	c.corr = append([]corrPoint(nil), l.corr...)
	return c
}

// statusWord is the STA_* word the ledger keeps in the kernel. The leap bits are ORed
// into the loop's bits, never replaced by them. With the kernel loop and a bound kernel
// PPS consumer, STA_PPSTIME|STA_PPSFREQ hand phase and frequency to the kernel's hardpps
// (classic local_clock with hardpps_enable); without the kernel loop the kernel's PPS has
// no PLL to correct, so the bits stay off, as classic only sets them in its kernel branch.
func (l *ledger) statusWord(synced bool) int32 {
	s := l.leapBits
	if l.pll {
		s |= StaPLL | StaFreqHold
		if l.hardpps {
			s |= StaPPSTime | StaPPSFreq
		}
	}
	if !synced {
		s |= StaUnsync
	}
	return s
}

// adjtimex is every call the ledger makes: the error names the call and what was asked.
func (l *ledger) adjtimex(what string, tx *Timex) error {
	if _, err := l.k.Adjtimex(tx); err != nil {
		return fmt.Errorf("clock: adjtimex(%s): %w", what, err)
	}
	return nil
}

// start prepares the kernel at the first update: nanosecond mode, the loop's status, the
// initial frequency, TAI-UTC.
func (l *ledger) start(now time.Time, freq float64) error {
	st := l.statusWord(false)
	tx := Timex{Modes: ModeNano | ModeStatus | ModeFrequency, Status: st, Freq: ScaledPPM(freq)}
	if err := l.adjtimex(fmt.Sprintf("start: status %#x, freq %.3f ppm", st, freq*1e6), &tx); err != nil {
		return err
	}
	l.status, l.kfreq, l.freq = st, ScaledPPM(freq), freq
	l.started, l.epoch = true, now
	return l.pushTAI()
}

// tline is the time line: local time without our steps, s since the epoch.
func (l *ledger) tline(now time.Time) float64 { return now.Sub(l.epoch).Seconds() - l.stepSum }

// total is the correction applied so far (steps excluded), s.
func (l *ledger) total() float64 { return l.phaseSum + l.freqSum }

// account reads the kernel: it adds to phaseSum what the kernel applied of the last phase
// command and to freqSum the frequency correction's integral up to now, and checks that
// nobody else changed the kernel's state.
func (l *ledger) account(now time.Time) error {
	t := l.tline(now)
	l.freqSum += l.freq * (t - l.lastT)
	l.lastT = t
	var tx Timex
	if l.ss && l.pending != 0 {
		tx.Modes = ModeOffsetSSRead
	}
	if err := l.adjtimex("read", &tx); err != nil {
		return err
	}
	rem := 0.0
	switch {
	case l.ss && l.pending != 0:
		rem = float64(tx.Offset) * 1e-6
	case l.pll:
		rem = float64(tx.Offset) * 1e-9
		if tx.Status&StaNano == 0 {
			rem = float64(tx.Offset) * 1e-6
		}
	}
	l.interference(tx, rem, now)
	if l.pending == 0 {
		return nil
	}
	if !l.ss && !l.pll {
		rem = 0
	}
	l.phaseSum += l.pending - rem
	l.pending = rem
	return nil
}

// interference reports a kernel state gontp did not leave: another time daemon or an
// administrator (adjtimex, chronyd, timesyncd) is adjusting the clock too. Classic ntpd
// reports the kernel's changed status as a clock event ("kernel time sync status change");
// gontp names what changed and keeps its own state, which the update then writes again.
func (l *ledger) interference(tx Timex, rem float64, now time.Time) {
	var what string
	switch {
	case tx.Status&watchedStatus != l.status&watchedStatus:
		what = fmt.Sprintf("status %#x, gontp wrote %#x", tx.Status&^StaNano, l.status)
	case (tx.Freq-l.kfreq > 64 || l.kfreq-tx.Freq > 64) && !(l.pll && l.hardpps):
		// (the kernel's PPS discipline moves the frequency itself)
		what = fmt.Sprintf("frequency %.3f ppm, gontp wrote %.3f ppm", FromScaledPPM(tx.Freq)*1e6,
			FromScaledPPM(l.kfreq)*1e6)
	case l.pll && math.Abs(rem) > math.Abs(l.pending)+1e-6:
		what = fmt.Sprintf("PLL offset %+.6f s, gontp left %+.6f s", rem, l.pending)
	default:
		return
	}
	if !l.warned.IsZero() && now.Sub(l.warned) < interferenceEvery && !now.Before(l.warned) {
		return
	}
	l.warned = now
	l.log.Warn("kernel clock state changed behind gontp's back (" + what +
		"): is another time daemon running? gontp writes its own state again at each update")
}

// command sends the frequency, the phase correction and the errors to the kernel: with
// the kernel loop, the phase goes to the PLL (held to phase only by STA_FREQHOLD) with
// time constant constant; without it, or beyond the PLL's ±0.5 s, to the single-shot slew.
func (l *ledger) command(freq, phase float64, constant int, synced bool, maxErr, estErr float64) error {
	st := l.statusWord(synced)
	tx := Timex{Modes: ModeFrequency | ModeStatus | ModeMaxError | ModeEstError, Freq: ScaledPPM(freq),
		Status: st, EstError: int64(estErr * 1e6), MaxError: int64(maxErr * 1e6)}
	ss := !l.pll || math.Abs(phase) > MaxPhase
	if !ss {
		tx.Modes |= ModeOffset | ModeTimeConst
		tx.Offset = int64(math.Round(phase * 1e9))
		tx.Constant = int64(constant)
	} else if l.pll {
		tx.Modes |= ModeOffset // clear the PLL's offset; the slew does the work
	}
	// With the kernel's PPS discipline on, the kernel sets the frequency from the pulses
	// (STA_PPSFREQ): the ledger leaves it and takes the kernel's as the loop's, as classic's
	// local_clock writes no MOD_FREQUENCY and reads ntv.freq back.
	hard := l.pll && l.hardpps
	if hard {
		tx.Modes &^= ModeFrequency
	}
	if err := l.adjtimex(fmt.Sprintf("offset %+.9f s, freq %.3f ppm, status %#x", phase, freq*1e6, st), &tx); err != nil {
		return err
	}
	if hard {
		freq = FromScaledPPM(tx.Freq)
	}
	l.ppsChange(st)
	l.status, l.kfreq, l.freq, l.synced = st, ScaledPPM(freq), freq, synced
	if ss {
		s := Timex{Modes: ModeOffsetSingleshot, Offset: int64(math.Round(phase * 1e6))}
		if err := l.adjtimex(fmt.Sprintf("single-shot slew %+.6f s", phase), &s); err != nil {
			return err
		}
		phase = float64(int64(math.Round(phase*1e6))) * 1e-6
	} else if l.ss && l.pending != 0 {
		s := Timex{Modes: ModeOffsetSingleshot}
		if err := l.adjtimex("cancel single-shot slew", &s); err != nil {
			return err
		}
	}
	l.pending, l.ss = phase, ss
	return l.pushTAI()
}

// ppsChange logs the kernel PPS discipline turned on or off by the status word st, as
// classic's sync_status reports "PPS enabled" and "PPS disabled".
func (l *ledger) ppsChange(st int32) {
	switch was, now := l.status&StaPPSTime != 0, st&StaPPSTime != 0; {
	case now && !was:
		l.log.Info(fmt.Sprintf("kernel PPS discipline enabled: status %#x (STA_PPSTIME|STA_PPSFREQ)", st))
	case was && !now:
		l.log.Info(fmt.Sprintf("kernel PPS discipline disabled: status %#x", st))
	}
}

// step steps the clock by offset (ADJ_SETOFFSET, atomic) and drops the phase still to be
// applied: it belonged to the old time.
func (l *ledger) step(offset float64) error {
	st := l.statusWord(false)
	tx := Timex{Modes: ModeSetOffset | ModeStatus, SetOffset: time.Duration(math.Round(offset * 1e9)), Status: st}
	if l.pll {
		tx.Modes |= ModeOffset
	}
	if err := l.adjtimex(fmt.Sprintf("step %+.9f s, status %#x", offset, st), &tx); err != nil {
		return err
	}
	l.ppsChange(st)
	if l.ss && l.pending != 0 {
		ss := Timex{Modes: ModeOffsetSingleshot}
		if err := l.adjtimex("cancel single-shot slew", &ss); err != nil {
			return err
		}
	}
	l.status, l.synced = st, false
	l.pending, l.ss = 0, false
	l.stepSum += offset
	return nil
}

// setLeap arms (STA_INS or STA_DEL) or disarms (0) the kernel's leap second at the coming
// UTC midnight. The bits then stay in every status the ledger writes.
func (l *ledger) setLeap(bits int32) error {
	if bits == l.leapBits {
		return nil
	}
	old := l.leapBits
	l.leapBits = bits
	if !l.started {
		return nil
	}
	st := l.statusWord(l.synced)
	tx := Timex{Modes: ModeStatus, Status: st}
	if err := l.adjtimex(fmt.Sprintf("leap status %#x", st), &tx); err != nil {
		l.leapBits = old
		return err
	}
	l.ppsChange(st)
	l.status = st
	return nil
}

// setHardPPS turns the kernel's PPS discipline on or off (STA_PPSTIME|STA_PPSFREQ, with
// the kernel loop only). Once the kernel has been started it writes the status at once,
// as setLeap does, so that the bits go when the PPS source stops being the system peer
// even though no update follows.
func (l *ledger) setHardPPS(on bool) error {
	if on == l.hardpps {
		return nil
	}
	l.hardpps = on
	if !l.started || !l.pll {
		return nil
	}
	st := l.statusWord(l.synced)
	tx := Timex{Modes: ModeStatus, Status: st}
	if err := l.adjtimex(fmt.Sprintf("PPS status %#x", st), &tx); err != nil {
		l.hardpps = !on
		return err
	}
	l.ppsChange(st)
	l.status = st
	return nil
}

// setTAI keeps TAI-UTC (s) for the kernel (ADJ_TAI), so that CLOCK_TAI reads right, as
// classic ntpd does when its leap file changes sys_tai; like every kernel write it waits
// for the first update, and only the kernel loop writes it.
func (l *ledger) setTAI(tai int) error {
	l.tai = tai
	if !l.started {
		return nil
	}
	return l.pushTAI()
}

func (l *ledger) pushTAI() error {
	if !l.pll || l.tai <= 0 || l.tai == l.kernelTAI {
		return nil
	}
	tx := Timex{Modes: ModeTAI, TAI: int32(l.tai)}
	if err := l.adjtimex(fmt.Sprintf("TAI %d s", l.tai), &tx); err != nil {
		return err
	}
	l.kernelTAI = l.tai
	return nil
}

// record notes the corrections at time line t, after account and command.
func (l *ledger) record(t float64, shift int) {
	if len(l.corr) == maxSamples {
		copy(l.corr, l.corr[1:])
		l.corr = l.corr[:maxSamples-1]
	}
	l.corr = append(l.corr, corrPoint{t: t, c: l.total(), pending: l.pending, ss: l.ss, shift: shift, freq: l.freq})
}

// forget drops the correction history (after a step: no sample from before it will be
// mapped back).
func (l *ledger) forget() { l.corr = l.corr[:0] }

// correctionAt is the total correction applied up to time line t: from the last update
// before t, what its commands had applied by t; before the first recorded update, the
// total then; with no update recorded, the present total.
//
// The model of how the kernel applies a command (corrPoint.at) is only approximate: the
// PLL takes its chunk at second boundaries that the discipline does not see, so with a
// short time constant (a quarter of the offset a second) the model may be ahead or behind
// by a large part of a chunk. Yet the total is known exactly wherever the kernel was read:
// at every recorded update and at the last account. Between two such points the model
// gives only the shape, scaled to meet the exact totals at both ends; beyond the last
// one it gives the increment from there.
func (l *ledger) correctionAt(t float64) float64 {
	n := len(l.corr)
	if n == 0 {
		return l.total()
	}
	if t <= l.corr[0].t {
		return l.corr[0].c
	}
	i := n - 1
	for l.corr[i].t > t {
		i--
	}
	p := l.corr[i]
	endT, endC := l.lastT, l.total()
	if i < n-1 {
		endT, endC = l.corr[i+1].t, l.corr[i+1].c
	}
	if endT <= p.t {
		return p.at(t)
	}
	if t >= endT {
		return endC + p.at(t) - p.at(endT)
	}
	m, me := p.at(t)-p.c, p.at(endT)-p.c
	if me == 0 {
		return p.c + m
	}
	return p.c + (endC-p.c)*m/me
}
