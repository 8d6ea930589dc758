// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
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
	DefMinPoll = 6  // NTP_MINDPOLL: the default minpoll of an association
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
	// FastPoll, when not 0, is the poll exponent the associations should poll at (at
	// most) while the discipline measures the start-up frequency (Discipline.FastPoll).
	FastPoll int8
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
	Allan     int8    // Allan intercept, log2 s (tinker allan): the clock filter uses it too
}

// Start-up training: from the first update until the frequency is known within
// trainSigma from at least trainSamples samples, and for at most trainMax, the discipline
// asks for polls every 2^trainPoll s; during classic's start-up clamp it also runs the
// kernel PLL with time constant 0, so that the start-up error is gone in tens of seconds
// instead of the minutes a 64 s poll and a 32 s PLL take (gontp's choice; classic waits
// out the stepout in state FREQ). 2^3 s is classic's and chrony's default rate limit for
// a client (`discard average 3`, `ratelimit interval 3`), so servers do not kiss it off.
// On a clean LAN the frequency is known within a minute; over a jittery link (200 µs ±
// 100 µs each way, 70 µs of noise in each offset) it takes the samples of a quarter of an
// hour to know it within 0.03 ppm, so that a frequency taken from the first five minutes
// (±0.1 ppm) does not drift the clock by 30 µs in the next five; after trainMax the
// configured poll takes over whatever the estimate's error. trainSigma is 3 ppb because
// after training the polls are 64 s and more, and a frequency off by its error then drifts
// the clock between them: with 0.01 ppm the kernel lab's LAN (offsets scattered by 10 µs)
// left training after eight minutes, and the clock drifted 15 µs in the next fifteen with
// the frequency 0.01 ppm off; simulated over 20 seeds (testdata/sim/lablan.scn), the SD of
// the second quarter-hour was 2.1 µs RMS with 0.01 ppm and 0.9 µs with 3 ppb.
const (
	trainPoll    = MinTC
	trainSamples = 8
	trainSigma   = 0.003e-6
	trainMax     = 15 * time.Minute
)

// Outliers: once the window holds trainSamples samples, a sample whose residual from the
// window's line exceeds outlierGate times the residuals' scale (and outlierFloor) is held
// back, up to maxOutliers in a row; the next is taken as a phase jump. The scale is
// robust (the residuals' median): in the kernel lab the RMS of a window that still held
// the start-up transient let a 500 µs outlier through. While settling, the clock filter
// hands on every newest sample, so one that waited in a queue (4 ms, seen in the kernel
// lab under load) would otherwise reach the fit with full weight and throw the
// frequency 150 ppm off. Classic's popcorn suppressor (clock_filter) does the same job
// for the filter's output.
const (
	outlierGate  = 5
	outlierFloor = 50e-6
	maxOutliers  = 3
)

// freqSigma is the least uncertainty the estimator gives a sample while its window holds
// fewer than trainSamples samples (estimator.reweigh), s: a robust scale from a handful of samples
// may be small by chance, and the next sample would then outweigh them all.
const freqSigma = 100e-6

// Discipline is the clock discipline. It is not safe for concurrent use; the engine's
// goroutine owns it.
//
// It has three parts, each the one owner of its concept:
//   - the policy, here: classic ntpd's states (NSET, FSET, FREQ, SYNC, SPIK), step
//     threshold and stepout, panic threshold and -g, -G, -q, the start-up clamp and
//     sys_poll;
//   - the estimator (estimator.go): offset and frequency from the samples, pure
//     arithmetic;
//   - the kernel ledger (ledger.go): what was asked of the kernel and what it has done,
//     the STA_* word with the leap bits, TAI-UTC, interference.
//
// Leap seconds have their own owner (leap.go), whose decision the ledger writes.
//
// The loop is better than ntpd's hybrid PLL/FLL: every offset is mapped back to what the
// clock would have shown without any correction, and a weighted least-squares line
// through those points gives both the frequency error and a smoothed present offset, as
// chrony does. The frequency is then set with ADJ_FREQUENCY and the smoothed offset
// amortised by the kernel PLL held to phase only (STA_PLL|STA_FREQHOLD, time constant
// sys_poll-3), or, with `disable kernel`, slewed with adjtime(2).
type Discipline struct {
	p   Params
	log *slog.Logger

	est  estimator
	led  ledger
	leap leapOwner

	state      State
	allowPanic bool
	forceStep  bool
	poll       int8
	tcCounter  int
	atPoll     int // updates since sys_poll last changed
	outliers   int // samples held back in a row
	// clamp is classic's start-up clamp (freq_cnt > 0): from start until an update in
	// FSET or SYNC comes within clockFloor, or until the stepout has passed in SYNC, the
	// start-up transient is still being corrected, so Settling reports true (the clock
	// filter hands on its newest sample, every sample is weighted alike) and the poll
	// stays put. clampFrom is when it started counting down: the first update that left
	// the clock in SYNC (classic decrements freq_cnt only in SYNC).
	clamp      bool
	clampFrom  time.Time
	clockEpoch time.Time // classic clock_epoch: the last update that adjusted the clock
	startAt    time.Time // the first update
	lastAt     time.Time // the latest update

	lastOffset float64
	jitter     float64 // clock_jitter, s
	wander     float64 // clock_stability, s/s
	updated    bool
	// primed are the system peer's samples from before the first update (Prime).
	primed []Earlier
	// rootDelay and rootDisp are the system's root delay and dispersion for the update
	// being processed: the kernel's maximum error is rootdelay/2 + rootdisp (classic
	// local_clock's ntv.maxerror).
	rootDelay, rootDisp float64
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
	d := &Discipline{p: p, log: log, state: NSET, allowPanic: p.PanicGate, forceStep: p.ForceStep,
		clamp: true, poll: p.MinPoll}
	pll := p.Kernel && !p.Once && p.StepFwd > 0 && p.StepBack > 0 && p.StepFwd <= MaxPhase &&
		p.StepBack <= MaxPhase
	d.led = ledger{k: k, log: log, pll: pll}
	d.jitter = math.Ldexp(1, int(p.Precision))
	// Without a drift file the frequency is taken as 0 ± nsetSigma until samples say
	// otherwise, so that the first two, seconds apart, cannot set it alone.
	d.est = newEstimator(0, nsetSigma, p.Allan)
	if p.Drift != nil {
		d.state = FSET
		d.led.freq = max(min(*p.Drift*1e-6, MaxFreq), -MaxFreq)
		d.est = newEstimator(d.led.freq, driftSigma, p.Allan)
	}
	return d
}

// Earlier is a sample the system peer measured before the discipline's first update
// (Prime): its offset (s, positive when the clock is behind) and the local time it was
// measured at.
type Earlier struct {
	Offset float64
	At     time.Time
}

// Prime hands the discipline, before its first update, the samples the system peer
// measured before it: the first update is the fourth sample of an iburst (the clock
// filter's dispersion keeps an association unfit until then), and with that sample alone
// a start-up step leaves the frequency unknown until the next update, 8 s later, during
// which the kernel lab's +100 ppm clock ran a millisecond away. The three earlier samples
// (6 s) give the frequency within a few ppm before the step, and the step sets it.
// Classic has nothing like it: its step is followed by 300 s of frequency measurement.
// It has no effect after the first update.
func (d *Discipline) Prime(s []Earlier) {
	if d.updated || !d.startAt.IsZero() {
		return
	}
	d.primed = append(d.primed[:0], s...)
}

// Begin writes the kernel's starting state when the daemon starts, before any sample:
// nanosecond mode, the loop's status word and the frequency of the drift file (0 without
// one), as classic ntpd 4.2.8p15 does at start-up (loop_config LOOP_DRIFTINIT: its kernel
// loop's start and set_freq). After a reboot the kernel runs at its natural rate until that
// write, and with the write left to the first update (7 s into an iburst, 80 s without
// one) a +100 ppm oscillator ran 0.7 ms, or 8 ms, away first, which a restart without a
// step then had to slew back (testdata/sim/reboot.scn). With -q nothing is written before
// the update, as classic's ntpdate mode skips it. Without Begin the first update writes the
// same state. An error (no CAP_SYS_TIME) leaves that to the first update, whose error is
// the one reported.
func (d *Discipline) Begin(now time.Time) error {
	if d.p.Once || d.led.started {
		return nil
	}
	return d.led.start(now, d.led.freq)
}

// SetPollLimits bounds sys_poll by the system peer's minpoll and maxpoll, as classic does.
func (d *Discipline) SetPollLimits(minPoll, maxPoll int8) {
	d.p.MinPoll, d.p.MaxPoll = max(minPoll, MinTC), min(maxPoll, MaxTC)
	d.poll = max(min(d.poll, d.p.MaxPoll), d.p.MinPoll)
}

// SetRootDistance gives the system's root delay and root dispersion (s) of the update about
// to be processed: classic clock_update sets sys_rootdelay and sys_rootdisp before it calls
// local_clock, which hands rootdelay/2 + rootdisp to the kernel as its maximum error
// (ntv.maxerror), the bound that ntptime, timedatectl and "synchronised" checks read.
func (d *Discipline) SetRootDistance(rootDelay, rootDisp float64) {
	d.rootDelay, d.rootDisp = rootDelay, rootDisp
}

// SetKernelPPS says whether the kernel's own PPS discipline should run: a PPS driver bound
// its pulses to the kernel (fudge flag3, PPS_KC_BIND) and the PPS source is the system
// peer. With the kernel loop the status word carries STA_PPSTIME|STA_PPSFREQ from now on
// (classic local_clock with hardpps_enable), written at once once the kernel has been
// started; without the kernel loop nothing changes. The kernel then
// reports the pulses' state (STA_PPSSIGNAL, STA_PPSJITTER, ppsfreq, jitter, stabil, calcnt)
// to ntptime and ntpq's kerninfo.
func (d *Discipline) SetKernelPPS(on bool) error { return d.led.setHardPPS(on) }

// Poll returns sys_poll.
func (d *Discipline) Poll() int8 { return d.poll }

// Settling reports classic's freq_cnt > 0 (see Result.Settling): the initial frequency
// is being measured (NSET, FREQ) or the start-up clamp still runs.
func (d *Discipline) Settling() bool { return d.state == NSET || d.state == FREQ || d.clamp }

// Frequency returns the frequency correction, ppm: the drift file's value.
func (d *Discipline) Frequency() float64 { return d.led.freq * 1e6 }

// Vars returns the loop variables for ntpq.
func (d *Discipline) Vars() Vars {
	return Vars{State: d.state, Offset: d.lastOffset, Frequency: d.led.freq * 1e6, ClkJitter: d.jitter,
		ClkWander: d.wander * 1e6, TC: d.poll, MinTC: d.p.MinPoll, Kernel: d.led.pll, Updated: d.updated,
		Allan: d.p.Allan}
}

// Project returns the offset that a sample measured at local time from (s, positive when
// the clock is behind) would show at local time to, given what the discipline has done to
// the clock in between: the phase and frequency corrections applied, and the oscillator's
// drift as estimated. The engine aligns the survivors' offsets with it before combining
// them: the clock filter hands on the stage of least delay, which may be polls old, and
// while the kernel amortises a large initial offset, an old offset is tens of
// milliseconds wrong. Before the first update it returns offset unchanged.
func (d *Discipline) Project(offset float64, from, to time.Time) float64 {
	if d.startAt.IsZero() || from.IsZero() || to.IsZero() || from.Equal(to) {
		return offset
	}
	tf, tt := d.led.tline(from), d.led.tline(to)
	return offset + d.led.correctionAt(tf) - d.led.correctionAt(tt) + d.led.freq*(tt-tf)
}

// Process takes one system offset (s, positive when the clock is behind) at local time
// now, with its delay excess (s: how much the sample's round-trip delay exceeds the least
// its source's clock filter holds; half of it may have gone one way only, so it widens
// the sample's uncertainty), and adjusts the clock as classic ntpd's local_clock decides.
// An error wrapping ErrPanic means the daemon must exit; other errors are kernel failures
// (the update is then not counted).
func (d *Discipline) Process(offset, excess float64, now time.Time) (Result, error) {
	return d.ProcessAt(offset, excess, now, now)
}

// ProcessAt is Process for an offset measured at local time at (before now): the clock
// filter hands on the stage of least delay, which may be several polls old, and its offset
// describes the clock as it was then. The estimator places it at that time with the
// corrections applied up to then; treating it as measured now would add the frequency
// correction of the interval to it and bend the frequency estimate by as much.
//
// A kernel failure (EPERM without CAP_SYS_TIME, EINVAL) leaves the discipline as it was
// before the call: the error names the adjtimex call, and the next update tries again.
func (d *Discipline) ProcessAt(offset, excess float64, at, now time.Time) (Result, error) {
	if at.After(now) || at.IsZero() {
		at = now
	}
	if math.IsNaN(offset) || math.IsInf(offset, 0) {
		return d.result(Result{Ignored: true}), fmt.Errorf("clock: offset %v is not a number", offset)
	}
	saved := d.save()
	r, err := d.process(offset, excess, at, now)
	if err != nil && !errors.Is(err, ErrPanic) {
		d.restore(saved)
		return d.result(Result{}), err
	}
	return r, err
}

// saved is the discipline's state before an update, restored when the kernel refuses it.
type saved struct {
	d   Discipline
	est estimator
	led ledger
}

func (d *Discipline) save() saved { return saved{d: *d, est: d.est.clone(), led: d.led.clone()} }

func (d *Discipline) restore(s saved) {
	*d = s.d
	d.est, d.led = s.est, s.led
}

func (d *Discipline) process(offset, excess float64, at, now time.Time) (Result, error) {
	if !d.led.started {
		if err := d.led.start(now, d.led.freq); err != nil {
			return d.result(Result{}), err
		}
	}
	if d.startAt.IsZero() {
		d.clockEpoch, d.startAt = now, now
	}
	d.lastAt = now
	primed := d.takePrimed(offset, at)
	// Classic: "Clock exceeds panic threshold. Life as we know it ends." The check comes
	// before everything, -q included; -g lifts it for the first update only: classic
	// clears allow_panic right after the check, whatever the update then does.
	if d.p.Panic > 0 && math.Abs(offset) > d.p.Panic && !d.allowPanic {
		return d.result(Result{Ignored: true}), &PanicError{Offset: offset, Threshold: d.p.Panic}
	}
	d.allowPanic = false
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
		return d.step(offset, now, primed)
	}
	return d.slew(offset, excess, at, now)
}

// takePrimed puts the primed samples (Prime) and the first update's own sample into the
// empty estimator, on the time line of no corrections, and reports whether there were any.
// The only correction before the first update is the frequency Begin wrote, from then on:
// a sample measured after it is mapped back by that frequency's integral, one measured
// before it (no Begin) is taken as it is. They are weighted as the window's other samples
// (reweigh).
func (d *Discipline) takePrimed(offset float64, at time.Time) bool {
	if len(d.primed) == 0 || d.updated || d.est.n() > 0 {
		d.primed = nil
		return false
	}
	slices.SortFunc(d.primed, func(a, b Earlier) int { return a.At.Compare(b.At) })
	n := 0
	for _, p := range d.primed {
		if p.At.Before(at) && !math.IsNaN(p.Offset) && !math.IsInf(p.Offset, 0) {
			d.est.add(sample{t: d.led.tline(p.At), u: p.Offset + d.beganCorrection(p.At)})
			n++
		}
	}
	d.primed = nil
	if n == 0 {
		return false
	}
	d.est.add(sample{t: d.led.tline(at), u: offset + d.beganCorrection(at)})
	return true
}

// beganCorrection is the correction the kernel had applied by local time at since Begin
// (its frequency's integral; 0 before it), s.
func (d *Discipline) beganCorrection(at time.Time) float64 {
	return d.led.freq * max(d.led.tline(at), 0)
}

// result fills the fields every result carries.
func (d *Discipline) result(r Result) Result {
	r.Poll = d.poll
	r.Settling = d.Settling()
	r.FastPoll = d.FastPoll()
	return r
}

// training reports that the start-up frequency is still being measured: until
// trainSamples samples give the frequency within trainSigma, during the start-up clamp
// and for at most trainMax after the first update.
func (d *Discipline) training() bool {
	if d.p.Once {
		return false
	}
	if d.Settling() {
		return d.est.n() < trainSamples || d.est.slopeError() > trainSigma
	}
	return d.lastAt.Sub(d.startAt) < trainMax && d.est.slopeError() > trainSigma
}

// FastPoll is the poll exponent the engine should poll its sources at while the start-up
// frequency is measured (trainPoll, bounded by the configured maxpoll), 0 otherwise.
func (d *Discipline) FastPoll() int8 {
	if !d.training() {
		return 0
	}
	return min(trainPoll, d.p.MaxPoll)
}

// constant is the kernel PLL's time constant: sys_poll-3 (classic hands the kernel
// sys_poll in nanosecond mode, where Linux adds nothing and ntpd's own loop would use
// 2^sys_poll; with STA_FREQHOLD only the phase is amortised, 1/2^(2+constant) a second),
// 0 while training during the start-up clamp.
func (d *Discipline) constant() int {
	if d.Settling() && d.training() {
		return 0
	}
	return int(max(d.poll-3, 0))
}

// SetTAI gives the discipline TAI-UTC (s). With the kernel loop in use it is written to the
// kernel (ADJ_TAI), so that CLOCK_TAI reads right; like every kernel write it waits for
// the first update, so `disable ntp` leaves the kernel alone. A leap table
// (SetLeapTable) sets it at every update.
func (d *Discipline) SetTAI(tai int) error { return d.led.setTAI(tai) }

// SetLeapTable gives the leap owner the leap-seconds file (nil: none), read at start and
// on every reload; its TAI-UTC goes to the kernel as SetTAI.
func (d *Discipline) SetLeapTable(t LeapTable, now time.Time) error {
	d.leap.table = t
	if t == nil {
		return nil
	}
	return d.led.setTAI(t.TAI(now))
}

// Leap takes the survivors' leap vote (a majority announcing an insertion or a deletion)
// at an update at now and returns the leap owner's decision: whether a leap second is
// scheduled, and whether it is armed now (the last day before it), which the kernel
// carries as STA_INS/STA_DEL from this call on and the server serves as its leap
// indicator. The engine calls it at every update that leaves the clock synchronised.
func (d *Discipline) Leap(now time.Time, voteIns, voteDel bool) (LeapState, error) {
	s := d.leap.decide(now, voteIns, voteDel)
	if msg := describeLeap(d.leap.last, s); msg != "" {
		d.log.Info(msg)
	}
	d.leap.last = s
	var err error
	if e := d.led.setLeap(s.kernelBits()); e != nil {
		err = e
	}
	if d.leap.table != nil {
		if e := d.led.setTAI(d.leap.table.TAI(now)); e != nil && err == nil {
			err = e
		}
	}
	return s, err
}

// once is -q (classic mode_ntpdate): step above the threshold, slew below, then done.
func (d *Discipline) once(offset float64, now time.Time) (Result, error) {
	if (offset > d.p.StepFwd && d.p.StepFwd > 0) || (-offset > d.p.StepBack && d.p.StepBack > 0) {
		tx := Timex{Modes: ModeSetOffset, SetOffset: time.Duration(math.Round(offset * 1e9))}
		if err := d.led.adjtimex(fmt.Sprintf("step %+.6f s", offset), &tx); err != nil {
			return d.result(Result{}), err
		}
		d.lastOffset, d.updated = offset, true
		return d.result(Result{Stepped: true, Step: offset, Done: true,
			Message: fmt.Sprintf("ntpd: time set %+.6fs", offset)}), nil
	}
	tx := Timex{Modes: ModeOffsetSingleshot, Offset: int64(math.Round(offset * 1e6))}
	if err := d.led.adjtimex(fmt.Sprintf("single-shot slew %+.6f s", offset), &tx); err != nil {
		return d.result(Result{}), err
	}
	d.lastOffset, d.updated = offset, true
	return d.result(Result{Synchronised: true, Done: true, Message: fmt.Sprintf("ntpd: time slew %+.6fs", offset)}), nil
}

// step steps the clock by offset (classic step_systime) and restarts the loop's phase
// bookkeeping as classic does: clock_jitter back to the precision, last_offset 0 (rstclock
// with offset 0), tc_counter 0.
//
// A first step with primed samples (Prime) also sets the frequency they give.
func (d *Discipline) step(offset float64, now time.Time, primed bool) (Result, error) {
	if err := d.led.account(now); err != nil {
		return d.result(Result{}), err
	}
	if err := d.led.step(offset); err != nil {
		return d.result(Result{}), err
	}
	d.est.keepFrequencyOnly()
	d.led.forget()
	if primed {
		freq := max(min(d.est.prior, MaxFreq), -MaxFreq)
		if err := d.led.command(freq, 0, d.constant(), false, d.rootDelay/2+d.rootDisp, d.jitter); err != nil {
			return d.result(Result{}), err
		}
		d.led.record(d.led.tline(now), shiftPLL+d.constant())
	}
	d.tcCounter = 0
	d.jitter = math.Ldexp(1, int(d.p.Precision))
	d.lastOffset, d.updated = 0, true
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

// slew is an ordinary update: estimate, set frequency and phase, adjust the poll.
func (d *Discipline) slew(offset, excess float64, at, now time.Time) (Result, error) {
	if err := d.led.account(now); err != nil {
		return d.result(Result{}), err
	}
	ts := d.led.tline(at)
	us := offset + d.led.correctionAt(ts)
	prec := math.Ldexp(1, int(d.p.Precision))
	// Classic's clock_jitter: exponential average of squared offset differences.
	diff := math.Max(math.Abs(offset-d.lastOffset), prec)
	if d.updated {
		d.jitter = math.Sqrt(d.jitter*d.jitter + (diff*diff-d.jitter*d.jitter)/clockAvg)
	}
	t := d.led.tline(now)
	if d.est.n() >= trainSamples {
		pred, _, _ := d.est.line(ts)
		gate := math.Max(outlierGate*d.est.residualScale(), outlierFloor)
		if math.Abs(us-pred) > gate {
			if d.outliers < maxOutliers {
				d.outliers++
				d.log.Debug("clock: offset held back as an outlier", "offset", offset,
					"residual", us-pred, "gate", gate)
				return d.result(Result{Ignored: true, Synchronised: d.state == SYNC}), nil
			}
			// The offset stayed off the line: the clock's phase jumped (a time source
			// or path changed, or the host lost time), which a line through samples
			// on both sides would take for a frequency error (5 ppm, seen in the
			// kernel lab after a 1.8 ms jump of the guest's clock). The window starts
			// again from here, keeping the frequency it had found.
			d.log.Info(fmt.Sprintf("clock: offset %+.6f s stayed %.6f s off the estimate for %d samples: "+
				"the estimator starts a new window, keeping the frequency", offset, us-pred, maxOutliers+1))
			d.est.keepFrequencyOnly()
		}
	}
	d.outliers = 0
	d.est.add(sample{t: ts, u: us, x: math.Max(excess, 0)})

	u, b, _ := d.est.line(t)
	oldFreq := d.led.freq
	freq := max(min(b, MaxFreq), -MaxFreq)
	// The smoothed present offset: the line now, less what we have corrected.
	phase := u - d.led.total()
	if d.est.n() < 2 {
		phase = offset
	}
	if !d.Settling() {
		// A correction within its own uncertainty is made in part, by the share a
		// Wiener filter would give it (x²/(x²+σ²)): once the start-up is over, the
		// line's present value moves by its noise from one update to the next, and
		// following each move in full only adds that noise to the clock. A real offset
		// stays in the samples and is taken up over the next updates. Over the kernel
		// lab's jittery link (70 µs of noise in each offset) this took the simulated
		// second half's SD from 8.2 to 6.8 µs RMS over 20 seeds (testdata/sim/jitter.scn);
		// chrony slows its corrections in proportion to their uncertainty for the same
		// reason (corrtimeratio).
		if sp := d.est.lineSigma(t); !math.IsInf(sp, 0) && phase != 0 {
			phase *= phase * phase / (phase*phase + sp*sp)
		}
	}
	tc := d.constant()
	if err := d.led.command(freq, phase, tc, true, d.rootDelay/2+d.rootDisp, d.jitter); err != nil {
		return d.result(Result{}), err
	}
	d.led.record(t, shiftPLL+tc)
	df := freq - oldFreq
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
		if d.est.taken >= 4 && d.est.n() > 0 && t-d.est.samples[0].t >= math.Max(d.p.Stepout, 30) {
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

// pollAdjust is classic's sys_poll rule: offsets within CLOCK_PGATE jitters count up by
// sys_poll, others down by twice that; crossing ±CLOCK_LIMIT moves the poll one step. One
// condition is gontp's (chrony's polltarget): the poll only rises while the estimator's
// window holds pollSamples samples, so an oscillator that wanders faster than the runs test
// lets the window grow keeps the poll short enough to follow it; and pollSamples updates
// must have been made at the present poll, so that the samples of the fast start-up polls
// do not raise it at once (a longer poll averages fewer samples and finds a vanished
// server later).
func (d *Discipline) pollAdjust(offset float64) {
	if d.clamp {
		// Classic: "Don't fiddle with the poll during the startup clamp period."
		d.tcCounter = 0
		return
	}
	d.atPoll++
	if math.Abs(offset) < clockPGate*d.jitter && d.est.n() >= pollSamples && d.atPoll >= pollSamples {
		d.tcCounter += int(d.poll)
		if d.tcCounter > clockLimit {
			d.tcCounter = clockLimit
			if d.poll < d.p.MaxPoll {
				d.tcCounter = 0
				d.poll++
				d.atPoll = 0
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
			d.atPoll = 0
		}
	}
}
