// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"fmt"
	"time"

	"gontp/internal/wire"
	"gontp/peer"
	"gontp/system"
)

// Orphan mode (`tos orphan N`, classic ntp_timer.c timer() and clock_select()): a group
// of servers cut off from every real source keeps one time among themselves. When orphan
// mode is on and there has been no system peer for `tos orphanwait` seconds (since start
// or since the last one was lost), the engine serves at stratum N with refid 127.0.0.1
// (classic LOOPBACKADR; "ORPH" at stratum 1), leap 0, no root delay or dispersion. Peers
// that do the same show stratum N; the selection (system.Select) then makes the one whose
// address is the lowest, and lower than ours towards it, our orphan parent, so we serve at
// N+1 from it and the group has exactly one parent. A real source below N wins over all of
// it as soon as it is selectable.

// orphanDeadline is when orphan mode may take over, or the zero time when it is off, the
// system has a peer, or the engine already serves as an orphan.
func (e *Engine) orphanDeadline() time.Time {
	if e.sys.Tos.Orphan >= wire.StratumUnsynched || e.sysPeer != nil || e.orphaned() {
		return time.Time{}
	}
	return e.lostPeer.Add(time.Duration(e.sys.Tos.OrphanWait * float64(time.Second)))
}

// orphaned reports whether the system variables are the orphan parent's.
func (e *Engine) orphaned() bool {
	return e.sysPeer == nil && e.sys.Stratum == e.sys.Tos.Orphan && e.sys.RefID == orphanRefID(e.sys.Tos.Orphan)
}

func orphanRefID(stratum uint8) uint32 {
	if stratum > 1 {
		return peer.LoopbackRefID
	}
	return wire.RefIDFromString("ORPH")
}

// orphan makes the engine an orphan parent once the orphan wait is over (classic does it
// in its one-second timer; the engine's Next names the deadline instead).
func (e *Engine) orphan(now time.Time) {
	end := e.orphanDeadline()
	if end.IsZero() || now.Before(end) {
		return
	}
	if e.sys.Leap == wire.LeapAlarm {
		e.sys.Leap = wire.LeapNone
	}
	e.sys.Stratum = e.sys.Tos.Orphan
	e.sys.RefID = orphanRefID(e.sys.Tos.Orphan)
	e.offset = 0
	e.sys.RootDelay, e.sys.RootDisp = 0, 0
	e.log.Info(fmt.Sprintf("orphan mode: no source for %gs, serving at stratum %d", e.sys.Tos.OrphanWait, e.sys.Tos.Orphan))
}

// orphanCandidate fills in the RefID of our address towards a candidate at the orphan
// stratum (classic: peer->dstadr->addr_refid), which the parent election compares with the
// peer's: a peer whose address is above ours is never our parent.
func (e *Engine) orphanCandidate(as *association, c *system.Candidate) {
	if c.Stratum != e.sys.Tos.Orphan || as.clock != nil || e.localAddr == nil {
		return
	}
	if la, ok := e.localAddr(as.a.Addr()); ok {
		c.LocalRefID = peer.RefID(la)
	}
}
