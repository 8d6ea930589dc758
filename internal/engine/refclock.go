// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"time"

	"gontp/internal/snapshot"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/refclock"
)

// RefclockReading takes one reading of a reference clock's driver. The drivers run in the
// daemon's I/O layer (internal/refclockio) and their readings arrive here as events, as
// packets do, on the engine's goroutine; the clock's state (refclock.Proc) keeps them until
// the association's next poll, which filters them into one sample (classic
// refclock_process and refclock_receive). A reading for an unknown clock is dropped.
func (e *Engine) RefclockReading(r refclock.Reading, now time.Time) {
	as := e.byClock[r.Addr]
	if as == nil {
		return
	}
	if stats := as.clock.Add(r, e.sys.Leap != wire.LeapAlarm); stats != "" {
		e.rec.ClockStats(r.Addr.String(), stats)
	}
	as.a.SetPPS(as.clock.PPS())
	as.a.RefclockCheckBurst(as.clock.Pending(), now)
	e.publish(now)
}

// setRefclock gives the association the clock's identity (after fudge) and its PPS state.
func setRefclock(as *association) {
	c := as.clock
	as.a.SetRefclock(peer.RefclockInfo{Type: c.Addr().Type, Stratum: c.Stratum(), RefID: c.RefID(),
		Precision: c.Precision()})
	as.a.SetPPS(c.PPS())
}

// clockVars is the clock's variables as observers see them.
func clockVars(v refclock.Vars) *snapshot.ClockVars {
	return &snapshot.ClockVars{
		Type: v.Type, Description: v.Description, Timecode: v.Timecode,
		Polls: v.Polls, NoReply: v.NoReply, BadFormat: v.BadFormat, BadData: v.BadData,
		Status: v.Status, Events: v.Events,
		Time1: v.Time1, Time2: v.Time2, Time1Set: v.Time1Set, Time2Set: v.Time2Set,
		MinJitter: v.MinJitter, MinJitterSet: v.MinJitterSet,
		Stratum: v.Stratum, RefID: v.RefID, Flags: v.Flags,
	}
}
