// SPDX-License-Identifier: BSD-2-Clause

// Package ntptime holds NTP's fixed-point time formats (RFC 5905 section 6): the 64-bit
// timestamp (32-bit seconds since 1900 and a 32-bit fraction) and the 32-bit short format
// (16.16) used for root delay and root dispersion.
//
// A timestamp on the wire carries no era: it wraps every 2^32 seconds (the first wrap is on
// 2036-02-07 06:28:16 UTC). Conversions to time.Time therefore take a pivot, a time known to be
// within 68 years of the answer, and pick the era that puts the result nearest to it (RFC 5905
// section 6, "era"). Differences between timestamps are taken modulo 2^64 and read as signed,
// which is correct across an era boundary as long as the two are within 68 years of each other.
package ntptime

import (
	"math"
	"math/bits"
	"time"
)

// Time is an NTP timestamp: seconds since 1900-01-01 00:00:00 UTC in the high 32 bits and the
// binary fraction of a second in the low 32 bits, modulo one era (2^32 s).
type Time uint64

// Short is the NTP short format: 16-bit seconds and 16-bit fraction, used for root delay and
// root dispersion. It is unsigned on the wire.
type Short uint32

// unixEpoch is the Unix epoch 1970-01-01 expressed in seconds since the NTP prime epoch
// 1900-01-01 (RFC 5905 figure 4: 2,208,988,800).
const unixEpoch = 2208988800

// eraSeconds is the length of one NTP era.
const eraSeconds = 1 << 32

// FromTime converts t to an NTP timestamp, dropping the era. The fraction is rounded to the
// nearest 2^-32 s, so a round trip through Time loses at most a quarter nanosecond.
func FromTime(t time.Time) Time {
	sec := t.Unix() + unixEpoch
	nsec := uint64(t.Nanosecond())
	// frac = round(nsec * 2^32 / 1e9)
	frac := (nsec<<32 + 500000000) / 1000000000
	if frac >= 1<<32 { // rounding reached the next second
		frac -= 1 << 32
		sec++
	}
	return Time(uint64(uint32(sec))<<32 | frac)
}

// Seconds returns the seconds field (the era-relative whole seconds since 1900).
func (t Time) Seconds() uint32 { return uint32(t >> 32) }

// Fraction returns the fraction field in units of 2^-32 s.
func (t Time) Fraction() uint32 { return uint32(t) }

// IsZero reports whether t is the all-zero timestamp, which NTP uses to mean "unknown" or
// "never" (RFC 5905 section 6).
func (t Time) IsZero() bool { return t == 0 }

// Time converts t to a time.Time in the era that places it nearest to pivot (within ±2^31 s).
// Pass the local clock's idea of now as pivot; a timestamp from any sane peer is then mapped
// correctly on both sides of 2036-02-07.
func (t Time) Time(pivot time.Time) time.Time {
	p := FromTime(pivot)
	d := Sub(t, p) // signed distance, correct across the era boundary
	return pivot.Add(d)
}

// Sub returns a - b as a duration. The subtraction is done modulo 2^64 and read as a signed
// 32.32 number, so the result is right across an era boundary whenever the true difference is
// within ±68 years; it is rounded to the nearest nanosecond.
func Sub(a, b Time) time.Duration {
	return fixedToDuration(int64(a - b))
}

// fixedToDuration converts a signed 32.32 fixed-point number of seconds to a Duration,
// rounding to the nearest nanosecond. The product is formed in 128 bits so that no value of
// the input can overflow (|x| < 2^63 units of 2^-32 s is < 2^31 s, well inside Duration's range).
func fixedToDuration(x int64) time.Duration {
	neg := x < 0
	u := uint64(x)
	if neg {
		u = uint64(-x) // -MinInt64 wraps to itself, which as uint64 is the right magnitude
	}
	hi, lo := bits.Mul64(u, 1000000000)
	// add 2^31 to round, then shift right by 32
	lo, carry := bits.Add64(lo, 1<<31, 0)
	hi += carry
	ns := hi<<32 | lo>>32
	if neg {
		return -time.Duration(ns)
	}
	return time.Duration(ns)
}

// durationToFixed converts a duration to signed 32.32 seconds, rounding to nearest.
func durationToFixed(d time.Duration) int64 {
	neg := d < 0
	u := uint64(d)
	if neg {
		u = uint64(-d)
	}
	hi, lo := bits.Mul64(u, 1<<32)
	q, r := bits.Div64(hi, lo, 1000000000)
	if r >= 500000000 {
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// Add returns t moved by d, modulo one era.
func (t Time) Add(d time.Duration) Time {
	return t + Time(durationToFixed(d))
}

// Offset returns the clock offset θ of RFC 5905 section 8 from the four timestamps of an
// exchange: t1 client transmit, t2 server receive, t3 server transmit, t4 client receive.
// θ = ((t2 - t1) + (t3 - t4)) / 2. Each difference is formed era-safely first and the halves
// are added, so the sum cannot overflow.
func Offset(t1, t2, t3, t4 Time) time.Duration {
	a := int64(t2 - t1)
	b := int64(t3 - t4)
	return fixedToDuration(halfSum(a, b))
}

// Delay returns the round-trip delay δ of RFC 5905 section 8: (t4 - t1) - (t3 - t2).
// The subtraction is done in 128-bit-safe halves so that no input overflows; a negative value
// (possible with a bad server or clock) is returned as is for the caller's sanity checks.
func Delay(t1, t2, t3, t4 Time) time.Duration {
	a := int64(t4 - t1)
	b := int64(t3 - t2)
	// a - b may overflow int64; compute the half difference and double it in Duration space.
	half := halfSum(a, negSat(b))
	d := fixedToDuration(half)
	if d > math.MaxInt64/2 {
		return math.MaxInt64
	}
	if d < math.MinInt64/2 {
		return math.MinInt64
	}
	return 2 * d
}

// halfSum returns (a+b)/2 without overflow, rounding toward negative infinity.
func halfSum(a, b int64) int64 {
	return (a >> 1) + (b >> 1) + (a & b & 1)
}

// negSat negates x, saturating at MaxInt64 for MinInt64.
func negSat(x int64) int64 {
	if x == math.MinInt64 {
		return math.MaxInt64
	}
	return -x
}

// ShortFromDuration converts a non-negative duration to the short format, saturating at the
// largest value (about 65536 s) and flooring negative values at zero, as ntpd does for root
// delay and dispersion (RFC 5905 appendix A.5.2 clamps them the same way).
func ShortFromDuration(d time.Duration) Short {
	if d <= 0 {
		return 0
	}
	f := durationToFixed(d) >> 16
	if f > math.MaxUint32 {
		return math.MaxUint32
	}
	return Short(f)
}

// ShortFromSeconds converts seconds (as the algorithms keep them, in float64) to the short
// format with the same clamping as ShortFromDuration.
func ShortFromSeconds(s float64) Short {
	if !(s > 0) { // also catches NaN
		return 0
	}
	v := s * 65536
	if v >= math.MaxUint32 {
		return math.MaxUint32
	}
	return Short(v + 0.5)
}

// Duration converts the short format to a duration.
func (s Short) Duration() time.Duration {
	return fixedToDuration(int64(s) << 16)
}

// Seconds converts the short format to float64 seconds.
func (s Short) Seconds() float64 { return float64(s) / 65536 }

// Seconds converts a duration to float64 seconds; the algorithms of RFC 5905 work in float64
// seconds as its reference implementation does.
func Seconds(d time.Duration) float64 { return d.Seconds() }

// Log2ToDuration converts a log2-seconds exponent, as used for poll and precision fields, to a
// duration. Exponents outside [-40, 40] are clamped.
func Log2ToDuration(exp int8) time.Duration {
	e := int(exp)
	if e > 40 {
		e = 40
	}
	if e < -40 {
		e = -40
	}
	return time.Duration(math.Ldexp(float64(time.Second), e))
}
