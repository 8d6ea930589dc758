// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gontp/internal/ntptime"
)

func TestParseVars(t *testing.T) {
	cases := []struct {
		in   string
		want []Var
	}{
		{"stratum=2, precision=-24\r\n", []Var{{"stratum", "2"}, {"precision", "-24"}}},
		// Quoted values keep their quotes and any commas inside them.
		{`version="ntpd 4.2.8p15, a, b", x=1`, []Var{{"version", `"ntpd 4.2.8p15, a, b"`}, {"x", "1"}}},
		// Line breaks between items, white space around names and values.
		{"a = 1 ,\r\n  b=2,\r\nc", []Var{{"a", "1"}, {"b", "2"}, {"c", ""}}},
		// Empty value (classic ifstats bcast.N=).
		{"bcast.0=, tl.0=0", []Var{{"bcast.0", ""}, {"tl.0", "0"}}},
		// Unquoted values run to ',' or CR, so a space-separated array stays one value.
		{"filtdelay= 0.28 0.32 0.31,\r\nx=1", []Var{{"filtdelay", "0.28 0.32 0.31"}, {"x", "1"}}},
		// Garbage after a closing quote ends the parse, as in classic ntpq.
		{`a="x"y, b=1`, nil},
		// An unterminated quote runs to the end.
		{`a="xy, b=1`, []Var{{"a", `"xy, b=1`}}},
		{"", nil},
		{",,, ,\r\n", nil},
	}
	for _, c := range cases {
		if d := cmp.Diff(c.want, ParseVars([]byte(c.in))); d != "" {
			t.Errorf("ParseVars(%q) (-want +got):\n%s", c.in, d)
		}
	}
}

func TestDecoders(t *testing.T) {
	for _, c := range []struct {
		in     string
		want   int64
		wantOK bool
	}{{"10", 10, true}, {"-24", -24, true}, {"010", 8, true}, {"0x1f", 31, true}, {"0", 0, true},
		{"08", 0, false}, {"x", 0, false}, {"", 0, false}} {
		got, ok := decodeInt(c.in)
		if got != c.want || ok != c.wantOK {
			t.Errorf("decodeInt(%q) = %d, %v", c.in, got, ok)
		}
	}
	for _, c := range []struct {
		in     string
		signed bool
		ndec   int
		want   string
	}{
		{"0.123456", false, 3, "0.123"}, {"0.0006", false, 3, "0.001"}, {"0.0004", false, 3, "0.000"}, {"-12.5126", true, 3, "-12.513"},
		{"0", true, 3, "+0.000"}, {"16000.00", false, 2, "16000.00"}, {"1234.567", false, 3, "1234.567"},
		{"-0.00", true, 2, "+0.00"}, {"937.521", false, 3, "937.521"},
	} {
		x, ok := decodeTime(c.in)
		if !ok {
			t.Errorf("decodeTime(%q) failed", c.in)
			continue
		}
		if got := msString(x, c.ndec, c.signed); got != c.want {
			t.Errorf("msString(decodeTime(%q)) = %q, want %q", c.in, got, c.want)
		}
	}
	ts, ok := decodeTS("0xeeb57bd3.5a9c373a")
	if !ok || ts != ntptime.Time(0xeeb57bd35a9c373a) {
		t.Errorf("decodeTS: %x %v", uint64(ts), ok)
	}
	if got := prettyDate(ts, time.UTC); got != "eeb57bd3.5a9c373a  Sat, Nov 28 2026 16:12:03.353" {
		t.Errorf("prettyDate = %q", got)
	}
	if got := prettyDate(0, time.UTC); got != "(no time)" {
		t.Errorf("prettyDate(0) = %q", got)
	}
}

func TestPrettyInterval(t *testing.T) {
	for in, want := range map[int64]string{0: "-", -5: "-", 64: "64", 2048: "2048", 4096: "68m",
		32768: "9h", 65536: "18h", 131072: "36h", 1 << 20: "12d", 1 << 30: "34y", 1 << 40: "INF"} {
		if got := prettyInterval(in); got != want {
			t.Errorf("prettyInterval(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestStatusString(t *testing.T) {
	for _, c := range []struct {
		kind int
		st   uint16
		want string
	}{
		{StatusSys, 0xc616, "leap_alarm, sync_ntp, 1 event, restart"},
		{StatusSys, 0x0615, "leap_none, sync_ntp, 1 event, clock_sync"},
		{StatusSys, 0x3f00, "leap_none, sync_63, no events, unspecified"},
		{StatusPeer, 0x961a, "conf, reach, sel_sys.peer, 1 event, sys_peer"},
		{StatusPeer, 0x8811, "conf, bcast, sel_reject, 1 event, mobilize"},
		{StatusPeer, 0x0000, ", sel_reject, no events"},
		{StatusClock, 0x0000, "no events, clk_unspec"},
		{StatusClock, 0x0029, "2 events, clk_9"},
	} {
		if got := StatusString(c.kind, c.st); got != c.want {
			t.Errorf("StatusString(%d, %04x) = %q, want %q", c.kind, c.st, got, c.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	o, err := ParseArgs([]string{"-pn", "-c", "rv", "-crv 0 stratum", "-4", "host1", "-6", "host2", "--old-rv"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Options{Commands: []string{"peers", "rv", "rv 0 stratum"}, Numeric: true, OldRV: true,
		Hosts: []Host{{"host1", 4}, {"host2", 6}}}
	if d := cmp.Diff(want, o); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := ParseArgs([]string{"-x"}); err == nil {
		t.Error("-x accepted")
	}
	if _, err := ParseArgs([]string{"-i", "-p"}); err == nil {
		t.Error("-i with -p accepted")
	}
	if _, err := ParseArgs([]string{"-c"}); err == nil {
		t.Error("-c without argument accepted")
	}
}
