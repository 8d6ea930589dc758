// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"testing"
	"time"

	"gontp/internal/ntptime"
)

// TestRequestT1LateStamp: a kernel transmit time that lags the packet's stamp by far more
// than the recent requests' did is held to their least lag plus txLagSlack, so that it
// lengthens the delay instead of shortening it; one within the slack, and the first of an
// association, is used as it is.
func TestRequestT1LateStamp(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	for _, tc := range []struct {
		name    string
		history []int // lags of the earlier requests, µs
		lag     int   // this request's lag, µs
		want    int   // T1 - org, µs
	}{
		{"first request", nil, 400, 400},
		{"steady driver", []int{100, 104, 98, 101}, 110, 110},
		{"late stamp", []int{100, 150, 120, 300, 90, 210}, 400, 110},
		{"within the slack", []int{100, 150}, 119, 119},
		{"history beyond the window", []int{10, 200, 210, 220, 230, 240, 250, 260, 270}, 300, 230}, // the last 8, this one included: 210 + 20
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := testSys()
			a := mustNew(t, Config{StartDelay: time.Second}, t0, sys)
			at := t0
			for _, lag := range tc.history {
				at = at.Add(time.Minute)
				xmt := ntptime.FromTime(at)
				a.aorg = xmt
				a.TxTimestamp(xmt, xmt.Add(us(lag)))
			}
			xmt := ntptime.FromTime(at.Add(time.Minute))
			a.aorg = xmt
			a.TxTimestamp(xmt, xmt.Add(us(tc.lag)))
			got := ntptime.Sub(a.requestT1(xmt), xmt)
			if d := got - us(tc.want); d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("T1 - org = %v, want %v", got, us(tc.want))
			}
			if other := ntptime.FromTime(at); a.requestT1(other) != other {
				t.Errorf("another request's origin got the kernel's time")
			}
		})
	}
}
