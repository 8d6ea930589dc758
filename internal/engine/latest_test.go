// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"bytes"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"gontp/clock"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/system"
)

// update is one ProcessAt call as the loop saw it.
type update struct {
	offset, excess float64
	at             time.Time
}

// recording is a synchronised, settled Loop that records what it is given.
type recording struct {
	scripted
	got    []update
	primed [][]clock.Earlier
}

func (r *recording) Prime(e []clock.Earlier) { r.primed = append(r.primed, e) }

// Vars says whether an update was made, as the discipline does.
func (r *recording) Vars() clock.Vars { return clock.Vars{Updated: len(r.got) > 0} }

func (r *recording) ProcessAt(offset, excess float64, at, _ time.Time) (clock.Result, error) {
	r.got = append(r.got, update{offset, excess, at})
	return clock.Result{Synchronised: true, Poll: 6}, nil
}

// loopWorld is the pool tests' world with one server and the clock discipline on loop.
func loopWorld(t *testing.T, server peer.Config, loop Loop) *world {
	t.Helper()
	tos := system.DefaultTos()
	w := &world{t: t, now: t0, dark: map[netip.Addr]bool{}, kod: map[netip.Addr]string{},
		stratum: 2, sent: map[netip.AddrPort]int{}, log: &bytes.Buffer{}}
	e, err := New(Config{Servers: []peer.Config{server}, NTP: true, Tos: &tos},
		Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(7, 9)), Loop: loop,
			Log: slog.New(slog.NewTextHandler(w.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w.e = e
	return w
}

// TestEverySampleReachesTheLoop: after the start-up, classic's clock filter hands on a
// sample only when its delay is the least of the register and newer than the last used; a
// server whose first reply had the shortest delay then gives the filter nothing new for
// eight polls. The discipline still gets each new sample of the system peer, at its own
// time, with an uncertainty of at least half its delay above the least (peer.ActLatest),
// while the association's filtered offset (ntpq, peerstats) stays classic's.
func TestEverySampleReachesTheLoop(t *testing.T) {
	loop := &recording{}
	w := loopWorld(t, peer.Config{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient, MinPoll: 4, MaxPoll: 4}, loop)
	// The first four replies come back at once (2 ms round trip); every later one 1 ms
	// slower on the way back: larger delay, offset half a millisecond lower.
	w.slow = func(n int) time.Duration {
		if n < 4 {
			return 0
		}
		return time.Millisecond
	}
	w.run(9*16*time.Second, nil)
	if w.nrepl != 10 || len(loop.got) < 7 || len(loop.got) > 10 {
		t.Fatalf("the loop got %d updates from %d replies, want one a reply from the first selection on", len(loop.got), w.nrepl)
	}
	last := time.Time{}
	for i, u := range loop.got {
		if !u.at.After(last) {
			t.Errorf("update %d at %v: not after the previous one (%v)", i, u.at, last)
		}
		last = u.at
	}
	late := loop.got[len(loop.got)-1]
	if math.Abs(late.offset-(-0.0005)) > 1e-6 || late.excess < 0.0005 {
		t.Errorf("latest update %+v: want the slow sample's offset -0.5 ms with its excess delay (1 ms) passed on", late)
	}
	v := w.e.Snapshot()
	for _, p := range v.Peers {
		if math.Abs(p.Vars.Offset) > 1e-9 || math.Abs(p.Vars.Delay-0.002) > 1e-9 {
			t.Errorf("filtered offset %g delay %g: want classic's choice, the least-delay stage (0, 2 ms)", p.Vars.Offset, p.Vars.Delay)
		}
	}
}

// TestFirstUpdatePrimesTheLoop: the first update is an iburst's fourth sample (the filter's
// dispersion keeps the association unfit before); the loop gets the three earlier samples
// first (clock.Discipline.Prime), once.
func TestFirstUpdatePrimesTheLoop(t *testing.T) {
	loop := &recording{}
	w := loopWorld(t, peer.Config{Addr: netip.AddrPortFrom(addr(2), 123), Mode: wire.ModeClient, IBurst: true}, loop)
	w.run(2*time.Minute, nil)
	if len(loop.primed) != 1 || len(loop.got) == 0 {
		t.Fatalf("primed %d times, %d updates: want once, before the first", len(loop.primed), len(loop.got))
	}
	p := loop.primed[0]
	if len(p) < 3 {
		t.Fatalf("primed with %d samples, want the iburst's earlier ones (3)", len(p))
	}
	for i, x := range p {
		if !x.At.Before(loop.got[0].at) || (i > 0 && !x.At.After(p[i-1].At)) {
			t.Errorf("primed sample %d at %v: want oldest first, before the first update's %v", i, x.At, loop.got[0].at)
		}
	}
}
