// SPDX-License-Identifier: BSD-2-Clause

// Package stats holds what classic ntpd 4.2.8p15 writes into its statistics files
// (ntpd/ntp_util.c, record_*_stats): the line of each file, the names of the file
// generations (libntp's ntp_filegen.c) and the configuration read from `statsdir`,
// `statistics`, `filegen` and `enable/disable stats`. It does no I/O: internal/filegen
// queues the records, formats them with this package and writes the files.
package stats

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// ntpEpochOffset is the seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const ntpEpochOffset = 2208988800

// mjd1900 is the Modified Julian Day of 1900-01-01 (classic MJD_1900).
const mjd1900 = 15020

// Stamp is the first two fields of every line: the Modified Julian Day and the seconds past
// UTC midnight with three decimals, from the daemon's clock at the time of the record
// (classic: get_systime, then "%lu %s" with day = secs/86400 + MJD_1900 and ulfptoa(secs %
// 86400, 3)). Like classic, the seconds are rounded to the millisecond after the day is
// taken, so the last half millisecond of a day reads 86400.000.
func Stamp(b []byte, t time.Time) []byte {
	ts := ntptime.FromTime(t)
	secs := uint64(ts) >> 32
	frac := uint64(ts) & 0xffffffff
	b = strconv.AppendUint(b, secs/86400+mjd1900, 10)
	b = append(b, ' ')
	// ulfptoa(x, 3): the fraction rounded half up to three decimals.
	ms := (frac*1000 + 1<<31) >> 32
	return appendFixed(b, secs%86400, ms, 3)
}

// appendFixed appends whole "." frac, frac carried into whole when it reached 10^digits
// (digits at most 9).
func appendFixed(b []byte, whole, frac uint64, digits int) []byte {
	pow := uint64(1)
	for range digits {
		pow *= 10
	}
	if frac >= pow {
		whole++
		frac -= pow
	}
	b = strconv.AppendUint(b, whole, 10)
	var d [10]byte
	d[0] = '.'
	for i := digits; i > 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	return append(b, d[:digits+1]...)
}

// Timestamp appends an NTP timestamp as classic's ulfptoa(ts, 9): whole seconds since the
// era's start, a dot, and nine decimals rounded half up (rawstats t1-t4).
func Timestamp(b []byte, ts ntptime.Time) []byte {
	frac := uint64(ts) & 0xffffffff
	ns := (frac*1_000_000_000 + 1<<31) >> 32
	return appendFixed(b, uint64(ts)>>32, ns, 9)
}

// Loop is one loopstats line's values (classic record_loop_stats, called by local_clock
// after each clock update).
type Loop struct {
	Offset    float64 // s, the last clock offset (clock_offset)
	Frequency float64 // ppm, the frequency correction (drift_comp, written × 1e6)
	Jitter    float64 // s, clock_jitter
	Wander    float64 // ppm, clock_stability
	Poll      int8    // log2 s, sys_poll (the time constant field)
}

// AppendLoop appends "MJD SEC offset freq jitter wander poll" with classic's format
// "%.9f %.3f %.9f %.6f %d".
func AppendLoop(b []byte, t time.Time, r Loop) []byte {
	b = Stamp(b, t)
	b = appendF(b, r.Offset, 9)
	b = appendF(b, r.Frequency, 3)
	b = appendF(b, r.Jitter, 9)
	b = appendF(b, r.Wander, 6)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.Poll), 10)
	return append(b, '\n')
}

// appendF appends a blank and x as C's "%.<prec>f" prints it: the exact binary value
// rounded correctly, as glibc's printf and strconv both do (prec at most 9).
//
// strconv's general algorithm is the larger part of a line's cost, so the usual case takes
// a short cut: x·10^prec is rounded to an integer in floating point, which gives the
// correctly rounded digits unless the product lies within its rounding error of a tie;
// those cases, large values, and NaN/Inf go to strconv.
func appendF(b []byte, x float64, prec int) []byte {
	b = append(b, ' ')
	pow := pow10[prec]
	y := x * pow
	if a := math.Abs(y); a < 1<<52 {
		r := math.Round(y)
		d := math.Abs(y - r) // exact: r is within 0.5 of y
		if 0.5-d > 4*a*0x1p-52+0x1p-60 {
			if math.Signbit(x) {
				b = append(b, '-')
			}
			u := uint64(math.Abs(r))
			p := uint64(pow)
			return appendFixed(b, u/p, u%p, prec)
		}
	}
	return strconv.AppendFloat(b, x, 'f', prec, 64)
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// appendAddr appends a blank and the address as Addr prints it, without allocating.
func appendAddr(b []byte, a netip.Addr) []byte {
	b = append(b, ' ')
	if !a.IsValid() {
		return append(b, '-')
	}
	return a.Unmap().WithZone("").AppendTo(b)
}

// Peer is one peerstats line's values (classic record_peer_stats, called by clock_filter
// for every sample newer than the last one used).
type Peer struct {
	Source                      netip.Addr // the association's address; 127.127.t.u for a reference clock
	Status                      uint16     // the peer status word (ctlpeerstatus)
	Offset, Delay, Disp, Jitter float64
}

// AppendPeer appends "MJD SEC addr status offset delay dispersion jitter" with classic's
// format "%s %x %.9f %.9f %.9f %.9f".
func AppendPeer(b []byte, t time.Time, r Peer) []byte {
	b = Stamp(b, t)
	b = appendAddr(b, r.Source)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(r.Status), 16)
	b = appendF(b, r.Offset, 9)
	b = appendF(b, r.Delay, 9)
	b = appendF(b, r.Disp, 9)
	b = appendF(b, r.Jitter, 9)
	return append(b, '\n')
}

// Addr is an address as classic's stoa prints it: IPv4 dotted, IPv6 without brackets or
// port, "-" for none.
func Addr(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.Unmap().WithZone("").String()
}

// Raw is one rawstats line's values: a packet an association received (classic
// record_raw_stats from process_packet).
type Raw struct {
	Src, Dst netip.Addr // the peer's address and the local address it arrived on
	Dest     ntptime.Time
	Packet   wire.Packet
}

// AppendRaw appends "MJD SEC src dst org rec xmt dst leap version mode stratum ppoll
// precision rootdelay rootdisp refid" with classic 4.2.8p15's format (timestamps with nine
// decimals, root delay and dispersion in seconds with six).
func AppendRaw(b []byte, t time.Time, r Raw) []byte {
	p := &r.Packet
	b = Stamp(b, t)
	b = appendAddr(b, r.Src)
	b = appendAddr(b, r.Dst)
	for _, ts := range [...]ntptime.Time{p.Org, p.Rec, p.Xmt, r.Dest} {
		b = append(b, ' ')
		b = Timestamp(b, ts)
	}
	for _, v := range [...]int64{int64(p.Leap), int64(p.Version), int64(p.Mode), int64(p.Stratum), int64(p.Poll), int64(p.Precision)} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, v, 10)
	}
	b = appendF(b, p.RootDelay.Seconds(), 6)
	b = appendF(b, p.RootDisp.Seconds(), 6)
	b = append(b, ' ')
	b = appendRefID(b, p.RefID, p.Stratum)
	return append(b, '\n')
}

// RefID is classic's refid_str: the dotted quad above stratum 1, otherwise the four ASCII
// characters between dots (".GPS."), cut at the first NUL, with anything unprintable
// shown as '.'.
func RefID(id uint32, stratum uint8) string { return string(appendRefID(nil, id, stratum)) }

func appendRefID(b []byte, id uint32, stratum uint8) []byte {
	if stratum > 1 {
		return netip.AddrFrom4([4]byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}).AppendTo(b)
	}
	b = append(b, '.')
	for i := 24; i >= 0; i -= 8 {
		c := byte(id >> uint(i))
		if c == 0 {
			break
		}
		if c <= ' ' || c > '~' {
			c = '.'
		}
		b = append(b, c)
	}
	return append(b, '.')
}

// Sys is one sysstats line's values: the server counters over the last period (classic
// record_sys_stats, hourly, which then clears them).
type Sys struct {
	Seconds                                     uint64 // since the previous line (or start)
	Received, Processed, NewVersion, OldVersion uint64
	Restricted, BadLength, BadAuth, Declined    uint64
	Limited, KoDSent                            uint64
}

// AppendSys appends the thirteen sysstats fields in classic's order.
func AppendSys(b []byte, t time.Time, r Sys) []byte {
	b = Stamp(b, t)
	for _, v := range [...]uint64{r.Seconds, r.Received, r.Processed, r.NewVersion, r.OldVersion,
		r.Restricted, r.BadLength, r.BadAuth, r.Declined, r.Limited, r.KoDSent} {
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 10)
	}
	return append(b, '\n')
}

// AppendText appends "MJD SEC text" (protostats, timingstats) or "MJD SEC source text"
// (clockstats, with source set).
func AppendText(b []byte, t time.Time, source, text string) []byte {
	b = Stamp(b, t)
	if source != "" {
		b = append(b, ' ')
		b = append(b, source...)
	}
	b = append(b, ' ')
	b = append(b, text...)
	return append(b, '\n')
}

// Timing is one timingstats line's values. Classic writes them only when built with
// DEBUG_TIMING (Debian's build is not); its "input processing delay" line is the one gontp
// writes: the time from the kernel's receive timestamp of a packet to the engine taking it.
type Timing struct {
	Source netip.Addr
	Count  int
	Delay  time.Duration
	Tag    string
}

// AppendTiming appends "MJD SEC source count seconds tag" (classic collect_timing:
// "%s %d %s %s" with the seconds as lfptoa(9)).
func AppendTiming(b []byte, t time.Time, r Timing) []byte {
	b = Stamp(b, t)
	b = appendAddr(b, r.Source)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.Count), 10)
	b = appendF(b, r.Delay.Seconds(), 9)
	b = append(b, ' ')
	b = append(b, r.Tag...)
	return append(b, '\n')
}
