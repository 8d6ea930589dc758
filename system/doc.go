// SPDX-License-Identifier: BSD-2-Clause

// Package system is the system process of RFC 5905 section 11: the selection of the system
// peer (intersection, cluster and combine; classic ntpd clock_select and clock_combine), the
// system variables the associations read (State) and the `tos` parameters that tune them.
// One association is package peer's business; the engine (internal/engine) owns the State,
// runs Select over the associations' Candidates and hands the result to the clock loop.
// Like peer it is a core package: no I/O, time passed as an argument.
package system
