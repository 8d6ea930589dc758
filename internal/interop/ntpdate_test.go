// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

var (
	ntpdateServerLine  = regexp.MustCompile(`^server (\S+), stratum (\d+), offset ([+-]\d+\.\d{6}), delay (\d+\.\d{5})$`)
	ntpdateSummaryLine = regexp.MustCompile(`^([ 123]\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d:\d\d:\d\d ntpdate\[(\d+)\]: (adjust|step) time server (\S+) offset ([+-]\d+\.\d{6}) sec$`)
)

// TestNtpdateMatchesClassic is issue 2's ntpdate acceptance: gontp's ntpdate -q and classic
// ntpdate -q query the same classic ntpd and chronyd, on their own hosts of a private
// network; every line of ours parses with the same fields and widths as classic's, and the
// offsets are within 1 ms of zero (all hosts share one clock).
func TestNtpdateMatchesClassic(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpdate", "classic-ntpd", "chronyd")
	ours := binary(t, "ntpdate")
	tn := testnet.New(t)
	ch := tn.Host("chrony")
	cl := tn.Host("classic")
	cli := tn.Host("client")
	testnet.Chronyd(t, ch, "local stratum 8\nallow all\n")
	testnet.ClassicNTPD(t, cl, "disable ntp\nserver 127.127.1.0\nfudge 127.127.1.0 stratum 10\n")
	for _, h := range []*testnet.Host{ch, cl} {
		if !h.WaitUDP(123, 10*time.Second) {
			t.Fatalf("%s does not listen on port 123", h.Name())
		}
	}
	// ntpdate -q takes one sample per server. The very first packet between two hosts of
	// the test network waits for ARP resolution, which skews that one sample by a
	// millisecond or more (seen here); one query from the client first fills the caches.
	for _, h := range []*testnet.Host{ch, cl} {
		if _, err := cli.QueryNTP(h.Addr(), 2*time.Second); err != nil {
			t.Fatalf("warming up the path to %s: %v", h.Name(), err)
		}
	}
	servers := []string{ch.Addr().String(), cl.Addr().String()}
	classicOut, err := cli.Run(t, 30*time.Second, append([]string{filepath.Join(ref, "classic-ntpdate"), "-q"}, servers...)...)
	if err != nil {
		t.Fatalf("classic ntpdate: %v\n%s", err, classicOut)
	}
	ourOut, err := cli.Run(t, 30*time.Second, append([]string{ours, "-q"}, servers...)...)
	if err != nil {
		t.Fatalf("gontp ntpdate: %v\n%s", err, ourOut)
	}
	t.Logf("gontp:\n%s\nclassic:\n%s", ourOut, classicOut)
	a := strings.Split(strings.TrimSuffix(string(ourOut), "\n"), "\n")
	b := strings.Split(strings.TrimSuffix(string(classicOut), "\n"), "\n")
	if len(a) != len(b) {
		t.Fatalf("gontp printed %d lines, classic %d", len(a), len(b))
	}
	for i := range a {
		if i == len(a)-1 {
			x, y := ntpdateSummaryLine.FindStringSubmatch(a[i]), ntpdateSummaryLine.FindStringSubmatch(b[i])
			if x == nil || y == nil || x[4] != y[4] || x[5] != y[5] || len(x[6]) != len(y[6]) {
				t.Errorf("summary line: gontp %q, classic %q", a[i], b[i])
			}
			continue
		}
		x, y := ntpdateServerLine.FindStringSubmatch(a[i]), ntpdateServerLine.FindStringSubmatch(b[i])
		if x == nil || y == nil || x[1] != y[1] || x[2] != y[2] || len(x[3]) != len(y[3]) || len(x[4]) != len(y[4]) {
			t.Errorf("line %d: gontp %q, classic %q", i+1, a[i], b[i])
			continue
		}
		off, _ := strconv.ParseFloat(x[3], 64)
		if math.Abs(off) >= 0.001 {
			t.Errorf("gontp ntpdate reports offset %s for %s, want within 1 ms of zero", x[3], x[1])
		}
	}
}
