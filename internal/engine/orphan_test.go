// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"gontp/internal/wire"
	"gontp/peer"
	"gontp/system"
)

// TestOrphanParentAfterWait: with `tos orphan 10 orphanwait 30` and no source the engine
// serves at stratum 10 with refid 127.0.0.1 and leap 0 once 30 s have passed, not before
// (classic timer()).
func TestOrphanParentAfterWait(t *testing.T) {
	tos := system.DefaultTos()
	tos.Orphan, tos.OrphanWait = 10, 30
	w := newWorld(t, Config{Tos: &tos})
	w.e.Timer(t0.Add(29 * time.Second))
	if s := w.e.Snapshot(); s.Sys.Stratum != wire.StratumUnsynched {
		t.Fatalf("stratum %d before the orphan wait is over", s.Sys.Stratum)
	}
	if next := w.e.Next(); !next.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("Next = %v after start, want the end of the orphan wait (30 s)", next.Sub(t0))
	}
	w.e.Timer(t0.Add(30 * time.Second))
	s := w.e.Snapshot()
	if s.Sys.Stratum != 10 || s.Sys.RefID != peer.LoopbackRefID || s.Sys.Leap != wire.LeapNone {
		t.Errorf("orphan: stratum %d refid %#x leap %d, want 10, 127.0.0.1, 0", s.Sys.Stratum, s.Sys.RefID, s.Sys.Leap)
	}
}

// TestOrphanParentElection: a peer at the orphan stratum becomes our orphan parent (we then
// serve at stratum 11) only when its address is lower than ours towards it.
func TestOrphanParentElection(t *testing.T) {
	for _, tc := range []struct {
		local       netip.Addr
		wantStratum uint8
	}{
		{addr(9), 11}, // the peer (198.18.0.3) is lower: it is our parent
		{addr(1), 10}, // we are lower: we stay the parent
	} {
		tos := system.DefaultTos()
		tos.Orphan, tos.OrphanWait = 10, 30
		w := &world{t: t, now: t0, dark: map[netip.Addr]bool{}, kod: map[netip.Addr]string{},
			stratum: 10, sent: map[netip.AddrPort]int{}}
		e, err := New(Config{Tos: &tos, Servers: []peer.Config{{Addr: netip.AddrPortFrom(addr(3), 123),
			Mode: wire.ModeSymActive, IBurst: true, MinPoll: 4, MaxPoll: 4}}},
			Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(1, 2)),
				LocalAddr: func(netip.AddrPort) (netip.Addr, bool) { return tc.local, true }})
		if err != nil {
			t.Fatal(err)
		}
		w.e = e
		w.run(10*time.Minute, nil)
		if s := w.e.Snapshot(); s.Sys.Stratum != tc.wantStratum {
			t.Errorf("local %v: stratum %d, want %d (sys peer %d)", tc.local, s.Sys.Stratum, tc.wantStratum, s.SysPeer)
		}
	}
}
