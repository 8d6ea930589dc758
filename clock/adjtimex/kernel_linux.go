// SPDX-License-Identifier: BSD-2-Clause

//go:build linux

package adjtimex

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"gontp/clock"
)

// Kernel is the host's kernel clock as a clock.Kernel: CLOCK_REALTIME and adjtimex(2). It
// has no policy and keeps no state: the discipline's kernel ledger decides every call and
// notices when another program changed what it left (clock/ledger.go).
type Kernel struct{}

// Now reads CLOCK_REALTIME.
func (k *Kernel) Now() time.Time { return Clock{}.Now() }

// Adjtimex implements clock.Kernel with unix.Adjtimex, converting between the kernel's
// struct and clock.Timex (same units). ModeSetOffset steps the clock (ADJ_SETOFFSET).
func (k *Kernel) Adjtimex(tx *clock.Timex) (int, error) {
	var u unix.Timex
	u.Modes = tx.Modes
	u.Offset = tx.Offset
	u.Freq = tx.Freq
	u.Maxerror = tx.MaxError
	u.Esterror = tx.EstError
	u.Status = tx.Status
	u.Constant = tx.Constant
	u.Tick = tx.Tick
	if tx.Modes&clock.ModeTAI != 0 && tx.Modes&clock.ModeOffsetSingleshot != clock.ModeOffsetSingleshot {
		u.Constant = int64(tx.TAI)
	}
	if tx.Modes&clock.ModeSetOffset != 0 && tx.Modes&clock.ModeOffsetSingleshot != clock.ModeOffsetSingleshot {
		// With ADJ_NANO the timeval's microseconds field carries nanoseconds; the kernel
		// wants it normalised to 0 <= usec < 1e9 with a possibly negative second.
		u.Modes |= clock.ModeNano
		ns := tx.SetOffset.Nanoseconds()
		sec, nsec := ns/1e9, ns%1e9
		if nsec < 0 {
			sec--
			nsec += 1e9
		}
		u.Time = unix.Timeval{Sec: sec, Usec: nsec}
	}
	state, err := unix.Adjtimex(&u)
	if err != nil {
		return 0, fmt.Errorf("adjtimex(modes %#x): %w", tx.Modes, err)
	}
	tx.Offset = u.Offset
	tx.Freq = u.Freq
	tx.MaxError = u.Maxerror
	tx.EstError = u.Esterror
	tx.Status = u.Status
	tx.Constant = u.Constant
	tx.Precision = u.Precision
	tx.Tolerance = u.Tolerance
	tx.Tick = u.Tick
	tx.TAI = u.Tai
	usec := u.Time.Usec
	if u.Status&unix.STA_NANO == 0 {
		usec *= 1000
	}
	tx.Time = time.Unix(u.Time.Sec, usec)
	return state, nil
}
