// SPDX-License-Identifier: BSD-2-Clause

package clock

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestEstimatorLine: on synthetic samples of a line (offset 200 µs, +37.5 ppm) with 10 µs
// of Gaussian noise, the estimator recovers the slope within its own error and the
// present offset within a few µs, and slopeError matches the noise.
func TestEstimatorLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	e := newEstimator(0, nsetSigma, 11)
	const a0, b0, noise = 200e-6, 37.5e-6, 10e-6
	for i := 0; i < 40; i++ {
		tt := float64(i) * 16
		e.add(sample{t: tt, u: a0 + b0*tt + noise*rng.NormFloat64(), w: 1 / (noise * noise)})
	}
	u, b, sb := e.line(39 * 16)
	if math.Abs(b-b0) > 3*sb || sb > 0.1e-6 {
		t.Errorf("slope %.4f ppm ± %.4f, want %.4f", b*1e6, sb*1e6, b0*1e6)
	}
	if want := a0 + b0*39*16; math.Abs(u-want) > 8e-6 {
		t.Errorf("present offset %.1f µs, want %.1f", u*1e6, want*1e6)
	}
	if se := e.slopeError(); se < 0.5*sb || se > 2*sb {
		t.Errorf("slopeError %.4f ppm, the fit says %.4f", se*1e6, sb*1e6)
	}
}

// TestEstimatorPrior: the prior frequency holds the slope with few samples and yields to
// many; a drift file's prior (±3 ppm) is overruled by a minute of 10 µs samples.
func TestEstimatorPrior(t *testing.T) {
	e := newEstimator(-20e-6, driftSigma, 11)
	if _, b, _ := e.line(0); b != -20e-6 {
		t.Fatalf("no samples: slope %v, want the prior", b)
	}
	e.add(sample{t: 0, u: 0, w: 1 / (freqSigma * freqSigma)})
	if _, b, _ := e.line(0); b != -20e-6 {
		t.Fatalf("one sample: slope %v, want the prior", b)
	}
	for i := 1; i <= 8; i++ {
		tt := float64(i) * 8
		e.add(sample{t: tt, u: 0, w: 1e10}) // 10 µs samples
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
		e.add(sample{t: float64(i) * 64, u: u, w: 1e10})
	}
	if _, b, _ := e.line(60 * 64); math.Abs(b-12e-6) > 0.2e-6 {
		t.Errorf("slope %.3f ppm after a step to 12 ppm", b*1e6)
	}
	if e.n() >= 60 {
		t.Errorf("window %d samples: the runs test dropped nothing", e.n())
	}
}
