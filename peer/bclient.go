// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"fmt"
	"time"

	"gontp/internal/wire"
	"gontp/system"
)

// endVolley turns a broadcast client's volley association into a broadcast client once
// its server is fit to be selected as far as the distance goes (ntpd process_packet:
// FLAG_BC_VOL, MODE_CLIENT and no TEST11): it stops polling and waits for the broadcasts;
// the first one measures the delay (receiveBroadcast).
func (a *Assoc) endVolley(now time.Time, sys *system.State) {
	if !a.bcVol || a.hmode != wire.ModeClient || a.unfit(now, sys)&FlashPeerDist != 0 {
		return
	}
	a.hmode = HModeBClient
	a.burst, a.retry = 0, 0
}

// receiveBroadcast runs the receive path for a mode-5 packet on a broadcast client (ntpd
// receive() and process_packet() for MODE_BCLIENT, basic broadcast):
//
//   - TEST3 and TEST1 as for any packet; there is no origin test, a broadcast answers
//     nobody (its origin timestamp is zero);
//   - TEST5: a MAC, when there is one or the association has a key, must be good;
//   - the header tests, then the offset is t3 - t4 plus half the delay. After a volley the
//     first broadcast measures that delay as twice the difference between the volley's
//     offset and the broadcast's; above BDelay the association goes ("initial delay
//     exceeds limit"), as classic's bug-3031 check. Without a volley the delay is BDelay;
//   - the poll timer is set to fire 2 s before the next broadcast is due, so that each
//     broadcast lights the reach bit its poll shifted in.
func (a *Assoc) receiveBroadcast(pkt *wire.Packet, rx Rx, now time.Time, sys *system.State, acts []Action) ([]Action, error) {
	a.received++
	a.flash &^= PacketTests
	switch {
	case pkt.Xmt == 0:
		a.flash |= FlashUnsync
		return acts, ErrUnsync
	case pkt.Xmt == a.xmt:
		a.flash |= FlashDup
		a.oldpkt++
		return acts, ErrDuplicate
	}
	if (a.keyid != 0 || rx.Auth != AuthNone) && rx.Auth != AuthOK {
		a.flash |= FlashAuth
		a.badauth++
		return a.report(EvBadAuth, "digest", acts), ErrAuth
	}
	a.rec, a.dst, a.xmt = pkt.Xmt, rx.Dst, pkt.Xmt
	a.timelastrec, a.timereceived = now, now
	a.quiet = 0
	a.authentic = rx.Auth == AuthOK
	ppoll := pkt.Poll
	if ppoll > MaxPoll || ppoll < MinPoll {
		ppoll = min(max(ppoll, MinPoll), MaxPoll)
	}
	a.ppoll = ppoll

	pstratum := pkt.Stratum
	if pstratum == wire.StratumUnspec || pstratum > wire.StratumUnsynched {
		pstratum = wire.StratumUnsynched
	}
	if pkt.Leap == wire.LeapAlarm || pstratum < sys.Tos.Floor || pstratum >= sys.Tos.Ceiling {
		a.flash |= FlashStratum
		a.seldisp++
		return acts, ErrStratum
	}
	if pkt.RootDelay.Seconds()/2+pkt.RootDisp.Seconds() >= MaxDisp {
		a.flash |= FlashHeader
		a.seldisp++
		return acts, ErrHeader
	}
	a.leap, a.stratum, a.pmode, a.precision = pkt.Leap, pstratum, pkt.Mode, pkt.Precision
	a.rootdelay, a.rootdisp = pkt.RootDelay.Seconds(), pkt.RootDisp.Seconds()
	a.refid, a.reftime = pkt.RefID, pkt.RefTime

	t34 := fixedSeconds(pkt.Xmt, a.dst)
	if a.bcVol {
		a.bcVol = false
		limit := a.bdelay
		if limit < 0 {
			limit = -limit
		}
		measured := a.offset - t34
		if measured < 0 {
			measured = -measured
		}
		a.bdelay = 2 * measured
		if a.bdelay > limit {
			a.clear("TIME", now, sys)
			return a.demobilize(fmt.Sprintf("broadcast volley: initial delay %.6f s exceeds the limit %.6f s (broadcastdelay)", a.bdelay, limit), acts), nil
		}
	}
	if a.reach == 0 {
		acts = a.report(EvReachable, "", acts)
		a.timereachable = now
	}
	a.reach |= 1
	a.hpoll = min(max(ppoll, a.minpoll), a.maxpoll)
	a.nextdate = now.Add(time.Duration(1<<ppoll-minPkt) * time.Second)
	acts = append(acts, Action{Kind: ActRearm, At: a.nextdate})

	delay := max(a.bdelay, log2s(sys.Precision))
	offset := t34 + a.bdelay/2
	disp := log2s(sys.Precision) + log2s(a.precision) + PHI*delay
	return a.clockFilter(offset, delay, disp, now, sys, acts), nil
}
