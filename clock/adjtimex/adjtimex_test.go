// SPDX-License-Identifier: BSD-2-Clause

//go:build linux

package adjtimex

import (
	"testing"
	"time"
)

// TestRead only reads the kernel state (modes = 0); it never steps or slews the host clock.
func TestRead(t *testing.T) {
	st, err := Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if st.State < TimeOK || st.State > TimeError {
		t.Errorf("state %d outside TIME_OK..TIME_ERROR", st.State)
	}
	if st.Tick < 900*time.Microsecond || st.Tick > 100*time.Millisecond {
		t.Errorf("tick %v not a plausible kernel tick", st.Tick)
	}
	if st.Tolerance < 1 || st.Tolerance > 1000 {
		t.Errorf("tolerance %v ppm not plausible (Linux: 500)", st.Tolerance)
	}
	if st.Freq < -600 || st.Freq > 600 {
		t.Errorf("frequency %v ppm outside the kernel's ±500 ppm", st.Freq)
	}
}

func TestNowMatchesTimeNow(t *testing.T) {
	a := time.Now()
	b := Clock{}.Now()
	c := time.Now()
	if b.Before(a.Add(-time.Millisecond)) || b.After(c.Add(time.Millisecond)) {
		t.Errorf("Clock.Now %v not between %v and %v", b, a, c)
	}
}
