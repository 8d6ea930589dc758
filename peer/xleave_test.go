// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"math"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// xleaveServer is a simulated server in the interleaved mode: a reply leaves lag after the
// transmit timestamp written into it, and the server hands out the real departure time of
// its previous reply when the request's origin is its previous receive timestamp.
type xleaveServer struct {
	server
	lag        time.Duration
	prevRx     ntptime.Time
	prevDepart ntptime.Time
	basic      bool // answer in the basic mode only
}

func (s *xleaveServer) reply(req *wire.Packet, sentAt time.Time) (wire.Packet, time.Time, ntptime.Time) {
	p, _, _ := s.server.reply(req, sentAt)
	arrive := sentAt.Add(s.Delay)
	depart := arrive.Add(s.Turn + s.lag)
	if !s.basic && req.Org != 0 && req.Org == s.prevRx && req.Rec != req.Xmt {
		p.Org, p.Xmt = req.Rec, s.prevDepart
	}
	s.prevRx, s.prevDepart = p.Rec, ntptime.FromTime(depart.Add(s.Offset))
	back := depart.Add(s.Delay)
	return p, back, ntptime.FromTime(back)
}

func xleaveExchange(t *testing.T, a *Assoc, srv *xleaveServer) (wire.Packet, []Action, error) {
	t.Helper()
	sys := testSys()
	now := a.NextPoll()
	pk := sends(a.Poll(now, sys, nil))
	if len(pk) != 1 {
		t.Fatalf("poll sent %d packets", len(pk))
	}
	// The kernel's transmit time is the true send time; the stamp went in 30 µs earlier.
	a.TxTimestamp(pk[0].Xmt, pk[0].Xmt)
	rep, back, dst := srv.reply(&pk[0], now)
	acts, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil)
	return pk[0], acts, err
}

// TestXleaveClient: with `xleave`, the requests after the first ask for the interleaved mode
// (origin the server's last receive timestamp, receive our last receive time); the
// interleaved replies are used with the server's real departure times, so the delay is the
// network's alone, where the basic mode adds the server's transmit lag; the interleave_mode
// event is reported once.
func TestXleaveClient(t *testing.T) {
	srv := &xleaveServer{server: goodServer(), lag: 200 * time.Microsecond}
	a := mustNew(t, Config{Xleave: true, MinPoll: 4, MaxPoll: 4}, t0, testSys())
	req, _, err := xleaveExchange(t, a, srv)
	if err != nil || req.Org != 0 && req.Org == srv.prevRx {
		t.Fatalf("first exchange: err %v, org %#x", err, req.Org)
	}
	if a.Interleaved() {
		t.Fatal("interleaved after a basic reply")
	}
	basicDelay := a.Vars(t0.Add(time.Hour)).Delay
	nev := 0
	for i := 0; i < 4; i++ {
		prevRx := srv.prevRx
		req, acts, err := xleaveExchange(t, a, srv)
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if req.Org != prevRx || req.Rec == req.Xmt || req.Rec == 0 {
			t.Errorf("exchange %d: request org %#x rec %#x xmt %#x; want org %#x, rec set", i, req.Org, req.Rec, req.Xmt, prevRx)
		}
		for _, e := range events(acts) {
			if e == EvXleave {
				nev++
			}
		}
		if len(find(acts, ActSample)) != 1 {
			t.Errorf("exchange %d: no sample (%v)", i, kinds(acts))
		}
	}
	if !a.Interleaved() {
		t.Fatal("not interleaved")
	}
	if nev != 1 {
		t.Errorf("%d interleave_mode events; want 1", nev)
	}
	// The sample of the last exchange: delay 2 × 5 ms exactly (the turn is inside
	// T3 - T2), where the basic one had the 200 µs lag too.
	s := a.filter[(a.next+NStages-1)%NStages]
	if math.Abs(s.delay-0.010) > 1e-6 || math.Abs(s.offset-0.003) > 1e-6 {
		t.Errorf("interleaved sample delay %.6f offset %.6f; want 0.010000, 0.003000", s.delay, s.offset)
	}
	if basicDelay < 0.0101 {
		t.Errorf("basic delay %.6f does not show the lag (test broken)", basicDelay)
	}

	// A server that stops keeping the state answers in the basic mode: still used.
	srv.basic = true
	before := a.filter[(a.next+NStages-1)%NStages]
	if _, _, err := xleaveExchange(t, a, srv); err != nil {
		t.Fatalf("basic reply to an interleaved request: %v", err)
	}
	if after := a.filter[(a.next+NStages-1)%NStages]; after == before || math.Abs(after.delay-0.0102) > 1e-6 {
		t.Errorf("basic reply's sample delay %.6f; want 0.010200 in the filter", after.delay)
	}
	if a.Interleaved() {
		t.Error("still interleaved after a basic reply")
	}
}

// TestXleaveClientOff: without `xleave` the requests stay basic (classic's origin and
// receive fields) and a reply echoing the receive field is bogus.
func TestXleaveClientOff(t *testing.T) {
	srv := &xleaveServer{server: goodServer(), lag: 200 * time.Microsecond}
	a := mustNew(t, Config{MinPoll: 4, MaxPoll: 4}, t0, testSys())
	for i := 0; i < 3; i++ {
		req, _, err := xleaveExchange(t, a, srv)
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if i > 0 && req.Org == srv.prevRx {
			t.Errorf("exchange %d: an interleaved request without xleave", i)
		}
	}
	if a.Interleaved() {
		t.Error("interleaved without xleave")
	}
}
