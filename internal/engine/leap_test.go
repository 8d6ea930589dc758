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

// armingDiscipline accepts every update and records what the kernel would be told. Like the
// update-only disciplines of the simulator it leaves sys_poll at its start value.
type armingDiscipline struct{ armed [][2]bool }

func (d *armingDiscipline) ProcessAt(float64, float64, time.Time, time.Time) (clock.Result, error) {
	return clock.Result{Synchronised: true, Poll: system.StartPoll}, nil
}
func (d *armingDiscipline) Vars() clock.Vars                               { return clock.Vars{} }
func (d *armingDiscipline) Project(offset float64, _, _ time.Time) float64 { return offset }
func (d *armingDiscipline) SetPollLimits(int8, int8)                       {}
func (d *armingDiscipline) Settling() bool                                 { return false }
func (d *armingDiscipline) Leap(ins, del bool) error {
	d.armed = append(d.armed, [2]bool{ins, del})
	return nil
}

func leapEngine(t *testing.T, clk *leapClock, d *armingDiscipline, file func(time.Time) (bool, bool)) *Engine {
	t.Helper()
	tos := system.DefaultTos()
	tos.OrphanWait = 0
	e, err := New(Config{
		Refclocks: []Refclock{{Clock: refclock.Config{Addr: leapAddr}, Peer: peer.Config{IBurst: true, Prefer: true}}},
		NTP:       true,
		Tos:       &tos,
	}, Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(3, 4)), Loop: d, LeapFile: file})
	if err != nil {
		t.Fatal(err)
	}
	clk.e = e
	return e
}

// TestLeapVotedFromSources: the system peer (the only survivor) announces a leap second, so
// the server's replies carry it and the kernel is armed; when it stops, both are cleared.
func TestLeapVotedFromSources(t *testing.T) {
	clk := &leapClock{leap: wire.LeapAddSecond}
	d := &armingDiscipline{}
	e := leapEngine(t, clk, d, nil)
	runFed(e, time.Minute, clk.feed, func(s *snapshot.Snapshot) bool { return s.Sys.Leap != wire.LeapAlarm })
	if got := e.Snapshot().Sys.Leap; got != wire.LeapAddSecond {
		t.Fatalf("leap %d, want 1 (insert) voted from the system peer", got)
	}
	if len(d.armed) == 0 || d.armed[len(d.armed)-1] != [2]bool{true, false} {
		t.Fatalf("kernel armed %v, want insert", d.armed)
	}
	clk.leap = wire.LeapNone
	runFed(e, 10*time.Minute, clk.feed, func(s *snapshot.Snapshot) bool { return s.Sys.Leap == wire.LeapNone })
	if got := e.Snapshot().Sys.Leap; got != wire.LeapNone || d.armed[len(d.armed)-1] != [2]bool{false, false} {
		t.Fatalf("after the announcement ended: leap %d, armed %v", got, d.armed)
	}
}

// TestLeapFileWins: the leap file's announcement is served and armed even when the sources
// say nothing (classic: the leap file overrides the vote).
func TestLeapFileWins(t *testing.T) {
	d := &armingDiscipline{}
	clk := &leapClock{}
	e := leapEngine(t, clk, d, func(time.Time) (bool, bool) { return false, true })
	runFed(e, time.Minute, clk.feed, func(s *snapshot.Snapshot) bool { return s.Sys.Leap != wire.LeapAlarm })
	if got := e.Snapshot().Sys.Leap; got != wire.LeapDelSecond {
		t.Fatalf("leap %d, want 2 (delete) from the leap file", got)
	}
	if len(d.armed) != 1 || d.armed[0] != [2]bool{false, true} {
		t.Fatalf("kernel armed %v, want one delete", d.armed)
	}
}
