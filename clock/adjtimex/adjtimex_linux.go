// SPDX-License-Identifier: BSD-2-Clause

//go:build linux

package adjtimex

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Now reads CLOCK_REALTIME.
func (Clock) Now() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return time.Now()
	}
	return time.Unix(ts.Unix())
}

// Step sets CLOCK_REALTIME to its current value plus d (classic ntpdate's step_systime). The
// read and the write are adjacent, so the error added is the few hundred nanoseconds between.
func (Clock) Step(d time.Duration) error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("clock_gettime: %w", err)
	}
	t := time.Unix(ts.Unix()).Add(d)
	nts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &nts); err != nil {
		return fmt.Errorf("clock_settime: %w", err)
	}
	return nil
}

// Slew starts a one-time gradual correction of d, like adjtime(2): adjtimex with
// ADJ_OFFSET_SINGLESHOT, whose offset is always in microseconds. It replaces any correction
// still in progress.
func (Clock) Slew(d time.Duration) error {
	tx := unix.Timex{Modes: unix.ADJ_OFFSET_SINGLESHOT, Offset: int64(d / time.Microsecond)}
	if _, err := unix.Adjtimex(&tx); err != nil {
		return fmt.Errorf("adjtimex(ADJ_OFFSET_SINGLESHOT, %v): %w", d, err)
	}
	return nil
}

// Read returns the kernel's clock status without changing anything (adjtimex with modes 0).
func Read() (Status, error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return Status{}, fmt.Errorf("adjtimex(read): %w", err)
	}
	nano := tx.Status&unix.STA_NANO != 0
	unit := time.Microsecond
	if nano {
		unit = time.Nanosecond
	}
	return Status{
		State:     state,
		Offset:    time.Duration(tx.Offset) * unit,
		Freq:      float64(tx.Freq) / 65536,
		MaxError:  time.Duration(tx.Maxerror) * time.Microsecond,
		EstError:  time.Duration(tx.Esterror) * time.Microsecond,
		Status:    tx.Status,
		Constant:  tx.Constant,
		Precision: time.Duration(tx.Precision) * time.Microsecond,
		Tolerance: float64(tx.Tolerance) / 65536,
		Tick:      time.Duration(tx.Tick) * time.Microsecond,
		Nano:      nano,
	}, nil
}
