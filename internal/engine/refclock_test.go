// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"math/rand/v2"
	"testing"
	"time"

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
