// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"gontp/internal/snapshot"
	"gontp/internal/wire"
	"gontp/peer"
)

// TestReconfigureServerKeepsMeasurements: an edited server line's options replace the old
// ones in place; the association keeps its ID, reach and filter (issue 15 B1).
func TestReconfigureServerKeepsMeasurements(t *testing.T) {
	pc := peer.Config{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient, IBurst: true}
	w := newWorld(t, Config{Servers: []peer.Config{pc}})
	w.run(time.Minute, func(s *snapshot.Snapshot) bool { return s.Peers[0].Vars.Reach == 0xff })
	before := w.e.Snapshot().Peers[0]
	pc.MaxPoll, pc.Prefer = 8, true
	if err := w.e.ReconfigureServer(pc, w.now); err != nil {
		t.Fatal(err)
	}
	after := w.e.Snapshot().Peers[0]
	if before.Vars.Reach == 0 || after.ID != before.ID || after.Vars.Reach != before.Vars.Reach || after.Vars.Offset != before.Vars.Offset ||
		after.Vars.MaxPoll != 8 || !after.Vars.Prefer || !after.Vars.Configured {
		t.Errorf("before %+v\nafter %+v", before.Vars, after.Vars)
	}
	pc.Mode = wire.ModeSymActive
	if err := w.e.ReconfigureServer(pc, w.now); err == nil {
		t.Error("a mode change must be refused (the daemon replaces the association)")
	}
}

// TestKissDenyLoggedOnceAssociationStays: DENY keeps the association (classic 4.2.8p15)
// and is logged once with the address, at the default level.
func TestKissDenyLoggedOnceAssociationStays(t *testing.T) {
	w := newWorld(t, Config{Servers: []peer.Config{{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient, IBurst: true}}})
	w.kod[addr(2)] = "DENY"
	w.run(5*time.Minute, nil)
	s := w.e.Snapshot()
	if len(s.Peers) != 1 || s.Peers[0].Vars.Reach != 0 || s.Peers[0].Vars.SelBroken == 0 {
		t.Fatalf("peers %+v", s.Peers)
	}
	if n := strings.Count(w.log.String(), "level=WARN msg=\"kiss-o'-death DENY from 198.18.0.2"); n != 1 {
		t.Errorf("%d DENY warnings, want 1:\n%s", n, w.log)
	}
}

// TestPoolReload: a pool added after start solicits, an edited one's servers take the new
// options keeping their measurements, a removed one takes its servers along.
func TestPoolReload(t *testing.T) {
	w := newWorld(t, Config{})
	w.dns = addrs(50, 51)
	pl := Pool{Name: "pool.test", Peer: peer.Config{IBurst: true}}
	if err := w.e.AddPool(pl, w.now); err != nil {
		t.Fatal(err)
	}
	w.run(time.Minute, func(s *snapshot.Snapshot) bool { return len(members(s)) == 2 })
	if n := len(members(w.e.Snapshot())); n != 2 {
		t.Fatalf("%d pool servers, want 2:\n%s", n, w.log)
	}
	reach := members(w.e.Snapshot())[addr(50)].Vars.Reach
	pl.Peer.MaxPoll = 8
	if err := w.e.ReconfigurePool(pl, w.now); err != nil {
		t.Fatal(err)
	}
	m := members(w.e.Snapshot())[addr(50)]
	if m.Vars.MaxPoll != 8 || m.Vars.Reach != reach || m.Vars.Reach == 0 {
		t.Errorf("after the edit: %+v", m.Vars)
	}
	if err := w.e.RemovePool(pl.Name, 0, w.now); err != nil {
		t.Fatal(err)
	}
	if s := w.e.Snapshot(); len(s.Peers) != 0 {
		t.Errorf("after removing the pool: %d peers, want none", len(s.Peers))
	}
}

// TestSetNTP: `disable ntp` at a reload leaves the engine as a start with it would: not
// disciplining, leap indicator at alarm, the clock filter handing on the newest sample.
func TestSetNTP(t *testing.T) {
	w := newWorld(t, Config{NTP: true, Servers: []peer.Config{{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient}}})
	w.e.SetNTP(false, w.now)
	if w.e.NTP() || w.e.Snapshot().Sys.Leap != wire.LeapAlarm || !w.e.sys.Settling {
		t.Errorf("after disable: ntp %v leap %d settling %v", w.e.NTP(), w.e.Snapshot().Sys.Leap, w.e.sys.Settling)
	}
	w.e.SetNTP(true, w.now)
	if !w.e.NTP() {
		t.Error("enable ntp not applied")
	}
}
