// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"math"
	"time"

	"gontp/system"
)

// clockFilter is the clock filter of RFC 5905 section 10 with ntpd's refinements
// (appendix A.5.2 clock_filter, ntpd clock_filter()). The new sample goes into an 8-stage
// shift register; every older stage ages by PHI times the time since the last update. The
// stages are ranked by delay (or delay plus dispersion once older than the Allan intercept,
// so stale samples lose), except while the discipline measures the initial frequency, when
// the newest sample wins. The best stage becomes the association's offset and delay; the
// dispersion is the exponentially weighted sum of all stage dispersions, the jitter the RMS
// of the offset differences to the best stage over the usable stages.
//
// The sample is handed on only if it is not a popcorn spike (an offset step of more than
// SGate jitters within two poll intervals, which ntpd reports as event popcorn) and if it is
// newer than the last one handed on: the filter may pick an older stage, and using that
// twice would feed the discipline old news.
//
// gontp's departure from classic: the discipline does not depend on that choice. Every
// sample also becomes the association's latest (with its delay above the least delay in
// the register), and a sample that gives the filter no new output is still announced
// (ActLatest) once the start-up is over, so that the system peer's every sample reaches the
// estimator, weighted by its excess delay (chrony's way). With classic's rule alone a
// clean LAN, whose delays differ by microseconds, hands on a sample only when it happens
// to be the least of eight: in the kernel lab updates stalled for six minutes at a time
// and half of the samples were never used.
func (a *Assoc) clockFilter(offset, delay, disp float64, now time.Time, sys *system.State, acts []Action) []Action {
	j := a.next
	a.filter[j] = stage{offset: offset, delay: delay, disp: disp, epoch: now}
	j = (j + 1) % NStages
	a.next = j

	var dst [NStages]float64
	var ord [NStages]int
	aging := PHI * now.Sub(a.update).Seconds()
	a.update = now
	allan := time.Duration(math.Ldexp(float64(time.Second), int(sys.Allan)))
	// Walk from the oldest stage (i = 7) to the newest (i = 0).
	for i := NStages - 1; i >= 0; i-- {
		f := &a.filter[j]
		if i != 0 {
			f.disp += aging
		}
		switch {
		case f.disp >= MaxDisp:
			f.disp = MaxDisp
			dst[i] = MaxDisp
		case now.Sub(f.epoch) > allan:
			dst[i] = f.delay + f.disp
		default:
			dst[i] = f.delay
		}
		ord[i] = j
		j = (j + 1) % NStages
	}
	if !sys.Settling {
		// ntpd's exchange sort; equal distances keep the newer stage first.
		for i := 1; i < NStages; i++ {
			for k := 0; k < i; k++ {
				if dst[k] > dst[i] {
					ord[k], ord[i] = ord[i], ord[k]
					dst[k], dst[i] = dst[i], dst[k]
				}
			}
		}
	}
	// Usable stages: below MaxDisp, and below maxdist except the best two (kept for the
	// jitter estimate).
	m := 0
	for i := 0; i < NStages; i++ {
		a.order[i] = uint8(ord[i])
		if dst[i] >= MaxDisp || (m >= 2 && dst[i] >= sys.Tos.MaxDist) {
			continue
		}
		m++
	}
	a.disp, a.jitter = 0, 0
	k := ord[0]
	for i := NStages - 1; i >= 0; i-- {
		f := &a.filter[ord[i]]
		a.disp = 0.5 * (a.disp + f.disp)
		if i < m {
			d := f.offset - a.filter[k].offset
			a.jitter += d * d
		}
	}
	// The newest stage and its excess delay become the latest sample once it is handed on
	// (below); a popcorn spike or an unusable sample is not.
	newest := a.filter[(a.next+NStages-1)%NStages]
	least := newest.delay
	for i := range a.filter {
		if f := &a.filter[i]; f.disp < MaxDisp && f.delay < least {
			least = f.delay
		}
	}
	if m == 0 {
		// Nothing usable: keep the old offset, let the selection see the dispersion.
		return append(acts, Action{Kind: ActSelect})
	}
	best := &a.filter[k]
	step := math.Abs(a.offset - best.offset)
	a.offset = best.offset
	a.delay = best.delay
	if m > 1 {
		a.jitter /= float64(m - 1)
	}
	a.jitter = max(math.Sqrt(a.jitter), log2s(sys.Precision))

	if a.disp < sys.Tos.MaxDist && best.disp < sys.Tos.MaxDist && step > SGate*a.jitter &&
		best.epoch.Sub(a.epoch) < 2*time.Duration(math.Ldexp(float64(time.Second), int(a.hpoll))) {
		return a.report(EvPopcorn, "", acts)
	}
	if !best.epoch.After(a.epoch) {
		// An old sample: already used. Classic stops here; the newest sample still goes
		// to the discipline once the start-up is over.
		if sys.Settling || a.burst != 0 || newest.disp >= MaxDisp || !newest.epoch.After(a.latest.epoch) {
			return acts
		}
		a.latest, a.latestExcess = newest, newest.delay-least
		return append(acts, Action{Kind: ActLatest})
	}
	a.latest, a.latestExcess = newest, newest.delay-least
	a.epoch = best.epoch
	acts = append(acts, Action{Kind: ActSample, Sample: Sample{Offset: a.offset,
		Delay: a.delay, Disp: a.disp, Jitter: a.jitter, Epoch: a.epoch}})
	if a.burst == 0 || sys.Leap == 3 {
		acts = append(acts, Action{Kind: ActSelect})
	}
	return acts
}
