// SPDX-License-Identifier: BSD-2-Clause

package ntptime

import (
	"fmt"
	"time"
)

// PrettyDate formats ts as libntp's prettydate does for ntpq's cooked timestamps, ntpdate -d and
// ntptime: the raw hex, two spaces, then the date in loc with the hour padded by a space, not a
// zero ("%2d:%02d:%02d"), and milliseconds truncated — "eeb57bd3.5a9c373a  Sat, Nov 28 2026
// 16:12:03.353", " 9:05:00.000" before ten o'clock. A fraction that truncates to 1000 ms
// carries into the seconds, as in 4.2.8p15's common_prettydate. The all-zero timestamp is
// "(no time)". The era is the one nearest pivot (see Time.Time).
func PrettyDate(ts Time, pivot time.Time, loc *time.Location) string {
	if ts == 0 {
		return "(no time)"
	}
	msec := int64(ts.Fraction()) / 4294967 // fraction / (2^32 / 1000), as classic
	t := (ts &^ 0xffffffff).Time(pivot)
	if msec >= 1000 {
		msec -= 1000
		t = t.Add(time.Second)
	}
	t = t.In(loc)
	return fmt.Sprintf("%08x.%08x  %s, %s %2d %4d %2d:%02d:%02d.%03d",
		ts.Seconds(), ts.Fraction(), t.Format("Mon"), t.Format("Jan"), t.Day(), t.Year(),
		t.Hour(), t.Minute(), t.Second(), msec)
}
