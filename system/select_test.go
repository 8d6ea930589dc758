// SPDX-License-Identifier: BSD-2-Clause

package system

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func cand(off, dist float64) Candidate {
	return Candidate{Offset: off, Jitter: 1e-4, RootDist: dist, Stratum: 2, Epoch: t0.Add(time.Minute)}
}

func params() SelectParams {
	return SelectParams{Tos: DefaultTos(), SysPeer: -1, SysEpoch: t0}
}

func TestSelectFalseticker(t *testing.T) {
	cands := []Candidate{
		cand(0.0010, 0.010), cand(-0.0005, 0.012), cand(0.0002, 0.008), cand(0.0030, 0.015),
		cand(0.050, 0.010), // 50 ms off
	}
	r := Select(cands, params())
	if r.Codes[4] != SelFalsetick {
		t.Errorf("falseticker code %d", r.Codes[4])
	}
	if r.SysPeer < 0 || r.SysPeer == 4 || r.Codes[r.SysPeer] != SelSysPeer {
		t.Errorf("system peer %d codes %v", r.SysPeer, r.Codes)
	}
	for i := range 4 {
		if r.Codes[i] < SelOutlier {
			t.Errorf("good candidate %d code %d", i, r.Codes[i])
		}
	}
	if r.Offset < -0.001 || r.Offset > 0.003 {
		t.Errorf("combined offset %g", r.Offset)
	}
}

// TestSelectCombineByHand: three survivors with offsets 1, 2, 3 ms and root distances 10, 20,
// 40 ms. Selection jitters: 1.581 ms, 1 ms, 1.581 ms; metrics (seljit × distance) 15.8e-6,
// 20e-6, 63.2e-6, so the first is the system peer. Combined offset
// (100·1 + 50·2 + 25·3)/175 ms = 1.5714 ms; system jitter
// sqrt((50·1e-6 + 25·4e-6)/175 + 2.5e-6) = 1.8323 ms.
func TestSelectCombineByHand(t *testing.T) {
	cands := []Candidate{cand(0.001, 0.010), cand(0.002, 0.020), cand(0.003, 0.040)}
	r := Select(cands, params())
	if r.SysPeer != 0 || r.Survivors != 3 {
		t.Fatalf("sys peer %d survivors %d codes %v", r.SysPeer, r.Survivors, r.Codes)
	}
	if !near(r.Offset, 0.275/175) || !near(r.Jitter, math.Sqrt(1.5e-4/175+2.5e-6)) {
		t.Errorf("offset %.9g jitter %.9g", r.Offset, r.Jitter)
	}
	if diff := cmp.Diff([]SelCode{SelSysPeer, SelCandidate, SelCandidate}, r.Codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
}

// TestSelectDiscTakesTheLatestSample: the discipline's input is the combined offset with the
// system peer's share (its weight, 100/175 in TestSelectCombineByHand's case) moved from
// its filtered offset to its latest sample, at that sample's time; the others keep their
// filtered offsets. A selection whose system peer has no newer sample than the last update
// is stale.
func TestSelectDiscTakesTheLatestSample(t *testing.T) {
	cands := []Candidate{cand(0.001, 0.010), cand(0.002, 0.020), cand(0.003, 0.040)}
	at := t0.Add(2 * time.Minute)
	cands[0].Latest, cands[0].LatestAt, cands[0].Excess = 0.004, at, 0.0003
	r := Select(cands, params())
	if r.SysPeer != 0 || r.Stale {
		t.Fatalf("sys peer %d stale %v", r.SysPeer, r.Stale)
	}
	share := 100.0 / 175
	d := r.Disc
	if !near(d.Offset, 0.275/175+share*0.003) || !d.At.Equal(at) || d.Excess != 0.0003 ||
		!near(d.Share, share) || !near(d.Others, 0.175/75) {
		t.Errorf("disc %+v: want offset %g at %v, excess 0.0003, share %g, others %g",
			d, 0.275/175+share*0.003, at, share, 0.175/75)
	}
	if !near(r.Offset, 0.275/175) {
		t.Errorf("system offset %g: the filtered offsets still make it", r.Offset)
	}
	p := params()
	p.SysEpoch = at
	if r := Select(cands, p); !r.Stale {
		t.Error("a selection without a sample newer than the last update is not stale")
	}
	cands[0].LatestAt = time.Time{}
	if r := Select(cands, params()); !r.Disc.At.Equal(cands[0].Epoch) || !near(r.Disc.Offset, r.Offset) {
		t.Errorf("without a latest sample: disc %+v, want the filtered offset at its epoch", r.Disc)
	}
}

func TestSelectStratumWeight(t *testing.T) {
	// Same offsets and distances: the lower stratum wins by stratum × mindist.
	a, b := cand(0.001, 0.010), cand(0.001, 0.010)
	a.Stratum, b.Stratum = 3, 1
	r := Select([]Candidate{a, b}, params())
	if r.SysPeer != 1 {
		t.Errorf("sys peer %d", r.SysPeer)
	}
}

func TestSelectPrefer(t *testing.T) {
	cands := []Candidate{cand(0.001, 0.010), cand(0.0015, 0.010), cand(0.0040, 0.030)}
	cands[2].Prefer = true
	r := Select(cands, params())
	if r.SysPeer != 2 || r.Offset != 0.004 || r.Jitter != cands[2].Jitter || r.Codes[2] != SelSysPeer {
		t.Errorf("sys peer %d offset %g codes %v", r.SysPeer, r.Offset, r.Codes)
	}
	// A prefer peer that is a falseticker does not win.
	cands = []Candidate{cand(0.001, 0.010), cand(0.0015, 0.010), cand(0.0005, 0.010), cand(0.5, 0.010)}
	cands[3].Prefer = true
	r = Select(cands, params())
	if r.SysPeer == 3 || r.Codes[3] != SelFalsetick {
		t.Errorf("falseticking prefer peer: sys %d codes %v", r.SysPeer, r.Codes)
	}
}

func TestSelectTrue(t *testing.T) {
	cands := []Candidate{cand(0.001, 0.010), cand(0.0015, 0.010), cand(0.0005, 0.010), cand(0.5, 0.010)}
	cands[3].True = true
	r := Select(cands, params())
	if r.Codes[3] < SelOutlier {
		t.Errorf("true candidate code %d", r.Codes[3])
	}
}

// TestSelectHysteresis: ntpd keeps the old system peer while the new best differs from it by
// less than a threshold that starts at mindist and halves on each consecutive attempt.
func TestSelectHysteresis(t *testing.T) {
	cands := []Candidate{cand(0.0010, 0.010), cand(0.0012, 0.009), cand(0.0011, 0.011)}
	p := params()
	r := Select(cands, p)
	best := r.SysPeer
	other := (best + 1) % 3
	p.SysPeer = other
	r = Select(cands, p)
	if r.SysPeer != other || r.ClockHop != p.Tos.MinDist {
		t.Fatalf("first hop attempt: sys %d (old %d, best %d) clockhop %g", r.SysPeer, other, best, r.ClockHop)
	}
	// Keep trying: the threshold halves until it is below the offset difference.
	x := math.Abs(cands[best].Offset - cands[other].Offset)
	hops := 0
	for r.SysPeer == other {
		p.ClockHop = r.ClockHop
		r = Select(cands, p)
		hops++
		if hops > 20 {
			t.Fatal("never hopped")
		}
	}
	if r.SysPeer != best || r.ClockHop != 0 {
		t.Errorf("after %d attempts: sys %d clockhop %g", hops, r.SysPeer, r.ClockHop)
	}
	if want := int(math.Ceil(math.Log2(p.Tos.MinDist / x))); hops != want {
		t.Errorf("hopped after %d attempts, want %d", hops, want)
	}
	// An old system peer that is now a falseticker is dropped at once.
	cands = append(cands, cand(0.3, 0.01))
	p = params()
	p.SysPeer = 3
	r = Select(cands, p)
	if r.SysPeer == 3 {
		t.Error("kept a falseticking system peer")
	}
	// An offset difference above mindist hops at once.
	cands = []Candidate{cand(0.0010, 0.010), cand(0.0030, 0.030)}
	p = params()
	p.SysPeer = 1
	if r = Select(cands, p); r.SysPeer != 0 {
		t.Errorf("sys peer %d, want 0", r.SysPeer)
	}
}

func TestSelectUnfitAndMinSane(t *testing.T) {
	cands := []Candidate{cand(0.001, 0.01), cand(0.001, 0.01), cand(0.001, 0.01)}
	cands[1].Unfit = flashPeerUnreach
	p := params()
	p.Tos.MinSane = 3
	r := Select(cands, p)
	if r.Codes[1] != SelReject || r.SysPeer != -1 || r.Survivors != 2 {
		t.Errorf("codes %v sys %d survivors %d", r.Codes, r.SysPeer, r.Survivors)
	}
	if r.Codes[0] != SelCandidate {
		t.Errorf("survivor without system peer has code %d", r.Codes[0])
	}
	if r := Select(nil, params()); r.SysPeer != -1 || len(r.Codes) != 0 {
		t.Errorf("empty: %+v", r)
	}
}

func TestSelectLocalFallback(t *testing.T) {
	local := Candidate{Offset: 0, Jitter: 0, RootDist: 0.001, Stratum: 10, Refclock: RefclockLocal, Epoch: t0.Add(time.Minute)}
	good := cand(0.002, 0.010)
	bad := good
	bad.Unfit = flashPeerUnreach
	p := params()
	// While a server survives, LOCAL is not used.
	p.OrphanWaitOver = true
	r := Select([]Candidate{local, good}, p)
	if r.SysPeer != 1 || r.Codes[0] != SelReject {
		t.Errorf("with a server: sys %d codes %v", r.SysPeer, r.Codes)
	}
	// Nothing else: LOCAL, but only after the orphan wait.
	r = Select([]Candidate{local, bad}, p)
	if r.SysPeer != 0 || r.Codes[0] != SelSysPeer {
		t.Errorf("fallback: sys %d codes %v", r.SysPeer, r.Codes)
	}
	p.OrphanWaitOver = false
	if r = Select([]Candidate{local, bad}, p); r.SysPeer != -1 {
		t.Errorf("before orphan wait: sys %d", r.SysPeer)
	}
	// A prefer LOCAL clock competes like any source.
	local.Prefer = true
	if r = Select([]Candidate{local, good}, p); r.SysPeer != 0 {
		t.Errorf("prefer LOCAL: sys %d codes %v", r.SysPeer, r.Codes)
	}
}

func TestSelectOrphan(t *testing.T) {
	p := params()
	p.Tos.Orphan = 10
	mk := func(ref uint32) Candidate {
		c := cand(0.001, 0.010)
		c.Stratum = 10
		c.AddrRefID = ref
		c.LocalRefID = 0xc6120005 // we are 198.18.0.5
		return c
	}
	cands := []Candidate{mk(0xc6120009), mk(0xc6120003), mk(0xc6120002)}
	r := Select(cands, p)
	if r.SysPeer != 2 {
		t.Errorf("orphan parent %d, want the lowest address (2)", r.SysPeer)
	}
	// A lower-stratum source beats the orphan mesh; higher strata are excluded.
	c := cand(0.001, 0.010)
	c.Stratum = 3
	hi := cand(0.001, 0.010)
	hi.Stratum = 11
	r = Select(append(cands, c, hi), p)
	if r.SysPeer != 3 || r.Codes[4] != SelReject {
		t.Errorf("sys %d codes %v", r.SysPeer, r.Codes)
	}
	// We have the lowest address ourselves: no parent (the engine becomes the orphan parent).
	cands = []Candidate{mk(0xc6120009)}
	if r = Select(cands, p); r.SysPeer != -1 {
		t.Errorf("sys %d, want none", r.SysPeer)
	}
}

// TestSelectClusterOutlierAndBackup: clustering drops the candidate furthest from the rest
// while more than minclock remain; with more than maxclock the dropped ones are backups.
func TestSelectClusterOutlierAndBackup(t *testing.T) {
	// Wide intervals so everyone is a truechimer; one offset sticks out.
	cands := []Candidate{cand(0.001, 0.2), cand(0.0012, 0.2), cand(0.0009, 0.2), cand(0.0011, 0.2), cand(0.080, 0.2)}
	r := Select(cands, params())
	if r.Codes[4] != SelOutlier {
		t.Errorf("codes %v", r.Codes)
	}
	p := params()
	p.Tos.MaxClock = 3
	r = Select(cands, p)
	if r.Codes[4] != SelBackup {
		t.Errorf("with maxclock 3: codes %v", r.Codes)
	}
	// Clustering stops when the worst selection jitter is below the smallest peer jitter.
	for i := range cands {
		cands[i].Jitter = 0.5
	}
	if r = Select(cands, params()); r.Survivors != 5 {
		t.Errorf("noisy peers: survivors %d", r.Survivors)
	}
}

func TestSelectStale(t *testing.T) {
	cands := []Candidate{cand(0.001, 0.01)}
	p := params()
	p.SysEpoch = cands[0].Epoch
	if r := Select(cands, p); !r.Stale || r.SysPeer != 0 {
		t.Errorf("stale %v sys %d", r.Stale, r.SysPeer)
	}
	p.SysEpoch = cands[0].Epoch.Add(-time.Second)
	if r := Select(cands, p); r.Stale {
		t.Error("fresh sample marked stale")
	}
}

func TestSelectPPS(t *testing.T) {
	pps := cand(0.0001, 0.002)
	pps.PPS, pps.Refclock, pps.Stratum = true, RefclockAtomPPS, 0
	srv := cand(0.001, 0.01)
	srv2 := cand(0.0012, 0.01)
	r := Select([]Candidate{pps, srv, srv2}, params())
	if r.SysPeer == 0 {
		t.Errorf("atom PPS without a prefer peer selected")
	}
	srv.Prefer = true
	r = Select([]Candidate{pps, srv, srv2}, params())
	if r.SysPeer != 0 || r.Codes[0] != SelPPSPeer || r.Offset != pps.Offset {
		t.Errorf("sys %d codes %v offset %g", r.SysPeer, r.Codes, r.Offset)
	}
}

func TestSelectLeapVote(t *testing.T) {
	cands := []Candidate{cand(0.001, 0.01), cand(0.001, 0.01), cand(0.001, 0.01)}
	cands[0].Leap, cands[1].Leap = 1, 1
	r := Select(cands, params())
	if r.LeapIns != 2 || r.LeapDel != 0 {
		t.Errorf("votes %d %d", r.LeapIns, r.LeapDel)
	}
}

// majorityPoint reports whether some point lies in more than half of n intervals among
// those listed, and returns the regions (as sorted boundary pairs) where that holds.
func majorityRegions(iv [][2]float64, n int) [][2]float64 {
	type ev struct {
		x float64
		d int
	}
	var evs []ev
	for _, v := range iv {
		evs = append(evs, ev{v[0], 1}, ev{v[1], -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].x != evs[j].x {
			return evs[i].x < evs[j].x
		}
		return evs[i].d > evs[j].d // closed intervals: open before close
	})
	var out [][2]float64
	c := 0
	for i, e := range evs {
		c += e.d
		if 2*c > n && i+1 < len(evs) {
			out = append(out, [2]float64{e.x, evs[i+1].x})
		}
	}
	return out
}

// TestSelectProperties checks, over random interval sets with fixed seeds, that the
// truechimers always contain a majority clique of the sane candidates and that the system
// peer is a truechimer overlapping it.
func TestSelectProperties(t *testing.T) {
	var sel Selector
	for seed := uint64(1); seed <= 3000; seed++ {
		rng := newRand(seed)
		n := 1 + rng.IntN(12)
		cands := make([]Candidate, n)
		for i := range cands {
			c := cand(0, 0)
			switch rng.IntN(4) {
			case 0: // wild
				c.Offset = (rng.Float64() - 0.5) * 2
				c.RootDist = 0.001 + rng.Float64()*0.2
			default: // near the truth, interval containing it
				c.Offset = (rng.Float64() - 0.5) * 0.02
				c.RootDist = math.Abs(c.Offset) + 0.001 + rng.Float64()*0.05
			}
			c.Jitter = rng.Float64() * 0.005
			c.Stratum = uint8(1 + rng.IntN(4))
			if rng.IntN(10) == 0 {
				c.Unfit = flashPeerDist
			}
			cands[i] = c
		}
		r := sel.Select(cands, params())
		sane := 0
		var truech [][2]float64
		for i, c := range cands {
			if c.Unfit == 0 {
				sane++
			}
			if r.Codes[i] >= SelOutlier {
				truech = append(truech, [2]float64{c.Offset - c.RootDist, c.Offset + c.RootDist})
			}
			if c.Unfit != 0 && r.Codes[i] != SelReject {
				t.Fatalf("seed %d: unfit candidate %d has code %d", seed, i, r.Codes[i])
			}
		}
		if len(truech) == 0 {
			if r.SysPeer != -1 {
				t.Fatalf("seed %d: system peer without truechimers", seed)
			}
			continue
		}
		regions := majorityRegions(truech, sane)
		if len(regions) == 0 {
			t.Fatalf("seed %d: %d truechimers of %d sane share no majority point", seed, len(truech), sane)
		}
		if r.SysPeer < 0 {
			t.Fatalf("seed %d: truechimers but no system peer (minsane 1)", seed)
		}
		sp := cands[r.SysPeer]
		if r.Codes[r.SysPeer] != SelSysPeer {
			t.Fatalf("seed %d: system peer code %d", seed, r.Codes[r.SysPeer])
		}
		ok := false
		for _, g := range regions {
			if sp.Offset-sp.RootDist <= g[1] && sp.Offset+sp.RootDist >= g[0] {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("seed %d: system peer interval misses the majority clique", seed)
		}
		if r.Survivors > n || r.Survivors < 1 {
			t.Fatalf("seed %d: survivors %d", seed, r.Survivors)
		}
	}
}

// TestSelectFalsetickerProperty: a source 50 ms off among four good ones (offsets within
// ±1 ms, root distances 2..10 ms) is always a falseticker and never the system peer.
func TestSelectFalsetickerProperty(t *testing.T) {
	var sel Selector
	for seed := uint64(1); seed <= 5000; seed++ {
		rng := newRand(seed)
		cands := make([]Candidate, 5)
		bad := rng.IntN(5)
		for i := range cands {
			c := cand((rng.Float64()-0.5)*0.002, 0.002+rng.Float64()*0.008)
			c.Jitter = rng.Float64() * 0.001
			if i == bad {
				c.Offset += 0.050
				if rng.IntN(2) == 0 {
					c.Offset -= 0.100
				}
			}
			cands[i] = c
		}
		r := sel.Select(cands, params())
		if r.Codes[bad] != SelFalsetick || r.SysPeer == bad || r.SysPeer < 0 {
			t.Fatalf("seed %d: bad %d codes %v sys %d", seed, bad, r.Codes, r.SysPeer)
		}
		good := slices.DeleteFunc(slices.Clone(r.Codes), func(c SelCode) bool { return c == SelFalsetick })
		if len(good) != 4 {
			t.Fatalf("seed %d: codes %v", seed, r.Codes)
		}
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// flashPeerUnreach and flashPeerDist are peer.FlashPeerUnreach (TEST13) and
// peer.FlashPeerDist (TEST11), which this package cannot import: peer imports system.
const (
	flashPeerUnreach uint16 = 0x1000
	flashPeerDist    uint16 = 0x0400
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
