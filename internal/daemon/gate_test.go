// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/server"

	"gontp/internal/snapshot"

	"gontp/internal/wire"
)

func newGate(t testing.TB, conf string) *server.Gate {
	t.Helper()
	g, _, err := server.NewGate(gateConfig(parseConf(t, conf)), nil, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func request(vn, mode uint8, extra int) []byte {
	b := make([]byte, wire.HeaderLen+extra)
	b[0] = vn<<3 | mode
	b[2] = 6
	for i := 40; i < 48; i++ {
		b[i] = 0x33
	}
	return b
}

var gateSnap = &snapshot.Snapshot{Sys: snapshot.SysVars{Leap: wire.LeapAlarm, Stratum: wire.StratumUnsynched,
	Precision: -24, RefID: wire.RefIDFromString("INIT")}}

// serve runs one packet through the Gate and Respond as the daemon does.
func serve(g *server.Gate, s *server.Server, req []byte, src string, now time.Duration) server.Verdict {
	rx := at(now)
	source := g.Source(req, ap(src), netip.MustParseAddr("192.0.2.100"), rx, 0)
	var out [server.MaxReplyLen]byte
	_, v := s.Respond(req, rx, gateSnap, source, out[:])
	return v
}

func TestGateLimitedKoD(t *testing.T) {
	g := newGate(t, "restrict default limited kod\nrestrict 192.0.2.50 limited\nrestrict 192.0.2.51 noserve\n")
	s := server.New(server.Config{}, t0)
	req := request(4, wire.ModeClient, 0)
	var got []server.Verdict
	for i := 0; i < 4; i++ {
		got = append(got, serve(g, s, req, "192.0.2.1:40000", time.Duration(i)*100*time.Millisecond))
	}
	want := []server.Verdict{server.Replied, server.KissOfDeath, server.DropRateLimited, server.DropRateLimited}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("limited kod: %v, want %v", got, want)
		}
	}
	// limited without kod: dropped silently.
	if v := []server.Verdict{serve(g, s, req, "192.0.2.50:1", 0), serve(g, s, req, "192.0.2.50:1", time.Millisecond)}; v[0] != server.Replied || v[1] != server.DropRateLimited {
		t.Errorf("limited: %v", v)
	}
	st := s.Stats(at(time.Second))
	if st.Limited != 4 || st.KoDSent != 1 {
		t.Errorf("ss_limited %d ss_kodsent %d", st.Limited, st.KoDSent)
	}
	// noserve traffic never reaches the monitor.
	serve(g, s, req, "192.0.2.51:1", 0)
	if _, ok := g.Monitor.Lookup(netip.MustParseAddr("192.0.2.51")); ok {
		t.Error("noserve packet recorded in the MRU list")
	}
	e, ok := g.Monitor.Lookup(netip.MustParseAddr("192.0.2.1"))
	if !ok || e.Count != 4 || e.Flags != server.AccessLimited {
		t.Errorf("MRU entry %+v", e)
	}
}

func TestGateWhatReachesTheMonitor(t *testing.T) {
	g := newGate(t, "restrict default notrust\nrestrict 192.0.2.9 version\n")
	s := server.New(server.Config{}, t0)
	for _, c := range []struct {
		name     string
		req      []byte
		src      string
		recorded bool
	}{
		{"notrust without MAC", request(4, 3, 0), "192.0.2.1:1", false},
		{"notrust with a MAC", request(4, 3, 20), "192.0.2.2:1", true},
		{"mode 6", request(2, 6, 0)[:12], "192.0.2.3:1", false},
		{"mode 7", request(2, 7, 0), "192.0.2.4:1", false},
		{"short", request(4, 3, 0)[:40], "192.0.2.5:1", false},
		{"bad trailer", request(4, 3, 2), "192.0.2.6:1", false},
		{"version 3 under restrict version", request(3, 3, 20), "192.0.2.9:1", false},
		{"port 0", request(4, 3, 20), "192.0.2.7:0", false},
	} {
		serve(g, s, c.req, c.src, 0)
		_, ok := g.Monitor.Lookup(ap(c.src).Addr())
		if ok != c.recorded {
			t.Errorf("%s: recorded %v, want %v", c.name, ok, c.recorded)
		}
	}
}

func TestGateDisableMonitor(t *testing.T) {
	// disable monitor without limited: nothing is recorded.
	g := newGate(t, "disable monitor\n")
	s := server.New(server.Config{}, t0)
	serve(g, s, request(4, 3, 0), "192.0.2.1:1", 0)
	if st := g.Monitor.Stats(); st.Enabled != 0 || st.Entries != 0 {
		t.Errorf("disable monitor: %+v", st)
	}
	// with limited somewhere, classic keeps the monitor on (MON_RES).
	g = newGate(t, "disable monitor\nrestrict 192.0.2.0 mask 255.255.255.0 limited\n")
	serve(g, s, request(4, 3, 0), "198.51.100.1:1", 0)
	if st := g.Monitor.Stats(); st.Enabled != server.MonitorRestricted || st.Entries != 1 {
		t.Errorf("disable monitor + limited: %+v", st)
	}
	// restrict source with limited starts it when an association appears.
	g = newGate(t, "disable monitor\nrestrict source limited\n")
	if g.Monitor.Stats().Enabled != 0 {
		t.Fatal("monitor on before any association")
	}
	g.AddSource(netip.MustParseAddr("192.0.2.10"))
	if g.Monitor.Stats().Enabled != server.MonitorRestricted {
		t.Error("monitor not started by restrict source limited")
	}
	g.RemoveSource(netip.MustParseAddr("192.0.2.10"))
	if g.Monitor.Stats().Enabled != 0 {
		t.Error("monitor not stopped")
	}
}

func TestGateAllocs(t *testing.T) {
	g := newGate(t, "restrict default limited kod nopeer noquery\nrestrict 127.0.0.1\n")
	s := server.New(server.Config{}, t0)
	req := request(4, 3, 0)
	local := netip.MustParseAddr("192.0.2.100")
	var out [server.MaxReplyLen]byte
	now := t0
	i := 0
	step := func() {
		now = now.Add(10 * time.Second)
		src := addrN(i % 100)
		i++
		source := g.Source(req, src, local, now, 0)
		s.Respond(req, now, gateSnap, source, out[:])
	}
	for range 300 {
		step()
	}
	if n := testing.AllocsPerRun(2000, step); n != 0 {
		t.Errorf("Gate.Source + Respond allocate %v times per packet", n)
	}
}

func BenchmarkGateAndRespond(b *testing.B) {
	g := newGate(b, "restrict default limited kod nopeer noquery\nrestrict 127.0.0.1\nrestrict ::1\n")
	s := server.New(server.Config{}, t0)
	req := request(4, 3, 0)
	local := netip.MustParseAddr("192.0.2.100")
	var out [server.MaxReplyLen]byte
	now := t0
	i := 0
	for b.Loop() {
		now = now.Add(10 * time.Millisecond)
		src := addrN(i % 1000)
		i++
		source := g.Source(req, src, local, now, 0)
		s.Respond(req, now, gateSnap, source, out[:])
	}
}

func TestGateCheckForControl(t *testing.T) {
	g := newGate(t, "restrict default limited kod nomodify nomrulist noquery\nrestrict 192.0.2.5 nomrulist notrap\n")
	q := request(2, 6, 0)[:12]
	s, acc := g.Check(q, ap("192.0.2.5:4000"), netip.Addr{}, t0, 0)
	if acc != server.AccessNoMRUList|server.AccessNoTrap || s.Restrict != 0 {
		t.Errorf("192.0.2.5: %v %v", acc, s.Restrict)
	}
	s, acc = g.Check(q, ap("192.0.2.6:4000"), netip.Addr{}, t0, 0)
	if acc != server.AccessNoModify|server.AccessNoMRUList|server.AccessNoQuery || s.Restrict != server.RestrictNoQuery {
		t.Errorf("default: %v %v", acc, s.Restrict)
	}
}

// The time helpers and addresses of internal/server's tests.

var t0 = ntptime.Time(0xeeb58bc7_00000000)

func at(d time.Duration) ntptime.Time { return t0.Add(d) }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func addrN(n int) netip.AddrPort {
	if n%2 == 0 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), 40000)
	}
	var b [16]byte
	b[0], b[1], b[13], b[14], b[15] = 0x20, 0x01, byte(n>>16), byte(n>>8), byte(n)
	return netip.AddrPortFrom(netip.AddrFrom16(b), 40000)
}
