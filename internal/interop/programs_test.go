// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// waitSynced polls gontp's ntpq -pn on h until a system peer ('*') shows, or fails the test.
func waitSynced(t *testing.T, h *testnet.Host, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, _ := h.Run(t, 10*time.Second, binary(t, "ntpq"), "-pn", "127.0.0.1")
		if regexp.MustCompile(`(?m)^\*`).Match(out) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no system peer on %s after %v:\n%s", h, timeout, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// runBoth runs classic's program and gontp's with the same arguments on h and returns their
// outputs (stdout, then stderr after a marker line) and exit statuses.
func runBoth(t *testing.T, h *testnet.Host, classic, gontp string, args ...string) (c, g string, cc, gc int) {
	t.Helper()
	one := func(prog string) (string, int) {
		so, se, err := runIn(h, prog, args...)
		code := 0
		if err != nil {
			code = -1
			if ee, ok := err.(interface{ ExitCode() int }); ok {
				code = ee.ExitCode()
			}
		}
		return so + "--- stderr\n" + se, code
	}
	c, cc = one(classic)
	g, gc = one(gontp)
	return
}

// TestNtpWaitAgainstClassic runs classic ntp-wait 4.2.8p15 (its Perl script, on classic ntpq)
// and gontp's ntp-wait against the same daemon in its three states: absent, not synchronised,
// synchronised. Output (the spinner's backspaces included) and exit status must be identical.
func TestNtpWaitAgainstClassic(t *testing.T) {
	classic := filepath.Join(testnet.Reference(t, "classic-ntp-wait", "classic-ntpq"), "classic-ntp-wait")
	ours := binary(t, "ntp-wait")
	n := testnet.New(t)
	h := n.Host("daemon")
	check := func(state string, wantCode int, args ...string) {
		t.Helper()
		c, g, cc, gc := runBoth(t, h, classic, ours, args...)
		if c != g || cc != gc {
			t.Errorf("%s, ntp-wait %s:\nclassic (exit %d):\n%q\ngontp (exit %d):\n%q", state, strings.Join(args, " "), cc, c, gc, g)
		}
		if gc != wantCode {
			t.Errorf("%s: gontp's ntp-wait exit %d, want %d", state, gc, wantCode)
		}
	}
	check("no daemon", 1, "-n", "2", "-s", "0", "-v")
	check("no daemon, quiet", 1, "-n", "1")

	// A daemon with no source stays unsynchronised: leap_alarm, the spinner, then "No!".
	p := startGontp(t, h, "disable ntp\n")
	if !h.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp does not listen: %s", p.Log())
	}
	check("not synchronised", 1, "-n", "3", "-s", "0", "-v")
	check("not synchronised, quiet", 1, "-n", "2", "-s", "0")
	check("no tries", 1, "-n", "0", "-v")
	if err := p.Stop(); err != nil {
		t.Logf("stopping gontp: %v", err)
	}

	p = startGontp(t, h, gontpLocalConf)
	if !h.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp does not listen: %s", p.Log())
	}
	waitSynced(t, h, 90*time.Second)
	check("synchronised", 0, "-v")
	check("synchronised, quiet", 0, "-n", "1")
}

// traceLine is one line of ntptrace's output.
var traceLine = regexp.MustCompile(`^(\S+): stratum (\d+), offset (-?\d+\.\d{6}), synch distance (\d+\.\d{6})(, refid '[^']*')?$`)

// TestNtptraceAgainstClassic builds a chain: a stratum-11 gontp on its LOCAL clock, a gontp
// synchronised to it, and traces from the second with classic ntptrace 4.2.8p15 and gontp's.
// The lines must agree: host, stratum and refid exactly, offset and distance to the
// microsecond they are printed in (the two programs read at slightly different times).
func TestNtptraceAgainstClassic(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	classic := filepath.Join(testnet.Reference(t, "classic-ntptrace", "classic-ntpq"), "classic-ntptrace")
	ours := binary(t, "ntptrace")
	n := testnet.New(t)
	top, mid := n.Host("top"), n.Host("mid")
	startGontp(t, top, gontpLocalConf)
	startGontp(t, mid, fmt.Sprintf("server %s iburst minpoll 4\ntos orphanwait 0\ndisable ntp\n", top.Addr()))
	waitSynced(t, top, 90*time.Second)
	waitSynced(t, mid, 90*time.Second)

	for _, args := range [][]string{{"-n"}, {"-n", "-m", "1"}, {"-n", mid.Addr().String()}, {"-n", "-r", top.Addr().String()}} {
		c, g, cc, gc := runBoth(t, mid, classic, ours, args...)
		if cc != gc {
			t.Errorf("ntptrace %v: exit classic %d, gontp %d", args, cc, gc)
		}
		cl, gl := strings.Split(c, "\n"), strings.Split(g, "\n")
		if len(cl) != len(gl) {
			t.Errorf("ntptrace %v:\nclassic:\n%s\ngontp:\n%s", args, c, g)
			continue
		}
		for i := range cl {
			if !sameTraceLine(cl[i], gl[i]) {
				t.Errorf("ntptrace %v, line %d:\nclassic: %q\ngontp:   %q", args, i+1, cl[i], gl[i])
			}
		}
		// The top server is stratum 11 (its LOCAL clock is fudged to 10); -m 1 stops before it.
		if want := ": stratum 11, "; !(len(args) > 1 && args[1] == "-m") && !strings.Contains(g, want) {
			t.Errorf("ntptrace %v did not reach the top server:\n%s", args, g)
		}
	}
}

// sameTraceLine compares two lines of ntptrace output: identical, or both trace lines with
// the same host, stratum and refid and numbers within 50 µs.
func sameTraceLine(a, b string) bool {
	if a == b {
		return true
	}
	ma, mb := traceLine.FindStringSubmatch(a), traceLine.FindStringSubmatch(b)
	if ma == nil || mb == nil || ma[1] != mb[1] || ma[2] != mb[2] || ma[5] != mb[5] {
		return false
	}
	for _, k := range []int{3, 4} {
		x, _ := strconv.ParseFloat(ma[k], 64)
		y, _ := strconv.ParseFloat(mb[k], 64)
		if d := x - y; d > 50e-6 || d < -50e-6 {
			return false
		}
	}
	return true
}
