// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"encoding/binary"
	"fmt"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/system"
)

// AuthResult is what the engine's MAC check found in a packet.
type AuthResult uint8

// Authentication results.
const (
	AuthNone AuthResult = iota // no MAC in the packet
	AuthOK                     // MAC present and correct for a trusted key
	AuthBad                    // MAC present but wrong, unknown or untrusted key
)

// Rx is what the engine knows about a received packet besides its header.
type Rx struct {
	// Dst is the receive timestamp T4, preferably the kernel's (SO_TIMESTAMPNS).
	Dst ntptime.Time
	// Auth is the result of checking the MAC trailer, if any.
	Auth AuthResult
}

// kiss codes recognised by ntpd (kiss_code_check).
const (
	noKiss = iota
	kissRate
	kissDeny
	kissRstr
	kissOther
)

// kissCode classifies a packet as a Kiss-o'-Death the ntpd way: only a server-mode packet
// with leap 3 and stratum 0 (unspecified) is one, and its refid names the code.
func kissCode(p *wire.Packet) int {
	if p.Mode != wire.ModeServer || p.Leap != wire.LeapAlarm ||
		(p.Stratum != wire.StratumUnspec && p.Stratum != wire.StratumUnsynched) {
		return noKiss
	}
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], p.RefID)
	switch string(c[:]) {
	case "RATE":
		return kissRate
	case "DENY":
		return kissDeny
	case "RSTR":
		return kissRstr
	}
	return kissOther
}

// modeMatches reports whether a packet of mode pmode belongs to an association of host
// mode hmode (RFC 5905 figure 13, the "process packet" cells).
func modeMatches(hmode, pmode uint8) bool {
	switch hmode {
	case HModeBClient:
		return pmode == wire.ModeBroadcast
	case wire.ModeClient:
		return pmode == wire.ModeServer
	case wire.ModeSymActive:
		return pmode == wire.ModeSymActive || pmode == wire.ModeSymPassive
	case wire.ModeSymPassive:
		return pmode == wire.ModeSymActive
	}
	return false
}

// Receive runs the receive tests on a packet from this association's address and, if it
// passes, the clock filter (RFC 5905 sections 8 and 10, ntpd receive() and
// process_packet()). It appends the resulting actions to acts and returns a sentinel error
// when the packet was not used; the flash bits record the failed tests as ntpd's do.
//
// The tests, in ntpd's order:
//   - TEST3: a zero transmit timestamp;
//   - TEST1: the transmit timestamp equals the previous packet's, a replay: dropped at once;
//   - a Kiss-o'-Death is believed only if its origin timestamp equals our last transmit
//     timestamp (otherwise TEST2, dropped at once), so that nobody can silence us by
//     forging one;
//   - TEST2: a zero origin timestamp, or one that is not our last transmit timestamp. On a
//     match our copy is cleared, so a replayed reply fails this test;
//   - TEST5: authentication, required when a key is configured or the packet has a MAC;
//   - TEST6: leap 3, or stratum below floor or at or above ceiling;
//   - TEST7: root delay/2 + root dispersion of 16 s or more.
//
// As in ntpd, a packet that fails TEST2 or TEST3 still updates the peer's timestamps that
// we echo in our next packet: that is how a symmetric association gets going.
//
// A RATE kiss raises minpoll to the server's poll, sets the headway and reschedules; DENY
// and RSTR are counted and dropped, the association staying, as classic 4.2.8p15 does
// (4.2.6 demobilised it, which lost a configured server for good); other kiss codes fail
// TEST6 like any unsynchronised reply.
func (a *Assoc) Receive(pkt *wire.Packet, rx Rx, now time.Time, sys *system.State, acts []Action) ([]Action, error) {
	if a.gone {
		return acts, ErrGone
	}
	if !modeMatches(a.hmode, pkt.Mode) {
		return acts, ErrMode
	}
	if a.hmode == HModeBClient {
		return a.receiveBroadcast(pkt, rx, now, sys, acts)
	}
	a.received++
	a.flash &^= PacketTests
	kiss := kissCode(pkt)

	var failed error
	interleaved := false
	switch {
	case pkt.Xmt == 0:
		a.flash |= FlashUnsync
		failed = ErrUnsync
	case pkt.Xmt == a.xmt:
		a.flash |= FlashDup
		a.oldpkt++
		return acts, ErrDuplicate
	case kiss != noKiss && pkt.Org != a.aorg:
		a.flash |= FlashBogus
		a.bogusorg++
		return acts, ErrBogus
	case a.symmetric() && kiss == noKiss:
		// The origin tests of a symmetric packet, basic or interleaved (symxleave.go).
		failed = a.symXleaveTests(pkt, &acts)
	case a.xleaveReply(pkt):
		// The interleaved answer to our request (xleave.go): it echoes the receive
		// field we sent, not our transmit timestamp.
		interleaved = true
		a.aorg = 0
	case pkt.Org == 0 || pkt.Org != a.aorg:
		a.flash |= FlashBogus
		a.bogusorg++
		failed = ErrBogus
	default:
		a.aorg = 0 // matched: a replay of this reply now fails TEST2
	}

	// ntpd's AUTH(keyid || has_mac, result): a MAC, when there is one or a key is
	// configured, must be good.
	if (a.keyid != 0 || a.nts || rx.Auth != AuthNone) && rx.Auth != AuthOK {
		if a.flash&PacketTests != 0 {
			// Bad timestamps and a bad MAC: most likely a spoof; leave no trace.
			return acts, failed
		}
		a.flash |= FlashAuth
		a.badauth++
		return a.report(EvBadAuth, "digest", acts), ErrAuth
	}

	// Update the state variables (in the interleaved symmetric mode only after the
	// packet is processed, symXleaveAfter).
	if a.flip == 0 || !a.symmetric() {
		a.rec = pkt.Xmt
		a.dst = rx.Dst
	}
	a.xmt = pkt.Xmt
	a.timelastrec = now
	a.quiet = 0

	// The peer poll is the larger of the packet's poll and our minpoll; ntpd keeps the
	// packet's value unbounded, we clamp it to MaxPoll so a hostile value cannot push our
	// minpoll (after a RATE kiss) beyond what a shift can express.
	ppoll := pkt.Poll
	if ppoll > MaxPoll || ppoll < 0 {
		ppoll = MaxPoll
	}
	a.ppoll = max(a.minpoll, ppoll)
	// A kiss is acted on only when the timestamp tests passed: after a reply has been
	// matched our origin copy is zero, and a forged kiss with a zero origin must not pass.
	if failed != nil {
		kiss = noKiss
	}
	switch kiss {
	case kissRate:
		a.selbroken++
		acts = a.report(EvRate, "", acts)
		if ppoll > a.minpoll {
			a.minpoll = a.ppoll
			if a.maxpoll < a.minpoll {
				a.maxpoll = a.minpoll
			}
		}
		a.burst, a.retry = 0, 0
		a.headway(now)
		a.throttle = (NStages + 1) * (1 << a.minpoll)
		a.rated = true
		return a.pollUpdate(ppoll, now, sys, acts), ErrKissRate
	case kissDeny, kissRstr:
		// Classic 4.2.8p15 counts the kiss and drops it (receive(): "Drop any other kiss
		// code packets"): the association stays, its reach stays 0 and it polls on, so
		// service comes back when the server lets us in again. Checked against the real
		// program: flash and refid are left alone (refid INIT, flash 0x1600 while nothing
		// else arrived). The engine logs it; the association does not report an event.
		a.selbroken++
		return acts, ErrKissDeny
	}
	// Any other kiss code (or an unsynchronised server's stratum-0 reply) fails TEST6 in
	// process below, which is what classic ntpd shows for such a server (flash 0x20,
	// observed against an unsynchronised chronyd).

	a.timereceived = now
	a.authentic = rx.Auth == AuthOK
	acts, err := a.process(pkt, now, sys, acts, failed, interleaved)
	return a.symXleaveAfter(pkt, rx.Dst, now, acts), err
}

// process is the second half of the receive path (ntpd process_packet): the header tests,
// then the header is adopted, the burst armed, the reach register lit, and offset, delay and
// dispersion computed for the clock filter.
func (a *Assoc) process(pkt *wire.Packet, now time.Time, sys *system.State, acts []Action, failed error, interleaved bool) ([]Action, error) {
	pstratum := pkt.Stratum
	if pstratum == wire.StratumUnspec || pstratum > wire.StratumUnsynched {
		pstratum = wire.StratumUnsynched
	}
	rootdelay := pkt.RootDelay.Seconds()
	rootdisp := pkt.RootDisp.Seconds()
	if pkt.Leap == wire.LeapAlarm || pstratum < sys.Tos.Floor || pstratum >= sys.Tos.Ceiling {
		a.flash |= FlashStratum
		if failed == nil {
			failed = ErrStratum
		}
	}
	if rootdelay/2+rootdisp >= MaxDisp {
		a.flash |= FlashHeader
		if failed == nil {
			failed = ErrHeader
		}
	}
	if a.flash&PacketTests != 0 {
		a.seldisp++
		return acts, failed
	}

	a.leap = pkt.Leap
	a.stratum = pstratum
	a.pmode = pkt.Mode
	a.precision = pkt.Precision
	a.rootdelay = rootdelay
	a.rootdisp = rootdisp
	a.refid = pkt.RefID
	a.reftime = pkt.RefTime

	// An armed burst starts with the first reply: iburst sends IBurst packets in all,
	// burst up to Burst depending on how far hpoll is above minpoll.
	if a.retry > 0 {
		a.retry = 0
		if a.reach != 0 {
			a.burst = min(1<<(a.hpoll-a.minpoll), NStages) - 1
		} else {
			a.burst = IBurst - 1
		}
		if a.burst > 0 {
			a.nextdate = now
		}
	}
	acts = a.pollUpdate(a.hpoll, now, sys, acts)

	if a.reach == 0 {
		acts = a.report(EvReachable, "", acts)
		a.timereachable = now
	}
	a.reach |= 1

	// Basic mode: t1 = org, t2 = rec, t3 = xmt, t4 = dst. The first-order differences are
	// taken in fixed point (era-safe), the rest in float64 as ntpd does. The delay is
	// made positive and at least the system precision; the dispersion is the two
	// precisions plus PHI over the round trip (RFC 5905 section 8).
	org := a.requestT1(pkt.Org)
	t21 := fixedSeconds(pkt.Rec, org)
	t34 := fixedSeconds(pkt.Xmt, a.dst)
	if a.flip != 0 && a.symmetric() {
		// Interleaved symmetric: timestamps of two consecutive packets each way.
		t21, t34 = a.symXleaveSample(pkt)
		if d := t21 - t34; d < 0 || d > 1 {
			return a.symXleaveError(t21, t34, acts), ErrXleave
		}
		a.xl.interleaved = true
	}
	if interleaved {
		// The previous exchange, completed with the server's real departure time.
		t21, t34 = a.xleaveSample(pkt)
		if d := t21 - t34; d < 0 || d > 1 {
			// Classic's interleave_error: timestamps of different exchanges.
			a.xleaveDone(pkt, false)
			return a.report(EvXerr, fmt.Sprintf("t21 %.6f t34 %.6f", t21, t34), acts), ErrXleave
		}
		if !a.xl.interleaved {
			acts = a.report(EvXleave, "", acts)
		}
	}
	a.xleaveDone(pkt, interleaved)
	offset := (t21 + t34) / 2
	delay := t21 - t34
	if delay < 0 {
		delay = -delay
	}
	delay = max(delay, log2s(sys.Precision))
	disp := log2s(sys.Precision) + log2s(a.precision) + PHI*delay
	acts = a.clockFilter(offset, delay, disp, now, sys, acts)
	a.endVolley(now, sys)
	return acts, nil
}
