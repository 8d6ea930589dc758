// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// TestSymmetricInterleaved: two symmetric peers with `xleave` (classic's flip machinery,
// symxleave.go) exchange packets whose transmit field is the previous packet's departure
// time, which leaves lag after the stamp a basic packet would carry. Both switch to the
// interleaved mode and measure the network's delay alone (2 × 5 ms) and the offset (B is
// 2 ms ahead), where the basic mode would add the lag.
func TestSymmetricInterleaved(t *testing.T) {
	const (
		delay = 5 * time.Millisecond
		lag   = 300 * time.Microsecond
		skew  = 2 * time.Millisecond // B's clock is ahead
	)
	sys := testSys()
	sys.Leap, sys.Stratum = wire.LeapNone, 3 // both synchronised, so that each takes the other's packets
	aAddr := netip.MustParseAddrPort("198.18.0.3:123")
	a := mustNew(t, Config{Mode: wire.ModeSymActive, Xleave: true, Configured: true, MinPoll: 4, MaxPoll: 4}, t0, sys)
	b := mustNew(t, Config{Addr: aAddr, Mode: wire.ModeSymActive, Xleave: true, Configured: true, MinPoll: 4, MaxPoll: 4}, t0, sys)
	clockB := func(t time.Time) ntptime.Time { return ntptime.FromTime(t.Add(skew)) }
	clockA := func(t time.Time) ntptime.Time { return ntptime.FromTime(t) }
	// send polls from at true time now, delivers the packet to to and returns errors.
	send := func(from, to *Assoc, now time.Time, fromClock, toClock func(time.Time) ntptime.Time) error {
		acts := from.Poll(now, sys, nil)
		var pk []Action
		for _, x := range acts {
			if x.Kind == ActSend {
				pk = append(pk, x)
			}
		}
		if len(pk) != 1 {
			t.Fatalf("poll at %v sent %d packets: %v", now, len(pk), kinds(acts))
		}
		p := pk[0].Packet
		if !pk[0].KeepXmt {
			p.Xmt = fromClock(now)
		}
		depart := now.Add(lag)
		from.SentAt(fromClock(depart), fromClock(now))
		arrive := depart.Add(delay)
		_, err := to.Receive(&p, Rx{Dst: toClock(arrive)}, arrive, sys, nil)
		return err
	}
	var errA, errB error
	for i := 0; i < 40; i++ {
		if na, nb := a.NextPoll(), b.NextPoll(); !nb.Before(na) {
			errB = send(a, b, na, clockA, clockB)
		} else {
			errA = send(b, a, nb, clockB, clockA)
		}
	}
	if errA != nil || errB != nil {
		t.Fatalf("last packets: to A %v, to B %v", errA, errB)
	}
	for name, x := range map[string]*Assoc{"A": a, "B": b} {
		if !x.Interleaving() || !x.Interleaved() {
			t.Errorf("%s not interleaved (flip %d)", name, x.flip)
		}
		s := x.filter[(x.next+NStages-1)%NStages]
		want := skew.Seconds()
		if x == b {
			want = -want
		}
		if math.Abs(s.delay-2*delay.Seconds()) > 1e-6 || math.Abs(s.offset-want) > 1e-6 {
			t.Errorf("%s: sample delay %.6f offset %.6f; want %.6f, %.6f", name, s.delay, s.offset, 2*delay.Seconds(), want)
		}
	}
}
