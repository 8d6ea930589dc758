// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"math"
	"time"

	"gontp/clock"
)

// Adjuster is what a discipline may do to a clock: step it, slew it, and correct its
// frequency. *Clock implements it.
type Adjuster interface {
	Step(delta float64)
	Slew(delta float64)
	SlewLeft() float64
	AddFreq(deltaPPM float64)
}

// ErrPanic is wrapped by the error of a discipline that refused an offset beyond the
// panic threshold; the simulator ends the run there as ntpd exits. It is clock.ErrPanic,
// so that gontp's discipline and the stand-in are recognised alike.
var ErrPanic = clock.ErrPanic

// StandIn is the simulator's stand-in discipline, used before gontp's clock discipline
// (clock.Discipline, now the default host) existed, and kept for comparison (StandInHost,
// ntpsim -host standin). It is an Updater (the engine drives it through UpdaterLoop) and is deliberately simple: it is
// NOT ntpd's loop and its accuracy figures say nothing about what gontp achieves. What it does copy is ntpd's step
// policy, because the scenarios check that: the first offset beyond StepThreshold is
// stepped at once; later ones are spikes, ignored until they have lasted Stepout; an offset
// beyond Panic ends the run (with ntpd's panic_stop words) unless AllowPanic (-g) lets the
// first correction through.
//
// Below the step threshold it is a plain proportional-integral loop on the error that
// remains once the slew in progress completes: each update slews away that error times
// dt/PhaseTC and corrects the frequency by the error times dt/FreqTC², dt being the time
// since the previous update (capped at PhaseTC, so an update after an outage does not
// overshoot). With FreqTC = 2·PhaseTC the loop is critically damped.
type StandIn struct {
	StepThreshold float64       // s; 0.128 as ntpd's `tinker step`
	Stepout       time.Duration // ntpd's `tinker stepout`, 300 s
	Panic         float64       // s; 0 disables the check (`tinker panic 0`)
	AllowPanic    bool          // -g: the first correction may exceed Panic
	// PhaseTC and FreqTC are the loop's time constants.
	PhaseTC, FreqTC time.Duration

	k      Adjuster
	set    bool      // a first correction was made (ntpd leaves state NSET)
	spike  time.Time // when the current run of spikes began, zero if none
	last   time.Time // time of the last slew update, zero after a step
	synced bool
	exit   error
}

// NewStandIn returns the stand-in discipline for k with ntpd's default thresholds.
func NewStandIn(k Adjuster) *StandIn {
	return &StandIn{StepThreshold: 0.128, Stepout: 300 * time.Second, Panic: 1000,
		PhaseTC: 128 * time.Second, FreqTC: 256 * time.Second, k: k}
}

// Update takes the system offset (server minus local, s) and corrects the clock. It reports
// synchronised after a slew and not after a step, as ntpd reports unsynchronised until
// the first update after a step.
func (s *StandIn) Update(offset, _ float64, now time.Time) (bool, error) {
	if s.exit != nil {
		return false, s.exit
	}
	abs := math.Abs(offset)
	if s.Panic > 0 && abs > s.Panic && !(s.AllowPanic && !s.set) {
		s.exit = &clock.PanicError{Offset: offset, Threshold: s.Panic}
		return false, s.exit
	}
	if s.StepThreshold > 0 && abs > s.StepThreshold {
		if s.set {
			// A spike: believe it only when it lasts (ntpd state SPIK).
			if s.spike.IsZero() {
				s.spike = now
				return s.synced, nil
			}
			if now.Sub(s.spike) < s.Stepout {
				return s.synced, nil
			}
		}
		s.k.Step(offset)
		s.set, s.synced = true, false
		s.spike, s.last = time.Time{}, time.Time{}
		return false, nil
	}
	s.set, s.synced = true, true
	s.spike = time.Time{}
	// The error left once the slew in progress completes.
	e := offset - s.k.SlewLeft()
	if s.last.IsZero() {
		// The first update after start or a step: take out the offset, nothing is
		// known of the frequency yet.
		s.k.Slew(offset)
	} else if dt := now.Sub(s.last).Seconds(); dt > 0 {
		tp, tf := s.PhaseTC.Seconds(), s.FreqTC.Seconds()
		dt = math.Min(dt, tp)
		s.k.Slew(s.k.SlewLeft() + e*dt/tp)
		s.k.AddFreq(e * dt / (tf * tf) * 1e6)
	}
	s.last = now
	return true, nil
}

// Exited returns the error that ended the discipline (a panic), or nil.
func (s *StandIn) Exited() error { return s.exit }
