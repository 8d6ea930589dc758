// SPDX-License-Identifier: BSD-2-Clause

//go:build !linux

package adjtimex

import (
	"time"

	"gontp/clock"
)

// Kernel is the kernel clock; outside Linux only Now works.
type Kernel struct{}

// Now reads the system clock.
func (k *Kernel) Now() time.Time { return time.Now() }

// Adjtimex is not implemented outside Linux.
func (k *Kernel) Adjtimex(tx *clock.Timex) (int, error) { return 0, ErrUnsupported }
