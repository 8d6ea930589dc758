// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"fmt"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Interleaved symmetric mode, as classic ntpd 4.2.8p15 runs it (ntp_proto.c: peer_xmit's
// interleaved branch, receive()'s flip tests, process_packet's interleaved timestamps; the
// "NTP Interleaved Modes" page of its documentation). A symmetric packet's transmit field
// carries the real departure time of our previous packet, taken after it went out (the
// kernel's software transmit timestamp in gontp, classic's a-posteriori clock reading);
// aorg and borg hold those departure times of our last two packets and flip says which is
// whose: flip > 0 sends borg and then stores the new departure time in aorg, flip < 0 the
// other way round, and every send negates flip.
//
// A `peer ... xleave` association starts with flip 1 (classic's peer_clear). Any symmetric
// association, `xleave` or not, switches to the interleaved mode (flip 1, the
// interleave_mode event) when a packet's origin is our receive time of the peer's previous
// packet, which is what an interleaved peer sends: that is how classic's passive side
// follows an interleaved active peer.

// symmetric reports whether the association is a symmetric one.
func (a *Assoc) symmetric() bool {
	return a.hmode == wire.ModeSymActive || a.hmode == wire.ModeSymPassive
}

// symXleaveXmit fills the transmit field of an interleaved symmetric packet: the departure
// time of our previous packet. It reports false in the basic mode.
func (a *Assoc) symXleaveXmit(p *wire.Packet) bool {
	if a.flip == 0 || !a.symmetric() {
		return false
	}
	if a.flip > 0 {
		p.Xmt = a.borg
	} else {
		p.Xmt = a.aorg
	}
	return true
}

// SentAt gives the real departure time of the interleaved symmetric packet just sent (the
// kernel's transmit timestamp, else the time read after the send), classic peer_xmit's
// a-posteriori timestamp: it goes out in the next packet. It also gives classic's peer
// variable `xleave`, the departure time minus the a-priori one.
func (a *Assoc) SentAt(t, apriori ntptime.Time) {
	if a.flip == 0 || !a.symmetric() {
		return
	}
	if a.flip > 0 {
		a.aorg = t
	} else {
		a.borg = t
	}
	a.flip = -a.flip
	if apriori != 0 {
		a.xl.lag = fixedSeconds(t, apriori)
	}
}

// Interleaving reports whether a symmetric association is in the interleaved mode (its
// packets carry the previous departure time, Action.KeepXmt).
func (a *Assoc) Interleaving() bool { return a.flip != 0 && a.symmetric() }

// symXleaveTests are receive()'s timestamp tests for a symmetric packet: the basic ones
// (with the switch to the interleaved mode) while flip is 0, the interleaved ones after.
// It returns the error of a failed test, nil when they pass.
func (a *Assoc) symXleaveTests(pkt *wire.Packet, acts *[]Action) error {
	if a.flip == 0 {
		if pkt.Org == 0 || pkt.Org != a.aorg {
			a.flash |= FlashBogus
			a.bogusorg++
			if a.dst != 0 && pkt.Org == a.dst {
				a.flip = 1
				*acts = a.report(EvXleave, "", *acts)
			}
			return ErrBogus
		}
		a.aorg = 0
		return nil
	}
	switch {
	case pkt.Org == 0 || pkt.Rec == 0 || a.dst == 0:
		a.flash |= FlashUnsync
		return ErrUnsync
	case pkt.Org != a.dst:
		a.flash |= FlashBogus
		a.bogusorg++
		return ErrBogus
	}
	return nil
}

// symXleaveSample returns t21 and t34 of an interleaved symmetric packet: t1 our
// departure time of our last packet (aorg or borg, by flip), t2 the peer's receive time of
// it, t3 the peer's departure time of its previous packet, t4 our receive time of that.
func (a *Assoc) symXleaveSample(pkt *wire.Packet) (t21, t34 float64) {
	t1 := a.aorg
	if a.flip > 0 {
		t1 = a.borg
	}
	return fixedSeconds(pkt.Rec, t1), fixedSeconds(pkt.Xmt, a.dst)
}

// symXleaveAfter is receive()'s last step in the interleaved mode: the state variables
// take the packet's receive timestamp and our receive time, and the next poll moves by a
// second away from the middle of the interval so that the two peers' packets do not cross.
func (a *Assoc) symXleaveAfter(pkt *wire.Packet, dst ntptime.Time, now time.Time, acts []Action) []Action {
	if a.flip == 0 || !a.symmetric() {
		return acts
	}
	a.rec, a.dst = pkt.Rec, dst
	half := time.Duration(1<<min(a.ppoll, a.hpoll)) * time.Second / 2
	if a.nextdate.Sub(now) < half {
		a.nextdate = a.nextdate.Add(time.Second)
	} else {
		a.nextdate = a.nextdate.Add(-time.Second)
	}
	return append(acts, Action{Kind: ActRearm, At: a.nextdate})
}

// symXleaveError reports classic's interleave_error for an interleaved sample whose delay
// is negative or above 1 s.
func (a *Assoc) symXleaveError(t21, t34 float64, acts []Action) []Action {
	return a.report(EvXerr, fmt.Sprintf("t21 %.6f t34 %.6f", t21, t34), acts)
}
