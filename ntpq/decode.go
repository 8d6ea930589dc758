// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gontp/internal/ntptime"
)

// decodeInt reads a signed integer the way classic ntpq's decodeint does: a leading "0x" means
// hex, a leading "0" octal, anything else decimal with an optional sign. Daemons must never send
// decimal numbers with leading zeros (compat.md 2.5).
func decodeInt(s string) (int64, bool) {
	if strings.HasPrefix(s, "0") {
		if len(s) > 1 && (s[1] == 'x' || s[1] == 'X') {
			v, err := strconv.ParseUint(s[2:], 16, 32)
			return int64(int32(uint32(v))), err == nil && s[2:] != ""
		}
		v, err := strconv.ParseUint(s, 8, 32)
		return int64(v), err == nil
	}
	if s == "" || strings.HasPrefix(s, "+") {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 32)
	return v, err == nil
}

// decodeUint is decodeInt for unsigned values (no sign accepted).
func decodeUint(s string) (uint64, bool) {
	if strings.HasPrefix(s, "0") {
		if len(s) > 1 && (s[1] == 'x' || s[1] == 'X') {
			v, err := strconv.ParseUint(s[2:], 16, 32)
			return v, err == nil && s[2:] != ""
		}
		v, err := strconv.ParseUint(s, 8, 32)
		return v, err == nil
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return v, err == nil
}

// lfp is a signed 32.32 fixed-point number of seconds (classic's l_fp read as two's
// complement).
type lfp int64

// decodeTime reads a value in milliseconds ("12.345", "-0.036") into seconds as a 32.32 fixed
// point number, as classic ntpq's decodetime/mstolfp do. The decimal text is converted exactly
// and rounded to the nearest 2^-32 s.
func decodeTime(s string) (lfp, bool) {
	s = strings.TrimLeft(s, " \t")
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" && fp == "" {
		return 0, false
	}
	for _, c := range ip + fp {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	if len(ip) > 12 || len(fp) > 30 {
		return 0, false
	}
	// fixed = round(value_ms * 2^32 / 1000), exactly.
	num, _ := new(big.Int).SetString("0"+ip+fp, 10)
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(fp))), nil)
	den.Mul(den, big.NewInt(1000))
	num.Lsh(num, 32)
	num.Mul(num, big.NewInt(2))
	num.Add(num, den)
	den.Mul(den, big.NewInt(2))
	num.Quo(num, den)
	v := num.Int64()
	if neg {
		v = -v
	}
	return lfp(v), true
}

// msString prints x (seconds) in milliseconds with ndec decimals, rounding half up on the
// exact binary value, as classic's dolfptoa with msec set. signed adds '-' or '+'; unsigned
// reads x as an unsigned 64-bit l_fp, as classic's unsigned variant does.
func msString(x lfp, ndec int, signed bool) string {
	u := uint64(x)
	sign := ""
	if signed {
		sign = "+"
		if x < 0 {
			sign = "-"
			u = uint64(-x)
		}
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(ndec)), nil)
	v := new(big.Int).SetUint64(u)
	v.Mul(v, big.NewInt(1000))
	v.Mul(v, p)
	v.Add(v, big.NewInt(1<<31))
	v.Rsh(v, 32) // value in units of 10^-ndec ms, rounded half up
	ip, fr := new(big.Int).QuoRem(v, p, new(big.Int))
	if ndec == 0 {
		return sign + ip.String()
	}
	fs := fr.String()
	return sign + ip.String() + "." + strings.Repeat("0", ndec-len(fs)) + fs
}

// decodeTS reads a timestamp "0xhhhhhhhh.ffffffff" (the "0x" is optional, as in classic's
// decodets).
func decodeTS(s string) (ntptime.Time, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	s = strings.TrimRight(s, " \t")
	ip, fp, dot := strings.Cut(s, ".")
	if ip == "" || len(ip) > 8 || (dot && (fp == "" || len(fp) > 8)) {
		return 0, false
	}
	i, err := strconv.ParseUint(ip, 16, 32)
	if err != nil {
		return 0, false
	}
	var f uint64
	if dot {
		f, err = strconv.ParseUint(fp, 16, 32)
		if err != nil {
			return 0, false
		}
		f <<= 4 * (8 - len(fp))
	}
	return ntptime.Time(i<<32 | f), true
}

// decodeNetnum reads an address as classic's decodenetnum does: IPv4 dotted or IPv6, the
// latter optionally in brackets, with an optional ":port" (the port is then returned).
func decodeNetnum(s string) (netip.Addr, uint16, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), ap.Port(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return a, 0, true
}

// stoa prints an address numerically (IPv6 without brackets, with its zone).
func stoa(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// sptoa prints address and port as classic's sptoa: "1.2.3.4:123", "[::1]:123".
func sptoa(a netip.Addr, port uint16) string {
	if a.Is6() && !a.Is4In6() {
		return "[" + stoa(a) + "]:" + strconv.Itoa(int(port))
	}
	return stoa(a) + ":" + strconv.Itoa(int(port))
}

// isRefclock reports whether a is a classic reference clock pseudo-address 127.127.t.u.
func isRefclock(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] == 127 && b[1] == 127
}

// isUnspec reports whether a is missing or all zeros (0.0.0.0, ::), classic's SOCK_UNSPEC.
func isUnspec(a netip.Addr) bool { return !a.IsValid() || a.IsUnspecified() }

// clockNames are classic ntpd 4.2.8p15's short driver names, index = driver type (the t in
// 127.127.t.u); refnumtoa prints them as NAME(unit).
var clockNames = [...]string{
	1: "LOCAL", 2: "GPS_TRAK", 3: "WWV_PST", 4: "SPECTRACOM", 5: "TRUETIME", 6: "IRIG_AUDIO",
	7: "CHU_AUDIO", 8: "GENERIC", 9: "GPS_MX4200", 10: "GPS_AS2201", 11: "GPS_ARBITER",
	12: "IRIG_TPRO", 13: "ATOM_LEITCH", 14: "MSF_EES", 15: "NOT_USED", 16: "GPS_BANC",
	17: "GPS_DATUM", 18: "ACTS_MODEM", 19: "WWV_HEATH", 20: "GPS_NMEA", 21: "GPS_VME",
	22: "PPS", 23: "NOT_USED", 24: "NOT_USED", 25: "NOT_USED", 26: "GPS_HP", 27: "MSF_ARCRON",
	28: "SHM", 29: "GPS_PALISADE", 30: "GPS_ONCORE", 31: "GPS_JUPITER", 32: "CHRONOLOG",
	33: "DUMBCLOCK", 34: "ULINK_M320", 35: "PCF", 36: "WWV_AUDIO", 37: "GPS_FG",
	38: "HOPF_S", 39: "HOPF_P", 40: "JJY", 41: "TT_IRIG", 42: "GPS_ZYFER",
	43: "GPS_RIPENCC", 44: "NEOCLK4X", 45: "PCI_TSYNC", 46: "GPSD_JSON",
}

// refnumtoa names a refclock address the way classic does: "LOCAL(0)" for 127.127.1.0, and
// "REFCLK(t,u)" for a driver type it does not know.
func refnumtoa(a netip.Addr) string {
	b := a.As4()
	t, u := int(b[2]), int(b[3])
	if t < len(clockNames) && clockNames[t] != "" {
		return fmt.Sprintf("%s(%d)", clockNames[t], u)
	}
	return fmt.Sprintf("REFCLK(%d,%d)", t, u)
}

// prettyDate formats a timestamp as classic's prettydate (ntptime.PrettyDate). ntpq has no
// clock of its own to pick the era by, so, as classic for a current clock, a timestamp with the
// top bit clear is taken to be after 2036: the pivot is the era boundary itself.
func prettyDate(ts ntptime.Time, loc *time.Location) string {
	return ntptime.PrettyDate(ts, eraBoundary, loc)
}

// eraBoundary is 2036-02-07 06:28:16 UTC, where NTP era 0 ends.
var eraBoundary = time.Unix(1<<32-2208988800, 0)

// makeASCII renders s the way classic's makeascii does: printable ASCII as is, other bytes
// cat -v style (^X, M-x).
func makeASCII(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c&0x80 != 0 {
			b.WriteString("M-")
			c &= 0x7f
		}
		switch {
		case c < ' ':
			b.WriteByte('^')
			b.WriteByte(c + '@')
		case c == 0x7f:
			b.WriteString("^?")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// prettyInterval formats seconds as classic's peers table does: up to 2048 as is, then
// minutes, hours, days, years, "INF"; non-positive is "-".
func prettyInterval(diff int64) string {
	if diff <= 0 {
		return "-"
	}
	if diff <= 2048 {
		return strconv.FormatInt(diff, 10)
	}
	diff = (diff + 29) / 60
	if diff <= 300 {
		return strconv.FormatInt(diff, 10) + "m"
	}
	diff = (diff + 29) / 60
	if diff <= 96 {
		return strconv.FormatInt(diff, 10) + "h"
	}
	diff = (diff + 11) / 24
	if diff <= 999 {
		return strconv.FormatInt(diff, 10) + "d"
	}
	y := int64(float64(diff)/365.25 + 0.5)
	if y <= 999 {
		return strconv.FormatInt(y, 10) + "y"
	}
	return "INF"
}

// trunc cuts s to at most n bytes (C's "%.Ns").
func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
