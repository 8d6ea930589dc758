// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Interleaved client/server mode, the client's half (`server ADDR xleave`;
// draft-ietf-ntp-interleaved-modes section 2, as chronyd's `xleave` speaks it; RFC 5905
// does not describe it, and classic ntpd 4.2.8p15 interleaves only symmetric and broadcast
// associations, so its `server ... xleave` stays in the basic mode).
//
// A server's transmit timestamp is written before its reply leaves; a server in the
// interleaved mode hands out the real departure time (its kernel's) one exchange later.
// The client asks for it by putting in its request, as origin, the server's receive
// timestamp of the previous exchange and, as receive, its own receive timestamp of the
// previous reply (which differs from its transmit timestamp). A reply whose origin is that
// receive field is interleaved: it completes the previous exchange, whose four timestamps
// are then our previous transmit time (the kernel's, TxTimestamp), the server's previous
// receive timestamp, the reply's transmit timestamp (the server's real departure time of
// its previous reply) and our receive time of that reply. A reply whose origin is our
// transmit timestamp is a basic one, used as always; a server that does not keep the
// state (or lost it) answers so, and the next request tries again.

// xleaveState is what the interleaved mode keeps between exchanges.
type xleaveState struct {
	on bool // Config.Xleave
	// t1, t2, t4: the last exchange that passed the tests (our transmit time, the server's
	// receive timestamp, our receive time), which an interleaved reply completes.
	t1, t2, t4 ntptime.Time
	// reqT1 is the transmit time of the request outstanding (the kernel's when known).
	reqT1 ntptime.Time
	// sentOrg, cookie: the origin and receive fields of the outstanding interleaved
	// request (0: it went in the basic mode).
	sentOrg, cookie ntptime.Time
	// interleaved says that the last reply used was interleaved (ntpq's peer status).
	interleaved bool
	// lag is the last measured transmit lag, s: the kernel's transmit time minus the
	// timestamp written into the packet (classic's peer variable `xleave`).
	lag float64
}

// xleaveRequest fills the origin and receive fields of a client request in the
// interleaved mode when the last exchange can be completed, and remembers them.
func (a *Assoc) xleaveRequest(p *wire.Packet) {
	x := &a.xl
	x.sentOrg, x.cookie = 0, 0
	if !x.on || a.hmode != wire.ModeClient || x.t2 == 0 || x.t4 == 0 || x.t1 == 0 {
		return
	}
	p.Org, p.Rec = x.t2, x.t4
	if p.Rec == p.Xmt {
		p.Rec++ // never: the draft requires them to differ
	}
	x.sentOrg, x.cookie = p.Org, p.Rec
}

// xleaveReply reports whether a reply is the interleaved answer to the outstanding
// request: its origin is the receive field we sent.
func (a *Assoc) xleaveReply(pkt *wire.Packet) bool {
	x := &a.xl
	return x.on && x.cookie != 0 && pkt.Org == x.cookie && a.aorg != 0
}

// xleaveSample returns the offset's two halves of an interleaved reply: t21 = T2 - T1 of
// the previous exchange and t34 = T3 - T4, T3 being the reply's transmit timestamp.
func (a *Assoc) xleaveSample(pkt *wire.Packet) (t21, t34 float64) {
	x := &a.xl
	return fixedSeconds(x.t2, x.t1), fixedSeconds(pkt.Xmt, x.t4)
}

// xleaveDone records the exchange that a reply (either mode) closed, for the next
// interleaved request: our transmit time of the request, the server's receive timestamp,
// our receive time.
func (a *Assoc) xleaveDone(pkt *wire.Packet, interleaved bool) {
	x := &a.xl
	if !x.on || a.hmode != wire.ModeClient {
		return
	}
	x.t1, x.t2, x.t4 = x.reqT1, pkt.Rec, a.dst
	x.sentOrg, x.cookie = 0, 0
	x.interleaved = interleaved
}

// Interleaved reports whether the association's last reply used was interleaved.
func (a *Assoc) Interleaved() bool { return a.xl.interleaved }
