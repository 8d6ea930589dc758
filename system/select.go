// SPDX-License-Identifier: BSD-2-Clause

package system

import (
	"math"
	"time"
)

// SelCode is the selection status of an association, the 3-bit field of the peer status
// word (compat.md 1.7) that ntpq shows as the tally character " x.-+#*o".
type SelCode uint8

// Selection codes (CTL_PST_SEL_*).
const (
	SelReject    SelCode = 0 // ' ' failed the peer tests, or not yet evaluated
	SelFalsetick SelCode = 1 // 'x' outside the intersection interval
	SelExcess    SelCode = 2 // '.' (classic 4.2.8 never sets it)
	SelOutlier   SelCode = 3 // '-' truechimer dropped by clustering
	SelCandidate SelCode = 4 // '+' survivor, used in the combined offset
	SelBackup    SelCode = 5 // '#' dropped by clustering while more than maxclock remained
	SelSysPeer   SelCode = 6 // '*' the system peer
	SelPPSPeer   SelCode = 7 // 'o' a PPS source used as the system peer
)

// Tally returns the character ntpq prints for the code.
func (c SelCode) Tally() byte { return " x.-+#*o"[c&7] }

// Reference clock driver types that the selection treats specially (127.127.t.u).
const (
	RefclockLocal   = 1  // LOCAL: only a fallback when nothing else survives
	RefclockACTS    = 18 // ACTS modem: likewise, and preferred to LOCAL
	RefclockAtomPPS = 22 // PPS (atom): used only together with a prefer peer
)

// Candidate is what Select needs to know of one association (peer.Assoc.Candidate builds
// it, for NTP servers and reference clocks alike).
type Candidate struct {
	Offset   float64 // filtered offset, s
	Jitter   float64 // peer jitter, s
	RootDist float64 // root distance at the time of the selection, s
	Stratum  uint8
	Leap     uint8
	Epoch    time.Time // time of the sample Offset comes from
	// Latest is the offset of the association's newest sample (s), measured at LatestAt,
	// and Excess its delay above the least delay in the clock filter (s): the discipline
	// takes every new sample of the system peer (Result.Disc), the filter's choice only
	// for the selection. A zero LatestAt means there is none (Offset is then used).
	Latest   float64
	LatestAt time.Time
	Excess   float64
	// Unfit holds the peer tests (TEST10..13) that failed; any makes the candidate a reject.
	Unfit  uint16
	Prefer bool // `prefer`
	True   bool // `true`: survives the intersection whatever its interval
	// Refclock is the driver type of a reference clock, 0 for an NTP source.
	Refclock uint8
	// PPS marks a PPS source (ntpd FLAG_PPS): it does not join the cluster but becomes the
	// pps.peer when the combined offset is within 0.4 s.
	PPS bool
	// AddrRefID is the RefID of the source's address and LocalRefID the RefID of our
	// address towards it (0: unknown). They elect the orphan parent (the lowest metric)
	// among sources at the orphan stratum.
	AddrRefID, LocalRefID uint32
}

// SelectParams is the system state the selection depends on. The hysteresis state
// (SysPeer, ClockHop) comes from the previous Result.
type SelectParams struct {
	Tos Tos
	// SysPeer is the index in the candidate list of the current system peer, or -1.
	SysPeer int
	// ClockHop is ntpd's sys_clockhop from the previous Result (0 at start).
	ClockHop float64
	// SysEpoch is the epoch of the sample that last updated the clock.
	SysEpoch time.Time
	// OrphanWaitOver is true once `tos orphanwait` (300 s) has passed since startup or
	// since the system peer was lost; only then may LOCAL and ACTS refclocks be fallbacks.
	OrphanWaitOver bool
}

// Result is the outcome of Select.
type Result struct {
	// Codes is the selection code for each candidate, in input order.
	Codes []SelCode
	// SysPeer is the index of the system peer, or -1 when there is none (the clock is then
	// not updated; with orphan mode configured the engine becomes orphan parent).
	SysPeer int
	// Offset and Jitter are the combined offset (RFC 5905 section 11.2.3) and the system
	// jitter, s; with a prefer or PPS system peer, that peer's own offset and jitter.
	Offset, Jitter float64
	// Survivors is the number of candidates after clustering (sys_survivors).
	Survivors int
	// ClockHop is the hysteresis state to pass in next time.
	ClockHop float64
	// LeapIns and LeapDel count survivors announcing a leap second (a refclock counts for
	// all); the engine arms a leap on a majority.
	LeapIns, LeapDel int
	// Stale is set when the system peer's sample is not newer than SysEpoch: ntpd then
	// neither updates the clock nor publishes the new codes, and neither should the engine.
	// The system peer's sample is its latest (Candidate.LatestAt) when it has one.
	Stale bool
	// Disc is what the discipline takes: the combined offset with the system peer's
	// share moved from its filtered offset to its latest sample, the time of that sample
	// and its excess delay (Candidate.Latest). With a prefer or PPS system peer it is that
	// peer's latest sample.
	Disc Disc
}

// Disc is the discipline's input from one selection (Result.Disc).
type Disc struct {
	Offset float64
	At     time.Time
	Excess float64
	// Share is the system peer's weight in the combined offset and Others the weighted
	// mean of the other survivors' offsets (at the selection's time): a later sample of
	// the system peer alone (ActLatest) is combined with them as Share·latest +
	// (1-Share)·Others.
	Share, Others float64
}

// Selector holds the scratch space of Select so that repeated selections do not allocate.
// Its zero value is ready. The Codes of a Result it returns are valid until its next use.
type Selector struct {
	codes []SelCode
	ends  []endpoint
	surv  []survivor
}

type endpoint struct {
	val  float64
	kind int // -1 lower end, +1 upper end
}

type survivor struct {
	idx    int
	err    float64 // peer jitter
	synch  float64 // root distance
	seljit float64
}

// Select runs the selection with a fresh Selector. See Selector.Select.
func Select(cands []Candidate, p SelectParams) Result {
	var s Selector
	return s.Select(cands, p)
}

// Select picks the system peer from cands, as ntpd's clock_select does (RFC 5905 section
// 11.2 with ntpd 4.2.8's changes). It is a pure function of its arguments.
//
//  1. Unfit candidates are rejected (' '). Sources at the orphan stratum only take part in
//     the orphan-parent election, those above it are rejected; LOCAL and ACTS refclocks
//     without prefer are kept aside as fallbacks.
//  2. Intersection (11.2.1): each candidate's correctness interval is offset ± root
//     distance. Allowing f falsetickers, f = 0, 1, ... while 2f < n, the smallest interval
//     that contains points of n-f intervals is sought; candidates whose interval misses it
//     are falsetickers ('x'), unless marked `true`.
//  3. If none survive: an ACTS, then a LOCAL refclock (after the orphan wait), then the
//     orphan parent with the lowest address metric is the only survivor.
//  4. Cluster (11.2.2): while more than minclock survive and the largest selection jitter
//     (RMS offset difference to the others, weighted by root distance) exceeds the
//     smallest peer jitter, the worst is dropped: outlier '-', or backup '#' while more
//     than maxclock remained. A `true` or prefer candidate is never dropped.
//  5. The survivors ('+') vote on leap seconds; the system peer is the one with the least
//     selection jitter × root distance + stratum × mindist. ntpd's clock-hop hysteresis
//     keeps the old system peer when it survived and the two offsets differ by less than
//     a threshold that halves on each consecutive hop attempt, starting at mindist.
//  6. Fewer than minsane survivors: no system peer. A surviving prefer peer is the system
//     peer and its offset is used; otherwise the offsets are combined weighted by
//     1/root distance (11.2.3). A PPS source that survived the intersection takes over
//     ('o') when the result is within 0.4 s (the atom driver only with a prefer peer).
func (s *Selector) Select(cands []Candidate, p SelectParams) Result {
	tos := &p.Tos
	n := len(cands)
	s.codes = grow(s.codes, n)
	codes := s.codes
	s.ends = growEnds(s.ends, 2*n)
	ends := s.ends[:0]
	s.surv = growSurv(s.surv, n+1)
	surv := s.surv[:0]

	typeorphan, typelocal, typeacts := -1, -1, -1
	orphmet := uint64(2 * math.MaxUint32)
	for i := range cands {
		c := &cands[i]
		codes[i] = SelReject
		if c.Unfit != 0 {
			continue
		}
		if c.Stratum == tos.Orphan {
			localmet := uint64(math.MaxUint32)
			if c.LocalRefID != 0 {
				localmet = uint64(c.LocalRefID)
			}
			peermet := uint64(c.AddrRefID)
			if peermet < localmet && peermet < orphmet {
				typeorphan = i
				orphmet = peermet
			}
			continue
		}
		if c.Stratum > tos.Orphan {
			continue // could have the orphan parent as an ancestor: a loop
		}
		if !c.Prefer {
			switch c.Refclock {
			case RefclockLocal:
				if p.OrphanWaitOver && typelocal < 0 {
					typelocal = i
				}
				continue
			case RefclockACTS:
				if p.OrphanWaitOver && typeacts < 0 {
					typeacts = i
				}
				continue
			}
		}
		codes[i] = SelFalsetick
		surv = append(surv, survivor{idx: i, err: c.Jitter, synch: c.RootDist})
		ends = append(ends, endpoint{c.Offset - c.RootDist, -1}, endpoint{c.Offset + c.RootDist, 1})
	}
	sortEnds(ends)

	// Intersection.
	nlist := len(surv)
	low, high := 1e9, -1e9
	for allow := 0; 2*allow < nlist; allow++ {
		cnt := 0
		for i := range ends {
			low = ends[i].val
			cnt -= ends[i].kind
			if cnt >= nlist-allow {
				break
			}
		}
		cnt = 0
		for j := len(ends) - 1; j >= 0; j-- {
			high = ends[j].val
			cnt += ends[j].kind
			if cnt >= nlist-allow {
				break
			}
		}
		if high > low {
			break
		}
	}
	typepps := -1
	k := 0
	for _, sv := range surv {
		c := &cands[sv.idx]
		h := sv.synch
		if (high <= low || c.Offset+h < low || c.Offset-h > high) && !c.True {
			continue
		}
		if c.PPS {
			if typepps < 0 {
				typepps = sv.idx
			}
			continue // PPS sources do not join the cluster
		}
		surv[k] = sv
		k++
	}
	surv = surv[:k]

	if len(surv) == 0 {
		fallback := -1
		switch {
		case typeacts >= 0:
			fallback = typeacts
		case typelocal >= 0:
			fallback = typelocal
		case typeorphan >= 0:
			fallback = typeorphan
		}
		if fallback >= 0 {
			surv = append(surv, survivor{idx: fallback, err: 0, synch: tos.MinDist})
		}
	}
	for _, sv := range surv {
		codes[sv.idx] = SelOutlier
	}

	// Cluster.
	for {
		d, e, g, worst := 1e9, -1e9, 0.0, 0
		for i := range surv {
			if surv[i].err < d {
				d = surv[i].err
			}
			surv[i].seljit = 0
			if len(surv) > 1 {
				f := 0.0
				for j := range surv {
					x := cands[surv[j].idx].Offset - cands[surv[i].idx].Offset
					f += x * x
				}
				surv[i].seljit = math.Sqrt(f / float64(len(surv)-1))
			}
			if m := surv[i].seljit * surv[i].synch; m > e {
				g = surv[i].seljit
				e = m
				worst = i
			}
		}
		if len(surv) <= max(1, tos.MinClock) || g <= d {
			break
		}
		if wc := &cands[surv[worst].idx]; wc.True || wc.Prefer {
			break
		}
		if len(surv) > tos.MaxClock {
			codes[surv[worst].idx] = SelBackup
		}
		surv = append(surv[:worst], surv[worst+1:]...)
	}

	res := Result{Codes: codes, SysPeer: -1, ClockHop: p.ClockHop}
	speer, prefer := 0, -1
	best := 1e9
	for i, sv := range surv {
		c := &cands[sv.idx]
		codes[sv.idx] = SelCandidate
		res.Survivors++
		if c.Leap == 1 {
			if c.Refclock != 0 {
				res.LeapIns = len(surv)
			} else if res.LeapIns < len(surv) {
				res.LeapIns++
			}
		}
		if c.Leap == 2 {
			if c.Refclock != 0 {
				res.LeapDel = len(surv)
			} else if res.LeapDel < len(surv) {
				res.LeapDel++
			}
		}
		if c.Prefer {
			prefer = i
		}
		if m := sv.seljit*sv.synch + float64(c.Stratum)*tos.MinDist; m < best {
			best = m
			speer = i
		}
	}

	typesystem := -1
	if len(surv) > 0 && len(surv) >= tos.MinSane {
		typesystem = surv[speer].idx
		old := p.SysPeer
		switch {
		case old < 0 || old >= n || old == typesystem:
			res.ClockHop = 0
		case codes[old] != SelCandidate:
			res.ClockHop = 0 // the old system peer did not survive: no hysteresis
		default:
			x := math.Abs(cands[typesystem].Offset - cands[old].Offset)
			if x < tos.MinDist {
				if res.ClockHop == 0 {
					res.ClockHop = tos.MinDist
				} else {
					res.ClockHop *= 0.5
				}
				if x < res.ClockHop {
					typesystem = old
				} else {
					res.ClockHop = 0
				}
			} else {
				res.ClockHop = 0
			}
		}
	}

	if typesystem >= 0 {
		if prefer < 0 {
			codes[typesystem] = SelSysPeer
			var share float64
			res.Offset, res.Jitter, share = combine(cands, surv, speer)
			res.Disc = disc(cands[typesystem], res.Offset, share)
		} else {
			typesystem = surv[prefer].idx
			res.ClockHop = 0
			codes[typesystem] = SelSysPeer
			res.Offset, res.Jitter = cands[typesystem].Offset, cands[typesystem].Jitter
			res.Disc = disc(cands[typesystem], res.Offset, 1)
		}
	}
	if typepps >= 0 && math.Abs(res.Offset) < 0.4 &&
		(cands[typepps].Refclock != RefclockAtomPPS || prefer >= 0 ||
			(typesystem < 0 && tos.MinSane == 0)) {
		typesystem = typepps
		res.ClockHop = 0
		codes[typesystem] = SelPPSPeer
		res.Offset, res.Jitter = cands[typesystem].Offset, cands[typesystem].Jitter
		res.Disc = disc(cands[typesystem], res.Offset, 1)
	}
	res.SysPeer = typesystem
	if typesystem >= 0 && !res.Disc.At.After(p.SysEpoch) {
		res.Stale = true
	}
	return res
}

// disc moves the system peer's share of the system offset from its filtered offset to its
// latest sample.
func disc(c Candidate, offset, share float64) Disc {
	var others float64
	if share < 1 {
		others = (offset - share*c.Offset) / (1 - share)
	}
	if c.LatestAt.IsZero() {
		return Disc{Offset: offset, At: c.Epoch, Share: share, Others: others}
	}
	return Disc{Offset: offset + share*(c.Latest-c.Offset), At: c.LatestAt, Excess: c.Excess,
		Share: share, Others: others}
}

// combine is the combine algorithm of RFC 5905 section 11.2.3 (ntpd clock_combine): the
// survivors' offsets weighted by the inverse of their root distances, and the system jitter
// from the weighted offset differences to the system peer and its selection jitter; share
// is the system peer's weight in the offset.
func combine(cands []Candidate, surv []survivor, speer int) (offset, jitter, share float64) {
	var y, z, w float64
	sys := cands[surv[speer].idx].Offset
	for _, sv := range surv {
		x := 1 / sv.synch
		o := cands[sv.idx].Offset
		y += x
		z += x * o
		w += x * (o - sys) * (o - sys)
	}
	return z / y, math.Sqrt(w/y + surv[speer].seljit*surv[speer].seljit), 1 / surv[speer].synch / y
}

// sortEnds orders the interval endpoints by value with ntpd's selection sort (the list is
// short and must not allocate). The sort is not stable; using the same one keeps the
// counting order of equal endpoints, and so the outcome of touching intervals, as in ntpd.
func sortEnds(e []endpoint) {
	for i := range e {
		k, v := i, e[i].val
		for j := i + 1; j < len(e); j++ {
			if e[j].val < v {
				v, k = e[j].val, j
			}
		}
		if k != i {
			e[i], e[k] = e[k], e[i]
		}
	}
}

func grow(b []SelCode, n int) []SelCode {
	if cap(b) < n {
		return make([]SelCode, n)
	}
	return b[:n]
}

func growEnds(b []endpoint, n int) []endpoint {
	if cap(b) < n {
		return make([]endpoint, 0, n)
	}
	return b[:0]
}

func growSurv(b []survivor, n int) []survivor {
	if cap(b) < n {
		return make([]survivor, 0, n)
	}
	return b[:0]
}
