// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"errors"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// FuzzReceive feeds arbitrary datagrams to an association that is waiting for a reply: it
// must never panic, and a packet it did not use must leave no trace in the header variables.
// The first byte picks whether the packet carries the right origin timestamp, so that the
// later tests are reached too.
func FuzzReceive(f *testing.F) {
	sys := testSys()
	seed := func(mut func(p *wire.Packet)) []byte {
		a := mustNew(f, Config{}, t0, sys)
		now := a.NextPoll()
		req := sends(a.Poll(now, sys, nil))[0]
		rep, _, _ := goodServer().reply(&req, now)
		mut(&rep)
		b := make([]byte, 1+wire.HeaderLen)
		b[0] = 1
		rep.Encode(b[1:])
		return b
	}
	f.Add(seed(func(*wire.Packet) {}))
	f.Add(seed(func(p *wire.Packet) { p.Leap, p.Stratum, p.RefID = 3, 0, wire.RefIDFromString("RATE"); p.Poll = 127 }))
	f.Add(seed(func(p *wire.Packet) { p.Leap, p.Stratum, p.RefID = 3, 0, wire.RefIDFromString("DENY") }))
	f.Add(seed(func(p *wire.Packet) { p.Poll = -128; p.RootDelay = 0xffffffff }))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		var p wire.Packet
		if wire.DecodeHeader(data[1:], &p) != nil {
			return
		}
		a := mustNew(t, Config{IBurst: true}, t0, sys)
		now := a.NextPoll()
		req := sends(a.Poll(now, sys, nil))[0]
		if data[0]&1 != 0 {
			p.Org = req.Xmt
		}
		back := now.Add(10 * time.Millisecond)
		acts, err := a.Receive(&p, Rx{Dst: ntptime.FromTime(back), Auth: AuthResult(data[0] >> 1 % 3)}, back, sys, nil)
		v := a.Vars(back)
		if err != nil && !errors.Is(err, ErrKissRate) && v.Stratum != 16 {
			t.Fatalf("rejected packet (%v) changed stratum to %d", err, v.Stratum)
		}
		if v.HPoll < v.MinPoll || v.HPoll > v.MaxPoll || v.MaxPoll > MaxPoll {
			t.Fatalf("poll out of range: %d in [%d,%d]", v.HPoll, v.MinPoll, v.MaxPoll)
		}
		// Keep polling: the schedule must stay in the future.
		for range 3 {
			if a.Gone() {
				return
			}
			n := a.NextPoll()
			acts = a.Poll(n, sys, acts[:0])
			if !a.NextPoll().After(n) {
				t.Fatalf("next poll %v not after %v", a.NextPoll(), n)
			}
		}
	})
}
