// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"gontp/internal/wire"
	"gontp/peer"
)

// AddServer mobilises a network association after start: a `server` or `peer` line whose
// name has just been resolved, or a `server`, `peer` or `broadcast` line a reload added (classic ntpd resolves names in the background too, so such
// associations appear after the literal ones). pc.Mode is wire.ModeClient for `server` and
// wire.ModeSymActive for `peer`; the association is marked configured. Its first poll
// comes a random whole number of seconds below minpoll from now, as ntpd's peer_clear
// schedules associations made after startup. It returns the association ID.
func (e *Engine) AddServer(pc peer.Config, now time.Time) (uint16, error) {
	if !pc.Addr.IsValid() {
		return 0, errors.New("engine: AddServer with an invalid address")
	}
	if pc.Mode != wire.ModeClient && pc.Mode != wire.ModeSymActive && pc.Mode != wire.ModeBroadcast {
		return 0, fmt.Errorf("engine: AddServer %s: host mode %d (want client 3, symmetric active 1 or broadcast 5)", pc.Addr, pc.Mode)
	}
	pc.Configured = true
	pc.StartDelay = 0
	as, err := e.add(pc, nil, now)
	if err != nil {
		return 0, err
	}
	e.publish(now)
	return as.id, nil
}

// SetLocalAddrs tells the engine this host's own addresses. A server whose refid is one of
// theirs is synchronised to us and fails TEST12 (ntpd local_refid), which keeps two
// daemons from taking time from each other in a loop. The daemon calls it at start and
// after each interface rescan.
func (e *Engine) SetLocalAddrs(addrs []netip.Addr) {
	ids := make([]uint32, 0, len(addrs))
	for _, a := range addrs {
		if a.IsValid() && !a.IsUnspecified() {
			ids = append(ids, peer.RefID(a))
		}
	}
	e.sys.LocalRefIDs = ids
}

// Stepped is the hook the clock discipline calls after it stepped the clock: every sample
// and timestamp held by the associations is now wrong, so each is cleared with refid STEP
// and starts again (ntpd clear_all), and the system variables return to unsynchronised as
// ntpd's clock_update does after a step (leap alarm, stratum 16, refid STEP, no root delay
// or dispersion, no reference time). Pool prototypes hold no samples and are left alone.
func (e *Engine) Stepped(now time.Time) { e.stepped(now, "") }

// stepped is Stepped with the step's detail for the clock_step event ("+0.300000 s").
func (e *Engine) stepped(now time.Time, detail string) {
	for _, as := range e.assocs {
		e.acts = as.a.Reset("STEP", now, &e.sys, e.acts[:0])
		if as.clock != nil {
			setRefclock(as)
		}
	}
	e.sys.Leap = wire.LeapAlarm
	e.sys.Stratum = wire.StratumUnsynched
	e.sys.RefID = wire.RefIDFromString("STEP")
	e.sys.RootDelay, e.sys.RootDisp, e.sys.RefTime = 0, 0, 0
	e.jitter = log2(e.sys.Precision)
	e.sysPeer = nil
	e.lostPeer = now
	e.sysEpoch = time.Time{}
	e.sysEventReport(sysEvClockStep, detail)
	e.publish(now)
}

// log2 returns 2^p seconds (ntpd LOGTOD).
func log2(p int8) float64 { return math.Ldexp(1, int(p)) }

// timeout decides on a preemptible association that went Unreach polls without being
// useful (ntpd transmit(), FLAG_PREEMPT): it is demobilised when there are more than
// `tos maxclock` associations and its score is the lowest of all preemptible ones (and
// not zero, ntpd score_all). A pool then solicits a replacement at its next poll.
func (e *Engine) timeout(as *association) {
	if e.count() <= e.sys.Tos.MaxClock {
		return
	}
	score := as.a.Score()
	least := 100
	for _, o := range e.assocs {
		if o.removed || o.a.Gone() || !o.a.Vars(e.start).Preempt {
			continue
		}
		least = min(least, o.a.Score())
	}
	if score != least || least == 0 {
		return
	}
	for _, act := range as.a.Report(peer.EvRestart, "timeout", nil) {
		e.logPeerEvent(as, act.Event, act.Detail)
	}
	as.removed = true
	if e.sysPeer == as {
		e.sysPeer = nil
	}
	e.log.Info(fmt.Sprintf("%s demobilized: timeout (preemptible, score %d, %d associations > maxclock %d)",
		e.name(as), score, e.count(), e.sys.Tos.MaxClock))
}

// RemoveServer demobilises the configured network association with the remote address addr,
// because its server or peer line left the configuration and the daemon reloaded it
// (gontp's addition: classic ntpd has no reload). A system peer that goes is replaced by the
// next selection.
func (e *Engine) RemoveServer(addr netip.AddrPort, now time.Time) error {
	as := e.byAddr[addr]
	if as == nil || as.clock != nil || as.removed {
		return fmt.Errorf("no network association for %s", addr)
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

// logPeerEvent logs a peer event in the words of ntpd's protostats line ("198.18.0.3 961a
// 8a sys_peer"). Classic 4.2.8p15 sends none of these to syslog (observed with
// `logconfig =all`), so they are debug output; a flood is impossible anyway since the
// status word saturates each code at 15 reports.
func (e *Engine) logPeerEvent(as *association, ev peer.Event, detail string) {
	msg := fmt.Sprintf("%s %04x %02x %s", e.name(as), as.a.Status(), 0x80|uint8(ev), ev)
	// protostats names a reference clock by its address, as classic's refnumtoa does.
	proto := fmt.Sprintf("%s %04x %02x %s", as.a.Addr().Addr(), as.a.Status(), 0x80|uint8(ev), ev)
	if detail != "" {
		msg += " " + detail
		proto += " " + detail
	}
	e.log.Debug(msg)
	e.rec.ProtoStats(proto)
}

// System event codes (compat.md 1.7) the engine reports.
const (
	sysEvSpike     = 3
	sysEvFreqMode  = 4
	sysEvClockSync = 5
	sysEvRestart   = 6
	sysEvPanicStop = 7
	sysEvNoPeer    = 8
	sysEvClockStep = 12
)

var sysEventNames = map[uint8]string{sysEvSpike: "spike_detect", sysEvFreqMode: "freq_mode",
	sysEvClockSync: "clock_sync", sysEvRestart: "restart", sysEvPanicStop: "panic_stop",
	sysEvNoPeer: "no_sys_peer", sysEvClockStep: "clock_step"}

// sysEventCodes maps the clock discipline's event names (clock.Result.Event) to codes. A
// step is reported by stepped, after the associations are cleared.
var sysEventCodes = map[string]uint8{"spike_detect": sysEvSpike, "freq_mode": sysEvFreqMode,
	"clock_sync": sysEvClockSync}

// sysEventReport records a system event in the system status word and logs it as ntpd
// does ("0.0.0.0 c016 06 restart"): the counter restarts when the code changes and
// saturates at 15, and like ntpd the line is logged only while it still counts.
func (e *Engine) sysEventReport(code uint8, detail string) {
	if e.sysEvent != code {
		e.sysEventCount = 0
	}
	if e.sysEventCount >= 15 {
		return
	}
	e.sysEvent = code
	e.sysEventCount++
	msg := fmt.Sprintf("0.0.0.0 %04x %02x %s", e.sysStatus(), code, sysEventNames[code])
	if detail != "" {
		msg += " " + detail
	}
	e.log.Info(msg)
	e.rec.ProtoStats(msg)
}

// sysStatus is the system status word: leap, sync source, event count, last event.
func (e *Engine) sysStatus() uint16 {
	var src uint16
	if e.sysPeer != nil {
		src = 6 // sync_ntp
		if e.sysPeer.clock != nil {
			switch e.sysPeer.clock.Addr().Type {
			case 1: // LOCAL
				src = 5 // sync_local
			case 22: // PPS
				src = 1 // sync_pps
			case 20, 28, 46: // NMEA, SHM, GPSD_JSON
				src = 4 // sync_uhf_radio, as ntpd classes GPS receivers
			default:
				src = 7 // sync_other
			}
		}
	}
	return uint16(e.sys.Leap)<<14 | src<<8 | uint16(e.sysEventCount)<<4 | uint16(e.sysEvent&0xf)
}

// HasAssociation reports whether an association with addr exists (runtime configuration
// checks a whole fragment before it adds anything).
func (e *Engine) HasAssociation(addr netip.AddrPort) bool {
	_, ok := e.byAddr[addr]
	return ok
}
