// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"fmt"
	"time"
)

// LeapTable is what the leap second owner needs of a leap-seconds file
// (internal/leap.Table reads it).
type LeapTable interface {
	// TAI is TAI-UTC at now, s (0 before the first entry).
	TAI(now time.Time) int
	// NextLeap is the first leap second after now: when the new TAI-UTC takes effect (the
	// UTC midnight that ends a month) and whether the second is inserted or deleted.
	NextLeap(now time.Time) (at time.Time, insert, ok bool)
}

// LeapState is what the leap owner decided at one moment.
type LeapState struct {
	// Scheduled: a leap second is due at At, the end of a month (UTC midnight), inserted
	// when Insert, else deleted; FromFile says the leap file announced it (otherwise the
	// servers' vote did).
	Scheduled, Insert, FromFile bool
	At                          time.Time
	// Armed: now is within the last day before At. Only then is the kernel armed
	// (STA_INS/STA_DEL) and the leap indicator served, as classic ntpd does
	// (leapsec_query's LSPROX_ANNOUNCE, check_leapsec, local_clock's status bits).
	Armed bool
}

// LeapIndicator is the leap indicator to serve: 1 (insert) or 2 (delete) while armed, 0
// otherwise.
func (s LeapState) LeapIndicator() uint8 {
	switch {
	case !s.Armed:
		return 0
	case s.Insert:
		return 1
	}
	return 2
}

// kernelBits are the status bits the kernel carries for s.
func (s LeapState) kernelBits() int32 {
	switch {
	case !s.Armed:
		return 0
	case s.Insert:
		return StaIns
	}
	return StaDel
}

// leapOwner is the one owner of leap second decisions: what is scheduled (leap file or the
// servers' vote), when the kernel is armed and disarmed, and the leap indicator served.
// The leap-seconds file is read by internal/leap; the kernel bits are written by the
// ledger; everything in between is decided here.
//
// Classic ntpd 4.2.8p15's rules: a leap file entry wins over the servers. Without one, a
// majority of the survivors announcing a leap (leap_vote_ins > sys_survivors/2) schedules
// one for the end of the current month (leapsec_add_dyn), whatever the date the servers
// start announcing; the kernel is armed and the indicator set only during the last day
// before it. gontp also withdraws a vote-scheduled leap when the majority stops
// announcing it, so that a server that announced by mistake does not leave the clock
// armed.
type leapOwner struct {
	table  LeapTable
	dyn    bool // a leap scheduled by the vote
	dynAt  time.Time
	dynIns bool
	last   LeapState
}

// endOfMonth is the UTC midnight that ends the month of now: when a leap second scheduled
// by the vote takes effect.
func endOfMonth(now time.Time) time.Time {
	u := now.UTC()
	return time.Date(u.Year(), u.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// decide returns the state at now given the survivors' vote.
func (o *leapOwner) decide(now time.Time, voteIns, voteDel bool) LeapState {
	var s LeapState
	if o.table != nil {
		if at, ins, ok := o.table.NextLeap(now); ok && at.Sub(now) <= 31*24*time.Hour {
			s = LeapState{Scheduled: true, Insert: ins, FromFile: true, At: at}
		}
	}
	switch {
	case voteIns == voteDel:
		// No majority (or a contradictory one): a leap the vote scheduled is withdrawn.
		o.dyn = false
	case !o.dyn || o.dynIns != voteIns || !now.Before(o.dynAt):
		o.dyn, o.dynIns, o.dynAt = true, voteIns, endOfMonth(now)
	}
	if o.dyn && !now.Before(o.dynAt) {
		o.dyn = false
	}
	if !s.Scheduled && o.dyn {
		s = LeapState{Scheduled: true, Insert: o.dynIns, At: o.dynAt}
	}
	s.Armed = s.Scheduled && now.Before(s.At) && s.At.Sub(now) <= 24*time.Hour
	return s
}

// describe is the log line for a change from o to s, "" when nothing worth saying changed.
func describeLeap(o, s LeapState) string {
	what := "deletion"
	if s.Insert {
		what = "insertion"
	}
	src := "the servers' vote"
	if s.FromFile {
		src = "the leap-seconds file"
	}
	at := s.At.UTC().Format("2006-01-02 15:04:05 UTC")
	switch {
	case s.Armed && !o.Armed:
		return fmt.Sprintf("leap second %s armed in the kernel for %s (%s)", what, at, src)
	case !s.Armed && o.Armed && !s.Scheduled:
		return "leap second disarmed: no longer announced"
	case !s.Armed && o.Armed:
		return "leap second disarmed"
	case s.Scheduled && (!o.Scheduled || !o.At.Equal(s.At) || o.Insert != s.Insert):
		return fmt.Sprintf("leap second %s scheduled for %s (%s); the kernel is armed during the last day",
			what, at, src)
	case !s.Scheduled && o.Scheduled:
		return "leap second withdrawn: the servers no longer announce it"
	}
	return ""
}
