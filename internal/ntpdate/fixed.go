// SPDX-License-Identifier: BSD-2-Clause

package ntpdate

import (
	"gontp/internal/ntptime"
)

// lfp is classic ntpd's signed 32.32 fixed-point number of seconds (l_fp read as signed). The
// offsets ntpdate computes and prints are kept in it so that the printed digits and the
// step/slew decision come out exactly as classic ntpdate's.
type lfp int64

// sfp is classic ntpd's 16.16 signed fixed-point number of seconds (s_fp), in which ntpdate
// keeps delays, dispersions and the short offsets its selection works with.
type sfp int32

// Classic constants, in s_fp units of 2^-16 s (ntp.h and ntpdate.h of ntp 4.2.8p15).
const (
	fpSecond     sfp   = 1 << 16
	ntpMaxSkew   sfp   = 0x28f         // NTP_MAXSKW, 0.01 s
	ntpMinDist   sfp   = 0x51f         // NTP_MINDIST, 0.02 s
	ntpMaxWeight sfp   = 8 * fpSecond  // NTP_MAXWGT: servers farther away are dropped
	peerMaxDisp  sfp   = 64 * fpSecond // PEER_MAXDISP
	stepLimit    int64 = 1 << 15       // NTPDATE_THRESHOLD, 0.5 s in s_fp units
	ourPrecision       = -6            // NTPDATE_PRECISION, sent and added to every delay
	maxAge             = 86400         // NTP_MAXAGE: a reference time older than a day is stale
	maxOvershoot lfp   = 0x10000000    // ADJ_MAXOVERSHOOT, 1/16 s
)

// toSfp is LFPTOFP: the middle 32 bits of an l_fp, which floors toward minus infinity and
// wraps for offsets beyond ±32768 s exactly as classic's s_fp does.
func toSfp(v lfp) sfp { return sfp(int32(int64(v) >> 16)) }

// diff returns a-b as an lfp, modulo 2^64 so that it is right across an NTP era boundary.
func diff(a, b ntptime.Time) lfp { return lfp(int64(a - b)) }

// half returns (a+b)/2 without overflow, rounding toward minus infinity like L_RSHIFT.
func half(a, b lfp) lfp { return a>>1 + b>>1 + a&b&1 }

// precisionFP is FP_SECOND >> -prec, the s_fp value of a log2 precision, as classic adds it
// to every delay. A non-negative (nonsensical) precision counts as a whole second.
func precisionFP(prec int8) sfp {
	if prec >= 0 {
		return fpSecond
	}
	if prec < -31 {
		return 0
	}
	return fpSecond >> uint(-prec)
}

// lfptoa formats an offset as classic does: always signed ("+0.000090").
func lfptoa(v lfp, ndec int) string { return ntptime.FormatFixed(int64(v), ndec, true) }

// fptoa formats an s_fp (a delay): a sign only when negative ("0.02596").
func fptoa(v sfp, ndec int) string { return ntptime.FormatFixed(int64(v)<<16, ndec, false) }

// ufptoa formats an unsigned 16.16 value (root dispersion, dispersion).
func ufptoa(v uint32, ndec int) string { return ntptime.FormatFixed(int64(v)<<16, ndec, false) }

// seconds converts an lfp to float64 seconds for debug output and tests.
func (v lfp) seconds() float64 { return float64(v) / (1 << 32) }
