// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

// Package probe ties a clock to the time-stamp counter: it reads CLOCK_REALTIME between two
// RDTSC instructions. The TSC on the test machines is invariant (constant_tsc, nonstop_tsc) and a
// User-Mode Linux guest's processes are ordinary host processes, so RDTSC in a guest and on the
// host read the same counter: a guest reading and a host reading taken at the same counter value
// compare the guest's kernel clock with the host's to within the guest's bracket (one
// ptrace-intercepted system call, about 15-25 µs; about 30 ns on the host).
package probe

import (
	"golang.org/x/sys/unix"
)

// Rdtsc reads the time-stamp counter (rdtsc_amd64.s).
func Rdtsc() uint64

// Reading is one CLOCK_REALTIME reading tied to the counter.
type Reading struct {
	TSC   uint64 // counter half-way through the tightest bracket
	Ns    int64  // CLOCK_REALTIME, ns since the Unix epoch
	Width uint64 // bracket width, counter ticks: the reading's uncertainty
}

// Read takes the tightest of tries brackets "rdtsc; clock_gettime(CLOCK_REALTIME); rdtsc": a
// bracket stretched by an interrupt or a reschedule is thrown away.
func Read(tries int) Reading {
	best := Reading{Width: ^uint64(0)}
	for range max(tries, 1) {
		var ts unix.Timespec
		a := Rdtsc()
		_ = unix.ClockGettime(unix.CLOCK_REALTIME, &ts)
		b := Rdtsc()
		if b-a < best.Width {
			best = Reading{TSC: a + (b-a)/2, Ns: ts.Nano(), Width: b - a}
		}
	}
	return best
}
