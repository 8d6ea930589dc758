// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestEstimatorLine: on synthetic samples of a line (offset 200 µs, +37.5 ppm) with 10 µs
// of Gaussian noise, the estimator recovers the slope within its own error and the
// present offset within a few µs, slopeError matches the noise, and the fit's own error
// is sampleScale times that.
func TestEstimatorLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	e := newEstimator(0, nsetSigma, 11)
	const a0, b0, noise = 200e-6, 37.5e-6, 10e-6
	for i := 0; i < 40; i++ {
		tt := float64(i) * 16
		e.add(sample{t: tt, u: a0 + b0*tt + noise*rng.NormFloat64()})
	}
	u, b, sb := e.line(39 * 16)
	if math.Abs(b-b0) > 3*sb || sb > 0.1e-6 {
		t.Errorf("slope %.4f ppm ± %.4f, want %.4f", b*1e6, sb*1e6, b0*1e6)
	}
	if want := a0 + b0*39*16; math.Abs(u-want) > 8e-6 {
		t.Errorf("present offset %.1f µs, want %.1f", u*1e6, want*1e6)
	}
	// The fit's own error assumes sampleScale times the scatter (reweigh); the residuals
	// show the noise itself: 10 µs over 40 samples 16 s apart.
	var stt float64
	for i := 0; i < 40; i++ {
		dt := float64(i)*16 - 39*16/2.0
		stt += dt * dt
	}
	want := noise / math.Sqrt(stt)
	if se := e.slopeError(); se < 0.5*want || se > 2*want {
		t.Errorf("slopeError %.4f ppm, the noise makes it %.4f", se*1e6, want*1e6)
	}
	if sb < 2*want || sb > 5*want {
		t.Errorf("the fit's slope error %.4f ppm, want sampleScale times %.4f", sb*1e6, want*1e6)
	}
}

// TestEstimatorPrior: the prior frequency holds the slope with few samples and yields to
// many; a drift file's prior (±3 ppm) is overruled by a minute of 10 µs samples.
func TestEstimatorPrior(t *testing.T) {
	e := newEstimator(-20e-6, driftSigma, 11)
	if _, b, _ := e.line(0); b != -20e-6 {
		t.Fatalf("no samples: slope %v, want the prior", b)
	}
	e.add(sample{t: 0, u: 0})
	if _, b, _ := e.line(0); b != -20e-6 {
		t.Fatalf("one sample: slope %v, want the prior", b)
	}
	for i := 1; i <= 8; i++ {
		tt := float64(i) * 8
		e.add(sample{t: tt, u: 0}) // samples on the line
	}
	if _, b, _ := e.line(64); math.Abs(b) > 2e-6 {
		t.Errorf("a minute of flat samples left the slope at %.3f ppm", b*1e6)
	}
}

// TestEstimatorRunsTestDropsOldSamples: when the oscillator changes frequency, the runs test
// shortens the window so that the line follows the new frequency.
func TestEstimatorRunsTestDropsOldSamples(t *testing.T) {
	e := newEstimator(0, nsetSigma, 11)
	u := 0.0
	for i := 0; i < 60; i++ {
		f := 10e-6
		if i >= 30 {
			f = 12e-6
		}
		u += f * 64
		e.add(sample{t: float64(i) * 64, u: u})
	}
	if _, b, _ := e.line(60 * 64); math.Abs(b-12e-6) > 0.2e-6 {
		t.Errorf("slope %.3f ppm after a step to 12 ppm", b*1e6)
	}
	if e.n() >= 60 {
		t.Errorf("window %d samples: the runs test dropped nothing", e.n())
	}
}

// TestEstimatorNoFalseRuns: a perfectly linear oscillator measured through 70 µs of normal
// noise keeps its whole window. The runs test runs at every sample, so its false alarms
// add up: at the 1 % level of before, some of these windows lost their oldest quarter,
// and with it 0.1 ppm of frequency (seen in the kernel lab's jittery runs).
func TestEstimatorNoFalseRuns(t *testing.T) {
	cut := 0
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 13))
		e := newEstimator(0, nsetSigma, 11)
		for i := 0; i < 150; i++ {
			tt := float64(i) * 8
			e.add(sample{t: tt, u: -100e-6*tt + 70e-6*rng.NormFloat64()})
			if e.n() < i+1 {
				cut++
				break
			}
		}
	}
	if cut > 0 {
		t.Errorf("the runs test cut %d of 20 windows of a linear oscillator", cut)
	}
}

// TestEstimatorWrongPriorYields: a prior 87 ppm off that claims ±5 ppm (three iburst
// samples over a queueing link, their scatter small by chance) yields to the samples that
// follow. The runs test and the residuals' scale look at
// the samples' own line: about the line the prior tilts, the residuals showed a trend, the
// runs test cut the window again and again, the prior held, and the clock ran off.
func TestEstimatorWrongPriorYields(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	e := newEstimator(-187e-6, 5e-6, 11)
	for i := 0; i < 60; i++ {
		tt := float64(i) * 8
		e.add(sample{t: tt, u: -100e-6*tt + 300e-6*rng.NormFloat64()})
	}
	if e.n() != 60 {
		t.Errorf("window %d samples of 60", e.n())
	}
	if _, b, _ := e.line(480); math.Abs(b+100e-6) > 5e-6 {
		t.Errorf("slope %.1f ppm, want -100 ± 5", b*1e6)
	}
}

// TestEstimatorWeights: a sample's weight comes from the window's scatter, the same for
// every sample however early it came, widened by half its delay excess; samples that
// waited in a queue (their offset off by half the wait) barely move the line.
func TestEstimatorWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	e := newEstimator(0, nsetSigma, 11)
	for i := 0; i < 64; i++ {
		tt := float64(i) * 8
		u, x := 20e-6*tt+5e-6*rng.NormFloat64(), 0.0
		if i%4 == 3 {
			x = 400e-6 // queued 400 µs one way
			u += x / 2
		}
		e.add(sample{t: tt, u: u, x: x})
	}
	if e.samples[0].w != e.samples[60].w {
		t.Errorf("first sample weighs %g, the 61st %g: the same scatter and excess", e.samples[0].w, e.samples[60].w)
	}
	if w0, w3 := e.samples[0].w, e.samples[3].w; w3 > w0/100 {
		t.Errorf("a sample 400 µs late weighs %g, a clean one %g", w3, w0)
	}
	if u, _, _ := e.line(63 * 8); math.Abs(u-20e-6*63*8) > 10e-6 {
		t.Errorf("present offset %.1f µs, want %.1f ± 10 (the late samples are off by 200)", u*1e6, 20*63*8.0)
	}
}
