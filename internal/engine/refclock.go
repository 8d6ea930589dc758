// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"fmt"
	"net/netip"
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
		KernelPPS: v.KernelPPS, KernelPPSRefused: v.KernelPPSRefused,
	}
}

// refclockPeer is the association configuration of a reference clock's server line: its
// pseudo-address, client mode, configured.
func refclockPeer(rc Refclock) peer.Config {
	pc := rc.Peer
	pc.Addr = netip.AddrPortFrom(rc.Clock.Addr.Addr(), 123)
	pc.Mode = wire.ModeClient
	pc.Configured = true
	return pc
}

// AddRefclock adds a reference clock after start (gontp's live reload: a server 127.127.t.u
// line added to the file); its first poll is a second from now, as at start. The daemon
// starts its driver.
func (e *Engine) AddRefclock(rc Refclock, now time.Time) (uint16, error) {
	pc := refclockPeer(rc)
	pc.StartDelay = time.Second
	proc, err := refclock.NewProc(rc.Clock, e.sys.Precision)
	if err != nil {
		return 0, err
	}
	as, err := e.add(pc, proc, now)
	if err != nil {
		return 0, err
	}
	e.publish(now)
	return as.id, nil
}

// RemoveRefclock demobilises a reference clock whose line left the configuration; readings
// its driver had already sent are dropped (RefclockReading knows the clock no more).
func (e *Engine) RemoveRefclock(a refclock.Address, now time.Time) error {
	as := e.byClock[a]
	if as == nil || as.removed {
		return fmt.Errorf("no reference clock %s", a.Name())
	}
	as.removed = true
	lost := e.sysPeer == as
	e.log.Info(fmt.Sprintf("%s demobilized: removed from the configuration", e.name(as)))
	e.reap()
	if lost {
		e.selectClock(now)
	}
	e.publish(now)
	return nil
}

// ReconfigureRefclock gives a running reference clock its edited server line and fudge:
// the association keeps what it measured (clock filter, reach, counters, association ID)
// and the clock's state keeps the samples held for the next poll (taken with the old
// fudge times) and its counters; the new fudge applies to every reading from now on, and
// the new stratum and refid are advertised at once.
func (e *Engine) ReconfigureRefclock(rc Refclock, now time.Time) error {
	as := e.byClock[rc.Clock.Addr]
	if as == nil || as.removed {
		return fmt.Errorf("no reference clock %s", rc.Clock.Addr.Name())
	}
	if err := as.a.Reconfigure(refclockPeer(rc), now); err != nil {
		return err
	}
	as.clock.SetConfig(rc.Clock)
	setRefclock(as)
	e.publish(now)
	return nil
}
