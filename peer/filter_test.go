// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"math"
	"slices"
	"testing"
	"time"

	"gontp/system"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// filterAt feeds one sample at t0+sec seconds and returns the actions.
func filterAt(a *Assoc, sys *system.State, sec int, off, delay, disp float64) []Action {
	return a.clockFilter(off, delay, disp, t0.Add(time.Duration(sec)*time.Second), sys, nil)
}

// TestClockFilterByHand follows RFC 5905 appendix A.5.2 (clock_filter) and ntpd through
// three samples whose results were worked out by hand:
//
//	s1 at   0 s: offset 10 ms, delay 20 ms, dispersion 1 ms
//	  stages by distance: s1 (0.020), seven empty (16)
//	  dispersion = s1/2 + 16·(1/4 + … + 1/256) = 0.0005 + 7.9375 = 7.938
//	  jitter = precision (one usable stage) = 2^-20
//	s2 at  64 s: offset 12 ms, delay 15 ms, dispersion 1 ms
//	  s1 ages by PHI·64 = 0.96 ms to 1.96 ms
//	  order s2 (0.015), s1 (0.020); dispersion = 0.0005 + 0.00196/4 + 16·(1/8 + … + 1/256)
//	  = 0.00099 + 3.9375; jitter = |10 − 12| ms = 2 ms
//	s3 at 128 s: offset 50 ms, delay 10 ms, dispersion 1 ms
//	  s2 → 1.96 ms, s1 → 2.92 ms; order s3, s2, s1
//	  dispersion = 0.0005 + 0.00196/4 + 0.00292/8 + 16·(1/16 + … + 1/256) = 0.001355 + 1.9375
//	  jitter = sqrt(((12−50)² + (10−50)²)/2) ms = 39.0128 ms
func TestClockFilterByHand(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	type want struct{ off, delay, disp, jitter float64 }
	steps := []struct {
		sec              int
		off, delay, disp float64
		want             want
	}{
		{0, 0.010, 0.020, 0.001, want{0.010, 0.020, 0.0005 + 7.9375, math.Ldexp(1, -20)}},
		{64, 0.012, 0.015, 0.001, want{0.012, 0.015, 0.0005 + 0.00196/4 + 3.9375, 0.002}},
		{128, 0.050, 0.010, 0.001, want{0.050, 0.010, 0.0005 + 0.00196/4 + 0.00292/8 + 1.9375,
			math.Sqrt((0.038*0.038 + 0.040*0.040) / 2)}},
	}
	for i, st := range steps {
		acts := filterAt(a, sys, st.sec, st.off, st.delay, st.disp)
		s := find(acts, ActSample)
		if len(s) != 1 || len(find(acts, ActSelect)) != 1 {
			t.Fatalf("step %d: actions %v", i, kinds(acts))
		}
		got := s[0].Sample
		if !near(got.Offset, st.want.off) || !near(got.Delay, st.want.delay) ||
			!near(got.Disp, st.want.disp) || !near(got.Jitter, st.want.jitter) {
			t.Errorf("step %d: got %+v, want %+v", i, got, st.want)
		}
		if !got.Epoch.Equal(t0.Add(time.Duration(st.sec) * time.Second)) {
			t.Errorf("step %d: epoch %v", i, got.Epoch)
		}
	}
	v := a.Vars(t0.Add(128 * time.Second))
	wantDisp := []float64{0.001, 0.00196, 0.00292, 16, 16, 16, 16, 16}
	for i := range wantDisp {
		if !near(v.FiltDisp[i], wantDisp[i]) {
			t.Errorf("filtdisp %v, want %v", v.FiltDisp, wantDisp)
			break
		}
	}
	if !slices.Equal(v.FiltOffset[:3], []float64{0.050, 0.012, 0.010}) {
		t.Errorf("filtoffset newest first: %v", v.FiltOffset)
	}
}

// TestClockFilterOldSample: when the best stage is one already used, no filter output is
// handed on (no peerstats) and the offset stays, as in classic; the new sample becomes the
// latest, with its excess delay, and is announced (ActLatest) so that the discipline gets it,
// except while settling, when the filter takes the newest sample anyway.
func TestClockFilterOldSample(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	filterAt(a, sys, 0, 0.001, 0.010, 0.0001)
	acts := filterAt(a, sys, 64, 0.030, 0.050, 0.0001)
	if len(find(acts, ActSample)) != 0 || len(find(acts, ActSelect)) != 0 || len(find(acts, ActLatest)) != 1 {
		t.Errorf("old best stage: actions %v, want one latest, no sample and no select", kinds(acts))
	}
	if a.offset != 0.001 || a.delay != 0.010 {
		t.Errorf("offset %g delay %g", a.offset, a.delay)
	}
	c := a.Candidate(t0.Add(64*time.Second), sys)
	if c.Offset != 0.001 || c.Latest != 0.030 || !near(c.Excess, 0.040) ||
		!c.LatestAt.Equal(t0.Add(64*time.Second)) || !c.Epoch.Equal(t0) {
		t.Errorf("candidate %+v: want filtered 0.001 from t0, latest 0.030 at +64 s with excess 0.040", c)
	}

	sys.Settling = true
	b := mustNew(t, Config{}, t0, sys)
	sys.Settling = false
	filterAt(b, sys, 0, 0.001, 0.010, 0.0001)
	sys.Settling = true
	filterAt(b, sys, 64, 0.030, 0.050, 0.0001)
	if b.offset != 0.030 {
		t.Errorf("settling: offset %g, want the newest sample's 0.030", b.offset)
	}
}

// TestClockFilterPopcorn: ntpd computes the jitter relative to the new best stage, so a
// spike among stages that still hold the previous offset never passes the 3 × jitter gate;
// the gate fires when the previous best stage has left the register within two poll
// intervals (a burst) and the new best is far from it. Stage A (50 ms, lowest delay) is
// used; eight samples at 0 ms follow 2 s apart; when the eighth pushes A out, the jump back
// to 0 ms is a popcorn spike.
func TestClockFilterPopcorn(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	if s := find(filterAt(a, sys, 0, 0.050, 0.001, 0.0001), ActSample); len(s) != 1 {
		t.Fatal("first stage not used")
	}
	var acts []Action
	for i := 1; i <= 8; i++ {
		acts = filterAt(a, sys, 2*i, float64(i)*1e-6, 0.010, 0.0001)
		if i < 8 && len(find(acts, ActSample)) != 0 {
			t.Fatalf("sample %d used while A is still the best stage", i)
		}
	}
	if ev := events(acts); !slices.Equal(ev, []Event{EvPopcorn}) || len(find(acts, ActSample)) != 0 ||
		len(find(acts, ActSelect)) != 0 {
		t.Errorf("spike: %v", kinds(acts))
	}
	// The same sequence spread over an hour is not a spike: the step is older than two polls.
	a = mustNew(t, Config{}, t0, sys)
	filterAt(a, sys, 0, 0.050, 0.001, 0.0001)
	for i := 1; i <= 8; i++ {
		acts = filterAt(a, sys, 64*i, float64(i)*1e-6, 0.010, 0.0001)
	}
	if len(find(acts, ActSample)) != 1 || len(events(acts)) != 0 {
		t.Errorf("slow step: %v", kinds(acts))
	}
	// A lone spike among consistent stages is not caught by the gate (the jitter includes
	// it); it is handed on, as in ntpd, and left to the selection and the discipline.
	a = mustNew(t, Config{}, t0, sys)
	for i := range 6 {
		filterAt(a, sys, 64*i, 0.001, 0.010-float64(i)*1e-5, 0.0001)
	}
	if acts := filterAt(a, sys, 64*6, 0.101, 0.005, 0.0001); len(find(acts, ActSample)) != 1 {
		t.Errorf("lone spike: %v", kinds(acts))
	}
}

// TestClockFilterAllan: a stage older than the Allan intercept (2048 s) is ranked by delay
// plus its aged dispersion, so a newer stage with a larger delay wins.
func TestClockFilterAllan(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	filterAt(a, sys, 0, 0.001, 0.001, 0.001)
	for _, sec := range []int{1024, 2048} {
		if acts := filterAt(a, sys, sec, 0.002, 0.010, 0.001); len(find(acts, ActSample)) != 0 {
			t.Fatalf("at %d s the old low-delay stage should still win: %v", sec, kinds(acts))
		}
	}
	acts := filterAt(a, sys, 3072, 0.003, 0.010, 0.001)
	s := find(acts, ActSample)
	if len(s) != 1 || s[0].Sample.Offset != 0.003 {
		t.Errorf("after the Allan intercept: %v", kinds(acts))
	}
}

// TestClockFilterSettling: while the discipline measures the frequency the newest stage is
// used regardless of its delay.
func TestClockFilterSettling(t *testing.T) {
	sys := testSys()
	sys.Settling = true
	a := mustNew(t, Config{}, t0, sys)
	filterAt(a, sys, 0, 0.001, 0.001, 0.001)
	acts := filterAt(a, sys, 64, 0.002, 0.100, 0.001)
	if s := find(acts, ActSample); len(s) != 1 || s[0].Sample.Offset != 0.002 {
		t.Errorf("settling: %v", kinds(acts))
	}
}

// TestClockFilterMaxDist: stages beyond maxdist are not used for the jitter once two are.
func TestClockFilterMaxDist(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{}, t0, sys)
	filterAt(a, sys, 0, 0.000, 0.010, 0.001)
	filterAt(a, sys, 1, 0.001, 0.011, 0.001)
	acts := filterAt(a, sys, 2, 1.0, 2.0, 0.001) // delay above maxdist: ignored for jitter
	_ = acts
	if !near(a.jitter, 0.001) {
		t.Errorf("jitter %g, want 0.001 (third stage excluded)", a.jitter)
	}
}

// TestUnreachableStuffing: polls while unreachable push maximum-dispersion stages, so a
// source that stops answering loses its standing within eight polls.
func TestUnreachableStuffing(t *testing.T) {
	sys := testSys()
	a := mustNew(t, Config{Configured: true, StartDelay: time.Second}, t0, sys)
	srv := goodServer()
	for range 8 {
		exchange(t, a, srv, sys)
	}
	if a.Candidate(a.NextPoll(), sys).Unfit != 0 {
		t.Fatalf("not fit after 8 replies: flash %#x", a.flash)
	}
	n := 0
	for a.Candidate(a.NextPoll(), sys).Unfit == 0 {
		a.Poll(a.NextPoll(), sys, nil)
		n++
		if n > 20 {
			t.Fatal("still fit after 20 silent polls")
		}
	}
	if n > 9 {
		t.Errorf("fit for %d silent polls", n)
	}
}
