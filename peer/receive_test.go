// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"errors"
	"math"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// TestReceiveTests drives each receive test with a reply to a real request, changed the way
// the case says, and checks the error, the flash bits and whether the association took the
// sample.
func TestReceiveTests(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		rx     AuthResult
		mutate func(p *wire.Packet)
		err    error
		flash  uint16 // packet tests expected
		sample bool
	}{
		{name: "good", sample: true},
		{name: "zero xmt", mutate: func(p *wire.Packet) { p.Xmt = 0 }, err: ErrUnsync, flash: FlashUnsync},
		{name: "origin mismatch", mutate: func(p *wire.Packet) { p.Org++ }, err: ErrBogus, flash: FlashBogus},
		{name: "zero origin", mutate: func(p *wire.Packet) { p.Org = 0 }, err: ErrBogus, flash: FlashBogus},
		{name: "key configured, no MAC", cfg: Config{KeyID: 7}, err: ErrAuth, flash: FlashAuth},
		{name: "key configured, bad MAC", cfg: Config{KeyID: 7}, rx: AuthBad, err: ErrAuth, flash: FlashAuth},
		{name: "key configured, good MAC", cfg: Config{KeyID: 7}, rx: AuthOK, sample: true},
		{name: "no key, bad MAC", rx: AuthBad, err: ErrAuth, flash: FlashAuth},
		{name: "no key, good MAC", rx: AuthOK, sample: true},
		{name: "NTS, reply not verified", cfg: Config{NTS: true}, err: ErrAuth, flash: FlashAuth},
		{name: "NTS, reply verified", cfg: Config{NTS: true}, rx: AuthOK, sample: true},
		{name: "bad MAC and bad origin", rx: AuthBad, mutate: func(p *wire.Packet) { p.Org++ }, err: ErrBogus, flash: FlashBogus},
		{name: "leap alarm", mutate: func(p *wire.Packet) { p.Leap = wire.LeapAlarm }, err: ErrStratum, flash: FlashStratum},
		{name: "stratum 15 at ceiling", mutate: func(p *wire.Packet) { p.Stratum = 15 }, err: ErrStratum, flash: FlashStratum},
		{name: "stratum 14", mutate: func(p *wire.Packet) { p.Stratum = 14 }, sample: true},
		{name: "stratum 16", mutate: func(p *wire.Packet) { p.Stratum = 16 }, err: ErrStratum, flash: FlashStratum},
		{name: "unsynchronised server (stratum 0, INIT)", mutate: func(p *wire.Packet) {
			p.Leap, p.Stratum, p.RefID = wire.LeapAlarm, 0, wire.RefIDFromString("INIT")
		}, err: ErrStratum, flash: FlashStratum},
		{name: "root delay too large", mutate: func(p *wire.Packet) { p.RootDelay = ntptime.ShortFromSeconds(32) }, err: ErrHeader, flash: FlashHeader},
		{name: "root dispersion too large", mutate: func(p *wire.Packet) { p.RootDisp = ntptime.ShortFromSeconds(16) }, err: ErrHeader, flash: FlashHeader},
		{name: "two failures", mutate: func(p *wire.Packet) { p.Xmt = 0; p.Leap = 3 }, err: ErrUnsync, flash: FlashUnsync | FlashStratum},
		{name: "client mode packet", mutate: func(p *wire.Packet) { p.Mode = wire.ModeClient }, err: ErrMode},
		{name: "broadcast packet", mutate: func(p *wire.Packet) { p.Mode = wire.ModeBroadcast }, err: ErrMode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sys := testSys()
			a := mustNew(t, tc.cfg, t0, sys)
			now := a.NextPoll()
			req := sends(a.Poll(now, sys, nil))[0]
			rep, back, dst := goodServer().reply(&req, now)
			if tc.mutate != nil {
				tc.mutate(&rep)
			}
			acts, err := a.Receive(&rep, Rx{Dst: dst, Auth: tc.rx}, back, sys, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			v := a.Vars(back)
			if got := v.Flash & PacketTests; got != tc.flash {
				t.Errorf("flash = %#04x, want %#04x", got, tc.flash)
			}
			if got := len(find(acts, ActSample)) == 1; got != tc.sample {
				t.Errorf("sample = %v, want %v (actions %v)", got, tc.sample, kinds(acts))
			}
			if tc.sample {
				if v.Reach != 1 || v.Stratum != rep.Stratum || v.RefID != rep.RefID {
					t.Errorf("header not adopted: reach %d stratum %d refid %#x", v.Reach, v.Stratum, v.RefID)
				}
				if math.Abs(v.Offset-0.003) > 1e-6 {
					t.Errorf("offset = %g, want 0.003", v.Offset)
				}
			} else if v.Reach != 0 || v.Stratum != 16 || v.RefID != wire.RefIDFromString("INIT") {
				t.Errorf("failed packet changed the association: reach %d stratum %d", v.Reach, v.Stratum)
			}
			if tc.rx == AuthOK && (v.Status&StatusAuth == 0) {
				t.Errorf("status %#04x lacks the auth bit", v.Status)
			}
		})
	}
}

// TestReplay checks the origin-timestamp defence: a reply is used once; the same packet
// again is a duplicate (TEST1), a copy with a new transmit timestamp fails the origin test
// (TEST2) because our copy of the origin was cleared by the first.
func TestReplay(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	now := a.NextPoll()
	req := sends(a.Poll(now, sys, nil))[0]
	rep, back, dst := goodServer().reply(&req, now)
	if _, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil); err != nil {
		t.Fatalf("first: %v", err)
	}
	if a.Vars(back).Org != 0 {
		t.Errorf("origin not cleared after a match")
	}
	_, err := a.Receive(&rep, Rx{Dst: dst + 1000}, back, sys, nil)
	if !errors.Is(err, ErrDuplicate) || a.Vars(back).Flash&FlashDup == 0 {
		t.Errorf("same packet again: err %v flash %#x", err, a.Vars(back).Flash)
	}
	rep2 := rep
	rep2.Xmt += 1 << 20
	_, err = a.Receive(&rep2, Rx{Dst: dst + 2000}, back, sys, nil)
	if !errors.Is(err, ErrBogus) || a.Vars(back).Flash&FlashBogus == 0 {
		t.Errorf("replayed with new xmt: err %v flash %#x", err, a.Vars(back).Flash)
	}
	v := a.Vars(back)
	if v.OldPkt != 1 || v.BogusOrg != 1 || v.Received != 3 {
		t.Errorf("counters: oldpkt %d bogusorg %d received %d", v.OldPkt, v.BogusOrg, v.Received)
	}
	// The flash bits of the packet tests are reset by the next good packet.
	now = a.NextPoll()
	req = sends(a.Poll(now, sys, nil))[0]
	rep, back, dst = goodServer().reply(&req, now)
	if _, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil); err != nil {
		t.Fatal(err)
	}
	if f := a.Vars(back).Flash & PacketTests; f != 0 {
		t.Errorf("flash %#x after a good packet", f)
	}
}

// TestSpoofedReplyBeforeReal: a forged reply with a wrong origin does not stop the real
// reply from being accepted.
func TestSpoofedReplyBeforeReal(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	now := a.NextPoll()
	req := sends(a.Poll(now, sys, nil))[0]
	rep, back, dst := goodServer().reply(&req, now)
	forged := rep
	forged.Org = ntptime.FromTime(now.Add(-time.Hour))
	forged.Xmt = ntptime.FromTime(now.Add(time.Hour))
	if _, err := a.Receive(&forged, Rx{Dst: dst - 100}, back, sys, nil); !errors.Is(err, ErrBogus) {
		t.Fatalf("forged: %v", err)
	}
	if _, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil); err != nil {
		t.Fatalf("real reply after a forged one: %v", err)
	}
}

func TestKissOfDeath(t *testing.T) {
	t.Run("RATE backs off", func(t *testing.T) {
		sys := testSys()
		a := mustNew(t, Config{MinPoll: 6, MaxPoll: 10}, t0, sys)
		now := a.NextPoll()
		req := sends(a.Poll(now, sys, nil))[0]
		srv := goodServer()
		srv.Kiss, srv.Poll = "RATE", 8
		rep, back, dst := srv.reply(&req, now)
		acts, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil)
		if !errors.Is(err, ErrKissRate) {
			t.Fatalf("err %v", err)
		}
		v := a.Vars(back)
		if v.MinPoll != 8 || v.HPoll != 8 || v.PPoll != 8 {
			t.Errorf("minpoll %d hpoll %d ppoll %d, want 8", v.MinPoll, v.HPoll, v.PPoll)
		}
		if ev := events(acts); len(ev) != 1 || ev[0] != EvRate {
			t.Errorf("events %v", ev)
		}
		if at := rearm(t, acts); at.Sub(back) < 2*256*time.Second {
			t.Errorf("next poll after %v, want at least 2 × 2^minpoll", at.Sub(back))
		}
		if v.Reach != 0 || v.Headway != 9*256 {
			t.Errorf("reach %d headway %d", v.Reach, v.Headway)
		}
		// Each later poll is at least 2^8 s after the previous one.
		prev := now
		for range 5 {
			now = a.NextPoll()
			if now.Sub(prev) < 256*time.Second {
				t.Errorf("poll %v after the previous", now.Sub(prev))
			}
			a.Poll(now, sys, nil)
			prev = now
		}
	})
	t.Run("RATE with wrong origin ignored", func(t *testing.T) {
		sys := testSys()
		a := mustNew(t, Config{}, t0, sys)
		now := a.NextPoll()
		req := sends(a.Poll(now, sys, nil))[0]
		srv := goodServer()
		srv.Kiss, srv.Poll = "RATE", 12
		rep, back, dst := srv.reply(&req, now)
		rep.Org++
		before := a.NextPoll()
		acts, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil)
		if !errors.Is(err, ErrBogus) || len(acts) != 0 {
			t.Fatalf("err %v acts %v", err, kinds(acts))
		}
		if v := a.Vars(back); v.MinPoll != 6 || a.NextPoll() != before || v.Xmt != 0 {
			t.Errorf("forged kiss changed state: minpoll %d next %v xmt %#x", v.MinPoll, a.NextPoll(), v.Xmt)
		}
	})
	for _, code := range []string{"DENY", "RSTR"} {
		t.Run(code+" is dropped, the association stays", func(t *testing.T) {
			sys := testSys()
			a := mustNew(t, Config{Configured: true}, t0, sys)
			now := a.NextPoll()
			req := sends(a.Poll(now, sys, nil))[0]
			srv := goodServer()
			srv.Kiss = code
			rep, back, dst := srv.reply(&req, now)
			acts, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil)
			if !errors.Is(err, ErrKissDeny) {
				t.Fatalf("err %v", err)
			}
			if len(acts) != 0 || a.Gone() {
				t.Fatalf("classic keeps the association and does nothing: acts %v gone %v", kinds(acts), a.Gone())
			}
			v := a.Vars(back)
			if v.Reach != 0 || v.SelBroken != 1 || v.Flash&FlashDenied != 0 || v.RefID != wire.RefIDFromString("INIT") {
				t.Errorf("reach %o selbroken %d flash %#x refid %#x", v.Reach, v.SelBroken, v.Flash, v.RefID)
			}
			if acts := a.Poll(a.NextPoll(), sys, nil); len(sends(acts)) != 1 {
				t.Errorf("the association must poll on: %v", kinds(acts))
			}
		})
		t.Run(code+" with wrong origin ignored", func(t *testing.T) {
			sys := testSys()
			a := mustNew(t, Config{}, t0, sys)
			now := a.NextPoll()
			req := sends(a.Poll(now, sys, nil))[0]
			srv := goodServer()
			srv.Kiss = code
			rep, back, dst := srv.reply(&req, now)
			rep.Org = 0
			if _, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil); !errors.Is(err, ErrBogus) || a.Gone() {
				t.Fatalf("err %v gone %v", err, a.Gone())
			}
		})
	}
	t.Run("unknown code is an unsynchronised reply", func(t *testing.T) {
		sys := testSys()
		a := mustNew(t, Config{}, t0, sys)
		now := a.NextPoll()
		req := sends(a.Poll(now, sys, nil))[0]
		srv := goodServer()
		srv.Kiss = "XFOO"
		rep, back, dst := srv.reply(&req, now)
		if _, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil); !errors.Is(err, ErrStratum) || a.Gone() {
			t.Fatalf("err %v gone %v", err, a.Gone())
		}
	})
}

// TestOffsetDelayArithmetic checks the on-wire computation against hand-made timestamps,
// including an asymmetric path and an era boundary between request and reply.
func TestOffsetDelayArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name        string
		start       time.Time
		off, d1, d2 time.Duration
	}{
		{"symmetric", t0, 25 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		{"negative offset", t0, -1500 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond},
		{"asymmetric", t0, 0, 2 * time.Millisecond, 8 * time.Millisecond},
		{"era boundary", time.Date(2036, 2, 7, 6, 28, 15, 999_000_000, time.UTC), 700 * time.Microsecond, time.Millisecond, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := testSys()
			a := mustNew(t, Config{StartDelay: time.Second}, tc.start, sys)
			now := a.NextPoll()
			req := sends(a.Poll(now, sys, nil))[0]
			rec := now.Add(tc.d1 + tc.off)
			xmt := rec.Add(100 * time.Microsecond)
			back := now.Add(tc.d1 + 100*time.Microsecond + tc.d2)
			rep := wire.Packet{Version: 4, Mode: wire.ModeServer, Stratum: 1, Poll: 6, Precision: -20,
				RefID: wire.RefIDFromString("GPS"), Org: req.Xmt, Rec: ntptime.FromTime(rec),
				Xmt: ntptime.FromTime(xmt)}
			acts, err := a.Receive(&rep, Rx{Dst: ntptime.FromTime(back)}, back, sys, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := find(acts, ActSample)[0].Sample
			wantOff := (tc.off + (tc.d1-tc.d2)/2).Seconds()
			wantDelay := (tc.d1 + tc.d2).Seconds()
			if math.Abs(s.Offset-wantOff) > 1e-9 || math.Abs(s.Delay-wantDelay) > 1e-9 {
				t.Errorf("offset %.9f delay %.9f, want %.9f %.9f", s.Offset, s.Delay, wantOff, wantDelay)
			}
			// dispersion of the sample: both precisions plus PHI × delay
			wantDisp := math.Ldexp(1, -20) + math.Ldexp(1, -20) + PHI*wantDelay
			if v := a.Vars(back); math.Abs(v.FiltDisp[0]-wantDisp) > 1e-12 {
				t.Errorf("sample dispersion %g, want %g", v.FiltDisp[0], wantDisp)
			}
		})
	}
}

// TestNegativeDelayFolded: a server whose transmit precedes its receive gives a negative
// round trip; ntpd folds it to its absolute value, then floors it at the precision.
func TestNegativeDelayFolded(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	now := a.NextPoll()
	req := sends(a.Poll(now, sys, nil))[0]
	rep, back, dst := goodServer().reply(&req, now)
	rep.Xmt = rep.Rec.Add(20 * time.Millisecond) // server claims 20 ms turnaround, more than the round trip
	acts, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := find(acts, ActSample)[0].Sample
	if s.Delay <= 0 {
		t.Errorf("delay %g", s.Delay)
	}
}

// TestForgedKissAfterReply: once a reply matched, our origin copy is zero; a kiss with a zero
// origin must still be refused.
func TestForgedKissAfterReply(t *testing.T) {
	for _, code := range []string{"DENY", "RATE"} {
		sys := testSys()
		a := mustNew(t, Config{}, t0, sys)
		now := a.NextPoll()
		req := sends(a.Poll(now, sys, nil))[0]
		rep, back, dst := goodServer().reply(&req, now)
		if _, err := a.Receive(&rep, Rx{Dst: dst}, back, sys, nil); err != nil {
			t.Fatal(err)
		}
		kod := wire.Packet{Leap: 3, Version: 4, Mode: wire.ModeServer, Stratum: 0, Poll: 14,
			RefID: wire.RefIDFromString(code), Org: 0, Xmt: rep.Xmt + 12345}
		before := a.NextPoll()
		_, err := a.Receive(&kod, Rx{Dst: dst + 5000}, back, sys, nil)
		if err == nil || errors.Is(err, ErrKissDeny) || errors.Is(err, ErrKissRate) || a.Gone() ||
			a.NextPoll() != before || a.Vars(back).MinPoll != 6 {
			t.Errorf("%s with zero origin after a reply: err %v gone %v minpoll %d", code, err, a.Gone(), a.Vars(back).MinPoll)
		}
	}
}

// TestKernelTxTimestamp: with the kernel's transmit time of the request (TxTimestamp), the
// offset and delay are computed from it: a request that left 150 µs after the timestamp it
// carries no longer shortens the path by 150 µs nor shifts the offset by 75 µs. A kernel
// time for another request, or an implausible one, is not used.
func TestKernelTxTimestamp(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lag        time.Duration // kernel transmit time after the packet's stamp
		otherXmt   bool
		wantKernel bool
	}{
		{"used", 150 * time.Microsecond, false, true},
		{"other request", 150 * time.Microsecond, true, false},
		{"before the stamp", -time.Millisecond, false, false},
		{"too late", time.Second, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := testSys()
			a := mustNew(t, Config{StartDelay: time.Second}, t0, sys)
			now := a.NextPoll()
			req := sends(a.Poll(now, sys, nil))[0]
			kernel := now.Add(tc.lag)
			xmt := req.Xmt
			if tc.otherXmt {
				xmt = ntptime.FromTime(now.Add(time.Microsecond))
			}
			a.TxTimestamp(xmt, ntptime.FromTime(kernel))
			// True path: 1 ms each way from when the packet left; clocks agree.
			left := now.Add(150 * time.Microsecond)
			rec := left.Add(time.Millisecond)
			back := rec.Add(100*time.Microsecond + time.Millisecond)
			rep := wire.Packet{Version: 4, Mode: wire.ModeServer, Stratum: 1, Poll: 6, Precision: -20,
				RefID: wire.RefIDFromString("GPS"), Org: req.Xmt, Rec: ntptime.FromTime(rec),
				Xmt: ntptime.FromTime(rec.Add(100 * time.Microsecond))}
			acts, err := a.Receive(&rep, Rx{Dst: ntptime.FromTime(back)}, back, sys, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := find(acts, ActSample)[0].Sample
			wantOff, wantDelay := 0.0, 0.002
			if !tc.wantKernel {
				wantOff, wantDelay = 75e-6, 0.00215
			}
			if math.Abs(s.Offset-wantOff) > 1e-8 || math.Abs(s.Delay-wantDelay) > 1e-8 {
				t.Errorf("offset %.9f delay %.9f, want %.9f %.9f", s.Offset, s.Delay, wantOff, wantDelay)
			}
		})
	}
}
