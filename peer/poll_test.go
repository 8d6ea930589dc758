// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/system"
)

// TestNewStatus: a configured server that never answered looks like classic's: status
// 8011, refid INIT, stratum 16, flash 1600, dispersion 16 s, ppoll = maxpoll (compat.md 8,
// trap 6).
func TestNewStatus(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, StartDelay: time.Second}, t0, sys)
	v := a.Vars(t0)
	if v.Status != 0x8011 || v.RefID != wire.RefIDFromString("INIT") || v.Stratum != 16 ||
		v.Flash != 0x1600 || v.Disp != MaxDisp || v.PPoll != 10 || v.HPoll != 6 || v.Leap != 3 {
		t.Errorf("got status %#04x refid %#x stratum %d flash %#x disp %g ppoll %d hpoll %d leap %d",
			v.Status, v.RefID, v.Stratum, v.Flash, v.Disp, v.PPoll, v.HPoll, v.Leap)
	}
	for i := range NStages {
		if v.FiltDisp[i] != MaxDisp || v.FiltDelay[i] != 0 {
			t.Errorf("stage %d: %g %g", i, v.FiltDelay[i], v.FiltDisp[i])
		}
	}
	if a.NextPoll() != t0.Add(time.Second) {
		t.Errorf("first poll %v", a.NextPoll())
	}
	// The first poll stuffs a 16 s sample: the weighted dispersion becomes 15.9375 s, as
	// classic ntpq shows for an unanswered server (dispersion=15937.500).
	a.Poll(a.NextPoll(), sys, nil)
	if v := a.Vars(a.NextPoll()); v.Disp != 15.9375 || v.Unreach != 1 || v.Sent != 1 {
		t.Errorf("after one poll: disp %g unreach %d sent %d", v.Disp, v.Unreach, v.Sent)
	}
}

func TestNewErrors(t *testing.T) {
	sys := testSys()
	for _, cfg := range []Config{
		{Mode: wire.ModeClient},
		{Addr: srvAddr, Mode: wire.ModePrivate},
		{Addr: srvAddr, Mode: wire.ModeServer},
		{Addr: srvAddr, Mode: wire.ModeClient, Version: 5},
	} {
		if _, err := New(cfg, t0, sys, newRand(1)); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := New(Config{Addr: srvAddr, Mode: wire.ModeClient}, t0, sys, nil); err == nil {
		t.Error("nil rand accepted")
	}
	a, err := New(Config{Addr: srvAddr, Mode: wire.ModeClient, MinPoll: 12, MaxPoll: 4}, t0, sys, newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	if v := a.Vars(t0); v.MinPoll != 4 || v.MaxPoll != 4 {
		t.Errorf("minpoll %d maxpoll %d: ntpd lowers minpoll to maxpoll", v.MinPoll, v.MaxPoll)
	}
}

// TestIBurst follows classic's iburst sequence (observed: 6 packets sent, 6 received,
// reach 001): the first poll arms the burst, the first reply starts it, five more packets
// go 2 s apart, and the next poll is counted from the first one.
func TestIBurst(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, IBurst: true, StartDelay: time.Second}, t0, sys)
	srv := goodServer()
	var times []time.Time
	var nsamples int
	for range 6 {
		now := a.NextPoll()
		times = append(times, now)
		_, _, racts, err := exchange(t, a, srv, sys)
		if err != nil {
			t.Fatal(err)
		}
		nsamples += len(find(racts, ActSample))
		srv.Delay -= 100 * time.Microsecond // each sample better than the last, so each is used
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < 2*time.Second || d > 2*time.Second+20*time.Millisecond {
			t.Errorf("burst packet %d after %v", i, d)
		}
	}
	v := a.Vars(a.NextPoll())
	if v.Sent != 6 || v.Received != 6 || v.Reach != 1 || nsamples != 6 {
		t.Errorf("sent %d received %d reach %#o samples %d", v.Sent, v.Received, v.Reach, nsamples)
	}
	gap := a.NextPoll().Sub(times[0])
	if gap < 64*time.Second || gap > 70*time.Second {
		t.Errorf("next poll %v after the first, want 64..67 s (+2 s headway)", gap)
	}
	// The sixth burst packet is the last: the next poll sends one packet and shifts reach.
	_, _, _, err := exchange(t, a, srv, sys)
	if err != nil {
		t.Fatal(err)
	}
	if v := a.Vars(a.NextPoll()); v.Reach != 3 || v.Sent != 7 {
		t.Errorf("after the next poll: reach %#o sent %d", v.Reach, v.Sent)
	}
}

// TestIBurstWaitsForReply: while the server does not answer, iburst polls at minpoll, one
// packet per poll, and gives up arming after three polls until the register is clear again.
func TestIBurstWaitsForReply(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, IBurst: true, StartDelay: time.Second}, t0, sys)
	prev := time.Time{}
	for i := range 4 {
		now := a.NextPoll()
		acts := a.Poll(now, sys, nil)
		if n := len(sends(acts)); n != 1 {
			t.Fatalf("poll %d sent %d", i, n)
		}
		if !prev.IsZero() {
			if d := now.Sub(prev); d < 64*time.Second || d > 70*time.Second {
				t.Errorf("poll %d after %v", i, d)
			}
		}
		prev = now
	}
}

// TestBurst: `burst` sends min(2^(hpoll-minpoll), 8) packets per poll while reachable.
func TestBurst(t *testing.T) {
	sys := testSys()
	sys.Poll = 8
	a := mustNew(t, Config{Configured: true, Burst: true, MinPoll: 6, MaxPoll: 10, StartDelay: time.Second}, t0, sys)
	srv := goodServer()
	srv.Poll = 10
	// Poll until the association is fit (its dispersion halves with each sample); then a
	// poll arms a burst that the reply starts at once.
	var start time.Time
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatal("no burst after 10 polls")
		}
		start = a.NextPoll()
		_, _, racts, err := exchange(t, a, srv, sys)
		if err != nil {
			t.Fatal(err)
		}
		if rearm(t, racts).Sub(start) <= 3*time.Second {
			break
		}
	}
	if v := a.Vars(start); v.HPoll != 8 {
		t.Errorf("hpoll %d, want sys poll 8", v.HPoll)
	}
	n := 1
	for a.NextPoll().Sub(start) < 60*time.Second {
		if _, _, _, err := exchange(t, a, srv, sys); err != nil {
			t.Fatal(err)
		}
		n++
	}
	// hpoll 8, minpoll 6: 2^(8-6) = 4 packets.
	if n != 4 {
		t.Errorf("burst of %d packets, want 4", n)
	}
}

// TestReachAndUnreach walks the reach register through replies and silence and checks the
// events, the unreach counter and the poll backoff.
func TestReachAndUnreach(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, StartDelay: time.Second}, t0, sys)
	srv := goodServer()
	var evs []Event
	for range 3 {
		_, pacts, racts, err := exchange(t, a, srv, sys)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, events(pacts)...)
		evs = append(evs, events(racts)...)
	}
	if v := a.Vars(a.NextPoll()); v.Reach != 7 || v.Status&StatusReach == 0 {
		t.Fatalf("reach %#o status %#x", v.Reach, v.Status)
	}
	if !slices.Equal(evs, []Event{EvReachable}) {
		t.Errorf("events %v", evs)
	}
	// Silence: the register drains one bit per poll; at zero, event unreachable.
	var reaches []uint8
	evs = nil
	var hpolls []int8
	for range 20 {
		acts := a.Poll(a.NextPoll(), sys, nil)
		evs = append(evs, events(acts)...)
		v := a.Vars(a.NextPoll())
		reaches = append(reaches, v.Reach)
		hpolls = append(hpolls, v.HPoll)
	}
	wantReach := []uint8{016, 034, 070, 0160, 0340, 0300, 0200, 0, 0, 0}
	if !slices.Equal(reaches[:10], wantReach) {
		t.Errorf("reach %o, want %o", reaches[:10], wantReach)
	}
	if !slices.Equal(evs, []Event{EvUnreachable}) {
		t.Errorf("events %v", evs)
	}
	v := a.Vars(a.NextPoll())
	// unreach counts from the last poll that found reach non-zero (reset there).
	if v.Unreach != 13 {
		t.Errorf("unreach %d", v.Unreach)
	}
	// Backoff: from the 10th unreached poll on, hpoll grows by one per poll up to maxpoll.
	if hpolls[len(hpolls)-1] != 10 || hpolls[9] != 6 {
		t.Errorf("hpoll sequence %v", hpolls)
	}
	if v.Flash&FlashPeerUnreach == 0 {
		t.Errorf("flash %#x lacks peer_unreach", v.Flash)
	}
	if a.Gone() {
		t.Error("configured association demobilised")
	}
}

func TestEphemeralTimeout(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Mode: wire.ModeSymPassive, MinPoll: 6}, t0, sys)
	if a.NextPoll() != t0.Add(2*time.Second) {
		t.Errorf("passive first poll %v", a.NextPoll().Sub(t0))
	}
	var last []Action
	for i := 0; i < 20 && !a.Gone(); i++ {
		last = a.Poll(a.NextPoll(), sys, nil)
	}
	if !a.Gone() || len(find(last, ActDemobilize)) != 1 || len(sends(last)) != 0 {
		t.Fatalf("gone %v last %v", a.Gone(), kinds(last))
	}
	if got := a.Vars(t0).Sent; got != 9 {
		t.Errorf("sent %d before the timeout, want 9", got)
	}
}

// TestPreemptTimeout: a `server ... preempt` line (configured and preemptible) asks the
// engine whether it should go at every poll from the tenth without a reply, as classic.
func TestPreemptTimeout(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Preempt: true, Configured: true}, t0, sys)
	var timeouts int
	for range 12 {
		acts := a.Poll(a.NextPoll(), sys, nil)
		timeouts += len(find(acts, ActTimeout))
	}
	if timeouts != 3 || a.Gone() {
		t.Errorf("timeouts %d gone %v", timeouts, a.Gone())
	}
}

func TestPollEarlyOnlyRearms(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{StartDelay: 10 * time.Second}, t0, sys)
	acts := a.Poll(t0, sys, nil)
	if len(acts) != 1 || acts[0].Kind != ActRearm || acts[0].At != t0.Add(10*time.Second) {
		t.Errorf("early poll: %v", kinds(acts))
	}
}

// TestPollJitter: the interval is 2^hpoll stretched by 0..255/4096, in whole seconds.
func TestPollJitter(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, StartDelay: time.Second}, t0, sys)
	srv := goodServer()
	exchange(t, a, srv, sys)
	seen := map[time.Duration]bool{}
	for range 200 {
		prev := a.NextPoll()
		if _, _, _, err := exchange(t, a, srv, sys); err != nil {
			t.Fatal(err)
		}
		d := a.NextPoll().Sub(prev)
		if d < 64*time.Second || d > 69*time.Second || d%time.Second != 0 {
			t.Fatalf("interval %v", d)
		}
		seen[d] = true
	}
	if len(seen) < 3 {
		t.Errorf("intervals not randomised: %v", seen)
	}
}

// TestTransmitPacket checks the request fields: system variables, our poll, and the echo of
// the peer's timestamps.
func TestTransmitPacket(t *testing.T) {
	sys := testSys()
	sys.Leap, sys.Stratum, sys.RefID, sys.RootDelay, sys.RootDisp = 0, 3, 0x0a000001, 0.25, 0.5
	sys.RefTime = ntptime.FromTime(t0.Add(-time.Minute))
	a := mustNew(t, Config{Version: 3, StartDelay: time.Second}, t0, sys)
	now := a.NextPoll()
	p := sends(a.Poll(now, sys, nil))[0]
	want := wire.Packet{Leap: 0, Version: 3, Mode: wire.ModeClient, Stratum: 3, Poll: 6,
		Precision: -20, RootDelay: ntptime.ShortFromSeconds(0.25), RootDisp: ntptime.ShortFromSeconds(0.5),
		RefID: 0x0a000001, RefTime: sys.RefTime, Xmt: ntptime.FromTime(now)}
	if p != want {
		t.Errorf("request\n got %+v\nwant %+v", p, want)
	}
	rep, back, dst := goodServer().reply(&p, now)
	a.Receive(&rep, Rx{Dst: dst}, back, sys, nil)
	sys.Stratum = 16
	p = sends(a.Poll(a.NextPoll(), sys, nil))[0]
	if p.Org != rep.Xmt || p.Rec != dst || p.Stratum != 0 {
		t.Errorf("second request org %#x rec %#x stratum %d", p.Org, p.Rec, p.Stratum)
	}
}

// TestSymmetric runs a symmetric active association against the passive one the other side
// mobilises for it, exchanging real packets, and checks that both reach each other and
// measure the offset between their clocks.
func TestSymmetric(t *testing.T) {
	const skew = 40 * time.Millisecond // B's clock is ahead
	const delay = 3 * time.Millisecond
	sysA, sysB := testSys(), testSys()
	sysA.Leap, sysA.Stratum, sysB.Leap, sysB.Stratum = 0, 2, 0, 3
	addrA := netip.MustParseAddrPort("198.18.0.3:123")
	a := mustNew(t, Config{Addr: srvAddr, Mode: wire.ModeSymActive, Configured: true, StartDelay: time.Second, MinPoll: 4, MaxPoll: 4}, t0, sysA)
	var b *Assoc
	type msg struct {
		p      wire.Packet
		arrive time.Time
		toB    bool
	}
	var inflight []msg
	now := t0
	var sampA, sampB []Sample
	for step := 0; step < 400 && now.Before(t0.Add(10*time.Minute)); step++ {
		// next event: a timer or a packet arrival
		next := a.NextPoll()
		if b != nil && b.NextPoll().Add(-skew).Before(next) {
			next = b.NextPoll().Add(-skew)
		}
		mi := -1
		for i, m := range inflight {
			if m.arrive.Before(next) {
				next, mi = m.arrive, i
			}
		}
		now = next
		var acts []Action
		var fromB bool
		switch {
		case mi >= 0:
			m := inflight[mi]
			inflight = append(inflight[:mi], inflight[mi+1:]...)
			if m.toB {
				if b == nil {
					var err error
					b, err = New(Config{Addr: addrA, Mode: wire.ModeSymPassive, MinPoll: m.p.Poll, MaxPoll: 10}, now.Add(skew), sysB, newRand(2))
					if err != nil {
						t.Fatal(err)
					}
				}
				acts, _ = b.Receive(&m.p, Rx{Dst: ntptime.FromTime(now.Add(skew))}, now.Add(skew), sysB, nil)
				fromB = true
			} else {
				acts, _ = a.Receive(&m.p, Rx{Dst: ntptime.FromTime(now)}, now, sysA, nil)
			}
		case b != nil && now.Equal(b.NextPoll().Add(-skew)):
			acts = b.Poll(now.Add(skew), sysB, nil)
			fromB = true
		default:
			acts = a.Poll(now, sysA, nil)
		}
		for _, x := range acts {
			switch x.Kind {
			case ActSend:
				inflight = append(inflight, msg{p: x.Packet, arrive: now.Add(delay), toB: !fromB})
			case ActSample:
				if fromB {
					sampB = append(sampB, x.Sample)
				} else {
					sampA = append(sampA, x.Sample)
				}
			}
		}
	}
	if b == nil || len(sampA) < 3 || len(sampB) < 3 {
		t.Fatalf("samples: A %d B %d", len(sampA), len(sampB))
	}
	va, vb := a.Vars(now), b.Vars(now)
	if va.Reach == 0 || vb.Reach == 0 || va.PMode != wire.ModeSymPassive || vb.PMode != wire.ModeSymActive {
		t.Errorf("reach A %#o B %#o pmode A %d B %d", va.Reach, vb.Reach, va.PMode, vb.PMode)
	}
	if d := va.Offset - skew.Seconds(); d > 1e-6 || d < -1e-6 {
		t.Errorf("A offset %g, want %g", va.Offset, skew.Seconds())
	}
	if d := vb.Offset + skew.Seconds(); d > 1e-6 || d < -1e-6 {
		t.Errorf("B offset %g, want %g", vb.Offset, -skew.Seconds())
	}
	if d := va.Delay - 2*delay.Seconds(); d > 1e-6 || d < -1e-6 {
		t.Errorf("A delay %g", va.Delay)
	}
	// Each side's samples only ever use its peer's fresh answers: no duplicate epochs.
	for i := 1; i < len(sampA); i++ {
		if !sampA[i].Epoch.After(sampA[i-1].Epoch) {
			t.Errorf("A sample %d not newer", i)
		}
	}
}

func TestResetAfterStep(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, IBurst: true, StartDelay: time.Second}, t0, sys)
	for range 6 {
		exchange(t, a, goodServer(), sys)
	}
	now := a.NextPoll()
	acts := a.Reset("STEP", now, sys, nil)
	v := a.Vars(now)
	if v.Reach != 0 || v.RefID != wire.RefIDFromString("STEP") || v.Stratum != 16 || v.Disp != MaxDisp ||
		v.Rec != 0 || v.Org != 0 || v.Flash&FlashPeerUnreach == 0 {
		t.Errorf("after reset: %+v", v)
	}
	if at := rearm(t, acts); at.Before(now) || at.After(now.Add(6*time.Second)) {
		t.Errorf("first poll after reset at %v", at.Sub(now))
	}
	// iburst starts again.
	n := 0
	start := a.NextPoll()
	for a.NextPoll().Sub(start) < 30*time.Second {
		exchange(t, a, goodServer(), sys)
		n++
	}
	if n != IBurst {
		t.Errorf("%d packets after reset, want a new burst of %d", n, IBurst)
	}
}

// TestIBurstFirstSystemPeer drives four servers with iburst and the selection the way the
// engine will, and checks that a system peer is chosen within 10 s (the limit;
// classic needs about 7 s: four samples bring the dispersion below maxdist).
func TestIBurstFirstSystemPeer(t *testing.T) {
	sys := testSys()
	var as []*Assoc
	var srvs []server
	for i := range 4 {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)}), 123)
		a, err := New(Config{Addr: addr, Mode: wire.ModeClient, Configured: true, IBurst: true,
			StartDelay: time.Duration(i+1) * time.Second}, t0, sys, newRand(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
		s := goodServer()
		s.Offset = time.Duration(i) * 200 * time.Microsecond
		srvs = append(srvs, s)
	}
	var sel system.Selector
	p := system.SelectParams{Tos: sys.Tos, SysPeer: -1}
	for {
		// the next poll of any association
		k := 0
		for i := range as {
			if as[i].NextPoll().Before(as[k].NextPoll()) {
				k = i
			}
		}
		if as[k].NextPoll().Sub(t0) > 10*time.Second {
			t.Fatal("no system peer within 10 s")
		}
		back, _, racts, err := exchange(t, as[k], srvs[k], sys)
		if err != nil {
			t.Fatal(err)
		}
		if len(find(racts, ActSelect)) == 0 {
			continue
		}
		cands := make([]system.Candidate, len(as))
		for i, a := range as {
			cands[i] = a.Candidate(back, sys)
		}
		r := sel.Select(cands, p)
		if r.SysPeer >= 0 {
			if d := back.Sub(t0); d > 10*time.Second {
				t.Errorf("first system peer after %v", d)
			}
			t.Logf("first system peer %d after %v", r.SysPeer, back.Sub(t0))
			return
		}
	}
}

// TestPoolMemberGoesQuiet: a pool member (preemptible, not configured) that stops answering
// is polled again after minpoll instead of its long poll, and demobilised at the poll after
// PoolQuiet unanswered ones, so that its pool can replace it. A reply in between restores
// the regular poll.
func TestPoolMemberGoesQuiet(t *testing.T) {
	sys := testSys()
	sys.Poll = 10
	a := mustNew(t, Config{Preempt: true, MinPoll: 6, MaxPoll: 10}, t0, sys)
	srv := goodServer()
	srv.Poll = 10
	answer := func(p wire.Packet) {
		rep, back, dst := srv.reply(&p, p.Xmt.Time(t0))
		if _, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil); err != nil {
			t.Fatal(err)
		}
	}
	poll := func(now time.Time) []wire.Packet {
		s := sends(a.Poll(now, sys, nil))
		if len(s) != 1 {
			t.Fatalf("poll at %v: %d packets", now.Sub(t0), len(s))
		}
		return s
	}
	// Answer polls until the association polls at 2^10.
	now := a.NextPoll()
	for i := 0; i < 40; i++ {
		answer(poll(now)[0])
		now = a.NextPoll()
	}
	p := poll(now)
	if iv := a.NextPoll().Sub(now); iv > 69*time.Second {
		t.Fatalf("after a poll not yet answered the next comes in %v, want 64-68 s", iv)
	}
	answer(p[0])
	if iv := a.NextPoll().Sub(now); iv < 1000*time.Second {
		t.Fatalf("after the reply the next poll comes in %v, want about 1024 s", iv)
	}
	// One lost reply: the next poll comes after 2^6 s, and a reply to it restores 2^10.
	now = a.NextPoll()
	poll(now)
	now = a.NextPoll()
	answer(poll(now)[0])
	if iv := a.NextPoll().Sub(now); iv < 1000*time.Second {
		t.Fatalf("after a lost reply and an answered retry the next poll comes in %v, want about 1024 s", iv)
	}
	// Dark: PoolQuiet polls go unanswered, 64 s apart after the first, then it goes.
	now = a.NextPoll()
	start := now
	var last []Action
	polls := 0
	for !a.Gone() && polls < 20 {
		last = a.Poll(now, sys, nil)
		polls += len(sends(last))
		now = a.NextPoll()
	}
	if !a.Gone() || polls != PoolQuiet || len(find(last, ActDemobilize)) != 1 {
		t.Fatalf("gone %v after %d polls, last %v", a.Gone(), polls, kinds(last))
	}
	if took := now.Sub(start); took > time.Duration(PoolQuiet)*69*time.Second {
		t.Errorf("demobilised %v after the first unanswered poll", took)
	}
}

// TestFastPollWhileTraining: while the discipline measures the start-up frequency
// (sys.FastPoll), a reachable server is polled every 2^FastPoll s after its iburst, for as
// long as asked (the headway at that rate stays within minpoll's budget), and at its
// regular poll again afterwards; a server that sent a RATE kiss is never polled faster.
func TestFastPollWhileTraining(t *testing.T) {
	sys := testSys()
	sys.FastPoll = 3
	a := mustNew(t, Config{Configured: true, IBurst: true, StartDelay: time.Second}, t0, sys)
	srv := goodServer()
	for range 6 { // the iburst
		if _, _, _, err := exchange(t, a, srv, sys); err != nil {
			t.Fatal(err)
		}
	}
	start := a.NextPoll()
	for i := 0; i < 40; i++ {
		before := a.NextPoll()
		if _, _, _, err := exchange(t, a, srv, sys); err != nil {
			t.Fatal(err)
		}
		// 8 s, and 2 s more while the headway left by the iburst exceeds 2^minpoll.
		if gap := a.NextPoll().Sub(before); gap < 8*time.Second || gap > 11*time.Second {
			t.Fatalf("poll %d while training: next after %v, want 8 s", i, gap)
		}
	}
	if avg := a.NextPoll().Sub(start) / 40; avg > 9*time.Second {
		t.Errorf("average poll interval while training %v, want about 8 s", avg)
	}
	sys.FastPoll = 0
	before := a.NextPoll()
	if _, _, _, err := exchange(t, a, srv, sys); err != nil {
		t.Fatal(err)
	}
	if gap := a.NextPoll().Sub(before); gap < 64*time.Second || gap > 70*time.Second {
		t.Errorf("after training: next poll after %v, want 64 s", gap)
	}

	// A server that kissed us off (RATE) keeps its own pace.
	sys = testSys()
	sys.FastPoll = 3
	b := mustNew(t, Config{Configured: true, StartDelay: time.Second}, t0, sys)
	if _, _, _, err := exchange(t, b, srv, sys); err != nil {
		t.Fatal(err)
	}
	kiss := srv
	kiss.Kiss = "RATE"
	exchange(t, b, kiss, sys)
	for i := 0; i < 3; i++ {
		before := b.NextPoll()
		if _, _, _, err := exchange(t, b, srv, sys); err != nil {
			t.Fatal(err)
		}
		if gap := b.NextPoll().Sub(before); gap < 60*time.Second {
			t.Errorf("after a RATE kiss: next poll after %v, want no fast polling", gap)
		}
	}
}
