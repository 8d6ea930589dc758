// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"net/netip"
	"testing"
	"time"

	"gontp/internal/wire"
)

// TestBroadcastPoll: a broadcast association (ntpd MODE_BROADCAST) sends mode-5 packets
// with the system variables every 2^minpoll s (plus classic's random stretch) while the
// system is synchronised, nothing while it is not, and never counts unreachability.
func TestBroadcastPoll(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		refid string
	}{{"198.18.0.255:123", "BCST"}, {"224.0.1.1:123", "MCST"}, {"[ff05::101]:123", "MCST"}} {
		sys := testSys()
		a := mustNew(t, Config{Addr: netip.MustParseAddrPort(tc.addr), Mode: wire.ModeBroadcast, MinPoll: 4, TTL: 3, Configured: true}, t0, sys)
		if got := a.Vars(t0).RefID; got != wire.RefIDFromString(tc.refid) {
			t.Errorf("%s: refid %#x, want %s", tc.addr, got, tc.refid)
		}
		if a.Status()&StatusBcast == 0 || a.TTL() != 3 {
			t.Errorf("%s: status %#x (want the bcst bit), ttl %d", tc.addr, a.Status(), a.TTL())
		}
		now := a.NextPoll()
		acts := a.Poll(now, sys, nil)
		for _, act := range acts {
			if act.Kind == ActSend {
				t.Fatalf("%s: sent while unsynchronised: %+v", tc.addr, act.Packet)
			}
		}
		sys.Leap, sys.Stratum, sys.RefID = wire.LeapNone, 3, 0x01020304
		for i := 0; i < 20; i++ {
			now = a.NextPoll()
			acts = a.Poll(now, sys, nil)
			var sent *wire.Packet
			for j := range acts {
				if acts[j].Kind == ActSend {
					sent = &acts[j].Packet
				}
				if acts[j].Kind == ActDemobilize {
					t.Fatalf("%s: demobilised at poll %d", tc.addr, i)
				}
			}
			if sent == nil || sent.Mode != wire.ModeBroadcast || sent.Stratum != 3 || sent.RefID != 0x01020304 || sent.Poll != 4 || sent.Org != 0 {
				t.Fatalf("%s: poll %d sent %+v", tc.addr, i, sent)
			}
			if d := a.NextPoll().Sub(now); d < 16*time.Second || d > 17*time.Second {
				t.Fatalf("%s: next poll after %v, want 16 s stretched by at most 6.2%%", tc.addr, d)
			}
		}
	}
}
