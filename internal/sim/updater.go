// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"errors"
	"log/slog"
	"time"

	"gontp/clock"
	"gontp/system"
)

// Updater is a discipline that only takes the system offset and answers whether the clock
// is now synchronised to it: StandIn, and the simple disciplines of the tests. It adjusts the
// clock itself, steps included, and ends the run by returning an error wrapping ErrPanic (or
// through an Exited method).
type Updater interface {
	Update(offset, excess float64, now time.Time) (synchronised bool, err error)
}

// UpdaterLoop drives an Updater as the engine's clock loop (engine.Loop). The engine learns
// nothing from it but whether the clock is synchronised: sys_poll stays at its start value,
// the clock filter never settles, every offset is taken as measured now, and the world (not
// the engine) tells the engine about steps (Engine.Stepped) and ends the run on a panic.
// Errors are logged once and not passed on, so that the engine neither stops nor counts the
// clock as synchronised because of them.
type UpdaterLoop struct {
	u      Updater
	log    *slog.Logger // the engine's log; the world sets it
	warned bool
	exit   error   // the first error wrapping ErrPanic
	last   float64 // the last offset taken, which ntpq's rv offset shows
}

// NewUpdaterLoop makes the engine.Loop of u.
func NewUpdaterLoop(u Updater) *UpdaterLoop {
	return &UpdaterLoop{u: u, log: slog.New(slog.DiscardHandler)}
}

// errNoLeap is UpdaterLoop's answer to a leap second: an Updater has no kernel to arm.
var errNoLeap = errors.New("this discipline (the simulator's update-only loop) has no kernel leap-second support")

// ProcessAt hands the offset to the Updater.
func (l *UpdaterLoop) ProcessAt(offset, excess float64, _, now time.Time) (clock.Result, error) {
	ok, err := l.u.Update(offset, excess, now)
	l.last = offset
	if err != nil {
		if errors.Is(err, ErrPanic) && l.exit == nil {
			l.exit = err
		}
		if !l.warned {
			l.warned = true
			l.log.Warn(err.Error())
		}
	}
	return clock.Result{Synchronised: ok, Poll: system.StartPoll}, nil
}

// Prime is ignored: an Updater takes one offset at a time and has no frequency estimate
// for earlier samples to improve.
func (l *UpdaterLoop) Prime([]clock.Earlier) {}

// Vars reports the last offset taken; the Updater has no other loop variables.
func (l *UpdaterLoop) Vars() clock.Vars { return clock.Vars{Offset: l.last} }

// Project returns offset unchanged: the Updater does not say what it corrected.
func (l *UpdaterLoop) Project(offset float64, _, _ time.Time) float64 { return offset }

// SetPollLimits does nothing: sys_poll stays at its start value.
func (l *UpdaterLoop) SetPollLimits(int8, int8) {}

// Settling is false: the clock filter picks samples by delay from the start.
func (l *UpdaterLoop) Settling() bool { return false }

// Leap fails with errNoLeap when the servers announce a leap second; it schedules nothing.
func (l *UpdaterLoop) Leap(_ time.Time, ins, del bool) (clock.LeapState, error) {
	if ins || del {
		return clock.LeapState{}, errNoLeap
	}
	return clock.LeapState{}, nil
}

// SetRootDistance does nothing: an Updater sets no kernel maximum error.
func (l *UpdaterLoop) SetRootDistance(float64, float64) {}

// SetKernelPPS does nothing: an Updater has no kernel PPS discipline.
func (l *UpdaterLoop) SetKernelPPS(bool) error { return nil }

// FastPoll is 0: an Updater asks for no start-up polling.
func (l *UpdaterLoop) FastPoll() int8 { return 0 }

// Exited returns the panic that ended the run, from an error of the Updater or from its own
// Exited.
func (l *UpdaterLoop) Exited() error {
	if l.exit != nil {
		return l.exit
	}
	if x, ok := l.u.(exiter); ok {
		return x.Exited()
	}
	return nil
}

// exiter is implemented by an Updater that can end the daemon (ntpd's panic exit).
type exiter interface{ Exited() error }
