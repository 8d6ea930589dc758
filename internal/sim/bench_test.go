// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"testing"
	"time"
)

// BenchmarkLAN24h runs the 24-hour LAN scenario and reports how many simulated hours
// pass per second of real time.
func BenchmarkLAN24h(b *testing.B) {
	sc := load(b, "lan.scn")
	start := time.Now()
	for b.Loop() {
		if _, err := Run(sc, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(sc.Duration.Hours()*float64(b.N)/time.Since(start).Seconds(), "sim-h/s")
}
