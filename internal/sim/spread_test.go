// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"math"
	"testing"
)

// TestSeedSpread runs the jittery-link scenarios over seeds 1-20 and checks the RMS, over
// the seeds, of the second half's standard deviation of the clock's error: one seed's
// figure is mostly luck on such a link (it ranged 4-22 µs over these seeds), the spread
// over twenty is what the discipline makes of the noise. The limits hold the figures of
// the estimator's scatter-based weights and the Wiener share of each phase correction
// (clock/estimator.go reweigh, clock/discipline.go slew): 6.8 and 12.2 µs; before them,
// 11.5 and 17.5 µs. On the clean link of lablan.scn the second quarter-hour's SD is
// 0.9 µs with training until the frequency is known within 0.003 ppm (trainSigma), 2.1 µs
// with 0.01 ppm.
func TestSeedSpread(t *testing.T) {
	for _, c := range []struct {
		file     string
		from, to string  // the window of the SD
		limit    float64 // s
	}{
		{"jitter.scn", "10m", "20m", 8e-6},
		{"queue.scn", "10m", "20m", 14e-6},
		{"lablan.scn", "15m", "30m", 1.5e-6},
	} {
		var sum, worst float64
		for seed := uint64(1); seed <= 20; seed++ {
			sc := load(t, c.file)
			sc.Seed = seed
			r, err := Run(sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			sd := r.Metric("sd_offset", []string{c.from, c.to})
			sum += sd * sd
			worst = math.Max(worst, sd)
		}
		rms := math.Sqrt(sum / 20)
		t.Logf("%s: SD from %s to %s over seeds 1-20: RMS %.1f µs, worst %.1f µs", c.file, c.from, c.to, rms*1e6, worst*1e6)
		if rms > c.limit {
			t.Errorf("%s: RMS of the SD from %s to %s over seeds 1-20 is %.1f µs, want under %.1f µs",
				c.file, c.from, c.to, rms*1e6, c.limit*1e6)
		}
	}
}
