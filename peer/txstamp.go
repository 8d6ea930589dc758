// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"time"

	"gontp/internal/ntptime"
)

// TxTimestamp gives the kernel's transmit time of the request that carried transmit
// timestamp xmt (SO_TIMESTAMPING, taken where the driver hands the packet on). The offset
// and delay of its reply are computed with it as T1 instead of xmt, which was written
// before the system call (RFC 5905 section 8 wants T1 as near the wire as it can be had);
// the origin test still matches on xmt, which the server echoes. It is used when it is
// plausible (after xmt, within maxTxLag of it), and no later than lateBound allows.
func (a *Assoc) TxTimestamp(xmt, kernel ntptime.Time) {
	if xmt == 0 || a.aorg != xmt {
		return
	}
	lag := fixedSeconds(kernel, xmt)
	if lag < 0 || lag >= maxTxLag {
		a.t1org, a.t1 = 0, 0
		return
	}
	a.txLags[a.txLagN%txLagWindow] = lag
	a.txLagN++
	t1 := xmt.Add(time.Duration(a.lateBound(lag) * 1e9))
	a.t1org, a.t1 = xmt, t1
	a.xl.reqT1 = t1
	if a.xl.on {
		a.xl.lag = lag
	}
}

// lateBound is how far T1 may lag the packet's own stamp when the kernel's transmit time
// lags it by lag, s.
//
// A kernel transmit time is not always taken before the packet leaves. User-Mode Linux's
// network driver stamps after its write to the host has returned (net_kern.c calls
// skb_tx_timestamp after lp->write), so whatever the host runs first — in the kernel
// benchmark, the relay that received the packet — makes the stamp late. On that benchmark's
// jittery link the packet reached the host 105 µs after its own stamp, but the kernel's
// stamp lagged it by 80-600 µs (median 216 µs). A late T1 shortens the measured delay by as
// much as it shifts the offset by half, so the clock filter, which keeps the sample of least
// delay, chose exactly the most corrupted ones: the clock settled 100 µs from the path's
// centre. So the lag counts up to the least of the last txLagWindow requests' (this one's
// included) plus txLagSlack: the steady part is the driver's and still moves T1, a larger
// one counts as delay (which the filter weighs as such), never as a shorter path.
func (a *Assoc) lateBound(lag float64) float64 {
	least := lag
	for i := range min(a.txLagN, txLagWindow) {
		least = min(least, a.txLags[i])
	}
	return min(lag, least+txLagSlack)
}

// requestT1 is the T1 of the reply whose origin timestamp is org: the kernel's transmit time
// of that request as TxTimestamp kept it, else org itself.
func (a *Assoc) requestT1(org ntptime.Time) ntptime.Time {
	if a.t1 != 0 && org == a.t1org {
		return a.t1
	}
	return org
}
