// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gontp/internal/ntptime"
)

var t0 = ntptime.Time(0xeeb58bc7_00000000)

func at(d time.Duration) ntptime.Time { return t0.Add(d) }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func newMon(cfg MonitorConfig) *Monitor {
	return NewMonitor(cfg, MonitorOn, rand.New(rand.NewPCG(1, 2)))
}

const limKoD = AccessLimited | AccessKoD

// verdicts sends n packets from one source, every step, and returns "r" (answered), "K"
// (KoD) or "." (dropped) per packet.
func verdicts(m *Monitor, src netip.AddrPort, n int, step time.Duration) string {
	var b []byte
	for i := 0; i < n; i++ {
		f := m.Observe(src, netip.Addr{}, 3, 4, limKoD, at(time.Duration(i)*step))
		switch {
		case f&AccessLimited == 0:
			b = append(b, 'r')
		case f&AccessKoD != 0:
			b = append(b, 'K')
		default:
			b = append(b, '.')
		}
	}
	return string(b)
}

func TestMonitorRateLimit(t *testing.T) {
	src := ap("192.0.2.1:40000")
	for _, c := range []struct {
		name string
		cfg  func(*MonitorConfig)
		step time.Duration
		n    int
		want string
	}{
		// Every 8 s (the average headway): never limited.
		{"every 8 s", nil, 8 * time.Second, 40, repeat('r', 40)},
		// 10 per second: intervals round to 0 s, so the bucket never drains: the first packet
		// is answered, the second gets the only KoD, and the rest are dropped for good.
		{"10 per second", nil, 100 * time.Millisecond, 300, "rK" + repeat('.', 298)},
		// Every second: the bucket fills by 5 per packet (8 less the 1 s drained and the 2 s
		// grace) up to the limit of 64 at the 14th packet; then one KoD each time it has
		// drained below the limit again, every 9 s.
		{"every second", nil, time.Second, 40,
			"rrrrrrrrrrrrrK........K........K........"},
		// discard minimum 5: packets 3 s apart are too close even though the average is fine.
		{"minimum 5", func(c *MonitorConfig) { c.Minimum = 5 }, 3 * time.Second, 4, "rK.."},
		// discard average 0: a headway of 1 s, limit 8.
		{"average 0", func(c *MonitorConfig) { c.Average = 0 }, 2 * time.Second, 6, "rrrrrr"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultMonitorConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			if got := verdicts(newMon(cfg), src, c.n, c.step); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestMonitorKeepsNonLimitedFlags(t *testing.T) {
	m := newMon(DefaultMonitorConfig())
	src := ap("192.0.2.1:40000")
	// Without `limited` in the flags nothing is limited however fast the source is, but it is
	// recorded; the entry keeps the other restrict bits.
	for i := 0; i < 50; i++ {
		if f := m.Observe(src, netip.Addr{}, 3, 4, AccessNoQuery, at(time.Duration(i)*time.Millisecond)); f != AccessNoQuery {
			t.Fatalf("packet %d: %v", i, f)
		}
	}
	e, ok := m.Lookup(src.Addr())
	if !ok || e.Count != 50 || e.Flags != AccessNoQuery || e.Mode != 3 || e.Version != 4 {
		t.Errorf("entry %+v ok=%v", e, ok)
	}
	// The entry shows whether its last packet was limited.
	f := m.Observe(src, netip.Addr{}, 3, 4, AccessNoQuery|limKoD, at(time.Second))
	e, _ = m.Lookup(src.Addr())
	if f&AccessLimited == 0 || e.Flags != f {
		t.Errorf("flags %v, entry %v", f, e.Flags)
	}
}

func TestMonitorDisabled(t *testing.T) {
	m := NewMonitor(DefaultMonitorConfig(), 0, rand.New(rand.NewPCG(1, 2)))
	if got := verdicts(m, ap("192.0.2.1:1"), 20, time.Millisecond); got != repeat('r', 20) {
		t.Errorf("disabled monitor limited: %s", got)
	}
	if st := m.Stats(); st.Entries != 0 || st.Enabled != 0 {
		t.Errorf("stats %+v", st)
	}
	m.Start(MonitorRestricted)
	if got := verdicts(m, ap("192.0.2.1:1"), 3, time.Millisecond); got != "rK." {
		t.Errorf("after Start: %s", got)
	}
	m.Stop(MonitorRestricted)
	if st := m.Stats(); st.Entries != 0 || st.Enabled != 0 {
		t.Errorf("after Stop: %+v", st)
	}
}

// addrN is the n-th of many distinct source addresses, IPv4 and IPv6 mixed.
func addrN(n int) netip.AddrPort {
	if n%2 == 0 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), 40000)
	}
	var b [16]byte
	b[0], b[1], b[13], b[14], b[15] = 0x20, 0x01, byte(n>>16), byte(n>>8), byte(n)
	return netip.AddrPortFrom(netip.AddrFrom16(b), 40000)
}

func TestMonitorBoundedUnderFlood(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  func(*MonitorConfig)
	}{
		{"defaults", nil},
		{"maxdepth 1000", func(c *MonitorConfig) { c.MaxDepth = 1000; c.MinDepth = 100 }},
		{"mindepth above maxdepth", func(c *MonitorConfig) { c.MaxDepth = 50; c.MinDepth = 300; c.IncAlloc = 7 }},
		{"maxdepth unlimited", func(c *MonitorConfig) { c.MaxDepth = -1; c.MaxAge = 1 << 30 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultMonitorConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			m := newMon(cfg)
			bound := max(m.maxDepth, cfg.InitAlloc, cfg.MinDepth) + max(cfg.IncAlloc, 1)
			// 100 000 sources, 20 000 per second, each sending twice: a flood of forged
			// addresses, as fast as the generator can.
			for round := 0; round < 2; round++ {
				for i := 0; i < 100000; i++ {
					now := at(time.Duration(round*100000+i) * 50 * time.Microsecond)
					m.Observe(addrN(i), netip.Addr{}, 3, 4, limKoD, now)
					if i%997 == 0 {
						if st := m.Stats(); st.Entries > bound || m.Allocated() > bound {
							t.Fatalf("after %d sources: %d entries, %d allocated, bound %d", i, st.Entries, m.Allocated(), bound)
						}
					}
				}
			}
			st := m.Stats()
			t.Logf("%s: %d entries (peak %d), %d allocated, bound %d", c.name, st.Entries, st.Peak, m.Allocated(), bound)
			if st.Entries > bound || st.Peak > bound || m.Allocated() > bound {
				t.Errorf("%d entries (peak %d), %d allocated, bound %d", st.Entries, st.Peak, m.Allocated(), bound)
			}
			if got := len(m.MRU(nil)); got != st.Entries {
				t.Errorf("MRU has %d entries, stats say %d", got, st.Entries)
			}
		})
	}
}

func TestMonitorMaxAgeReclaims(t *testing.T) {
	cfg := DefaultMonitorConfig()
	cfg.MinDepth, cfg.MaxDepth, cfg.MaxAge, cfg.InitAlloc, cfg.IncAlloc = 2, 3, 10, 3, 1
	m := newMon(cfg)
	for i := 0; i < 3; i++ {
		m.Observe(addrN(i), netip.Addr{}, 3, 4, 0, at(time.Duration(i)*time.Second))
	}
	// The list is full and its oldest entry is 3 s old: a new source is recorded only by
	// classic's lottery (4*age/monitor = 0.4 %) - with this seed it is not.
	m.Observe(addrN(3), netip.Addr{}, 3, 4, 0, at(3*time.Second))
	if _, ok := m.Lookup(addrN(3).Addr()); ok {
		t.Error("new source took a young entry's place")
	}
	// 20 s later the oldest is older than maxage and is reused.
	m.Observe(addrN(4), netip.Addr{}, 3, 4, 0, at(20*time.Second))
	if _, ok := m.Lookup(addrN(4).Addr()); !ok {
		t.Error("old entry was not reused")
	}
	if _, ok := m.Lookup(addrN(0).Addr()); ok {
		t.Error("oldest entry still there")
	}
	if st := m.Stats(); st.Entries != 3 {
		t.Errorf("%d entries", st.Entries)
	}
}

func TestMonitorMRUOrderAndResume(t *testing.T) {
	m := newMon(DefaultMonitorConfig())
	local := netip.MustParseAddr("192.0.2.100")
	for i := 0; i < 5; i++ {
		m.Observe(addrN(i), local, 3, 4, 0, at(time.Duration(i)*time.Second))
	}
	// addrN(1) sends again, from another port: it becomes the newest.
	moved := netip.AddrPortFrom(addrN(1).Addr(), 41000)
	m.Observe(moved, local, 4, 3, AccessNoQuery, at(10*time.Second))
	all := m.MRU(nil)
	var order []netip.AddrPort
	for _, e := range all {
		order = append(order, e.Addr)
	}
	want := []netip.AddrPort{addrN(0), addrN(2), addrN(3), addrN(4), moved}
	if len(order) != len(want) {
		t.Fatalf("order %v", order)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	last := all[4]
	if last.Count != 2 || last.First != at(time.Second) || last.Last != at(10*time.Second) ||
		last.Mode != 4 || last.Version != 3 || last.Flags != AccessNoQuery || last.Local != local {
		t.Errorf("newest entry %+v", last)
	}
	got, ok, more := m.Resume(netip.AddrPort{}, 0, 2, nil)
	if !ok || !more || len(got) != 2 || got[1].Addr != addrN(2) {
		t.Errorf("first page %v ok=%v more=%v", got, ok, more)
	}
	got, ok, more = m.Resume(addrN(2), at(2*time.Second), 10, nil)
	if !ok || more || len(got) != 3 || got[0].Addr != addrN(3) {
		t.Errorf("resume %v ok=%v more=%v", got, ok, more)
	}
	// A resume point whose last time changed (or whose port differs) is not found.
	if _, ok, _ := m.Resume(addrN(1), at(time.Second), 10, nil); ok {
		t.Error("stale resume point accepted")
	}
}

func TestMonitorStatsLikeClassic(t *testing.T) {
	m := newMon(DefaultMonitorConfig())
	for i := 0; i < 3; i++ {
		m.Observe(addrN(i), netip.Addr{}, 4, 4, 0, t0)
	}
	// classic ntpq monstats with 3 addresses (compat.md 3.5).
	want := MonitorStats{Enabled: 1, Entries: 3, Peak: 3, MinDepth: 600, MaxDepth: 11915, MaxAge: 64,
		MemKB: 0, MaxMemKB: 1024, MinPoll: 3}
	if st := m.Stats(); st != want {
		t.Errorf("got %+v\nwant %+v", st, want)
	}
	if c := DefaultMonitorConfig(); c.InitAlloc != 46 || c.IncAlloc != 46 {
		t.Errorf("alloc batches %+v", c)
	}
}

func TestMonitorObserveAllocs(t *testing.T) {
	m := newMon(DefaultMonitorConfig())
	srcs := make([]netip.AddrPort, 500)
	for i := range srcs {
		srcs[i] = addrN(i)
	}
	i := 0
	now := t0
	step := func() {
		now = now.Add(time.Millisecond)
		m.Observe(srcs[i%len(srcs)], netip.Addr{}, 3, 4, limKoD, now)
		i++
	}
	for range 2000 { // warm up: allocate the entries
		step()
	}
	if n := testing.AllocsPerRun(5000, step); n != 0 {
		t.Errorf("Observe allocates %v times per packet in the steady state", n)
	}
}

func TestMonitorConcurrent(t *testing.T) {
	cfg := DefaultMonitorConfig()
	cfg.MaxDepth, cfg.MinDepth = 200, 50
	m := newMon(cfg)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				m.Observe(addrN(g*10000+i%700), netip.Addr{}, 3, 4, limKoD, at(time.Duration(i)*time.Millisecond))
				if i%500 == 0 {
					m.MRU(nil)
					m.Stats()
				}
			}
		}()
	}
	wg.Wait()
	if st := m.Stats(); st.Entries > 200+46 {
		t.Errorf("%+v", st)
	}
}

func BenchmarkMonitorObserve(b *testing.B) {
	m := newMon(DefaultMonitorConfig())
	srcs := make([]netip.AddrPort, 1000)
	for i := range srcs {
		srcs[i] = addrN(i)
	}
	now := t0
	i := 0
	for b.Loop() {
		now = now.Add(time.Millisecond)
		m.Observe(srcs[i%len(srcs)], netip.Addr{}, 3, 4, limKoD, now)
		i++
	}
}

func BenchmarkMonitorObserveParallel(b *testing.B) {
	m := newMon(DefaultMonitorConfig())
	b.RunParallel(func(pb *testing.PB) {
		now := t0
		i := 0
		for pb.Next() {
			now = now.Add(time.Millisecond)
			m.Observe(addrN(i%1000), netip.Addr{}, 3, 4, limKoD, now)
			i++
		}
	})
}
