// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"testing"
	"time"
)

// TestPrettyDateHour: the GPSD_JSON time code pads the hour with a space before ten
// o'clock, as libntp's gmprettydate does ("%2d:%02d:%02d"); gontp once wrote "00:32:02",
// and ntpq -c cv then differed from classic's between midnight and ten.
func TestPrettyDateHour(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 12, 7, 0, 32, 2, 0, time.UTC), "eec07d02.00000000  Mon, Dec  7 2026  0:32:02.000"},
		{time.Date(2026, 12, 6, 14, 13, 56, 0, time.UTC), "eebfec24.00000000  Sun, Dec  6 2026 14:13:56.000"},
	} {
		if got := prettyDate(c.t); got != c.want {
			t.Errorf("prettyDate(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}
