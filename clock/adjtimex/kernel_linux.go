// SPDX-License-Identifier: BSD-2-Clause

//go:build linux

package adjtimex

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"gontp/clock"
)

// Kernel is the host's kernel clock as a clock.Kernel: CLOCK_REALTIME and adjtimex(2). It
// also watches for interference: before each change it reads the kernel state and, when the
// status bits or frequency the last call left have been changed by someone else (another
// time daemon, an administrator's adjtimex), calls Interference with a description.
type Kernel struct {
	// Interference, when set, is told about kernel state changes made behind our back.
	Interference func(what string)

	mu     sync.Mutex
	have   bool
	status int32
	freq   int64
}

// Now reads CLOCK_REALTIME.
func (k *Kernel) Now() time.Time { return Clock{}.Now() }

// watchedStatus are the status bits a discipline owns; the kernel itself changes others
// (STA_UNSYNC after 16 s of maximum error, STA_INS/STA_DEL after a leap).
const watchedStatus = clock.StaPLL | clock.StaFLL | clock.StaFreqHold | clock.StaNano | clock.StaPPSFreq | clock.StaPPSTime

// Adjtimex implements clock.Kernel with unix.Adjtimex, converting between the kernel's
// struct and clock.Timex (same units). ModeSetOffset steps the clock (ADJ_SETOFFSET).
func (k *Kernel) Adjtimex(tx *clock.Timex) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if tx.Modes != 0 && k.have {
		var cur unix.Timex
		if _, err := unix.Adjtimex(&cur); err == nil {
			k.check(&cur)
		}
	}
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
	if tx.Modes != 0 && tx.Modes != clock.ModeOffsetSSRead {
		k.have, k.status, k.freq = true, u.Status, u.Freq
	}
	return state, nil
}

// check compares the kernel's state with what our last change left.
func (k *Kernel) check(cur *unix.Timex) {
	if k.Interference == nil {
		return
	}
	var what string
	switch {
	case cur.Status&watchedStatus != k.status&watchedStatus:
		what = fmt.Sprintf("kernel clock status changed from %#x to %#x", k.status, cur.Status)
	case cur.Freq-k.freq > 64 || k.freq-cur.Freq > 64:
		// The kernel's own PLL changes the frequency unless STA_FREQHOLD holds it.
		if k.status&clock.StaPLL != 0 && k.status&clock.StaFreqHold == 0 {
			return
		}
		what = fmt.Sprintf("kernel frequency changed from %.3f to %.3f ppm",
			float64(k.freq)/65536, float64(cur.Freq)/65536)
	default:
		return
	}
	k.status, k.freq = cur.Status, cur.Freq
	k.Interference(what + ": another program is adjusting the clock (another time daemon?)")
}
