// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exchange is one client exchange from a guest's rawstats: T1 and T4 on the guest's clock,
// T2 and T3 on the server's (the host's), ns since the Unix epoch.
type exchange struct{ t1, t2, t3, t4 int64 }

// ntpEpoch is the Unix epoch in NTP seconds (RFC 5905 figure 4).
const ntpEpoch = 2208988800

// ntpNanos reads a rawstats timestamp ("4005607234.875722424": NTP seconds, nine decimals)
// as ns since the Unix epoch; a float64 would keep only about half a microsecond of it.
func ntpNanos(s string) (int64, error) {
	secs, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) == 0 || len(frac) > 9 {
		return 0, fmt.Errorf("timestamp %q: want seconds and up to nine decimals", s)
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", s, err)
	}
	ns, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", s, err)
	}
	return (sec-ntpEpoch)*1e9 + ns, nil
}

// readRawstats reads the exchanges of a rawstats file in classic's format (MJD, seconds,
// source, destination, then org, rec, xmt and dst), with the address they were received on.
// Lines of packets sent (classic 4.2.8p15 and gontp record those too: dst 0) and of
// unanswered ones (org 0) are skipped.
func readRawstats(text string) ([]exchange, netip.Addr, error) {
	var xs []exchange
	var me netip.Addr
	for i, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		var ts [4]int64
		for k := range ts {
			v, err := ntpNanos(f[4+k])
			if err != nil {
				return nil, me, fmt.Errorf("rawstats line %d: %w", i+1, err)
			}
			ts[k] = v
		}
		if ts[0] == -ntpEpoch*1e9 || ts[3] == -ntpEpoch*1e9 {
			continue
		}
		dst, err := netip.ParseAddr(f[3])
		if err != nil {
			return nil, me, fmt.Errorf("rawstats line %d: %w", i+1, err)
		}
		me = dst
		xs = append(xs, exchange{ts[0], ts[1], ts[2], ts[3]})
	}
	return xs, me, nil
}

// secondHalf is the exchanges of the second half of a run of run seconds, counted from the
// first exchange.
func secondHalf(xs []exchange, run float64) []exchange {
	var out []exchange
	for _, x := range xs {
		if x.t1 >= xs[0].t1+int64(run/2*1e9) {
			out = append(out, x)
		}
	}
	return out
}

// legs is where the delays of a guest's exchanges through the relay went (means, s). The
// relay's kernel receive timestamps are on the host's clock, as the server's T2 and T3 are;
// the guest's T1 and T4 are brought to it with the guest's true error. Out: from the guest's
// T1 to the relay (guestOut: the guest's own send path and the bridge), the relay's hold
// (holdOut, as drawn), and from when it was due to the server's T2 (hostOut: the relay's
// lateness and loopback). Back: from T3 to the relay (hostBack), the hold (holdBack), and from
// when it was due to the guest's T4 (guestIn: the relay's lateness, the bridge and the
// guest's receive path up to its kernel timestamp). centre is (out - back)/2, where a clock
// that zeroes the offsets of these exchanges settles: over all of them, and over the quarter
// of least delay (which a clock filter favours).
type legs struct {
	n, odd                                                  int // exchanges used, left out
	guestOut, holdOut, hostOut, hostBack, holdBack, guestIn float64
	centre, centreLeast                                     float64
}

// pathLegs matches the exchanges of client (whose clock was guestErr ahead of the host's)
// with the relay's log and splits their delays into legs. An exchange whose datagrams the log
// does not show within 5 ms of its timestamps is left out, and one with a leg that cannot be
// its own is counted in odd.
func pathLegs(xs []exchange, guestErr float64, rel []relayed, client netip.Addr) legs {
	var ups, downs []relayed
	for _, r := range rel {
		if r.client.Addr() != client {
			continue
		}
		if r.up {
			ups = append(ups, r)
		} else {
			downs = append(downs, r)
		}
	}
	byRx := func(a, b relayed) int { return cmp.Compare(a.rx, b.rx) }
	slices.SortFunc(ups, byRx)
	slices.SortFunc(downs, byRx)
	// first is the first datagram received at or after t, within 5 ms.
	first := func(rs []relayed, t int64) (relayed, bool) {
		i, _ := slices.BinarySearchFunc(rs, t, func(r relayed, t int64) int { return cmp.Compare(r.rx, t) })
		if i == len(rs) || rs[i].rx-t > int64(5*time.Millisecond) {
			return relayed{}, false
		}
		return rs[i], true
	}
	e := int64(math.Round(guestErr * 1e9))
	type row struct{ guestOut, holdOut, hostOut, hostBack, holdBack, guestIn, delay float64 }
	var rows []row
	var l legs
	for _, x := range xs {
		t1, t4 := x.t1-e, x.t4-e
		up, ok1 := first(ups, t1)
		down, ok2 := first(downs, x.t3)
		if !ok1 || !ok2 {
			continue
		}
		s := func(ns int64) float64 { return float64(ns) / 1e9 }
		r := row{s(up.rx - t1), s(up.due - up.rx), s(x.t2 - up.due),
			s(down.rx - x.t3), s(down.due - down.rx), s(t4 - down.due), s((t4 - t1) - (x.t3 - x.t2))}
		// A leg out of [-1 ms, 10 ms] is not of this exchange: a reply recorded again
		// (classic records duplicates too) or a datagram the log matched wrongly.
		if !slices.ContainsFunc([]float64{r.guestOut, r.hostOut, r.hostBack, r.guestIn}, func(v float64) bool { return v < -1e-3 || v > 10e-3 }) {
			rows = append(rows, r)
		} else {
			l.odd++
		}
	}
	l.n = len(rows)
	if l.n == 0 {
		return l
	}
	centre := func(r row) float64 {
		return ((r.guestOut + r.holdOut + r.hostOut) - (r.hostBack + r.holdBack + r.guestIn)) / 2
	}
	n := float64(l.n)
	for _, r := range rows {
		l.guestOut += r.guestOut / n
		l.holdOut += r.holdOut / n
		l.hostOut += r.hostOut / n
		l.hostBack += r.hostBack / n
		l.holdBack += r.holdBack / n
		l.guestIn += r.guestIn / n
		l.centre += centre(r) / n
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.delay, b.delay) })
	q := rows[:max(1, len(rows)/4)]
	for _, r := range q {
		l.centreLeast += centre(r) / float64(len(q))
	}
	return l
}

// String is the line the benchmark prints under its table.
func (l legs) String() string {
	us := func(s float64) string { return fmt.Sprintf("%.1f", s*1e6) }
	return fmt.Sprintf("%d exchanges (%d left out); out: guest T1 → relay %s µs, hold %s, → server T2 %s; back: T3 → relay %s, hold %s, → guest T4 %s; "+
		"(out - back)/2 with T1 the packet's own stamp: %+.1f µs over all, %+.1f µs over the quarter of least delay",
		l.n, l.odd, us(l.guestOut), us(l.holdOut), us(l.hostOut), us(l.hostBack), us(l.holdBack), us(l.guestIn), l.centre*1e6, l.centreLeast*1e6)
}

// TestPathLegs: two exchanges built from known legs, with the guest 100 µs ahead, are split
// back into them; the rawstats lines that are not answers are skipped.
func TestPathLegs(t *testing.T) {
	client := netip.MustParseAddrPort("198.18.0.100:123")
	const base = int64(1796617748) * 1e9
	us := func(n int64) int64 { return n * 1e3 }
	var rel []relayed
	var lines []string
	for i, l := range []struct{ gout, hold, host, back, bhold, gin int64 }{
		{100, 200, 50, 20, 150, 80},
		{120, 100, 30, 10, 300, 60},
	} {
		t1 := base + int64(i)*8e9
		up := relayed{client: client, up: true, rx: t1 + us(l.gout)}
		up.due = up.rx + us(l.hold)
		t2 := up.due + us(l.host)
		t3 := t2 + us(30)
		down := relayed{client: client, rx: t3 + us(l.back)}
		down.due = down.rx + us(l.bhold)
		t4 := down.due + us(l.gin)
		rel = append(rel, up, down)
		ahead := us(100)
		ntp := func(ns int64) string { return fmt.Sprintf("%d.%09d", ns/1e9+ntpEpoch, ns%1e9) }
		lines = append(lines,
			fmt.Sprintf("61381 100.0 198.18.0.100 198.18.0.2 %s %s %s 0.000000000 3 4 3 0 6 -16 0.0 0.0 .INIT.", ntp(t1-8e9+ahead), ntp(t1), ntp(t1+ahead)),
			fmt.Sprintf("61381 100.0 198.18.0.2 198.18.0.100 %s %s %s %s 0 4 4 3 6 -26 0.0 0.0 127.127.1.1", ntp(t1+ahead), ntp(t2), ntp(t3), ntp(t4+ahead)))
	}
	got, me, err := readRawstats(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if me != client.Addr() || len(got) != 2 {
		t.Fatalf("read %d exchanges for %v, want 2 for %v", len(got), me, client.Addr())
	}
	l := pathLegs(got, 100e-6, rel, client.Addr())
	want := legs{n: 2, guestOut: 110e-6, holdOut: 150e-6, hostOut: 40e-6, hostBack: 15e-6, holdBack: 225e-6, guestIn: 70e-6}
	// (out - back)/2: (350-250)/2 = +50 µs and (250-370)/2 = -60 µs; the first has the
	// least delay.
	want.centre, want.centreLeast = -5e-6, 50e-6
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if l.n != want.n || !near(l.guestOut, want.guestOut) || !near(l.holdOut, want.holdOut) || !near(l.hostOut, want.hostOut) ||
		!near(l.hostBack, want.hostBack) || !near(l.holdBack, want.holdBack) || !near(l.guestIn, want.guestIn) ||
		!near(l.centre, want.centre) || !near(l.centreLeast, want.centreLeast) {
		t.Errorf("legs\n got %+v\nwant %+v", l, want)
	}
}

// TestKeptPathLegs prints the path legs of a kept jitter run
// (GONTP_KERNEL_BENCH_KEEP=DIR, then GONTP_KERNEL_BENCH_LEGS=DIR/jitter): for each guest
// directory with rawstats, its second half against the relay's log (relay.csv), with the
// guest's median error of that half from its trace.csv. It reads files only.
func TestKeptPathLegs(t *testing.T) {
	dir := os.Getenv("GONTP_KERNEL_BENCH_LEGS")
	if dir == "" {
		t.Skip("reads a kept jitter run: GONTP_KERNEL_BENCH_LEGS=DIR/jitter")
	}
	rel, err := readRelayLog(filepath.Join(dir, "relay.csv"))
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "rawstats"))
		if err != nil {
			continue
		}
		xs, me, err := readRawstats(string(raw))
		if err != nil || len(xs) == 0 {
			t.Errorf("%s: %d exchanges, %v", e.Name(), len(xs), err)
			continue
		}
		trace, err := os.ReadFile(filepath.Join(dir, e.Name(), "trace.csv"))
		if err != nil {
			t.Fatal(err)
		}
		var mono, errs []float64
		for _, line := range strings.Split(strings.TrimSpace(string(trace)), "\n")[1:] {
			f := strings.Split(line, ",")
			if len(f) < 2 {
				t.Fatalf("%s/trace.csv: %q", e.Name(), line)
			}
			m, err1 := strconv.ParseFloat(f[0], 64)
			v, err2 := strconv.ParseFloat(f[1], 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s/trace.csv: %q", e.Name(), line)
			}
			mono, errs = append(mono, m), append(errs, v)
		}
		if len(mono) == 0 {
			t.Fatalf("%s/trace.csv: no samples", e.Name())
		}
		run := mono[len(mono)-1]
		var half []float64
		for i, m := range mono {
			if m >= run/2 {
				half = append(half, errs[i])
			}
		}
		t.Logf("%s, 2nd half (its error %+.1f µs): %v", e.Name(), median(half)*1e6, pathLegs(secondHalf(xs, run), median(half), rel, me))
	}
}

// readRelayLog reads relay.writeLog's CSV.
func readRelayLog(path string) ([]relayed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []relayed
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		f := strings.Split(line, ",")
		if len(f) != 5 {
			return nil, fmt.Errorf("%s line %d: %q", path, i+2, line)
		}
		c, err := netip.ParseAddrPort(f[0])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+2, err)
		}
		r := relayed{client: c, up: f[1] == "up"}
		for k, p := range []*int64{&r.rx, &r.due, &r.sent} {
			if *p, err = strconv.ParseInt(f[2+k], 10, 64); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, i+2, err)
			}
		}
		out = append(out, r)
	}
	return out, nil
}
