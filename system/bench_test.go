// SPDX-License-Identifier: BSD-2-Clause

package system

import (
	"testing"
)

func benchCands(n int) []Candidate {
	rng := newRand(7)
	cands := make([]Candidate, n)
	for i := range cands {
		cands[i] = cand((rng.Float64()-0.5)*0.004, 0.005+rng.Float64()*0.02)
		cands[i].Jitter = rng.Float64() * 0.001
	}
	cands[n-1].Offset = 0.080 // one falseticker
	return cands
}

// BenchmarkSelect measures a selection among 10 candidates with a reused Selector.
func BenchmarkSelect(b *testing.B) {
	cands := benchCands(10)
	var s Selector
	p := params()
	b.ReportAllocs()
	for b.Loop() {
		r := s.Select(cands, p)
		if r.SysPeer < 0 {
			b.Fatal("no system peer")
		}
	}
}

// BenchmarkSelect50 is the same with 50 candidates (a large pool configuration).
func BenchmarkSelect50(b *testing.B) {
	cands := benchCands(50)
	var s Selector
	p := params()
	b.ReportAllocs()
	for b.Loop() {
		s.Select(cands, p)
	}
}
