// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"math"
	"time"
)

// measurePrecision returns the precision of the system clock as a log2 exponent, as classic
// ntpd measures it at start ("proto: precision = 0.050 usec (-24)"): the smallest non-zero
// difference between successive readings of the clock, over a number of tries, rounded to the
// nearest power of two. read returns the clock in nanoseconds.
func measurePrecision(read func() int64) (exp int8, tick time.Duration) {
	const tries = 200
	minStep := int64(math.MaxInt64)
	last := read()
	for i := 0; i < tries; {
		now := read()
		if d := now - last; d > 0 {
			if d < minStep {
				minStep = d
			}
			i++
		}
		last = now
	}
	e := math.Round(math.Log2(float64(minStep) / 1e9))
	if e < -30 {
		e = -30
	}
	return int8(e), time.Duration(minStep)
}
