// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"math/rand/v2"
	"testing"
	"time"

	"gontp/internal/snapshot"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/refclock"
	"gontp/system"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func localEngine(t *testing.T, ntp, iburst bool, orphanWait float64) *Engine {
	t.Helper()
	tos := system.DefaultTos()
	tos.OrphanWait = orphanWait
	e, err := New(Config{
		Refclocks: []Refclock{{Clock: refclock.Config{Addr: refclock.Address{Type: 1}, Fudge: refclock.Fudge{Stratum: 10, StratumSet: true}},
			Peer: peer.Config{IBurst: iburst}}},
		NTP: ntp,
		Tos: &tos,
	}, Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// run drives the engine's timer in virtual time until limit or until done says stop, and
// returns the virtual time reached.
func run(e *Engine, limit time.Duration, done func(*snapshot.Snapshot) bool) time.Duration {
	return runFed(e, limit, nil, done)
}

// runFed is run with feed called before each timer, as a reference clock's driver hands in
// its readings between polls.
func runFed(e *Engine, limit time.Duration, feed func(now time.Time), done func(*snapshot.Snapshot) bool) time.Duration {
	now := t0
	for now.Sub(t0) < limit {
		next := e.Next()
		if next.After(now) {
			now = next
		}
		if feed != nil {
			feed(now)
		}
		e.Timer(now)
		if done(e.Snapshot()) {
			break
		}
	}
	return now.Sub(t0)
}

func TestLocalRefclockIburstSynchronisesWithinSeconds(t *testing.T) {
	e := localEngine(t, true, true, 0)
	s := e.Snapshot()
	if s.Sys.Leap != wire.LeapAlarm || s.Sys.Stratum != wire.StratumUnsynched {
		t.Fatalf("at start: leap %d stratum %d, want 3 and 16", s.Sys.Leap, s.Sys.Stratum)
	}
	if len(s.Peers) != 1 || s.Peers[0].Refclock != "LOCAL(0)" || s.Peers[0].Vars.Stratum != 10 {
		t.Fatalf("peers at start: %+v", s.Peers)
	}
	took := run(e, time.Hour, func(s *snapshot.Snapshot) bool { return s.Sys.Leap != wire.LeapAlarm })
	s = e.Snapshot()
	if s.Sys.Leap != wire.LeapNone {
		t.Fatalf("not synchronised after %v: %+v", took, s.Sys)
	}
	if took > 30*time.Second {
		t.Errorf("synchronised after %v of virtual time; iburst should take under 30 s", took)
	}
	if s.Sys.Stratum != 11 || s.Sys.RefID != peer.RefID(refclock.Address{Type: 1}.Addr()) {
		t.Errorf("stratum %d refid %#x, want 11 and 127.127.1.0 (classic's refid for a fudged LOCAL)", s.Sys.Stratum, s.Sys.RefID)
	}
	if s.SysPeer != s.Peers[0].ID || s.Peers[0].Vars.Selection != system.SelSysPeer {
		t.Errorf("sys peer %d, peer %+v", s.SysPeer, s.Peers[0])
	}
	if s.Sys.RefTime == 0 || s.Sys.RootDisp < minDisp {
		t.Errorf("reftime %v rootdisp %v", s.Sys.RefTime, s.Sys.RootDisp)
	}
}

// TestLocalRefclockWaitsForOrphanWait: classic ntpd uses LOCAL only after `tos orphanwait`
// (300 s by default), so that real servers win when they answer; measured on classic ntpd
// 4.2.8p15 at about 320 s with the default 64 s poll.
func TestLocalRefclockWaitsForOrphanWait(t *testing.T) {
	e := localEngine(t, true, false, 300)
	took := run(e, time.Hour, func(s *snapshot.Snapshot) bool { return s.SysPeer != 0 })
	if took < 300*time.Second || took > 400*time.Second {
		t.Fatalf("LOCAL selected after %v, want between 300 s and 400 s as classic", took)
	}
}

// TestDisableNTPKeepsLeapAlarm: with `disable ntp` classic ntpd selects LOCAL (stratum 11,
// sys peer set) but never clears the leap alarm (observed: "leap_alarm, sync_local").
func TestDisableNTPKeepsLeapAlarm(t *testing.T) {
	e := localEngine(t, false, true, 0)
	run(e, 10*time.Minute, func(s *snapshot.Snapshot) bool { return false })
	s := e.Snapshot()
	if s.SysPeer == 0 || s.Sys.Stratum != 11 {
		t.Fatalf("no LOCAL sys peer: %+v", s.Sys)
	}
	if s.Sys.Leap != wire.LeapAlarm {
		t.Fatalf("leap %d with disable ntp, want 3 as classic", s.Sys.Leap)
	}
}

func TestNoLoopRefusesNonZeroOffsets(t *testing.T) {
	if ok, err := noLoopUpdate(0.002); ok || err == nil {
		t.Fatal("a non-zero offset must not count as synchronised without a discipline")
	}
	if ok, err := noLoopUpdate(0); !ok || err != nil {
		t.Fatal("a zero offset needs no adjustment")
	}
}
