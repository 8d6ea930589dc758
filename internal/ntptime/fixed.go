// SPDX-License-Identifier: BSD-2-Clause

package ntptime

import "fmt"

// FormatFixed prints a signed 32.32 fixed-point value with ndec decimals the way libntp's
// dolfptoa does for classic's tools (ntpdate -d, ntpdc): rounded half up on the magnitude,
// the carry going into the integer part, '-' for negative values and, with plus, '+' for the
// others (lfptoa; fptoa and ufptoa print no '+'). A 16.16 value is passed shifted left by 16.
func FormatFixed(v int64, ndec int, plus bool) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	ip := u >> 32
	p := uint64(1)
	for range ndec {
		p *= 10
	}
	d := ((u&0xffffffff)*p + 1<<31) >> 32
	if d >= p {
		d -= p
		ip++
	}
	sign := ""
	switch {
	case neg:
		sign = "-"
	case plus:
		sign = "+"
	}
	if ndec == 0 {
		return fmt.Sprintf("%s%d", sign, ip)
	}
	return fmt.Sprintf("%s%d.%0*d", sign, ip, ndec, d)
}
