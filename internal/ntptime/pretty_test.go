// SPDX-License-Identifier: BSD-2-Clause

package ntptime

import (
	"testing"
	"time"
)

func TestPrettyDate(t *testing.T) {
	pivot := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ts   Time
		want string
	}{
		{0xeeb57bd35a9c373a, "eeb57bd3.5a9c373a  Sat, Nov 28 2026 16:12:03.353"},
		// Before ten o'clock the hour is padded with a space, as classic's "%2d".
		{FromTime(time.Date(2026, 12, 6, 9, 5, 7, 0, time.UTC)), "eebfa3c3.00000000  Sun, Dec  6 2026  9:05:07.000"},
		// A fraction just under one second truncates to 1000 ms and carries.
		{FromTime(time.Date(2026, 12, 6, 9, 5, 7, 0, time.UTC)) | 0xffffffff, "eebfa3c3.ffffffff  Sun, Dec  6 2026  9:05:08.000"},
		{0, "(no time)"},
	} {
		if got := PrettyDate(c.ts, pivot, time.UTC); got != c.want {
			t.Errorf("PrettyDate(%016x) = %q, want %q", uint64(c.ts), got, c.want)
		}
	}
}
