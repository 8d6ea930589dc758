// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/snapshot"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/system"
)

// world is a tiny virtual network for the engine: servers that answer at once (2 ms round
// trip, true offset zero) unless they are dark, and a DNS whose answer the test changes.
type world struct {
	t       *testing.T
	e       *Engine
	now     time.Time
	dns     []netip.Addr
	dark    map[netip.Addr]bool
	reqs    []ResolveRequest
	kod     map[netip.Addr]string // servers that answer with this kiss code
	stratum uint8
	sent    map[netip.AddrPort]int
	log     *bytes.Buffer
	// restamp, when set, plays the daemon that writes the transmit timestamp at the
	// moment of sending, this much later than the engine's; tell says whether it then
	// tells the engine (Transmitted).
	restamp time.Duration
	tell    bool
	// slow, when set, adds this much to the return path of the nth reply (from 0): the
	// delay grows and the offset falls by half of it.
	slow  func(n int) time.Duration
	nrepl int
}

func addr(n int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 0, byte(n)}) }

func addrs(ns ...int) []netip.Addr {
	out := make([]netip.Addr, len(ns))
	for i, n := range ns {
		out[i] = addr(n)
	}
	return out
}

func newWorld(t *testing.T, cfg Config) *world {
	t.Helper()
	w := &world{t: t, now: t0, dark: map[netip.Addr]bool{}, kod: map[netip.Addr]string{},
		stratum: 2, sent: map[netip.AddrPort]int{}, log: &bytes.Buffer{}}
	if cfg.Tos == nil {
		tos := system.DefaultTos()
		cfg.Tos = &tos
	}
	e, err := New(cfg, Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(7, 9)),
		Log:     slog.New(slog.NewTextHandler(w.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Resolve: func(r ResolveRequest) { w.reqs = append(w.reqs, r) }})
	if err != nil {
		t.Fatal(err)
	}
	w.e = e
	return w
}

// deliver plays the network for the packets the engine sent.
func (w *world) deliver(sends []Send) {
	for len(sends) > 0 {
		s := sends[0]
		sends = sends[1:]
		w.sent[s.To]++
		if w.restamp != 0 {
			planned := s.Packet.Xmt
			s.Packet.Xmt = ntptime.FromTime(s.Packet.Xmt.Time(w.now).Add(w.restamp))
			if w.tell {
				w.e.Transmitted(s.To, planned, s.Packet.Xmt)
			}
		}
		if w.dark[s.To.Addr()] {
			continue
		}
		rx := w.now.Add(time.Millisecond)
		reply := wire.Packet{Leap: wire.LeapNone, Version: s.Packet.Version, Mode: wire.ModeServer,
			Stratum: w.stratum, Poll: s.Packet.Poll, Precision: -20,
			RootDelay: ntptime.ShortFromSeconds(0.01), RootDisp: ntptime.ShortFromSeconds(0.01),
			RefID: wire.RefIDFromString("GPS"), RefTime: ntptime.FromTime(w.now.Add(-time.Minute)),
			Org: s.Packet.Xmt, Rec: ntptime.FromTime(rx), Xmt: ntptime.FromTime(rx)}
		if s.Packet.Mode == wire.ModeSymActive {
			reply.Mode = wire.ModeSymPassive
		}
		if code, ok := w.kod[s.To.Addr()]; ok {
			reply.Leap, reply.Stratum, reply.RefID = wire.LeapAlarm, 0, wire.RefIDFromString(code)
		}
		var b [wire.HeaderLen]byte
		reply.Encode(b[:])
		w.now = w.now.Add(2 * time.Millisecond)
		if w.slow != nil {
			w.now = w.now.Add(w.slow(w.nrepl))
		}
		w.nrepl++
		sends = append(sends, w.e.Receive(b[:], s.To, w.now, w.now)...)
	}
	for len(w.reqs) > 0 {
		r := w.reqs[0]
		w.reqs = w.reqs[1:]
		if len(w.dns) == 0 {
			w.deliver(w.e.PoolResolved(r.ID, nil, fmt.Errorf("no such host %s", r.Name), w.now))
			continue
		}
		w.deliver(w.e.PoolResolved(r.ID, append([]netip.Addr(nil), w.dns...), nil, w.now))
	}
}

// run advances virtual time to limit, or until done returns true.
func (w *world) run(limit time.Duration, done func(*snapshot.Snapshot) bool) time.Duration {
	end := w.now.Add(limit)
	for w.now.Before(end) {
		if next := w.e.Next(); next.After(w.now) {
			w.now = next
		}
		w.deliver(w.e.Timer(w.now))
		if done != nil && done(w.e.Snapshot()) {
			break
		}
	}
	return w.now.Sub(t0)
}

func members(s *snapshot.Snapshot) map[netip.Addr]snapshot.Peer {
	m := map[netip.Addr]snapshot.Peer{}
	for _, p := range s.Peers {
		if p.Hostname == "" && p.Refclock == "" {
			m[p.Vars.Addr.Addr()] = p
		}
	}
	return m
}

func TestPoolPrototypeLooksLikeClassic(t *testing.T) {
	w := newWorld(t, Config{Pools: []Pool{{Name: "pool.test", Peer: peer.Config{IBurst: true}}}})
	s := w.e.Snapshot()
	if len(s.Peers) != 1 {
		t.Fatalf("peers %+v", s.Peers)
	}
	p := s.Peers[0]
	v := p.Vars
	// compat.md trap 5, and `ntpq -c "rv &1"` of classic 4.2.8p15 for a pool line.
	if p.Hostname != "pool.test" || v.Status != 0x8811 || v.RefID != wire.RefIDFromString("POOL") ||
		v.Addr != netip.AddrPortFrom(netip.IPv4Unspecified(), 0) || v.Leap != 3 || v.Stratum != 16 ||
		v.HMode != 3 || v.PMode != 0 || v.HPoll != 6 || v.PPoll != 10 || v.Reach != 0 ||
		v.Flash != 0x1600 || v.Disp != peer.MaxDisp || v.FiltDisp[7] != peer.MaxDisp ||
		v.Precision != -20 {
		t.Errorf("pool prototype: %+v", p)
	}
	if s.SysEvent != 6 || s.SysEventCount != 1 {
		t.Errorf("system event %d count %d at start, want restart (6) once", s.SysEvent, s.SysEventCount)
	}
	if !strings.Contains(w.log.String(), "0.0.0.0 c016 06 restart") {
		t.Errorf("no classic restart line in the log:\n%s", w.log)
	}
}

// TestPoolSpawnsOneServerPerSecond: classic 4.2.8p15 with `pool NAME iburst` where NAME has
// eight addresses and the default tos maxclock 10 solicits them one second apart and ends
// with all eight (observed: eight "Soliciting pool server" lines from 1 s to 8 s after start,
// `ntpq -p` lists the prototype and eight servers; with tos maxclock 5 it also makes eight,
// because until the first selection no server survives and the pool may grow to twice
// maxclock associations).
func TestPoolSpawnsOneServerPerSecond(t *testing.T) {
	for _, maxclock := range []int{10, 5} {
		t.Run(fmt.Sprint("maxclock", maxclock), func(t *testing.T) {
			tos := system.DefaultTos()
			tos.MaxClock = maxclock
			w := newWorld(t, Config{Tos: &tos, Pools: []Pool{{Name: "pool.test", Peer: peer.Config{IBurst: true}}}})
			w.dns = addrs(2, 50, 51, 52, 53, 54, 55, 56)
			took := w.run(time.Minute, func(s *snapshot.Snapshot) bool { return len(members(s)) == 8 })
			if n := len(members(w.e.Snapshot())); n != 8 {
				t.Fatalf("%d pool servers after %v, want 8:\n%s", n, took, w.log)
			}
			t.Logf("8 pool servers after %v", took)
			if took > 12*time.Second {
				t.Errorf("8 pool servers took %v, classic takes about 8 s", took)
			}
			if n := strings.Count(w.log.String(), "Soliciting pool server"); n != 8 {
				t.Errorf("%d solicitations, want 8:\n%s", n, w.log)
			}
			for a, p := range members(w.e.Snapshot()) {
				if !p.Vars.Preempt || p.Vars.Configured || !p.Vars.IBurst || p.Vars.HMode != wire.ModeClient {
					t.Errorf("member %s: %+v", a, p.Vars)
				}
			}
			// Ten minutes on: everyone reachable, a system peer, no more solicitations.
			w.run(10*time.Minute, nil)
			s := w.e.Snapshot()
			if s.SysPeer == 0 {
				t.Errorf("no system peer")
			}
			for a, p := range members(s) {
				if p.Vars.Reach == 0 {
					t.Errorf("%s unreachable", a)
				}
			}
			if n := strings.Count(w.log.String(), "Soliciting pool server"); n != 8 {
				t.Errorf("%d solicitations after 10 min, want still 8", n)
			}
		})
	}
}

// TestPoolReplacesDarkServers: with tos maxclock 4 and four servers (five associations with
// the prototype), two servers go dark and DNS now names two fresh ones. Classic would keep
// the dark ones until they time out (10 polls) and only while there are more than
// maxclock associations; gontp demobilises a pool member after PoolQuiet unanswered polls
// (the later ones at minpoll), and the pool solicits the fresh servers.
func TestPoolReplacesDarkServers(t *testing.T) {
	tos := system.DefaultTos()
	tos.MaxClock = 4
	w := newWorld(t, Config{Tos: &tos, Pools: []Pool{{Name: "pool.test", Peer: peer.Config{IBurst: true}}}})
	w.dns = addrs(10, 11, 12, 13)
	w.run(5*time.Minute, nil)
	if m := members(w.e.Snapshot()); len(m) != 4 {
		t.Fatalf("%d members, want 4", len(m))
	}
	w.dark[addr(12)], w.dark[addr(13)] = true, true
	w.dns = addrs(10, 11, 20, 21)
	took := w.run(6*time.Hour, func(s *snapshot.Snapshot) bool {
		m := members(s)
		_, d1 := m[addr(12)]
		_, d2 := m[addr(13)]
		_, f1 := m[addr(20)]
		return !d1 && !d2 && f1
	})
	m := members(w.e.Snapshot())
	for _, a := range []netip.Addr{addr(12), addr(13)} {
		if _, ok := m[a]; ok {
			t.Fatalf("dark %s still there after %v:\n%s", a, took, w.log)
		}
	}
	// With maxclock 4 the pool keeps three servers (and itself) once three survive, as
	// classic: 10, 11 and the first fresh one.
	if _, ok := m[addr(20)]; !ok || len(m) != 3 {
		t.Fatalf("fresh 198.18.0.20 not mobilised after %v; members %v", took, keys(m))
	}
	// The dark servers polled at 64 s: PoolQuiet polls, then the pool's next poll.
	t.Logf("dark servers replaced %v after they went dark; members now %v", took-5*time.Minute, keys(m))
	if took-5*time.Minute > 10*time.Minute {
		t.Errorf("replacement took %v, want within 10 polls of 64 s", took-5*time.Minute)
	}
	w.run(time.Hour, nil)
	s := w.e.Snapshot()
	for _, p := range s.Peers {
		if p.Vars.Addr.Addr() == addr(12) || p.Vars.Addr.Addr() == addr(13) {
			t.Errorf("dark server back: %+v", p.Vars.Addr)
		}
	}
	if s.SysPeer == 0 {
		t.Errorf("no system peer at the end")
	}
	if !strings.Contains(w.log.String(), "demobilized: no reply to 3 polls") {
		t.Errorf("no demobilisation logged:\n%s", w.log)
	}
}

// TestPoolDeclinesUnsynchronisedServers: classic declines a reply to a solicitation with
// leap 3 or a stratum outside floor..ceiling, and mobilises nothing.
func TestPoolDeclinesUnsynchronisedServers(t *testing.T) {
	w := newWorld(t, Config{Pools: []Pool{{Name: "pool.test"}}})
	w.dns = addrs(2, 3)
	w.kod[addr(2)] = "RATE"
	w.stratum = 15 // at tos ceiling
	w.run(10*time.Minute, nil)
	if m := members(w.e.Snapshot()); len(m) != 0 {
		t.Fatalf("members %v, want none", keys(m))
	}
}

func TestPoolResolutionFailureIsRetriedAtNextPoll(t *testing.T) {
	w := newWorld(t, Config{Pools: []Pool{{Name: "pool.test"}}})
	w.run(3*time.Minute, nil)
	if n := strings.Count(w.log.String(), "error resolving pool pool.test"); n < 2 || n > 4 {
		t.Errorf("%d resolution errors in 3 minutes, want one per 64 s poll:\n%s", n, w.log)
	}
	w.dns = addrs(7)
	w.run(3*time.Minute, nil)
	if _, ok := members(w.e.Snapshot())[addr(7)]; !ok {
		t.Errorf("no member once DNS works")
	}
}

func keys(m map[netip.Addr]snapshot.Peer) []netip.Addr {
	var out []netip.Addr
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestAddServerAndSymmetricPeer: associations added after start (resolved names) poll
// within minpoll and reach their servers; a `peer` line runs symmetric active.
func TestAddServerAndSymmetricPeer(t *testing.T) {
	w := newWorld(t, Config{Servers: []peer.Config{{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient, IBurst: true}}})
	w.run(30*time.Second, nil)
	id, err := w.e.AddServer(peer.Config{Addr: netip.AddrPortFrom(addr(3), 123), Mode: wire.ModeSymActive, IBurst: true}, w.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.AddServer(peer.Config{Addr: netip.AddrPortFrom(addr(3), 123), Mode: wire.ModeClient}, w.now); err == nil {
		t.Error("a duplicate address was accepted")
	}
	w.run(20*time.Minute, nil)
	s := w.e.Snapshot()
	var found bool
	for _, p := range s.Peers {
		if p.ID == id {
			found = true
			if p.Vars.HMode != wire.ModeSymActive || p.Vars.PMode != wire.ModeSymPassive || p.Vars.Reach != 0xff || !p.Vars.Configured {
				t.Errorf("peer association: %+v", p.Vars)
			}
		} else if p.Vars.Reach != 0xff {
			t.Errorf("server association reach %o", p.Vars.Reach)
		}
	}
	if !found || s.SysPeer == 0 {
		t.Errorf("found %v sys peer %d", found, s.SysPeer)
	}
	if s.Sys.Leap != wire.LeapAlarm {
		t.Errorf("leap %d without clock discipline, want 3", s.Sys.Leap)
	}
	if s.Sys.Stratum != 3 {
		t.Errorf("stratum %d, want 3 (the servers' 2 plus 1)", s.Sys.Stratum)
	}
}

// TestLocalAddrsMakeLoopsUnfit: a server whose refid is one of our addresses is synchronised
// to us (TEST12) and never selected.
func TestLocalAddrsMakeLoopsUnfit(t *testing.T) {
	w := newWorld(t, Config{Servers: []peer.Config{{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient, IBurst: true}}})
	w.e.SetLocalAddrs([]netip.Addr{netip.MustParseAddr("71.80.83.0")}) // "GPS\0" as an address
	w.stratum = 3
	w.run(10*time.Minute, nil)
	s := w.e.Snapshot()
	if s.SysPeer != 0 || s.Peers[0].Vars.Flash&peer.FlashPeerLoop == 0 {
		t.Errorf("loop not detected: sys peer %d flash %#x", s.SysPeer, s.Peers[0].Vars.Flash)
	}
}

func TestSteppedClearsEveryAssociation(t *testing.T) {
	w := newWorld(t, Config{Servers: []peer.Config{{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient, IBurst: true}}})
	w.run(5*time.Minute, nil)
	if w.e.Snapshot().SysPeer == 0 {
		t.Fatal("no system peer before the step")
	}
	w.e.Stepped(w.now)
	s := w.e.Snapshot()
	v := s.Peers[0].Vars
	if v.Reach != 0 || v.RefID != wire.RefIDFromString("STEP") || s.SysPeer != 0 ||
		s.Sys.RefID != wire.RefIDFromString("STEP") || s.Sys.Stratum != 16 || s.SysEvent != 12 {
		t.Errorf("after step: sys %+v peer reach %o refid %#x", s.Sys, v.Reach, v.RefID)
	}
	w.run(5*time.Minute, nil)
	if w.e.Snapshot().SysPeer == 0 {
		t.Error("no system peer again after the step")
	}
}

// TestPreemptServerLine: a `server ... preempt` line is configured and preemptible: when it
// has timed out while there are more than maxclock associations and it has the lowest
// score, it is demobilised (ntpd transmit with FLAG_PREEMPT); a plain server never is.
func TestPreemptServerLine(t *testing.T) {
	tos := system.DefaultTos()
	tos.MaxClock = 1
	w := newWorld(t, Config{Tos: &tos, Servers: []peer.Config{
		{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient, IBurst: true},
		{Addr: netip.AddrPortFrom(addr(3), 123), Mode: wire.ModeClient, IBurst: true, Preempt: true},
		{Addr: netip.AddrPortFrom(addr(4), 123), Mode: wire.ModeClient},
	}})
	w.dark[addr(3)], w.dark[addr(4)] = true, true
	w.run(3*time.Hour, nil)
	s := w.e.Snapshot()
	got := map[netip.Addr]bool{}
	for _, p := range s.Peers {
		got[p.Vars.Addr.Addr()] = true
	}
	if !got[addr(2)] || got[addr(3)] || !got[addr(4)] {
		t.Errorf("associations left %v; want the preemptible dark server gone and the others kept", got)
	}
}

// TestTransmittedRestamp: the daemon writes the transmit timestamp just before the send,
// later than the engine's; Transmitted tells the engine, whose origin checks then accept the
// replies of pool solicitations and of associations alike. Without it every reply fails the
// origin test (the control case).
func TestTransmittedRestamp(t *testing.T) {
	for _, tell := range []bool{true, false} {
		w := newWorld(t, Config{Pools: []Pool{{Name: "pool.test", Peer: peer.Config{IBurst: true}}}})
		w.dns = addrs(10, 11, 12, 13)
		w.restamp, w.tell = 37*time.Microsecond, tell
		w.run(2*time.Minute, nil)
		m := members(w.e.Snapshot())
		reachable := 0
		for _, p := range m {
			if p.Vars.Reach != 0 {
				reachable++
			}
		}
		if tell && (len(m) != 4 || reachable != 4) {
			t.Errorf("with Transmitted: %d members, %d reachable, want 4 and 4:\n%s", len(m), reachable, w.log)
		}
		if !tell && len(m) != 0 {
			t.Errorf("without Transmitted: %d members mobilised from replies with a foreign origin", len(m))
		}
	}
}
