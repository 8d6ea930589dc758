// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"math/rand/v2"
	"testing"
	"time"

	"gontp/clock"
	"gontp/internal/snapshot"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/refclock"
	"gontp/system"
)

// leapClock is a reference clock (an NMEA receiver) that reports a leap indicator.
type leapClock struct {
	leap uint8
	e    *Engine
}

var leapAddr = refclock.Address{Type: refclock.TypeNMEA}

// feed hands the engine the receiver's sentence for now, as the driver would.
func (c *leapClock) feed(now time.Time) {
	c.e.RefclockReading(refclock.Reading{Addr: leapAddr, Kind: refclock.KindSample, Ref: now, Rx: now,
		Leap: c.leap}, now)
}

// leapEngine runs the engine with gontp's discipline on a model kernel clock whose true
// time is *el after start: the leap owner and the kernel's leap bits are the real ones.
func leapEngine(t *testing.T, clk *leapClock, start time.Time, p clock.Params) (*Engine, *clock.Model, *time.Duration) {
	t.Helper()
	el := new(time.Duration)
	m := clock.NewModel(start, func() time.Duration { return *el }, 0, 0)
	tos := system.DefaultTos()
	tos.OrphanWait = 0
	e, err := New(Config{
		Refclocks: []Refclock{{Clock: refclock.Config{Addr: leapAddr}, Peer: peer.Config{IBurst: true, Prefer: true}}},
		NTP:       true,
		Tos:       &tos,
	}, Options{Precision: -20, Start: start, Rand: rand.New(rand.NewPCG(3, 4)), Loop: clock.New(m, p, nil)})
	if err != nil {
		t.Fatal(err)
	}
	clk.e = e
	return e, m, el
}

// runUntil drives the engine's timer on the model's clock, feeding the reference clock's
// readings, until limit (true time since start) or until done says stop.
func runUntil(e *Engine, clk *leapClock, m *clock.Model, el *time.Duration, limit time.Duration, done func(*snapshot.Snapshot) bool) {
	for *el < limit {
		next := e.Next()
		if d := next.Sub(m.Now()); d > 0 {
			*el += d
		}
		clk.feed(m.Now())
		e.Timer(m.Now())
		if done(e.Snapshot()) {
			return
		}
	}
}

func kernelLeapBits(t *testing.T, m *clock.Model) int32 {
	t.Helper()
	var tx clock.Timex
	if _, err := m.Adjtimex(&tx); err != nil {
		t.Fatal(err)
	}
	return tx.Status & (clock.StaIns | clock.StaDel)
}

// TestLeapVotedFromSources: the system peer (the only survivor) announces a leap second
// days before the end of the month: nothing is served or armed until the last day of the
// month; then the server's replies carry it and the kernel is armed; when the source stops
// announcing, both are cleared.
func TestLeapVotedFromSources(t *testing.T) {
	clk := &leapClock{leap: wire.LeapAddSecond}
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	e, m, el := leapEngine(t, clk, start, clock.DefaultParams())
	runUntil(e, clk, m, el, time.Hour, func(s *snapshot.Snapshot) bool { return s.Sys.Leap != wire.LeapAlarm })
	if got := e.Snapshot().Sys.Leap; got != wire.LeapNone || kernelLeapBits(t, m) != 0 {
		t.Fatalf("28 November: leap %d, kernel bits %#x; want 0 and none (the leap is for the end of the month)",
			got, kernelLeapBits(t, m))
	}
	// 30 November, the last day.
	runUntil(e, clk, m, el, 48*time.Hour, func(s *snapshot.Snapshot) bool { return s.Sys.Leap == wire.LeapAddSecond })
	if got := e.Snapshot().Sys.Leap; got != wire.LeapAddSecond || kernelLeapBits(t, m) != clock.StaIns {
		t.Fatalf("30 November: leap %d kernel bits %#x, want 1 and STA_INS", got, kernelLeapBits(t, m))
	}
	if now := m.Now(); now.Day() != 30 {
		t.Fatalf("armed at %v, want the last day", now)
	}
	clk.leap = wire.LeapNone
	lim := *el + time.Hour
	runUntil(e, clk, m, el, lim, func(s *snapshot.Snapshot) bool { return s.Sys.Leap == wire.LeapNone })
	if got := e.Snapshot().Sys.Leap; got != wire.LeapNone || kernelLeapBits(t, m) != 0 {
		t.Fatalf("after the announcement ended: leap %d, kernel bits %#x", got, kernelLeapBits(t, m))
	}
}

// TestAllanReachesClockFilter: `tinker allan` reaches the clock filter (peer.Sys.Allan),
// not only the discipline.
func TestAllanReachesClockFilter(t *testing.T) {
	p := clock.DefaultParams()
	p.Allan = 13
	e, _, _ := leapEngine(t, &leapClock{}, t0, p)
	if e.sys.Allan != 13 {
		t.Errorf("clock filter's Allan intercept %d, want tinker allan's 13", e.sys.Allan)
	}
}
