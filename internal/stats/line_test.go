// SPDX-License-Identifier: BSD-2-Clause

package stats

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

func TestStampRoundsLikeClassic(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), "61380 0.000"},
		{time.Date(2026, 12, 6, 13, 33, 11, 618_050_088, time.UTC), "61380 48791.618"},
		{time.Date(2026, 12, 6, 0, 0, 1, 999_600_000, time.UTC), "61380 2.000"},
		// Classic takes the day first and rounds the seconds afterwards.
		{time.Date(2026, 12, 6, 23, 59, 59, 999_700_000, time.UTC), "61380 86400.000"},
		{time.Date(1995, 5, 19, 0, 8, 29, 0, time.UTC), "49856 509.000"},
	} {
		if got := string(Stamp(nil, c.t)); got != c.want {
			t.Errorf("Stamp(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}

func TestLines(t *testing.T) {
	at := time.Date(2026, 12, 6, 13, 33, 11, 618_000_000, time.UTC)
	pkt := wire.Packet{Leap: 0, Version: 4, Mode: 4, Stratum: 8, Poll: 4, Precision: -26,
		RootDisp: 0x8000, RefID: 0x7f7f0101,
		Org: ntptime.Time(4005552791)<<32 | 0xf2a7f000, Rec: ntptime.Time(4005552791)<<32 | 1, Xmt: 0}
	for _, c := range []struct{ got, want string }{
		{string(AppendLoop(nil, at, Loop{Offset: -0.000002056, Frequency: 12.3456, Jitter: 0.000000729, Wander: 0.0133806, Poll: 6})),
			"61380 48791.618 -0.000002056 12.346 0.000000729 0.013381 6\n"},
		{string(AppendPeer(nil, at, Peer{Source: netip.MustParseAddr("198.18.0.2"), Status: 0x9014,
			Offset: 0.000040161, Delay: 0.000204785, Disp: 7.93750004, Jitter: 0.00000006})),
			"61380 48791.618 198.18.0.2 9014 0.000040161 0.000204785 7.937500040 0.000000060\n"},
		{string(AppendPeer(nil, at, Peer{Source: netip.MustParseAddr("127.127.20.0"), Status: 0x14})),
			"61380 48791.618 127.127.20.0 14 0.000000000 0.000000000 0.000000000 0.000000000\n"},
		{string(AppendRaw(nil, at, Raw{Src: netip.MustParseAddr("198.18.0.2"), Dst: netip.MustParseAddr("::ffff:198.18.0.7"),
			Dest: ntptime.Time(4005552791)<<32 | 0xffffffff, Packet: pkt})),
			"61380 48791.618 198.18.0.2 198.18.0.7 4005552791.947875023 4005552791.000000000 0.000000000 4005552792.000000000 0 4 4 8 4 -26 0.000000 0.500000 127.127.1.1\n"},
		{string(AppendSys(nil, at, Sys{Seconds: 3600, Received: 10, Processed: 9, NewVersion: 8, OldVersion: 1, Restricted: 2,
			BadLength: 3, BadAuth: 4, Declined: 5, Limited: 6, KoDSent: 7})),
			"61380 48791.618 3600 10 9 8 1 2 3 4 5 6 7\n"},
		{string(AppendText(nil, at, "", "0.0.0.0 c016 06 restart")), "61380 48791.618 0.0.0.0 c016 06 restart\n"},
		{string(AppendText(nil, at, "127.127.20.0", "$GPRMC,133311,A")), "61380 48791.618 127.127.20.0 $GPRMC,133311,A\n"},
		{string(AppendTiming(nil, at, Timing{Source: netip.MustParseAddr("198.18.0.2"), Count: 1, Delay: 12345 * time.Nanosecond, Tag: "input processing delay"})),
			"61380 48791.618 198.18.0.2 1 0.000012345 input processing delay\n"},
	} {
		if c.got != c.want {
			t.Errorf("got  %q\nwant %q", c.got, c.want)
		}
	}
}

func TestRefID(t *testing.T) {
	for _, c := range []struct {
		id      uint32
		stratum uint8
		want    string
	}{
		{0x494e4954, 0, ".INIT."}, {0x47505300, 1, ".GPS."}, {0x4c4f434c, 1, ".LOCL."},
		{0xc6120002, 2, "198.18.0.2"}, {0x41014243, 1, ".A.BC."},
	} {
		if got := RefID(c.id, c.stratum); got != c.want {
			t.Errorf("RefID(%#x, %d) = %q, want %q", c.id, c.stratum, got, c.want)
		}
	}
}

func TestGenerationAt(t *testing.T) {
	at := time.Date(2026, 12, 6, 13, 33, 11, 0, time.UTC) // a Sunday, ISO week 49
	start := at.Add(-50 * time.Hour)
	for _, c := range []struct {
		typ        GenType
		suffix     string
		from, till time.Time
	}{
		{GenDay, ".20261206", time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{GenWeek, ".2026w49", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{GenMonth, ".202612", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{GenYear, ".2026", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{GenAge, ".a00172800", start.Add(48 * time.Hour), start.Add(72 * time.Hour)},
		{GenPID, ".#4242", time.Time{}, time.Time{}},
		{GenNone, "", time.Time{}, time.Time{}},
	} {
		g := GenerationAt(c.typ, at, start, 4242)
		if g.Suffix != c.suffix || !g.From.Equal(c.from) || !g.Until.Equal(c.till) {
			t.Errorf("%v: got %q [%v, %v), want %q [%v, %v)", c.typ, g.Suffix, g.From, g.Until, c.suffix, c.from, c.till)
		}
		if !g.Contains(at) {
			t.Errorf("%v: generation does not contain its own time", c.typ)
		}
	}
	// ISO week 1 of 2027 starts on Monday 2027-01-04; 2027-01-03 is in 2026's week 53.
	if g := GenerationAt(GenWeek, time.Date(2027, 1, 3, 12, 0, 0, 0, time.UTC), start, 1); g.Suffix != ".2026w53" {
		t.Errorf("2027-01-03: %q, want .2026w53", g.Suffix)
	}
}

// TestAppendFMatchesStrconv: the short cut of appendF prints what strconv (and C's printf)
// prints, over values of every magnitude the files see, ties and signs included.
func TestAppendFMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []float64{0, math.Copysign(0, -1), 0.5, 1.5, 2.5, -0.5, 0.0005, 0.00049999999999999999,
		1e-10, -1e-10, 5e-10, 1.5e-9, 0.1234567885, 7.9375000385, 12.3456, 86399.9995, 1e7, -1e12, 16777216,
		math.Inf(1), math.NaN(), 1.25e-5}
	for range 200000 {
		e := rng.IntN(20) - 12
		v := rng.Float64() * math.Pow(10, float64(e))
		if rng.IntN(2) == 0 {
			v = -v
		}
		vals = append(vals, v)
		// Exact decimal ties at 9, 6 and 3 digits, where binary allows them.
		vals = append(vals, float64(rng.IntN(1<<20))/1024)
	}
	for _, v := range vals {
		for _, prec := range []int{3, 6, 9} {
			got := string(appendF(nil, v, prec))[1:]
			want := strconv.FormatFloat(v, 'f', prec, 64)
			if got != want {
				t.Fatalf("appendF(%v, %d) = %q, strconv says %q", v, prec, got, want)
			}
		}
	}
}
