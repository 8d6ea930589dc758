// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// State is the discipline's state, numbered as classic ntpd's clock events (EVNT_NSET...),
// which its status words and protostats show.
type State uint8

const (
	NSET State = 1 // never set: no drift file, no update yet
	FSET State = 2 // frequency set from the drift file, no update yet
	SPIK State = 3 // an offset above the step threshold is being waited out (stepout)
	FREQ State = 4 // measuring the frequency after the first update
	SYNC State = 5 // normal operation
)

func (s State) String() string {
	switch s {
	case NSET:
		return "NSET"
	case FSET:
		return "FSET"
	case SPIK:
		return "SPIK"
	case FREQ:
		return "FREQ"
	case SYNC:
		return "SYNC"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Classic poll and loop constants (ntp.h, ntp_loopfilter.c).
const (
	MinTC      = 3  // NTP_MINPOLL: the least sys_poll, ntpq's mintc
	DefMinPoll = 6  // NTP_MINDPOLL: sys_poll at start
	DefMaxPoll = 10 // NTP_MAXDPOLL
	MaxTC      = 17 // NTP_MAXPOLL
	clockPGate = 4  // CLOCK_PGATE: poll-adjust gate, in units of clock jitter
	clockLimit = 30 // CLOCK_LIMIT: poll-adjust threshold
	clockAvg   = 8  // CLOCK_AVG: jitter and wander averaging constant
	// clockFloor is CLOCK_FLOOR, s: an update this close ends the start-up clamp.
	clockFloor = 0.0005
)

// Params are the discipline's settings: tinker values and the command line.
type Params struct {
	// StepFwd and StepBack are the step thresholds (tinker step, stepfwd, stepback; classic
	// 0.128 s; -x makes them 600 s). Zero in a direction means never step that way.
	StepFwd, StepBack float64
	// Stepout is how long an offset above the step threshold must persist before the clock
	// is stepped (tinker stepout; classic 4.2.8p15 CLOCK_MINSTEP 300 s).
	Stepout float64
	// Panic is the panic threshold (tinker panic, 1000 s); 0 disables the check.
	Panic float64
	// PanicGate is -g: the first correction may exceed Panic.
	PanicGate bool
	// ForceStep is -G: the first correction is a step even below the step threshold.
	ForceStep bool
	// Kernel is `enable kernel` (the default): the kernel PLL amortises the phase. With
	// `disable kernel` the daemon's own loop slews with adjtime(2). As in classic, a step
	// threshold of 0 or above 0.5 s (-x) turns the kernel mode off because the kernel
	// cannot take offsets beyond 0.5 s.
	Kernel bool
	// Once is -q: the first update sets the clock (step above the threshold, slew below)
	// and the result says Done.
	Once bool
	// Drift is the frequency from the drift file or tinker freq, ppm; nil when there is
	// none (the discipline starts in NSET instead of FSET).
	Drift *float64
	// Precision is the system precision, log2 s (the floor of the jitter estimates).
	Precision int8
	// MinPoll and MaxPoll bound sys_poll; zero means classic's 3 and 10.
	MinPoll, MaxPoll int8
	// Allan is the Allan intercept, log2 s (tinker allan; zero means classic's 11): the
	// estimator's window spans at most twice that.
	Allan int8
}

// DefaultParams are classic ntpd 4.2.8p15's defaults.
func DefaultParams() Params {
	return Params{StepFwd: 0.128, StepBack: 0.128, Stepout: 300, Panic: 1000, Kernel: true,
		Precision: -20}
}

// ErrPanic is wrapped by the error Process returns when an offset exceeds the panic
// threshold: the daemon must exit (classic exits with status 255 after logging).
var ErrPanic = errors.New("panic threshold exceeded")

// PanicError is the panic exit's error; its Error text is classic's panic_stop detail
// ("+2000 s; set clock manually within 1000 s.").
type PanicError struct{ Offset, Threshold float64 }

func (e *PanicError) Error() string {
	return fmt.Sprintf("%+.0f s; set clock manually within %.0f s.", e.Offset, e.Threshold)
}

func (e *PanicError) Unwrap() error { return ErrPanic }

// Result is what one update did.
type Result struct {
	// Synchronised: the clock was adjusted to the offset (classic local_clock returned 1);
	// the engine copies the system peer into the system variables and clears the alarm.
	Synchronised bool
	// Stepped: the clock was stepped by Step seconds (classic returned 2). The engine must
	// reset every association (ntpd clear_all, refid STEP) and go unsynchronised: all
	// timestamps and samples held are now wrong.
	Stepped bool
	Step    float64
	// Ignored: the offset was a spike (state SPIK) or is being waited out; nothing changed.
	Ignored bool
	// Poll is sys_poll after the update: the engine sets its system.State.Poll from it.
	Poll int8
	// Settling is classic's freq_cnt > 0: the clock filter should take the newest sample
	// rather than the one of least delay (system.State.Settling).
	Settling bool
	// Event and Detail name what classic would report as a system event for this update
	// (protostats and syslog): "clock_step" "+0.300000 s", "spike_detect" "+0.500000 s",
	// "freq_mode", "clock_sync"; empty when nothing notable happened.
	Event, Detail string
	// Done is set with Params.Once after the clock was set; Message is classic's line
	// ("ntpd: time set +0.123456s" / "ntpd: time slew ..."), printed and logged.
	Done    bool
	Message string
}

// Vars are the loop variables ntpq's readvar shows, with classic's meaning.
type Vars struct {
	State     State
	Offset    float64 // last clock offset, s (rv offset, ms on the wire)
	Frequency float64 // frequency correction, ppm (rv frequency; the drift file value)
	ClkJitter float64 // s: RMS of the differences of successive offsets (clock_jitter)
	ClkWander float64 // ppm: RMS of frequency changes (clock_stability)
	TC        int8    // sys_poll (rv tc)
	MinTC     int8    // rv mintc
	Kernel    bool    // the kernel PLL is in use
	Updated   bool    // at least one update was processed
}

// sample is one offset in the estimator's history, on the uncorrected time line.
type sample struct {
	t float64 // local time minus the steps made, s since the discipline's epoch
	u float64 // the offset the clock would have without any of our corrections, s
	w float64 // weight: 1/σ²
}

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

// maxSamples bounds the estimator's history; pollSamples is the window needed before the
// poll may rise.
const (
	maxSamples  = 64
	pollSamples = 12
)

// Discipline is the clock discipline. It is not safe for concurrent use; the engine's
// goroutine owns it.
//
// The policy (when to step, wait out spikes, panic, poll) is classic ntpd's. The loop is
// better than ntpd's hybrid PLL/FLL: every offset is mapped back to what the clock would
// have shown without any correction (adding the phase corrections the kernel applied, as
// read back from it, and the integral of the frequency corrections), and a weighted
// least-squares line through those points gives both the frequency error and a smoothed
// present offset, as chrony does; a runs test on the residuals shortens the window when the
// oscillator wanders. The frequency is then set with ADJ_FREQUENCY and the smoothed offset
// amortised by the kernel PLL held to phase only (STA_PLL|STA_FREQHOLD, time constant
// sys_poll-3), or, with `disable kernel`, slewed with adjtime(2).
type Discipline struct {
	k   Kernel
	p   Params
	log *slog.Logger

	state      State
	started    bool
	kernel     bool
	allowPanic bool
	forceStep  bool
	poll       int8
	tcCounter  int
	// clamp is classic's start-up clamp (freq_cnt > 0): from start until an update in
	// FSET or SYNC comes within clockFloor, or until the stepout has passed in SYNC, the
	// start-up transient is still being corrected, so Settling reports true (the clock
	// filter hands on its newest sample, every sample is weighted alike) and the poll
	// stays put. clampFrom is when it started counting down: the first update that left
	// the clock in SYNC (classic decrements freq_cnt only in SYNC).
	clamp     bool
	clampFrom time.Time

	epoch      time.Time // origin of the sample time line
	stepSum    float64   // steps made since epoch, s
	clockEpoch time.Time // classic clock_epoch: the last update that adjusted the clock
	phaseSum   float64   // phase corrections applied (steps excluded), s
	freqSum    float64   // integral of the frequency correction, s
	lastT      float64   // time line of the last update
	pending    float64   // phase correction commanded at the last update, s
	pendingSS  bool      // it went to the single-shot slew
	freq       float64   // frequency correction, s/s
	prior      float64   // prior frequency (drift file or kept over a step), s/s
	priorW     float64   // its weight, 1/σ² (0: none)
	samples    []sample
	freqSamps  int
	// corr is the history of the total correction (phaseSum+freqSum) at each update, on
	// the time line, so that an offset measured earlier than now (the clock filter may
	// pick a stage several polls old) is mapped back with the corrections of its own time.
	corr []corrPoint

	lastOffset float64
	jitter     float64 // clock_jitter, s
	wander     float64 // clock_stability, s/s
	updated    bool

	tai        int   // TAI-UTC from the leap-seconds file, s (0: unknown)
	kernelTAI  int   // TAI-UTC last written to the kernel
	leapBits   int32 // STA_INS or STA_DEL while a leap second is armed
	lastStatus int32 // status last written, for interference detection
	lastFreq   int64
}

// New makes a discipline over k. Nothing is written to the kernel until the first update,
// so that `disable ntp` (which never calls Process) leaves the kernel alone.
func New(k Kernel, p Params, log *slog.Logger) *Discipline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if p.MinPoll == 0 {
		p.MinPoll = MinTC
	}
	if p.MaxPoll == 0 {
		p.MaxPoll = DefMaxPoll
	}
	if p.Allan == 0 {
		p.Allan = 11
	}
	d := &Discipline{k: k, p: p, log: log, state: NSET, allowPanic: p.PanicGate, forceStep: p.ForceStep,
		clamp: true, poll: max(min(int8(DefMinPoll), p.MaxPoll), p.MinPoll)}
	d.kernel = p.Kernel && !p.Once && p.StepFwd > 0 && p.StepBack > 0 && p.StepFwd <= MaxPhase &&
		p.StepBack <= MaxPhase
	d.jitter = math.Ldexp(1, int(p.Precision))
	// Without a drift file the frequency is taken as 0 ± nsetSigma until samples say
	// otherwise, so that the first two, seconds apart, cannot set it alone.
	d.priorW = 1 / (nsetSigma * nsetSigma)
	if p.Drift != nil {
		d.state = FSET
		d.freq = max(min(*p.Drift*1e-6, MaxFreq), -MaxFreq)
		d.prior, d.priorW = d.freq, 1/(driftSigma*driftSigma)
	}
	return d
}

// SetPollLimits bounds sys_poll by the system peer's minpoll and maxpoll, as classic does.
func (d *Discipline) SetPollLimits(minPoll, maxPoll int8) {
	d.p.MinPoll, d.p.MaxPoll = max(minPoll, MinTC), min(maxPoll, MaxTC)
	d.poll = max(min(d.poll, d.p.MaxPoll), d.p.MinPoll)
}

// Poll returns sys_poll.
func (d *Discipline) Poll() int8 { return d.poll }

// Settling reports classic's freq_cnt > 0 (see Result.Settling): the initial frequency
// is being measured (NSET, FREQ) or the start-up clamp still runs.
func (d *Discipline) Settling() bool { return d.state == NSET || d.state == FREQ || d.clamp }

// Frequency returns the frequency correction, ppm: the drift file's value.
func (d *Discipline) Frequency() float64 { return d.freq * 1e6 }

// Vars returns the loop variables for ntpq.
func (d *Discipline) Vars() Vars {
	return Vars{State: d.state, Offset: d.lastOffset, Frequency: d.freq * 1e6, ClkJitter: d.jitter,
		ClkWander: d.wander * 1e6, TC: d.poll, MinTC: d.p.MinPoll, Kernel: d.kernel, Updated: d.updated}
}

// Project returns the offset that a sample measured at local time from (s, positive when
// the clock is behind) would show at local time to, given what the discipline has done to
// the clock in between: the phase and frequency corrections applied, and the oscillator's
// drift as estimated. The engine aligns the survivors' offsets with it before combining
// them: the clock filter hands on the stage of least delay, which may be polls old, and
// while the kernel amortises a large initial offset, an old offset is tens of
// milliseconds wrong. Before the first update it returns offset unchanged.
func (d *Discipline) Project(offset float64, from, to time.Time) float64 {
	if !d.started || from.IsZero() || to.IsZero() || from.Equal(to) {
		return offset
	}
	tf, tt := d.tline(from), d.tline(to)
	return offset + d.correctionAt(tf) - d.correctionAt(tt) + d.freq*(tt-tf)
}

// Process takes one system offset (s, positive when the clock is behind) with the system
// jitter (s) at local time now, and adjusts the clock as classic ntpd's local_clock
// decides. An error wrapping ErrPanic means the daemon must exit; other errors are kernel
// failures (the update is then not counted).
func (d *Discipline) Process(offset, jitter float64, now time.Time) (Result, error) {
	return d.ProcessAt(offset, jitter, now, now)
}

// ProcessAt is Process for an offset measured at local time at (before now): the clock
// filter hands on the stage of least delay, which may be several polls old, and its offset
// describes the clock as it was then. The estimator places it at that time with the
// corrections applied up to then; treating it as measured now would add the frequency
// correction of the interval to it and bend the frequency estimate by as much.
func (d *Discipline) ProcessAt(offset, jitter float64, at, now time.Time) (Result, error) {
	if at.After(now) || at.IsZero() {
		at = now
	}
	if math.IsNaN(offset) || math.IsInf(offset, 0) {
		return d.result(Result{Ignored: true}), fmt.Errorf("clock: offset %v is not a number", offset)
	}
	if !d.started {
		if err := d.start(now); err != nil {
			return d.result(Result{}), err
		}
	}
	// Classic: "Clock exceeds panic threshold. Life as we know it ends." The check comes
	// before everything, -q included, and -g lifts it until an update below the step
	// threshold arrives.
	if d.p.Panic > 0 && math.Abs(offset) > d.p.Panic && !d.allowPanic {
		return d.result(Result{Ignored: true}), &PanicError{Offset: offset, Threshold: d.p.Panic}
	}
	if d.p.Once {
		return d.once(offset, now)
	}
	big := (offset > d.p.StepFwd && d.p.StepFwd > 0) || (-offset > d.p.StepBack && d.p.StepBack > 0)
	if big || d.forceStep {
		mu := now.Sub(d.clockEpoch).Seconds()
		switch d.state {
		case SYNC:
			if !d.forceStep {
				// A first big offset is a spike until the stepout passes without a
				// good update (measured from the last one, as classic's mu).
				d.state = SPIK
				return d.result(Result{Ignored: true, Event: "spike_detect",
					Detail: fmt.Sprintf("%+.6f s", offset)}), nil
			}
		case FREQ, SPIK:
			if mu < d.p.Stepout && !d.forceStep {
				return d.result(Result{Ignored: true}), nil
			}
		}
		return d.step(offset, now)
	}
	d.allowPanic = false
	return d.slew(offset, jitter, at, now)
}

// result fills the fields every result carries.
func (d *Discipline) result(r Result) Result {
	r.Poll = d.poll
	r.Settling = d.Settling()
	return r
}

// start prepares the kernel: nanosecond mode, the loop's status, the initial frequency.
func (d *Discipline) start(now time.Time) error {
	tx := Timex{Modes: ModeNano | ModeStatus | ModeFrequency, Status: d.status(false), Freq: ScaledPPM(d.freq)}
	if _, err := d.k.Adjtimex(&tx); err != nil {
		return fmt.Errorf("clock: adjtimex(start): %w", err)
	}
	d.lastStatus, d.lastFreq = tx.Status, tx.Freq
	d.started, d.epoch, d.clockEpoch = true, now, now
	return d.pushTAI()
}

// SetTAI gives the discipline TAI-UTC (s) from the leap-seconds file. With the kernel loop
// in use it is written to the kernel (ADJ_TAI), so that CLOCK_TAI reads right, as classic
// ntpd does when its leap file changes sys_tai; like every kernel write it waits for the
// first update, so `disable ntp` leaves the kernel alone.
func (d *Discipline) SetTAI(tai int) error {
	d.tai = tai
	if !d.started {
		return nil
	}
	return d.pushTAI()
}

func (d *Discipline) pushTAI() error {
	if !d.kernel || d.tai <= 0 || d.tai == d.kernelTAI {
		return nil
	}
	tx := Timex{Modes: ModeTAI, TAI: int32(d.tai)}
	if _, err := d.k.Adjtimex(&tx); err != nil {
		return fmt.Errorf("clock: adjtimex(TAI %d s): %w", d.tai, err)
	}
	d.kernelTAI = d.tai
	return nil
}

// status is the STA_* word the loop keeps in the kernel.
func (d *Discipline) status(synced bool) int32 {
	s := d.leapBits
	if d.kernel {
		s = StaPLL | StaFreqHold
	}
	if !synced {
		s |= StaUnsync
	}
	return s
}

// tline is the sample time line: local time without our steps.
func (d *Discipline) tline(now time.Time) float64 { return now.Sub(d.epoch).Seconds() - d.stepSum }

// once is -q (classic mode_ntpdate): step above the threshold, slew below, then done.
func (d *Discipline) once(offset float64, now time.Time) (Result, error) {
	if (offset > d.p.StepFwd && d.p.StepFwd > 0) || (-offset > d.p.StepBack && d.p.StepBack > 0) {
		tx := Timex{Modes: ModeSetOffset, SetOffset: time.Duration(math.Round(offset * 1e9))}
		if _, err := d.k.Adjtimex(&tx); err != nil {
			return d.result(Result{}), fmt.Errorf("clock: step %+.6f s: %w", offset, err)
		}
		d.lastOffset, d.updated = offset, true
		return d.result(Result{Stepped: true, Step: offset, Done: true,
			Message: fmt.Sprintf("ntpd: time set %+.6fs", offset)}), nil
	}
	tx := Timex{Modes: ModeOffsetSingleshot, Offset: int64(math.Round(offset * 1e6))}
	if _, err := d.k.Adjtimex(&tx); err != nil {
		return d.result(Result{}), fmt.Errorf("clock: slew %+.6f s: %w", offset, err)
	}
	d.lastOffset, d.updated = offset, true
	return d.result(Result{Synchronised: true, Done: true, Message: fmt.Sprintf("ntpd: time slew %+.6fs", offset)}), nil
}

// step steps the clock by offset (classic step_systime) and restarts the loop's phase
// bookkeeping; the frequency estimate is kept as a prior.
func (d *Discipline) step(offset float64, now time.Time) (Result, error) {
	if err := d.account(now); err != nil {
		return d.result(Result{}), err
	}
	tx := Timex{Modes: ModeSetOffset | ModeStatus, SetOffset: time.Duration(math.Round(offset * 1e9)),
		Status: d.status(false)}
	if d.kernel {
		// Drop what the PLL still had to do: it belonged to the old time.
		tx.Modes |= ModeOffset
	}
	if _, err := d.k.Adjtimex(&tx); err != nil {
		return d.result(Result{}), fmt.Errorf("clock: step %+.6f s: %w", offset, err)
	}
	if d.pendingSS {
		ss := Timex{Modes: ModeOffsetSingleshot}
		if _, err := d.k.Adjtimex(&ss); err != nil {
			return d.result(Result{}), fmt.Errorf("clock: cancel slew: %w", err)
		}
	}
	d.lastStatus = tx.Status
	d.pending, d.pendingSS = 0, false
	d.stepSum += offset
	d.keepFrequencyOnly()
	d.tcCounter = 0
	d.jitter = math.Ldexp(1, int(d.p.Precision))
	d.lastOffset, d.updated = offset, true
	d.forceStep = false
	if d.state == NSET {
		d.state = FREQ
	} else {
		d.state = SYNC
	}
	d.clockEpoch = now
	return d.result(Result{Stepped: true, Step: offset, Event: "clock_step",
		Detail: fmt.Sprintf("%+.6f s", offset)}), nil
}

// keepFrequencyOnly forgets the offset history after a step but keeps the frequency it
// gave, weighted by how well it was known.
func (d *Discipline) keepFrequencyOnly() {
	if len(d.samples) >= 2 {
		_, _, sb := d.fit(d.samples)
		d.prior, d.priorW = d.freq, 1/math.Max(sb*sb, 1e-16)
	}
	d.samples = d.samples[:0]
	d.corr = d.corr[:0]
	d.freqSamps = 0
}

// account adds to phaseSum what the kernel applied of the last phase command and to
// freqSum the frequency correction's integral up to now.
func (d *Discipline) account(now time.Time) error {
	t := d.tline(now)
	d.freqSum += d.freq * (t - d.lastT)
	d.lastT = t
	if d.pending == 0 {
		return nil
	}
	var tx Timex
	if d.pendingSS {
		tx.Modes = ModeOffsetSSRead
	}
	if _, err := d.k.Adjtimex(&tx); err != nil {
		return fmt.Errorf("clock: adjtimex(read): %w", err)
	}
	rem := float64(tx.Offset) * 1e-9
	if d.pendingSS || tx.Status&StaNano == 0 {
		rem = float64(tx.Offset) * 1e-6
	}
	if !d.pendingSS {
		d.interference(tx)
	}
	d.phaseSum += d.pending - rem
	d.pending = rem
	return nil
}

// record notes the corrections at time line t, after account and command.
func (d *Discipline) record(t float64) {
	if len(d.corr) == maxSamples {
		copy(d.corr, d.corr[1:])
		d.corr = d.corr[:maxSamples-1]
	}
	d.corr = append(d.corr, corrPoint{t: t, c: d.phaseSum + d.freqSum, pending: d.pending, ss: d.pendingSS,
		shift: shiftPLL + int(max(d.poll-3, 0)), freq: d.freq})
}

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
func (d *Discipline) correctionAt(t float64) float64 {
	n := len(d.corr)
	if n == 0 {
		return d.phaseSum + d.freqSum
	}
	if t <= d.corr[0].t {
		return d.corr[0].c
	}
	i := n - 1
	for d.corr[i].t > t {
		i--
	}
	p := d.corr[i]
	endT, endC := d.lastT, d.phaseSum+d.freqSum
	if i < n-1 {
		endT, endC = d.corr[i+1].t, d.corr[i+1].c
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

// interference notices a kernel state we did not leave: another time daemon or an
// administrator (adjtimex, chronyd, timesyncd) is adjusting the clock too.
func (d *Discipline) interference(tx Timex) {
	const mask = StaPLL | StaFreqHold | StaNano
	df := tx.Freq - d.lastFreq
	if tx.Status&mask != d.lastStatus&mask|StaNano || df > 64 || df < -64 {
		d.log.Warn("kernel clock state changed behind gontp's back: is another time daemon running?",
			"status", fmt.Sprintf("%#x", tx.Status), "expected_status", fmt.Sprintf("%#x", d.lastStatus|StaNano),
			"freq_ppm", FromScaledPPM(tx.Freq)*1e6, "expected_freq_ppm", FromScaledPPM(d.lastFreq)*1e6)
		d.freq = FromScaledPPM(tx.Freq)
		d.lastFreq = tx.Freq
	}
}

// slew is an ordinary update: fit, set frequency and phase, adjust the poll.
func (d *Discipline) slew(offset, jitter float64, at, now time.Time) (Result, error) {
	if err := d.account(now); err != nil {
		return d.result(Result{}), err
	}
	ts := d.tline(at)
	us := offset + d.correctionAt(ts)
	prec := math.Ldexp(1, int(d.p.Precision))
	// Classic's clock_jitter: exponential average of squared offset differences.
	diff := math.Max(math.Abs(offset-d.lastOffset), prec)
	if d.updated {
		d.jitter = math.Sqrt(d.jitter*d.jitter + (diff*diff-d.jitter*d.jitter)/clockAvg)
	}
	sigma := math.Max(math.Max(jitter, prec), 1e-7)
	if d.Settling() {
		// While the frequency is first measured the system jitter says little about a
		// sample's error: the clock filter has seen few samples (the very first comes
		// with a jitter of 0), and the uncorrected frequency itself spreads their
		// offsets. Weighted by it, the first iburst samples, seconds apart, would
		// outweigh the later ones and set the slope. Weighting the samples of this
		// phase alike fits the line over its whole span.
		sigma = math.Max(sigma, freqSigma)
	}
	t := d.tline(now)
	// A sample not newer than the last one taken says nothing new about the oscillator.
	if n := len(d.samples); n == 0 || ts > d.samples[n-1].t {
		if len(d.samples) == maxSamples {
			copy(d.samples, d.samples[1:])
			d.samples = d.samples[:maxSamples-1]
		}
		d.samples = append(d.samples, sample{t: ts, u: us, w: 1 / (sigma * sigma)})
	}
	d.samples = d.window(d.samples)
	d.freqSamps++

	a, b, _ := d.fit(d.samples)
	oldFreq := d.freq
	d.freq = max(min(b, MaxFreq), -MaxFreq)
	// The smoothed present offset: the line now, less what we have corrected.
	phase := a + b*(t-d.tmean(d.samples)) - d.phaseSum - d.freqSum
	if len(d.samples) < 2 {
		phase = offset
	}
	if err := d.command(phase, true); err != nil {
		return d.result(Result{}), err
	}
	d.record(t)
	df := d.freq - oldFreq
	if d.updated {
		d.wander = math.Sqrt(d.wander*d.wander + (df*df-d.wander*d.wander)/clockAvg)
	}
	d.pollAdjust(offset)
	d.lastOffset, d.updated = offset, true
	r := Result{Synchronised: true}
	switch d.state {
	case NSET:
		d.state, r.Event = FREQ, "freq_mode"
	case FSET, SPIK:
		d.state, r.Event = SYNC, "clock_sync"
	case FREQ:
		if d.freqSamps >= 4 && t-d.samples[0].t >= math.Max(d.p.Stepout, 30) {
			d.state, r.Event = SYNC, "clock_sync"
		}
	}
	if d.clamp && d.state == SYNC {
		// Classic clears freq_cnt at the first update within CLOCK_FLOOR and counts it
		// down by the second in SYNC otherwise.
		if d.clampFrom.IsZero() {
			d.clampFrom = now
		}
		if math.Abs(offset) < clockFloor || now.Sub(d.clampFrom).Seconds() >= d.p.Stepout {
			d.clamp = false
		}
	}
	d.clockEpoch = now
	return d.result(r), nil
}

// command sends the frequency and the phase correction to the kernel.
func (d *Discipline) command(phase float64, synced bool) error {
	tx := Timex{Modes: ModeFrequency | ModeStatus | ModeMaxError | ModeEstError, Freq: ScaledPPM(d.freq),
		Status: d.status(synced), EstError: int64(d.jitter * 1e6),
		MaxError: int64((math.Abs(phase) + d.jitter) * 1e6)}
	ss := !d.kernel || math.Abs(phase) > MaxPhase
	if !ss {
		tx.Modes |= ModeOffset | ModeTimeConst
		tx.Offset = int64(math.Round(phase * 1e9))
		tx.Constant = int64(max(d.poll-3, 0))
	} else if d.kernel {
		tx.Modes |= ModeOffset // clear the PLL's offset; the slew does the work
	}
	if _, err := d.k.Adjtimex(&tx); err != nil {
		return fmt.Errorf("clock: adjtimex(offset %+.9f s, freq %.3f ppm): %w", phase, d.freq*1e6, err)
	}
	d.lastStatus, d.lastFreq = d.status(synced), ScaledPPM(d.freq)
	if ss {
		s := Timex{Modes: ModeOffsetSingleshot, Offset: int64(math.Round(phase * 1e6))}
		if _, err := d.k.Adjtimex(&s); err != nil {
			return fmt.Errorf("clock: adjtime(%+.6f s): %w", phase, err)
		}
		phase = float64(int64(math.Round(phase*1e6))) * 1e-6
	} else if d.pendingSS && d.pending != 0 {
		s := Timex{Modes: ModeOffsetSingleshot}
		if _, err := d.k.Adjtimex(&s); err != nil {
			return fmt.Errorf("clock: cancel slew: %w", err)
		}
	}
	d.pending, d.pendingSS = phase, ss
	return nil
}

// pollAdjust is classic's sys_poll rule: offsets within CLOCK_PGATE jitters count up by
// sys_poll, others down by twice that; crossing ±CLOCK_LIMIT moves the poll one step. One
// condition is gontp's (chrony's polltarget): the poll only rises while the estimator's
// window holds pollSamples samples, so an oscillator that wanders faster than the runs test
// lets the window grow keeps the poll short enough to follow it.
func (d *Discipline) pollAdjust(offset float64) {
	if d.clamp {
		// Classic: "Don't fiddle with the poll during the startup clamp period."
		d.tcCounter = 0
		return
	}
	if math.Abs(offset) < clockPGate*d.jitter && len(d.samples) >= pollSamples {
		d.tcCounter += int(d.poll)
		if d.tcCounter > clockLimit {
			d.tcCounter = clockLimit
			if d.poll < d.p.MaxPoll {
				d.tcCounter = 0
				d.poll++
			}
		}
		return
	}
	d.tcCounter -= int(d.poll) << 1
	if d.tcCounter < -clockLimit {
		d.tcCounter = -clockLimit
		if d.poll > d.p.MinPoll {
			d.tcCounter = 0
			d.poll--
		}
	}
}

func (d *Discipline) tmean(s []sample) float64 {
	var sw, st float64
	for _, x := range s {
		sw += x.w
		st += x.w * x.t
	}
	return st / sw
}

// fit is the weighted least-squares line through the samples, with the prior frequency as
// an extra observation of the slope: intercept a at the weighted mean time, slope b and
// the slope's standard error.
func (d *Discipline) fit(s []sample) (a, b, sb float64) {
	tm := d.tmean(s)
	var sw, su, stt, stu float64
	for _, x := range s {
		dt := x.t - tm
		sw += x.w
		su += x.w * x.u
		stt += x.w * dt * dt
		stu += x.w * dt * x.u
	}
	a = su / sw
	if len(s) < 2 {
		// One sample says nothing of the slope; its rounding residue (dt of about
		// 1e-16 s) must not pass for a measurement.
		stt, stu = 0, 0
	}
	den := stt + d.priorW
	if den == 0 {
		return a, d.freq, 1e-4
	}
	b = (stu + d.priorW*d.prior) / den
	return a, b, math.Sqrt(1 / den)
}

// nsetSigma is the uncertainty of the frequency before any measurement: a crystal
// oscillator's error is within ±100 ppm or so.
const nsetSigma = 100e-6

// driftSigma is the uncertainty given to a drift file's frequency, s/s. The file is
// usually right within a part per million, but it was written at another temperature,
// or on other hardware after a disk moved: at 1 ppm a file 20 ppm wrong outweighed a
// minute of samples and the offset sat near a millisecond for a minute and a half
// (testdata/sim/driftfile.scn); at 3 ppm the samples win within half a minute, and a
// right file settles as fast.
const driftSigma = 3e-6

// freqSigma is the least error assumed for a sample in state FREQ, s.
const freqSigma = 100e-6

// priorWander is the oscillator's assumed random-walk frequency wander, s/s per √s, by
// which a frequency learnt from dropped samples loses weight as time goes on (0.5 ppb/√s:
// about 0.15 ppm over a day, a quartz oscillator in a room whose temperature varies).
const priorWander = 0.5e-9

// keepPrior keeps what the oldest drop samples of s told about the frequency: the slope of
// all of s becomes the prior, weighted by its standard error and by the wander expected
// since the dropped samples. Without it an estimator whose window was emptied by a long
// outage would take the frequency from the first few noisy samples after it.
func (d *Discipline) keepPrior(s []sample, drop int) {
	if len(s) < 2 || drop <= 0 {
		return
	}
	_, b, sb := d.fit(s)
	dt := s[len(s)-1].t - d.tmean(s[:drop])
	v := sb*sb + priorWander*priorWander*math.Max(dt, 0)
	d.prior, d.priorW = b, 1/math.Max(v, 1e-18)
}

// window drops the oldest samples while the residuals fail a runs test: too few sign
// changes mean the line no longer fits the oscillator (wander, or a change of path).
func (d *Discipline) window(s []sample) []sample {
	// Beyond twice the Allan intercept (tinker allan, 2^11 s) a straight line no longer
	// describes a real oscillator's phase: wander dominates the noise it averages out.
	if n := len(s); n > 0 {
		limit := s[n-1].t - math.Ldexp(1, int(d.p.Allan)+1)
		i := 0
		for i < n-1 && s[i].t < limit {
			i++
		}
		if i > 0 {
			d.keepPrior(s, i)
			copy(s, s[i:])
			s = s[:n-i]
		}
	}
	for len(s) >= 8 {
		a, b, _ := d.fit(s)
		tm := d.tmean(s)
		var pos, neg, runs int
		prev := 0
		for _, x := range s {
			r := x.u - a - b*(x.t-tm)
			sg := 1
			if r < 0 {
				sg = -1
				neg++
			} else {
				pos++
			}
			if sg != prev {
				runs++
				prev = sg
			}
		}
		n := float64(len(s))
		mu := 2*float64(pos)*float64(neg)/n + 1
		v := (mu - 1) * (mu - 2) / (n - 1)
		if v <= 0 || float64(runs) >= mu-2.33*math.Sqrt(v) {
			break
		}
		drop := max(len(s)/4, 1)
		copy(s, s[drop:])
		s = s[:len(s)-drop]
	}
	return s
}

// Leap tells the kernel to insert (ins) or delete (del) a second at the coming UTC
// midnight, or neither. Classic arms the kernel during the last day before the leap; the
// caller (leap table or the servers' vote) decides when. The bits stay set in every status
// the loop writes until Leap(false, false).
func (d *Discipline) Leap(ins, del bool) error {
	if ins && del {
		return errors.New("clock: a leap second cannot be inserted and deleted at once")
	}
	var bits int32
	if ins {
		bits = StaIns
	}
	if del {
		bits = StaDel
	}
	if bits == d.leapBits {
		return nil
	}
	d.leapBits = bits
	if !d.started {
		return nil
	}
	tx := Timex{Modes: ModeStatus, Status: d.lastStatus&^(StaIns|StaDel) | bits}
	if _, err := d.k.Adjtimex(&tx); err != nil {
		return fmt.Errorf("clock: adjtimex(leap status %#x): %w", tx.Status, err)
	}
	d.lastStatus = tx.Status &^ StaNano
	return nil
}
