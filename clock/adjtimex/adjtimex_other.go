// SPDX-License-Identifier: BSD-2-Clause

//go:build !linux

package adjtimex

import "time"

// Now reads the system clock.
func (Clock) Now() time.Time { return time.Now() }

// Step is not implemented outside Linux.
func (Clock) Step(d time.Duration) error { return ErrUnsupported }

// Slew is not implemented outside Linux.
func (Clock) Slew(d time.Duration) error { return ErrUnsupported }

// Read is not implemented outside Linux.
func Read() (Status, error) { return Status{}, ErrUnsupported }
