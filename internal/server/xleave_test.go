// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// xleaveReq is a client request as an interleaved client (chronyd `xleave`) sends it:
// origin our last receive timestamp, receive its own cookie, transmit its T1.
func xleaveReq(org, rec, xmt ntptime.Time) []byte {
	b := header(0, 4, 3, 6)
	binary.BigEndian.PutUint64(b[24:], uint64(org))
	binary.BigEndian.PutUint64(b[32:], uint64(rec))
	binary.BigEndian.PutUint64(b[40:], uint64(xmt))
	return b
}

func TestInterleavedReply(t *testing.T) {
	s := New(Config{}, tStart)
	snap := unsyncSnap()
	client := netip.MustParseAddrPort("198.18.0.2:123")
	src := Source{Addr: client.Addr()}
	out := make([]byte, MaxReplyLen)

	// First exchange: nothing kept, a basic reply.
	rx1 := tRx
	req1 := xleaveReq(0, 0x4444, 0x5555)
	n, v := s.Respond(req1, rx1, snap, src, out)
	if v != Replied || n != wire.HeaderLen {
		t.Fatalf("first request: %v, %d octets; want a basic reply", v, n)
	}
	if !WantsTxTime(req1) {
		t.Fatal("WantsTxTime false for a request with a receive field")
	}
	tx1 := rx1 + 0x1000
	wire.PutXmt(out[:n], rx1+0x800) // the stamp written before the send
	s.Transmitted(client, out[:n], tx1)

	// Second exchange, interleaved: origin = our rx1.
	rx2 := rx1 + 0x10_0000_0000
	req2 := xleaveReq(rx1, 0x6666, 0x7777)
	n, v = s.Respond(req2, rx2, snap, src, out)
	if v != RepliedInterleaved || v.StampXmt() {
		t.Fatalf("interleaved request: %v; want %v, not to be stamped", v, RepliedInterleaved)
	}
	var p wire.Packet
	if _, err := wire.Decode(out[:n], &p); err != nil {
		t.Fatal(err)
	}
	if p.Org != 0x6666 || p.Rec != rx2 || p.Xmt != tx1 || p.Mode != wire.ModeServer {
		t.Errorf("interleaved reply org %#x rec %#x xmt %#x mode %d; want org 0x6666 rec %#x xmt %#x mode 4",
			p.Org, p.Rec, p.Xmt, p.Mode, rx2, tx1)
	}
	if st := s.Stats(tRx); st.Interleaved != 1 || st.Replies != 2 {
		t.Errorf("counters: interleaved %d replies %d; want 1, 2", st.Interleaved, st.Replies)
	}

	// The same origin from another port of the same host, or an origin that is not our
	// last receive timestamp, or a receive field equal to the transmit field: basic.
	other := Source{Addr: netip.MustParseAddr("198.18.0.3")}
	for name, c := range map[string]struct {
		req []byte
		src Source
	}{
		"other host": {xleaveReq(rx1, 0x6666, 0x7777), other},
		"stale org":  {xleaveReq(rx1-1, 0x6666, 0x7777), src},
		"rec==xmt":   {xleaveReq(rx1, 0x7777, 0x7777), src},
		"zero rec":   {xleaveReq(rx1, 0, 0x7777), src},
		"with ext":   {cat(xleaveReq(rx1, 0x6666, 0x7777), ext(0x0104, 28)), src},
		"manycast":   {xleaveReq(rx1, 0x6666, 0x7777), Source{Addr: client.Addr(), Manycast: true}},
	} {
		if _, v := s.Respond(c.req, rx2, snap, c.src, out); v == RepliedInterleaved {
			t.Errorf("%s: interleaved reply; want basic", name)
		}
	}
	if WantsTxTime(xleaveReq(0, 0, 0x7777)) || WantsTxTime(xleaveReq(0, 0x7777, 0x7777)) {
		t.Error("WantsTxTime true for an SNTP request")
	}
}

// TestInterleavedAllocs: the interleaved path, like the basic one, allocates nothing.
func TestInterleavedAllocs(t *testing.T) {
	s, exchange := interleavedExchange()
	allocs := testing.AllocsPerRun(100, exchange)
	if allocs != 0 {
		t.Errorf("%v allocations per interleaved exchange; want 0", allocs)
	}
	if s.Stats(tRx).Interleaved == 0 {
		t.Error("no interleaved reply in the loop")
	}
}

func BenchmarkRespondInterleaved(b *testing.B) {
	_, exchange := interleavedExchange()
	b.ReportAllocs()
	for b.Loop() {
		exchange()
	}
}

// interleavedExchange is a server and one interleaved exchange with one client: the
// request, the reply, its transmit time reported, and the next request naming the last
// receive time as its origin, a second later.
func interleavedExchange() (*Server, func()) {
	s := New(Config{}, tStart)
	snap := unsyncSnap()
	client := netip.MustParseAddrPort("198.18.0.2:123")
	src := Source{Addr: client.Addr()}
	out := make([]byte, MaxReplyLen)
	rx := tRx
	req := xleaveReq(0, 0x4444, 0x5555)
	return s, func() {
		n, _ := s.Respond(req, rx, snap, src, out)
		s.Transmitted(client, out[:n], rx+1)
		binary.BigEndian.PutUint64(req[24:], uint64(rx))
		rx += 0x1_0000_0000
	}
}
