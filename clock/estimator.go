// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"math"
	"sort"
)

// sample is one offset in the estimator's history, on the uncorrected time line.
type sample struct {
	t float64 // local time minus the steps made, s since the discipline's epoch
	u float64 // the offset the clock would have without any of our corrections, s
	x float64 // the sample's delay excess over the least its filter held, s
	w float64 // weight, 1/σ²: set by the estimator from x and the window's scatter (reweigh)
}

// sampleScale multiplies the scatter of the window's samples about their own line in a
// sample's uncertainty (reweigh), so that a delay excess widens it only when the excess
// is well beyond the scatter. With 1 the weights followed every excess: on a link whose
// jitter is normal and alike both ways the delay says nothing of the offset's error, and
// the weights only added noise; with 3 the simulated second half's SD was 8.2 µs RMS there
// (10.2 with 1) and 12.9 µs (12.5) with queueing delays, 1.0 µs (2.7) on a clean LAN, over
// 20 seeds each (measured while this was developed, before the Wiener share of each phase
// correction in Discipline.slew; TestSeedSpread holds today's figures).
const sampleScale = 3

// minScale is the least scatter the weights assume, s: samples that fit their line
// exactly (synthetic ones) must not get an infinite weight.
const minScale = 1e-7

// maxSamples bounds the estimator's history; pollSamples is the window needed before the
// poll may rise. 256 samples are 34 minutes of the start-up's 8 s polls: with 64 (chrony's
// limit) the window of a jittery link (200 µs ± 100 µs each way) stopped growing at 8.5
// minutes and the frequency at ±0.06 ppm, which drifted the clock 20-40 µs in ten minutes
// (simulated, testdata/sim/jitter.scn). The fit is linear in the window.
const (
	maxSamples  = 256
	pollSamples = 12
)

// nsetSigma is the uncertainty of the frequency before any measurement: the kernel's
// whole range (±500 ppm). A tighter prior pulled the first estimates towards 0: with
// ±100 ppm, three iburst samples 2 s apart, weighted as start-up samples (freqSigma),
// took a +100 ppm oscillator for +89 ppm.
const nsetSigma = MaxFreq

// driftSigma is the uncertainty given to a drift file's frequency, s/s. The file is
// usually right within a part per million, but it was written at another temperature,
// or on other hardware after a disk moved: at 1 ppm a file 20 ppm wrong outweighed a
// minute of samples and the offset sat near a millisecond for a minute and a half
// (testdata/sim/driftfile.scn); at 3 ppm the samples win within half a minute, and a
// right file settles as fast.
const driftSigma = 3e-6

// priorWander is the oscillator's assumed random-walk frequency wander, s/s per √s, by
// which a frequency learnt from dropped samples loses weight as time goes on (0.5 ppb/√s:
// about 0.15 ppm over a day, a quartz oscillator in a room whose temperature varies).
const priorWander = 0.5e-9

// estimator is the discipline's estimate of the oscillator: offset and frequency from the
// samples, nothing else. It is pure arithmetic on (time, uncorrected offset, weight)
// points, so it can be tested on synthetic data: every offset the engine measures is first
// mapped back (by the ledger) to what the clock would have shown without any of gontp's
// corrections, and a weighted least-squares line through those points gives the frequency
// error (its slope) and a smoothed present offset (its value now), as chrony does. A prior
// frequency (drift file, or what dropped samples said) enters as one more observation of
// the slope; a runs test on the residuals shortens the window when the oscillator wanders;
// nothing older than twice the Allan intercept is kept.
type estimator struct {
	samples []sample
	prior   float64 // prior frequency, s/s
	priorW  float64 // its weight, 1/σ² (never 0)
	allan   int8    // Allan intercept, log2 s
	taken   int     // samples taken since the last reset
}

// newEstimator starts with no samples and a prior frequency of prior ± sigma.
func newEstimator(prior, sigma float64, allan int8) estimator {
	return estimator{prior: prior, priorW: 1 / (sigma * sigma), allan: allan}
}

// clone is a copy that shares nothing with e.
func (e *estimator) clone() estimator {
	c := *e
	c.samples = append([]sample(nil), e.samples...)
	return c
}

// add takes one sample (a sample not newer than the last says nothing new about the
// oscillator and only counts) and trims the window.
func (e *estimator) add(s sample) {
	if n := len(e.samples); n == 0 || s.t > e.samples[n-1].t {
		if len(e.samples) >= maxSamples {
			copy(e.samples, e.samples[1:])
			e.samples = e.samples[:len(e.samples)-1]
		}
		e.samples = append(e.samples, s)
	}
	e.reweigh(e.samples)
	e.samples = e.window(e.samples)
	e.taken++
}

// reweigh sets every sample's weight from the window's scatter and the sample's delay
// excess: σ² = (sampleScale·scatter)² + (excess/2)². The scatter is the robust scale of
// the residuals about the samples' own line, the same for every sample, so the weights
// stay consistent as the window grows: a weight fixed when the sample came (from the
// system jitter of eight filter stages, whose swings cost a third of the samples' worth,
// or from the start-up's 100 µs) would weigh the start-up's samples a hundredfold
// against later ones, or the other way round. Until the window holds trainSamples
// samples the scatter is taken as at least freqSigma/sampleScale: a few samples may
// happen to fit their line closely, and the next would then outweigh them all.
//
// The scatter is measured on the samples whose delay excess is at most the median: a
// quarter of the samples off by hundreds of µs because they waited would tilt the line
// about which it is measured and inflate it, and their own weights would then hardly drop.
func (e *estimator) reweigh(s []sample) {
	xs := make([]float64, len(s))
	for i, x := range s {
		xs[i] = x.x
	}
	sort.Float64s(xs)
	var quiet []sample
	if len(xs) > 0 {
		for _, x := range s {
			if x.x <= xs[(len(xs)-1)/2] {
				quiet = append(quiet, x)
			}
		}
	}
	sc := robustScale(quiet)
	if len(s) < trainSamples {
		sc = math.Max(sc, freqSigma/sampleScale)
	}
	sc = sampleScale * math.Max(sc, minScale)
	for i := range s {
		s[i].w = 1 / (sc*sc + s[i].x*s[i].x/4)
	}
}

// n is the number of samples in the window.
func (e *estimator) n() int { return len(e.samples) }

// span is the time the window covers, s.
func (e *estimator) span() float64 {
	if len(e.samples) < 2 {
		return 0
	}
	return e.samples[len(e.samples)-1].t - e.samples[0].t
}

// line returns the fitted uncorrected offset at time line t, the frequency (slope) and the
// slope's standard error. With fewer than two samples the offset is the last sample's (or
// 0) and the slope the prior.
func (e *estimator) line(t float64) (u, freq, sigma float64) {
	if len(e.samples) == 0 {
		return 0, e.prior, math.Sqrt(1 / e.priorW)
	}
	a, b, sb := e.fit(e.samples)
	if len(e.samples) < 2 {
		return e.samples[0].u, b, sb
	}
	return a + b*(t-tmean(e.samples)), b, sb
}

// lineSigma is the standard error of the line's value at time line t, s, with the scale of
// the residuals as they are (not as the weights assumed them): s_w²·(1/Σw + (t−t̄)²/Σw·dt²),
// s_w² = Σw·r²/(n−2). +Inf with fewer than three samples.
func (e *estimator) lineSigma(t float64) float64 {
	n := len(e.samples)
	if n < 3 {
		return math.Inf(1)
	}
	a, b, _ := e.fit(e.samples)
	tm := tmean(e.samples)
	var sw, swtt, swrr float64
	for _, x := range e.samples {
		dt := x.t - tm
		r := x.u - a - b*dt
		sw += x.w
		swtt += x.w * dt * dt
		swrr += x.w * r * r
	}
	s2 := swrr / float64(n-2)
	v := 1 / sw
	if swtt > 0 {
		v += (t - tm) * (t - tm) / swtt
	}
	return math.Sqrt(s2 * v)
}

// keepFrequencyOnly forgets the offsets (after a step that is not part of the start) but
// keeps the frequency they gave, weighted by how well it was known.
func (e *estimator) keepFrequencyOnly() {
	if len(e.samples) >= 2 {
		_, b, sb := e.fit(e.samples)
		sb = e.trueSlopeError(e.samples, sb)
		e.prior, e.priorW = b, 1/math.Max(sb*sb, 1e-16)
	}
	e.samples = e.samples[:0]
	e.taken = 0
}

// shift moves every sample's offset by -step: the clock was stepped by step at a time the
// samples' line still describes, so the old samples stay usable on the new time line (the
// start-up step is exact: ADJ_SETOFFSET adds it atomically).
func (e *estimator) shift(step float64) {
	for i := range e.samples {
		e.samples[i].u -= step
	}
}

// slopeError is the frequency's standard error as the residuals show it, s/s: the
// scatter of the samples about the line over the spread of their times. Unlike the
// fit's own error it does not depend on the uncertainty the weights assume (three times
// the scatter, and at least freqSigma in the first samples). +Inf with fewer than three
// samples.
func (e *estimator) slopeError() float64 { return e.slopeErrorOf(e.samples) }

// slopeErrorOf is slopeError for the samples s.
func (e *estimator) slopeErrorOf(s []sample) float64 {
	n := len(s)
	if n < 3 {
		return math.Inf(1)
	}
	a, b, _ := e.fit(s)
	tm := tmean(s)
	var rr, tt, mt float64
	for _, x := range s {
		mt += x.t
	}
	mt /= float64(n)
	for _, x := range s {
		r := x.u - a - b*(x.t-tm)
		rr += r * r
		tt += (x.t - mt) * (x.t - mt)
	}
	if tt == 0 {
		return math.Inf(1)
	}
	return math.Sqrt(rr/float64(n-2)) / math.Sqrt(tt)
}

// residualScale is a robust standard deviation of the residuals about the line, s: 1.4826
// times their median absolute value, which a few samples far off (a start-up transient, a
// queued request) do not inflate as they do an RMS. 0 with fewer than three samples.
func (e *estimator) residualScale() float64 { return robustScale(e.samples) }

// robustScale is residualScale for the samples s, about their own line, unweighted: about
// a line tilted by a wrong prior the residuals would grow with the error, the samples
// would then weigh less against the prior (reweigh), and the error would grow further.
func robustScale(s []sample) float64 {
	n := len(s)
	if n < 3 {
		return 0
	}
	a, b := ownLine(s)
	var tm float64
	for _, x := range s {
		tm += x.t
	}
	return scaleAbout(s, a, b, tm/float64(n))
}

// scaleAbout is 1.4826 times the median absolute residual of s about the line of value a
// at time tm and slope b; 0 with fewer than three samples.
func scaleAbout(s []sample, a, b, tm float64) float64 {
	n := len(s)
	if n < 3 {
		return 0
	}
	r := make([]float64, n)
	for i, x := range s {
		r[i] = math.Abs(x.u - a - b*(x.t-tm))
	}
	sort.Float64s(r)
	med := r[n/2]
	if n%2 == 0 {
		med = (r[n/2-1] + r[n/2]) / 2
	}
	return 1.4826 * med
}

// ownLine is the unweighted least-squares line through s: its value a at the mean time
// and its slope b.
func ownLine(s []sample) (a, b float64) {
	n := float64(len(s))
	var mt, mu float64
	for _, x := range s {
		mt += x.t
		mu += x.u
	}
	mt, mu = mt/n, mu/n
	var stt, stu float64
	for _, x := range s {
		stt += (x.t - mt) * (x.t - mt)
		stu += (x.t - mt) * (x.u - mu)
	}
	if stt == 0 {
		return mu, 0
	}
	return mu, stu / stt
}

func tmean(s []sample) float64 {
	var sw, st float64
	for _, x := range s {
		sw += x.w
		st += x.w * x.t
	}
	return st / sw
}

// fit is the weighted least-squares line through the samples, with the prior frequency as
// an extra observation of the slope: intercept a at the weighted mean time, slope b and
// the slope's standard error.
func (e *estimator) fit(s []sample) (a, b, sb float64) { return fitLine(s, e.prior, e.priorW) }

// trueSlopeError is the larger of a fit's own slope error sb, which takes the samples'
// weights at their word, and the error their scatter about the line shows: a prior made
// from samples whose noise was larger than assumed (three iburst samples over a queueing
// link, 500 µs off where 100 µs was assumed) must not outweigh the samples that follow.
func (e *estimator) trueSlopeError(s []sample, sb float64) float64 {
	if se := e.slopeErrorOf(s); !math.IsInf(se, 0) {
		return math.Max(sb, se)
	}
	return sb
}

// fitLine is the weighted least-squares line through s with a prior slope prior of weight
// priorW (0: none).
func fitLine(s []sample, prior, priorW float64) (a, b, sb float64) {
	tm := tmean(s)
	var sw, su, stt, stu float64
	for _, x := range s {
		dt := x.t - tm
		sw += x.w
		su += x.w * x.u
		stt += x.w * dt * dt
		stu += x.w * dt * x.u
	}
	a = su / sw
	if len(s) < 2 {
		// One sample says nothing of the slope; its rounding residue (dt of about
		// 1e-16 s) must not pass for a measurement.
		stt, stu = 0, 0
	}
	den := stt + priorW
	if den == 0 {
		return a, prior, math.Inf(1)
	}
	b = (stu + priorW*prior) / den
	return a, b, math.Sqrt(1 / den)
}

// keepPrior keeps what the oldest drop samples of s told about the frequency: the slope of
// all of s becomes the prior, weighted by its standard error and by the wander expected
// since the dropped samples. Without it an estimator whose window was emptied by a long
// outage would take the frequency from the first few noisy samples after it.
func (e *estimator) keepPrior(s []sample, drop int) {
	if len(s) < 2 || drop <= 0 {
		return
	}
	_, b, sb := e.fit(s)
	sb = e.trueSlopeError(s, sb)
	dt := s[len(s)-1].t - tmean(s[:drop])
	v := sb*sb + priorWander*priorWander*math.Max(dt, 0)
	e.prior, e.priorW = b, 1/math.Max(v, 1e-18)
}

// runsZ is the runs test's one-sided critical value: fewer runs than mean − runsZ·SD drop
// the oldest quarter of the window. The test runs at every sample, so its false alarms
// add up: at 2.33 (1 %) a perfectly linear clock over a jittery link lost a quarter of
// a 100-sample window now and then, and its frequency jumped by 0.1 ppm (in the kernel
// lab too); at 3.09 (0.1 %) it rarely happens, and a real wander still fails the test
// within a few samples.
const runsZ = 3.09

// window drops the oldest samples while the residuals fail a runs test: too few sign
// changes mean the line no longer fits the oscillator (wander, or a change of path).
func (e *estimator) window(s []sample) []sample {
	// Beyond twice the Allan intercept (tinker allan, 2^11 s) a straight line no longer
	// describes a real oscillator's phase: wander dominates the noise it averages out.
	if n := len(s); n > 0 {
		limit := s[n-1].t - math.Ldexp(1, int(e.allan)+1)
		i := 0
		for i < n-1 && s[i].t < limit {
			i++
		}
		if i > 0 {
			e.keepPrior(s, i)
			copy(s, s[i:])
			s = s[:n-i]
		}
	}
	for len(s) >= 8 {
		// The samples' own line: a wrong prior would tilt the line and show as a trend
		// in the residuals, and dropping samples would only strengthen it.
		a, b, _ := fitLine(s, 0, 0)
		tm := tmean(s)
		var pos, neg, runs int
		prev := 0
		for _, x := range s {
			r := x.u - a - b*(x.t-tm)
			sg := 1
			if r < 0 {
				sg = -1
				neg++
			} else {
				pos++
			}
			if sg != prev {
				runs++
				prev = sg
			}
		}
		n := float64(len(s))
		mu := 2*float64(pos)*float64(neg)/n + 1
		v := (mu - 1) * (mu - 2) / (n - 1)
		if v <= 0 || float64(runs) >= mu-runsZ*math.Sqrt(v) {
			break
		}
		drop := max(len(s)/4, 1)
		copy(s, s[drop:])
		s = s[:len(s)-drop]
	}
	return s
}
