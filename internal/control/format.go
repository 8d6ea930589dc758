// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"math"
	"net/netip"
	"strconv"

	"gontp/internal/ntptime"
)

// The value syntaxes of compat.md 1.8. Every helper appends name=value to b.

func appendName(b []byte, name string) []byte {
	b = append(b, name...)
	return append(b, '=')
}

func appendUint(b []byte, name string, v uint64) []byte {
	return strconv.AppendUint(appendName(b, name), v, 10)
}

func appendInt(b []byte, name string, v int64) []byte {
	return strconv.AppendInt(appendName(b, name), v, 10)
}

func appendHex(b []byte, name string, v uint64) []byte {
	b = append(appendName(b, name), '0', 'x')
	return strconv.AppendUint(b, v, 16)
}

// appendFixed formats v with prec decimals the way C's %.*f does; -0.000 is printed as
// such by C too, but it is nicer for ntpq's sign logic to send 0.000, which classic also
// does for values that round to zero from a true zero.
func appendFixed(b []byte, name string, v float64, prec int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return strconv.AppendFloat(appendName(b, name), v, 'f', prec, 64)
}

// appendG formats like C's %g (6 significant digits, trailing zeros removed), which classic
// uses for the kernel values.
func appendG(b []byte, name string, v float64) []byte {
	b = appendName(b, name)
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, '0')
	}
	exp := int(math.Floor(math.Log10(math.Abs(v))))
	// %g uses exponent notation when exp < -4 or exp >= precision (6).
	r := strconv.FormatFloat(v, 'e', 5, 64) // d.ddddde±xx, rounded to 6 digits
	if e, err := strconv.Atoi(r[len(r)-3:]); err == nil {
		exp = e
		if r[len(r)-4] == '-' {
			exp = -e
		}
	}
	if exp < -4 || exp >= 6 {
		// mantissa without trailing zeros, exponent at least two digits
		mant := r[:len(r)-4]
		mant = trimZeros(mant)
		b = append(b, mant...)
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		if exp < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, int64(exp), 10)
	}
	f := strconv.FormatFloat(v, 'f', max(5-exp, 0), 64)
	return append(b, trimZeros(f)...)
}

func trimZeros(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			j := len(s)
			for j > i+1 && s[j-1] == '0' {
				j--
			}
			if j == i+1 {
				j = i
			}
			return s[:j]
		}
	}
	return s
}

func appendTS(b []byte, name string, t ntptime.Time) []byte {
	b = append(appendName(b, name), '0', 'x')
	b = appendHex8(b, t.Seconds())
	b = append(b, '.')
	return appendHex8(b, t.Fraction())
}

const hexDigits = "0123456789abcdef"

func appendHex8(b []byte, v uint32) []byte {
	for s := 28; s >= 0; s -= 4 {
		b = append(b, hexDigits[(v>>uint(s))&0xf])
	}
	return b
}

func appendQuoted(b []byte, name, v string) []byte {
	b = append(appendName(b, name), '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '"' || c < ' ' || c > '~' {
			c = '.' // no escaping exists in the protocol; keep the quoting intact
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// appendAddr writes an address without port (srcadr, dstadr): IPv4 dotted, IPv6 without
// brackets; the zero address is 0.0.0.0 as classic shows an unset one.
func appendAddr(b []byte, name string, a netip.Addr) []byte {
	b = appendName(b, name)
	if !a.IsValid() {
		return append(b, "0.0.0.0"...)
	}
	return a.Unmap().WithZone("").AppendTo(b)
}

// appendAddrPort writes addr:port, IPv6 in brackets (peeradr, MRU addr.N).
func appendAddrPort(b []byte, name string, ap netip.AddrPort) []byte {
	b = appendName(b, name)
	return appendHostPort(b, ap)
}

func appendHostPort(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	if !a.IsValid() {
		return append(b, "0.0.0.0:0"...)
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		b = append(b, '[')
		b = a.AppendTo(b)
		b = append(b, ']')
	} else {
		b = a.AppendTo(b)
	}
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// appendRefID writes a reference ID: as text (1-4 printable characters, trailing NULs
// dropped, blanks, commas and unprintables as '.') when text is true, else as a dotted
// quad (classic ctl_putrefid / ctl_putadr).
func appendRefID(b []byte, name string, id uint32, text bool) []byte {
	b = appendName(b, name)
	if !text {
		return netip.AddrFrom4([4]byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}).AppendTo(b)
	}
	var c [4]byte
	c[0], c[1], c[2], c[3] = byte(id>>24), byte(id>>16), byte(id>>8), byte(id)
	n := 4
	for n > 0 && c[n-1] == 0 {
		n--
	}
	for i := 0; i < n; i++ {
		ch := c[i]
		if ch <= ' ' || ch > '~' || ch == ',' || ch == '=' || ch == '"' {
			ch = '.'
		}
		b = append(b, ch)
	}
	return b
}

// refIDFromText packs up to four characters into a reference ID.
func refIDFromText(s string) uint32 {
	var id uint32
	for i := 0; i < 4; i++ {
		id <<= 8
		if i < len(s) {
			id |= uint32(s[i])
		}
	}
	return id
}

// appendFilter writes an 8-stage clock-filter array: the name, "=", then each value as
// " %.2f" in milliseconds (classic CP_FILTDELAY and friends).
func appendFilter(b []byte, name string, v *[8]float64) []byte {
	b = appendName(b, name)
	for i := range v {
		b = append(b, ' ')
		x := v[i] * 1e3
		if math.IsNaN(x) || math.IsInf(x, 0) {
			x = 0
		}
		b = strconv.AppendFloat(b, x, 'f', 2, 64)
	}
	return b
}
