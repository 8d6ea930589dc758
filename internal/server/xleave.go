// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"hash/maphash"
	"net/netip"
	"sync"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Interleaved client/server mode, the server's half (draft-ietf-ntp-interleaved-modes
// section 2; RFC 5905 does not describe it, and classic ntpd 4.2.8p15's fast_xmit has no
// interleaved branch: classic interleaves only symmetric and broadcast associations).
//
// A reply's transmit timestamp is written before the packet leaves; the time it really
// left is known only afterwards (the kernel's software transmit timestamp, netio). In
// interleaved mode the server hands that time out one exchange late: it keeps, per client,
// the receive timestamp of the client's last request and the real transmit time of the
// reply to it. A client that wants the interleaved mode puts our last receive timestamp in
// its request's origin field and a value other than its transmit timestamp in the receive
// field; when the origin matches what we kept for that client, the reply carries as origin
// the request's receive field, as receive our receive timestamp of this request, and as
// transmit the real departure time of our previous reply. chronyd's `xleave` client
// speaks exactly this; any other request gets the basic reply.
//
// The state is a fixed table indexed by a hash of the client's address (not its port:
// chronyd sends each request from a new random port, and the origin timestamp, which must
// equal our receive timestamp of the previous request, already tells clients behind one
// address apart), so that
// serving stays allocation-free and the memory bounded (xleaveSlots entries; chronyd
// likewise keeps it in its bounded client log). A client whose slot another client took
// gets a basic reply, which every interleaved client accepts and recovers from.

// xleaveSlots is the number of clients whose last exchange is kept (a power of two).
const xleaveSlots = 1 << 12

// xleaveEntry is one client's last exchange: our receive timestamp of its request and the
// transmit time of our reply to it.
type xleaveEntry struct {
	mu     sync.Mutex
	client netip.Addr
	rx, tx ntptime.Time
}

// xleaveTable is the per-client state of interleaved replies.
type xleaveTable struct {
	seed    maphash.Seed
	entries [xleaveSlots]xleaveEntry
}

func newXleaveTable() *xleaveTable { return &xleaveTable{seed: maphash.MakeSeed()} }

func (t *xleaveTable) slot(client netip.Addr) *xleaveEntry {
	a := client.As16()
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.Write(a[:])
	return &t.entries[h.Sum64()&(xleaveSlots-1)]
}

// lookup returns the transmit time of our reply to client's previous request when rx was
// our receive timestamp of it.
func (t *xleaveTable) lookup(client netip.Addr, rx ntptime.Time) (ntptime.Time, bool) {
	if rx == 0 {
		return 0, false
	}
	client = client.Unmap()
	e := t.slot(client)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client != client || e.rx != rx || e.tx == 0 {
		return 0, false
	}
	return e.tx, true
}

func (t *xleaveTable) save(client netip.Addr, rx, tx ntptime.Time) {
	client = client.Unmap()
	e := t.slot(client)
	e.mu.Lock()
	e.client, e.rx, e.tx = client, rx, tx
	e.mu.Unlock()
}

// WantsTxTime reports whether the caller should learn the real transmit time of the reply
// Respond just wrote for req (a Replied or RepliedInterleaved verdict) and give it to
// Transmitted: the request may come from an interleaved client, because its receive field
// is set and differs from its transmit field (the draft's condition for an interleaved
// request). SNTP clients, which send zeros there, cost nothing.
func WantsTxTime(req []byte) bool {
	if len(req) < wire.HeaderLen {
		return false
	}
	rec := req[32:40]
	xmt := req[40:48]
	zero := true
	same := true
	for i := range 8 {
		if rec[i] != 0 {
			zero = false
		}
		if rec[i] != xmt[i] {
			same = false
		}
	}
	return !zero && !same
}

// Transmitted records the real transmit time tx of a reply sent to client (reply is the
// reply as sent: its receive timestamp is our receive timestamp of the request), so that
// the client's next request may get it in an interleaved reply. The kernel's transmit
// timestamp is the one to give; the time written into the reply is the fallback. It does
// not allocate.
func (s *Server) Transmitted(client netip.AddrPort, reply []byte, tx ntptime.Time) {
	if len(reply) < wire.HeaderLen || tx == 0 || reply[0]&7 != wire.ModeServer {
		return
	}
	rx := ntptime.Time(uint64(reply[32])<<56 | uint64(reply[33])<<48 | uint64(reply[34])<<40 | uint64(reply[35])<<32 |
		uint64(reply[36])<<24 | uint64(reply[37])<<16 | uint64(reply[38])<<8 | uint64(reply[39]))
	if rx == 0 {
		return
	}
	s.xleave.save(client.Addr(), rx, tx)
}

// interleaved reports whether a client request asks for, and may get, an interleaved
// reply, and with which transmit timestamp: its origin is our receive timestamp of the
// client's previous request, its receive field is set and differs from its transmit field,
// and it carries nothing but the header and perhaps a MAC (an NTS request is answered in
// the basic mode: its authenticator covers a fresh exchange).
func (s *Server) interleaved(req []byte, p *wire.Packet, numExt int, client netip.Addr) (ntptime.Time, bool) {
	if numExt != 0 || p.Org == 0 || p.Rec == 0 || p.Rec == p.Xmt || !client.IsValid() {
		return 0, false
	}
	return s.xleave.lookup(client, p.Org)
}
