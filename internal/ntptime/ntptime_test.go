// SPDX-License-Identifier: BSD-2-Clause

package ntptime

import (
	"math"
	"testing"
	"time"
)

var era1Start = time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)

func TestEraBoundaryConstant(t *testing.T) {
	// 2^32 seconds after 1900-01-01 is the documented rollover instant.
	base := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := base.Add(time.Duration(eraSeconds) * time.Second); !got.Equal(era1Start) {
		t.Fatalf("era 1 starts %v, want %v", got, era1Start)
	}
	if FromTime(era1Start) != 0 {
		t.Fatalf("FromTime(era1Start) = %#x, want 0", uint64(FromTime(era1Start)))
	}
}

func TestRoundTripBothEras(t *testing.T) {
	cases := []time.Time{
		time.Date(1972, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 28, 17, 0, 0, 123456789, time.UTC),
		era1Start.Add(-time.Nanosecond),
		era1Start.Add(-1500 * time.Millisecond),
		era1Start,
		era1Start.Add(time.Nanosecond),
		era1Start.Add(1500 * time.Millisecond),
		time.Date(2060, 6, 30, 23, 59, 59, 999999999, time.UTC),
		time.Date(2100, 1, 1, 0, 0, 0, 1, time.UTC),
	}
	for _, want := range cases {
		ts := FromTime(want)
		// Pivot up to ±60 years away, on either side of the boundary.
		for _, shift := range []time.Duration{0, time.Hour, -time.Hour, 60 * 365 * 24 * time.Hour, -60 * 365 * 24 * time.Hour} {
			got := ts.Time(want.Add(shift))
			if d := got.Sub(want); d < -time.Nanosecond || d > time.Nanosecond {
				t.Errorf("round trip of %v with pivot shift %v: got %v (off by %v)", want, shift, got, d)
			}
		}
	}
}

func TestSubAcrossEra(t *testing.T) {
	before := FromTime(era1Start.Add(-2 * time.Second))
	after := FromTime(era1Start.Add(3 * time.Second))
	if got := Sub(after, before); got != 5*time.Second {
		t.Fatalf("Sub across era = %v, want 5s", got)
	}
	if got := Sub(before, after); got != -5*time.Second {
		t.Fatalf("Sub across era reversed = %v, want -5s", got)
	}
}

func TestOffsetDelay(t *testing.T) {
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, b := range []time.Time{base, era1Start.Add(-10 * time.Millisecond)} {
		// Client 25 ms behind server, 10 ms each way, server holds 1 ms.
		t1 := b
		t2 := b.Add(10*time.Millisecond + 25*time.Millisecond)
		t3 := t2.Add(time.Millisecond)
		t4 := t1.Add(21 * time.Millisecond)
		off := Offset(FromTime(t1), FromTime(t2), FromTime(t3), FromTime(t4))
		del := Delay(FromTime(t1), FromTime(t2), FromTime(t3), FromTime(t4))
		if d := off - 25*time.Millisecond; d < -2 || d > 2 {
			t.Errorf("offset at %v = %v, want 25ms", b, off)
		}
		if d := del - 20*time.Millisecond; d < -2 || d > 2 {
			t.Errorf("delay at %v = %v, want 20ms", b, del)
		}
	}
}

func TestNoOverflow(t *testing.T) {
	extremes := []Time{0, 1, 1 << 63, math.MaxUint64, 1<<63 - 1, 1<<63 + 1}
	for _, a := range extremes {
		for _, b := range extremes {
			for _, c := range extremes {
				for _, d := range extremes {
					off := Offset(a, b, c, d)
					del := Delay(a, b, c, d)
					// |offset| ≤ 2^31 s and |delay| ≤ 2^32 s for any inputs.
					if off > (1<<31)*time.Second || off < -(1<<31)*time.Second {
						t.Fatalf("Offset(%x,%x,%x,%x) = %v out of range", a, b, c, d, off)
					}
					if del > (1<<32)*time.Second || del < -(1<<32)*time.Second-time.Second {
						t.Fatalf("Delay(%x,%x,%x,%x) = %v out of range", a, b, c, d, del)
					}
				}
			}
		}
	}
}

func TestShort(t *testing.T) {
	if s := ShortFromDuration(time.Second + 500*time.Millisecond); s != 0x00018000 {
		t.Fatalf("1.5s = %#x", uint32(s))
	}
	if s := ShortFromDuration(-time.Second); s != 0 {
		t.Fatalf("negative = %#x", uint32(s))
	}
	if s := ShortFromDuration(100000 * time.Second); s != math.MaxUint32 {
		t.Fatalf("saturation = %#x", uint32(s))
	}
	if d := Short(0x00018000).Duration(); d != 1500*time.Millisecond {
		t.Fatalf("Duration = %v", d)
	}
	if s := ShortFromSeconds(math.NaN()); s != 0 {
		t.Fatalf("NaN = %#x", uint32(s))
	}
	if s := ShortFromSeconds(0.0001); s != 7 {
		t.Fatalf("100us = %d, want 7", s)
	}
}

func TestAdd(t *testing.T) {
	ts := FromTime(era1Start.Add(-time.Second))
	if got := ts.Add(2 * time.Second).Time(era1Start); !got.Equal(era1Start.Add(time.Second)) {
		t.Fatalf("Add across era = %v", got)
	}
}

func TestLog2(t *testing.T) {
	if d := Log2ToDuration(6); d != 64*time.Second {
		t.Fatal(d)
	}
	if d := Log2ToDuration(-20); d != 953*time.Nanosecond && d != 954*time.Nanosecond {
		t.Fatal(d)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(2085978496), int64(999999999))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		sec %= 1 << 40
		nsec %= 1e9
		want := time.Unix(sec, nsec)
		got := FromTime(want).Time(want.Add(time.Duration(sec%1000) * time.Hour))
		if d := got.Sub(want); d < -time.Nanosecond || d > time.Nanosecond {
			t.Fatalf("%v -> %v", want, got)
		}
	})
}
