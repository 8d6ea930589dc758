// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"net/netip"
	"testing"
	"time"

	"gontp/system"
)

func TestRefID(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want uint32
	}{
		{"198.18.0.2", 0xc6120002},
		{"::ffff:198.18.0.2", 0xc6120002},
		{"2001:db8::1", 0x39ab9b37}, // first four octets of MD5 of the 16 address octets
	} {
		if got := RefID(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("RefID(%s) = %#08x, want %#08x", tc.addr, got, tc.want)
		}
	}
}

// TestStatusWord follows the status word of a server through the states classic ntpq shows
// (compat.md 1.7): 8011 new, 9014 reachable, 961a system peer; a pool member has no conf
// bit (1414 as candidate), a keyed association has authenb and, once a packet was
// authentic, auth.
func TestStatusWord(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, StartDelay: time.Second}, t0, sys)
	if s := a.Status(); s != 0x8011 {
		t.Errorf("new: %#04x", s)
	}
	exchange(t, a, goodServer(), sys)
	if s := a.Status(); s != 0x9014 {
		t.Errorf("reachable: %#04x", s)
	}
	a.SetSelection(system.SelSysPeer)
	a.Report(EvSysPeer, "", nil)
	if s := a.Status(); s != 0x961a {
		t.Errorf("system peer: %#04x", s)
	}
	if v := a.Vars(t0); v.Unreach != 0 || v.Selection != system.SelSysPeer {
		t.Errorf("unreach %d selection %d", v.Unreach, v.Selection)
	}

	m := mustNew(t, Config{Preempt: true, StartDelay: time.Second}, t0, sys)
	exchange(t, m, goodServer(), sys)
	m.SetSelection(system.SelCandidate)
	if s := m.Status(); s != 0x1414 {
		t.Errorf("pool member candidate: %#04x", s)
	}

	k := mustNew(t, Config{Configured: true, KeyID: 3, StartDelay: time.Second}, t0, sys)
	if s := k.Status(); s != 0xc011 {
		t.Errorf("keyed: %#04x", s)
	}
	now := k.NextPoll()
	req := sends(k.Poll(now, sys, nil))[0]
	rep, back, dst := goodServer().reply(&req, now)
	if _, err := k.Receive(&rep, Rx{Dst: dst, Auth: AuthOK}, back, sys, nil); err != nil {
		t.Fatal(err)
	}
	if s := k.Status(); s != 0xf014 {
		t.Errorf("keyed, authentic: %#04x", s)
	}
}

// TestEventCounter: the counter restarts when the code changes, saturates at 15, and reports
// beyond that are dropped (no ActEvent).
func TestEventCounter(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	for i := 2; i <= 20; i++ {
		acts := a.Report(EvPopcorn, "", nil)
		if want := i <= 16; (len(acts) == 1) != want {
			t.Fatalf("report %d: %v", i, kinds(acts))
		}
	}
	if s := a.Status(); s&0xff != 0xfd {
		t.Errorf("status %#04x", s)
	}
	a.Report(EvReachable, "", nil)
	if s := a.Status(); s&0xff != 0x14 {
		t.Errorf("after a new code: %#04x", s)
	}
}

// TestPeerTests exercises TEST10..13 and the score.
func TestPeerTests(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, IBurst: true, StartDelay: time.Second}, t0, sys)
	srv := goodServer()
	for range 6 {
		exchange(t, a, srv, sys)
	}
	now := a.NextPoll()
	if c := a.Candidate(now, sys); c.Unfit != 0 || c.Stratum != 2 || c.Offset == 0 {
		t.Fatalf("after a burst: unfit %#x %+v", c.Unfit, c)
	}
	if a.Score() != 5 { // not yet past the intersection
		t.Errorf("score %d", a.Score())
	}
	a.SetSelection(system.SelCandidate)
	if a.Score() != 6 {
		t.Errorf("score %d", a.Score())
	}
	// TEST12: the server's refid is one of our addresses.
	loop := *sys
	loop.LocalRefIDs = []uint32{0x0a000001, srv.RefID}
	if c := a.Candidate(now, &loop); c.Unfit != FlashPeerLoop {
		t.Errorf("loop: %#x", c.Unfit)
	}
	// TEST10 via the ceiling.
	low := *sys
	low.Tos.Ceiling = 2
	if c := a.Candidate(now, &low); c.Unfit != FlashPeerStratum {
		t.Errorf("ceiling: %#x", c.Unfit)
	}
	// TEST11: root distance grows by PHI per second without updates (1.5 s at 15 ppm is
	// about 28 hours).
	if c := a.Candidate(now.Add(30*time.Hour), sys); c.Unfit != FlashPeerDist {
		t.Errorf("aged: %#x", c.Unfit)
	}
	// TEST13: noselect.
	ns := mustNew(t, Config{NoSelect: true, IBurst: true, StartDelay: time.Second}, t0, sys)
	for range 6 {
		exchange(t, ns, srv, sys)
	}
	if c := ns.Candidate(ns.NextPoll(), sys); c.Unfit != FlashPeerUnreach {
		t.Errorf("noselect: %#x", c.Unfit)
	}
	if ns.Score() != 4 {
		t.Errorf("noselect score %d", ns.Score())
	}
}

// TestRootDistance checks Λ = (δ + Δ)/2 + ε + E + PHI·t + φ, floored at mindist.
func TestRootDistance(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	a.delay, a.rootdelay, a.disp, a.rootdisp, a.jitter = 0.020, 0.040, 0.003, 0.005, 0.002
	a.update = t0
	want := 0.030 + 0.003 + 0.005 + PHI*100 + 0.002
	if got := a.RootDistance(t0.Add(100*time.Second), sys); !near(got, want) {
		t.Errorf("root distance %g, want %g", got, want)
	}
	a.delay, a.rootdelay, a.disp, a.rootdisp, a.jitter = 0, 0, 0, 0, 0
	if got := a.RootDistance(t0, sys); got != sys.Tos.MinDist {
		t.Errorf("floor: %g", got)
	}
}

func TestTos(t *testing.T) {
	d := system.DefaultTos()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*system.Tos){
		func(t *system.Tos) { t.MinClock = 0 },
		func(t *system.Tos) { t.MaxDist = 0 },
		func(t *system.Tos) { t.Ceiling = 17 },
		func(t *system.Tos) { t.Floor, t.Ceiling = 5, 4 },
		func(t *system.Tos) { t.Orphan = 0 },
	} {
		x := system.DefaultTos()
		bad(&x)
		if x.Validate() == nil {
			t.Errorf("accepted %+v", x)
		}
	}
}

func TestTally(t *testing.T) {
	if s := string([]byte{system.SelReject.Tally(), system.SelFalsetick.Tally(), system.SelSysPeer.Tally(), system.SelPPSPeer.Tally()}); s != " x*o" {
		t.Errorf("%q", s)
	}
	if EvPopcorn.String() != "popcorn" || Event(0).String() != "unspecified" {
		t.Error("event names")
	}
}
