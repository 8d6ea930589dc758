// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// MaxSlew is the largest rate at which Clock.Slew moves the clock, 500 ppm: the limit of
// the Linux kernel's adjtime (and so of ntpd's slews).
const MaxSlew = 500e-6

// Clock is a simulated host clock. Its reading is true time plus an offset, and the offset
// drifts with the clock's frequency error, which itself wanders as a random walk (the
// ageing and temperature of a real oscillator). A discipline corrects it the way the
// kernel lets ntpd correct a real clock: a step, a slew of a given amount at no more than
// MaxSlew, and a frequency correction.
//
// It runs over a source of true elapsed time (the simulation's virtual time), in the way
// clock.Model does, and draws its wander from its own random source whenever it is read,
// so a run is deterministic for a seed.
type Clock struct {
	origin  time.Time
	elapsed func() time.Duration
	offset  float64 // local - true, s, at time at
	freq    float64 // intrinsic frequency error, s/s (positive: the clock runs fast)
	wander  float64 // random-walk intensity of freq, s/s per sqrt(s)
	adjFreq float64 // frequency correction set by the discipline, s/s
	slew    float64 // part of the last Slew still to be applied, s
	at      time.Duration
	rng     *rand.Rand
	steps   int
	stepped float64 // sum of |step|, s
}

// NewClock returns a clock that starts offset seconds off true time with a frequency error
// of ppm parts per million and a random-walk wander of ppbPerS: the standard deviation of
// the frequency change over one second, in parts per billion (over t seconds it is
// ppbPerS * sqrt(t)).
// The clock reads origin + elapsed() + offset.
func NewClock(origin time.Time, elapsed func() time.Duration, offset, ppm, ppbPerS float64, rng *rand.Rand) *Clock {
	return &Clock{origin: origin, elapsed: elapsed, at: elapsed(), offset: offset,
		freq: ppm * 1e-6, wander: ppbPerS * 1e-9, rng: rng}
}

// advance moves the clock to true time t (an earlier t than the last is ignored): the
// offset grows by the total frequency error over the interval, a pending slew is
// applied at up to MaxSlew, and the intrinsic frequency takes its random-walk step.
func (c *Clock) advance(t time.Duration) {
	if t <= c.at {
		return
	}
	dt := (t - c.at).Seconds()
	c.at = t
	c.offset += (c.freq + c.adjFreq) * dt
	if c.slew != 0 {
		s := math.Min(math.Abs(c.slew), MaxSlew*dt)
		s = math.Copysign(s, c.slew)
		c.offset += s
		c.slew -= s
	}
	if c.wander > 0 && c.rng != nil {
		c.freq += c.rng.NormFloat64() * c.wander * math.Sqrt(dt)
	}
}

// Offset is how far the clock reads ahead of true time now, s (negative: behind).
func (c *Clock) Offset() float64 {
	c.advance(c.elapsed())
	return c.offset
}

// Now returns the clock's reading.
func (c *Clock) Now() time.Time {
	e := c.elapsed()
	c.advance(e)
	return c.origin.Add(e + time.Duration(math.Round(c.offset*1e9)))
}

// FreqError is the frequency error the clock still has after the discipline's
// correction, in ppm: zero means the correction matches the oscillator exactly.
func (c *Clock) FreqError() float64 {
	c.advance(c.elapsed())
	return (c.freq + c.adjFreq) * 1e6
}

// Step sets the clock delta seconds forward (backward if negative) at once.
func (c *Clock) Step(delta float64) {
	c.advance(c.elapsed())
	c.offset += delta
	c.slew = 0
	c.steps++
	c.stepped += math.Abs(delta)
}

// Slew replaces any slew still in progress by one that moves the clock delta seconds
// forward (backward if negative) at up to MaxSlew, as adjtime(2) does.
func (c *Clock) Slew(delta float64) {
	c.advance(c.elapsed())
	c.slew = delta
}

// SlewLeft is the part of the last Slew not yet applied, s.
func (c *Clock) SlewLeft() float64 {
	c.advance(c.elapsed())
	return c.slew
}

// AddFreq adds delta (ppm) to the frequency correction; positive makes the clock run
// faster.
func (c *Clock) AddFreq(deltaPPM float64) {
	c.advance(c.elapsed())
	c.adjFreq += deltaPPM * 1e-6
}

// FreqCorrection is the total frequency correction, ppm.
func (c *Clock) FreqCorrection() float64 { return c.adjFreq * 1e6 }

// Steps is the number of steps so far.
func (c *Clock) Steps() int { return c.steps }
