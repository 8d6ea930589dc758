// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/system"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var srvAddr = netip.MustParseAddrPort("198.18.0.2:123")

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// testSys is an unsynchronised system with precision 2^-20 s (about 1 µs).
func testSys() *system.State {
	s := system.DefaultState()
	return &s
}

func mustNew(t testing.TB, cfg Config, now time.Time, sys *system.State) *Assoc {
	t.Helper()
	if !cfg.Addr.IsValid() {
		cfg.Addr = srvAddr
	}
	if cfg.Mode == 0 {
		cfg.Mode = wire.ModeClient
	}
	a, err := New(cfg, now, sys, newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// server is a simulated NTP server: its clock runs Offset ahead of true time, and packets
// take Delay each way.
type server struct {
	Offset  time.Duration
	Delay   time.Duration
	Stratum uint8
	Leap    uint8
	RefID   uint32
	Poll    int8
	Turn    time.Duration // processing time between receive and transmit
	// kiss, when set, makes the server answer with that kiss code.
	Kiss string
}

func goodServer() server {
	return server{Offset: 3 * time.Millisecond, Delay: 5 * time.Millisecond, Stratum: 2,
		RefID: wire.RefIDFromString("\xc0\x00\x02\x01"), Poll: 6, Turn: 20 * time.Microsecond}
}

// reply answers req sent at true time sentAt; it returns the reply, the true time it
// arrives and the client's receive timestamp.
func (s server) reply(req *wire.Packet, sentAt time.Time) (wire.Packet, time.Time, ntptime.Time) {
	arrive := sentAt.Add(s.Delay)
	p := wire.Packet{
		Leap: s.Leap, Version: req.Version, Mode: wire.ModeServer, Stratum: s.Stratum,
		Poll: s.Poll, Precision: -20,
		RootDelay: ntptime.ShortFromSeconds(0.010), RootDisp: ntptime.ShortFromSeconds(0.005),
		RefID: s.RefID, RefTime: ntptime.FromTime(arrive.Add(s.Offset - time.Minute)),
		Org: req.Xmt,
		Rec: ntptime.FromTime(arrive.Add(s.Offset)),
		Xmt: ntptime.FromTime(arrive.Add(s.Offset + s.Turn)),
	}
	if s.Kiss != "" {
		p.Leap, p.Stratum, p.RefID = wire.LeapAlarm, 0, wire.RefIDFromString(s.Kiss)
	}
	back := arrive.Add(s.Turn + s.Delay)
	return p, back, ntptime.FromTime(back)
}

// find returns the actions of kind k.
func find(acts []Action, k ActionKind) []Action {
	var out []Action
	for _, a := range acts {
		if a.Kind == k {
			out = append(out, a)
		}
	}
	return out
}

func sends(acts []Action) []wire.Packet {
	var out []wire.Packet
	for _, a := range find(acts, ActSend) {
		out = append(out, a.Packet)
	}
	return out
}

func rearm(t testing.TB, acts []Action) time.Time {
	t.Helper()
	r := find(acts, ActRearm)
	if len(r) == 0 {
		t.Fatalf("no rearm in %v", kinds(acts))
	}
	return r[len(r)-1].At
}

func kinds(acts []Action) []string {
	var out []string
	for _, a := range acts {
		s := a.Kind.String()
		if a.Kind == ActEvent {
			s += ":" + a.Event.String()
		}
		out = append(out, s)
	}
	return out
}

func events(acts []Action) []Event {
	var out []Event
	for _, a := range find(acts, ActEvent) {
		out = append(out, a.Event)
	}
	return out
}

// exchange polls a at its next poll time, lets srv answer and feeds the answer back. It
// returns the time after the exchange, the actions of the poll and of the receive, and the
// receive error.
func exchange(t testing.TB, a *Assoc, srv server, sys *system.State) (time.Time, []Action, []Action, error) {
	t.Helper()
	now := a.NextPoll()
	pacts := a.Poll(now, sys, nil)
	pk := sends(pacts)
	if len(pk) != 1 {
		t.Fatalf("poll at %v sent %d packets: %v", now, len(pk), kinds(pacts))
	}
	rep, back, dst := srv.reply(&pk[0], now)
	racts, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil)
	return back, pacts, racts, err
}
