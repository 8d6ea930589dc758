// SPDX-License-Identifier: BSD-2-Clause

// Package adjtimex is the real kernel clock: CLOCK_REALTIME read with clock_gettime, stepped with
// clock_settime and slewed with adjtimex(ADJ_OFFSET_SINGLESHOT), which is how classic ntpdate's
// settimeofday/adjtime calls reach a Linux kernel. It has no policy; callers decide when to step
// or slew. Only Linux is supported; elsewhere every operation returns ErrUnsupported.
package adjtimex

import (
	"errors"
	"time"
)

// ErrUnsupported is returned on operating systems other than Linux.
var ErrUnsupported = errors.New("adjtimex: kernel clock control is only implemented for Linux")

// Clock is the host's realtime clock. Its zero value is ready to use.
type Clock struct{}

// Status is what adjtimex reports when asked to change nothing (modes = 0).
type Status struct {
	State     int           // TIME_OK, TIME_INS, ... (the syscall's return value)
	Offset    time.Duration // remaining PLL or single-shot offset
	Freq      float64       // frequency offset, ppm
	MaxError  time.Duration
	EstError  time.Duration
	Status    int32 // STA_* bits
	Constant  int64 // PLL time constant
	Precision time.Duration
	Tolerance float64 // ppm
	Tick      time.Duration
	Nano      bool // STA_NANO: Offset was reported in nanoseconds
}

// Clock state values returned by adjtimex (timex.h).
const (
	TimeOK    = 0
	TimeIns   = 1
	TimeDel   = 2
	TimeOOP   = 3
	TimeWait  = 4
	TimeError = 5 // clock unsynchronised (STA_UNSYNC)
)

// STA_UNSYNC, the status bit the kernel sets while no time daemon claims synchronisation.
const StaUnsync = 0x0040
