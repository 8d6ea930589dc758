// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"math/rand/v2"
	"testing"
	"time"

	"gontp/clock"
	"gontp/peer"
	"gontp/refclock"
	"gontp/system"
)

// shmEngine has one SHM clock (minpoll 4) fed a sample every second by feed.
func shmEngine(t *testing.T) (*Engine, func(now time.Time)) {
	t.Helper()
	a := refclock.Address{Type: refclock.TypeSHM}
	tos := system.DefaultTos()
	e, err := New(Config{
		Refclocks: []Refclock{{Clock: refclock.Config{Addr: a}, Peer: peer.Config{MinPoll: 4, MaxPoll: 4}}},
		Tos:       &tos,
	}, Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	last := t0
	feed := func(now time.Time) {
		for ; !last.After(now); last = last.Add(time.Second) {
			rx := last.Add(100 * time.Millisecond)
			e.RefclockReading(refclock.Reading{Addr: a, Kind: refclock.KindSample, Rx: rx, Ref: rx.Add(-250 * time.Millisecond)}, last)
		}
	}
	return e, feed
}

// TestRefclockBurstFillsReach: as classic's refclock_checkburst, a clock that delivers every
// second is polled as soon as it holds 3 to 6 samples until its reach register is full,
// rather than every 16 s; each poll is nominal and counts no clock event.
func TestRefclockBurstFillsReach(t *testing.T) {
	e, feed := shmEngine(t)
	now := t0
	for ; now.Sub(t0) < 10*time.Minute && e.Snapshot().Peers[0].Vars.Reach != 0xff; now = now.Add(time.Second) {
		feed(now)
		if !e.Next().After(now) {
			e.Timer(now)
		}
	}
	took := now.Sub(t0)
	p := e.Snapshot().Peers[0]
	if p.Vars.Reach != 0xff || took > 50*time.Second {
		t.Fatalf("reach %#o after %v, want 377 within 50 s", p.Vars.Reach, took)
	}
	if c := p.Clock; c == nil || c.Polls < 8 || c.Events != 0 || c.Status != 0 || c.NoReply != 0 {
		t.Fatalf("clock vars %+v", c)
	}
	if off := p.Vars.Offset; off > -0.249 || off < -0.251 {
		t.Fatalf("offset %v, want -0.250", off)
	}
}

// TestPPSNeedsPreferPeer: the PPS driver's pulses count only once the system is
// synchronised (here by a prefer NMEA receiver); it then becomes the system peer as a PPS
// source ('o'); when the prefer receiver falls silent, the PPS clock is no longer used
// (classic: the atom driver only with a prefer peer). With fudge flag3 and the driver's
// kernel bind, the loop is told to run the kernel's PPS discipline exactly while the PPS
// clock is the system peer.
func TestPPSNeedsPreferPeer(t *testing.T) {
	nmea := refclock.Address{Type: refclock.TypeNMEA}
	pps := refclock.Address{Type: refclock.TypePPS}
	tos := system.DefaultTos()
	loop := &kernelPPSLoop{}
	e, err := New(Config{
		Refclocks: []Refclock{
			{Clock: refclock.Config{Addr: nmea}, Peer: peer.Config{MinPoll: 4, MaxPoll: 4, Prefer: true}},
			{Clock: refclock.Config{Addr: pps, Fudge: refclock.Fudge{Flags: [4]bool{2: true}}}, Peer: peer.Config{MinPoll: 4, MaxPoll: 4}},
		},
		NTP: true, Tos: &tos,
	}, Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(1, 2)), Loop: loop})
	if err != nil {
		t.Fatal(err)
	}
	e.RefclockReading(refclock.Reading{Addr: pps, Kind: refclock.KindKernelPPS, Bound: true}, t0)
	gps := true
	step := func(now time.Time) {
		if gps {
			rx := now.Add(150 * time.Millisecond)
			e.RefclockReading(refclock.Reading{Addr: nmea, Kind: refclock.KindSample, Ref: now, Rx: rx, Fudge: refclock.FudgeTime2}, rx)
		}
		edge := now.Add(-20 * time.Microsecond)
		e.RefclockReading(refclock.Reading{Addr: pps, Kind: refclock.KindPulse, Rx: edge}, now)
		if !e.Next().After(now) {
			e.Timer(now)
		}
	}
	now := t0
	sel := func() (system.SelCode, system.SelCode) {
		s := e.Snapshot()
		return s.Peers[0].Vars.Selection, s.Peers[1].Vars.Selection
	}
	for ; now.Sub(t0) < 5*time.Minute; now = now.Add(time.Second) {
		step(now)
		if _, p := sel(); p == system.SelPPSPeer {
			break
		}
	}
	n, p := sel()
	if p != system.SelPPSPeer || e.Snapshot().SysPeer != e.Snapshot().Peers[1].ID {
		t.Fatalf("after %v: NMEA %d, PPS %d; want the PPS clock as the system peer ('o')", now.Sub(t0), n, p)
	}
	if off := e.Snapshot().Peers[1].Vars.Offset; off < 19e-6 || off > 21e-6 {
		t.Fatalf("PPS offset %v, want 20 µs", off)
	}
	if len(loop.on) == 0 || loop.on[0] || !e.Snapshot().Peers[1].Clock.KernelPPS {
		t.Fatalf("SetKernelPPS %v before the PPS clock was the system peer; clock %+v", loop.on, e.Snapshot().Peers[1].Clock)
	}
	// The next update, with the PPS clock as the system peer, turns the kernel's PPS on.
	for calls := len(loop.on); len(loop.on) == calls && now.Sub(t0) < 10*time.Minute; {
		now = now.Add(time.Second)
		step(now)
	}
	if _, p := sel(); p != system.SelPPSPeer || !loop.on[len(loop.on)-1] {
		t.Fatalf("PPS selection %d, SetKernelPPS %v: want on while the bound PPS clock is the system peer", p, loop.on)
	}
	gps = false
	for end := now.Add(5 * time.Minute); now.Before(end); now = now.Add(time.Second) {
		step(now)
	}
	if _, p := sel(); p == system.SelPPSPeer {
		t.Fatalf("PPS still the system peer 5 minutes after the prefer peer fell silent")
	}
	if loop.on[len(loop.on)-1] {
		t.Fatalf("SetKernelPPS %v: still on once the PPS clock is no longer the system peer", loop.on)
	}
}

// kernelPPSLoop takes every offset and records what SetKernelPPS was told before each.
type kernelPPSLoop struct {
	acceptAll
	on []bool
}

func (l *kernelPPSLoop) SetKernelPPS(on bool) error { l.on = append(l.on, on); return nil }

// acceptAll is a loop that takes every offset and says the clock is synchronised.
type acceptAll struct{}

func (acceptAll) ProcessAt(float64, float64, time.Time, time.Time) (clock.Result, error) {
	return clock.Result{Synchronised: true, Poll: system.StartPoll}, nil
}
func (acceptAll) Vars() clock.Vars                               { return clock.Vars{} }
func (acceptAll) Project(offset float64, _, _ time.Time) float64 { return offset }
func (acceptAll) SetPollLimits(int8, int8)                       {}
func (acceptAll) Settling() bool                                 { return false }
func (acceptAll) SetRootDistance(float64, float64)               {}
func (acceptAll) SetKernelPPS(bool) error                        { return nil }
func (acceptAll) FastPoll() int8                                 { return 0 }
func (acceptAll) Leap(time.Time, bool, bool) (clock.LeapState, error) {
	return clock.LeapState{}, nil
}
