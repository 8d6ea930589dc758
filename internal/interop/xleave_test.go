// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/daemon"
	"gontp/internal/testnet"
)

// Interleaved mode (issue 19, item 5) against the real programs on a private network.

// interleavedRe finds "Interleaved : Yes" in chronyc ntpdata.
var interleavedRe = regexp.MustCompile(`(?m)^Interleaved\s*:\s*Yes`)

// ntpdataField reads "Name : value" from chronyc ntpdata.
func ntpdataField(out, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*:\s*(.*)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// TestInterleavedServerToChronyd: gontp serves a chronyd client with `xleave` in the
// interleaved mode: chronyc ntpdata shows "Interleaved : Yes" for gontp, with the delay it
// measures. The transmit timestamps gontp hands out are the kernel's (server/xleave.go).
func TestInterleavedServerToChronyd(t *testing.T) {
	t.Parallel()
	testnet.Reference(t, "chronyd", "chronyc")
	tn := testnet.New(t)
	gh := tn.Host("gontp")
	ch := tn.Host("chrony")
	g := startGontp(t, gh, gontpLocalConf)
	if !gh.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp does not listen on port 123:\n%s", g.Log())
	}
	sock := chronySocket(t)
	testnet.Chronyd(t, ch, fmt.Sprintf("bindcmdaddress %s\nserver %s xleave iburst minpoll 0 maxpoll 0\n", sock, gh.Addr()))
	ok, out := waitFor(90*time.Second, func() (bool, string) {
		out := chronyc(t, ch, sock, "ntpdata", gh.Addr().String())
		return interleavedRe.MatchString(out) && ntpdataField(out, "Total good RX") != "" &&
			ntpdataField(out, "Total good RX") != "0", out
	})
	if !ok {
		t.Fatalf("chronyd does not use the interleaved mode with gontp:\n%s\ngontp log:\n%s", out, g.Log())
	}
	// A few more exchanges, so that the delay shown is of an interleaved one.
	time.Sleep(5 * time.Second)
	out = chronyc(t, ch, sock, "ntpdata", gh.Addr().String())
	t.Logf("chronyc ntpdata %s:\n%s", gh.Addr(), out)
	if !interleavedRe.MatchString(out) {
		t.Errorf("chronyd fell back to the basic mode with gontp:\n%s", out)
	}
	t.Logf("figure: chronyd client of gontp (xleave): peer delay %s", ntpdataField(out, "Peer delay"))
}

// ntpqDelay reads the delay column (ms) of server's row in `ntpq -pn` run with ntpq on h
// against the daemon on 127.0.0.1.
func ntpqDelay(t *testing.T, h *testnet.Host, ntpq string, server string) (float64, string) {
	t.Helper()
	out, err := h.Run(t, 10*time.Second, ntpq, "-pn", "127.0.0.1")
	if err != nil {
		return -1, fmt.Sprintf("ntpq: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 10 || strings.TrimLeft(f[0], " x.-+#*o") != server {
			continue
		}
		d, err := strconv.ParseFloat(f[7], 64)
		if err != nil || f[6] == "0" {
			return -1, string(out)
		}
		return d, string(out)
	}
	return -1, string(out)
}

// TestInterleavedClientOfChronyd: gontp with `server CHRONYD xleave` uses chronyd's
// interleaved replies (the interleave_mode event, and chronyd counts interleaved packets),
// and the figure of issue 19: the delay gontp measures to that chronyd in the interleaved
// mode, in the basic mode, and classic ntpd 4.2.8p15's to the same chronyd, all polling
// every 8 s on the same private network. The figures are printed, never asserted (timing is
// the machine's). A second classic ntpd has `xleave` on its server line, to show what
// classic's client mode makes of it (logged, not asserted).
func TestInterleavedClientOfChronyd(t *testing.T) {
	t.Parallel()
	ref := testnet.Reference(t, "chronyd", "chronyc", "classic-ntpd", "classic-ntpq")
	tn := testnet.New(t)
	ch := tn.Host("chrony")
	gx := tn.Host("gontpxl")
	gb := tn.Host("gontpbasic")
	cl := tn.Host("classic")
	cx := tn.Host("classicxl")
	sock := chronySocket(t)
	testnet.Chronyd(t, ch, fmt.Sprintf("local stratum 8\nallow\nbindcmdaddress %s\n", sock))
	line := fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3", ch.Addr())
	// Peer events go to protostats, as classic's do.
	stats := t.TempDir()
	startGontp(t, gx, line+" xleave\ndisable ntp\nstatsdir "+stats+"/\nstatistics protostats\n")
	proto := func() string {
		b, _ := os.ReadFile(filepath.Join(stats, "protostats"))
		return string(b)
	}
	startGontp(t, gb, line+"\ndisable ntp\n")
	testnet.ClassicNTPD(t, cl, line+"\ndisable ntp\n")
	testnet.ClassicNTPD(t, cx, line+" xleave\ndisable ntp\n")
	ntpq := binary(t, "ntpq")
	cntpq := filepath.Join(ref, "classic-ntpq")

	ok, desc := waitFor(60*time.Second, func() (bool, string) {
		p := proto()
		return strings.Contains(p, "interleave_mode"), p
	})
	if !ok {
		t.Fatalf("gontp did not enter the interleaved mode with chronyd:\n%s", desc)
	}
	// Eight more polls each, so that every clock filter holds samples of this mode only.
	time.Sleep(70 * time.Second)
	sstats := chronyc(t, ch, sock, "serverstats")
	t.Logf("chronyc serverstats:\n%s", sstats)
	if n := statValue(sstats, "Interleaved NTP packets"); n < 5 {
		t.Errorf("chronyd sent %d interleaved replies; want >= 5", n)
	}
	if p := proto(); strings.Contains(p, "interleave_error") {
		t.Errorf("gontp found inconsistent interleaved timestamps:\n%s", p)
	}
	addr := ch.Addr().String()
	dx, ox := ntpqDelay(t, gx, ntpq, addr)
	db, ob := ntpqDelay(t, gb, ntpq, addr)
	dc, oc := ntpqDelay(t, cl, cntpq, addr)
	_, ocx := ntpqDelay(t, cx, cntpq, addr)
	t.Logf("gontp xleave ntpq -pn:\n%s\ngontp basic ntpq -pn:\n%s\nclassic ntpq -pn:\n%s\nclassic with xleave ntpq -pn:\n%s", ox, ob, oc, ocx)
	rv, _ := gx.Run(t, 10*time.Second, ntpq, "-c", "rv &1", "127.0.0.1")
	t.Logf("gontp xleave ntpq -c 'rv &1':\n%s", rv)
	if dx < 0 || db < 0 || dc < 0 {
		t.Fatalf("a daemon has no delay for chronyd: gontp xleave %v, gontp basic %v, classic %v", dx, db, dc)
	}
	t.Logf("figure: delay to chronyd (ms, ntpq -pn): gontp xleave %.3f, gontp basic %.3f, classic 4.2.8p15 %.3f", dx, db, dc)
}

// TestInterleavedWithClassic: gontp and classic ntpd 4.2.8p15, each `server OTHER xleave`.
// Classic's server never answers in the interleaved mode (its fast_xmit has no such branch),
// so gontp falls back to the basic mode and must still reach and use classic. What classic's
// client makes of `xleave` against gontp is logged (classic interleaves only symmetric and
// broadcast associations; against chronyd its xleave client line never becomes reachable,
// TestInterleavedClientOfChronyd).
func TestInterleavedWithClassic(t *testing.T) {
	t.Parallel()
	ref := testnet.Reference(t, "chronyd", "classic-ntpd", "classic-ntpq")
	tn := testnet.New(t)
	ch := tn.Host("chrony")
	gh := tn.Host("gontp")
	cl := tn.Host("classic")
	testnet.Chronyd(t, ch, "local stratum 8\nallow\n")
	g := startGontp(t, gh, fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\nserver %s xleave iburst minpoll 3 maxpoll 3\ndisable ntp\n", ch.Addr(), cl.Addr()))
	testnet.ClassicNTPD(t, cl, fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\nserver %s xleave iburst minpoll 3 maxpoll 3\ndisable ntp\n", ch.Addr(), gh.Addr()))
	ntpq := binary(t, "ntpq")
	cntpq := filepath.Join(ref, "classic-ntpq")
	// Classic with `disable ntp` never answers synchronised (testnet.ClassicNTPD), so its
	// replies fail only the stratum test (flash 0x20, reach 0, as classic's own client shows
	// them); the timestamp tests (duplicate, bogus origin, unsynchronised: flash 0x07) must
	// pass for the basic replies to gontp's interleaved requests.
	ok, desc := waitFor(60*time.Second, func() (bool, string) {
		out, _ := gh.Run(t, 10*time.Second, ntpq, "-c", "rv &2 flash", "-c", "pstats &2", "127.0.0.1")
		m := regexp.MustCompile(`flash=([0-9a-f]+)`).FindStringSubmatch(string(out))
		r := regexp.MustCompile(`(?m)^packets received:\s+(\d+)`).FindStringSubmatch(string(out))
		if m == nil || r == nil {
			return false, string(out)
		}
		flash, _ := strconv.ParseUint(m[1], 16, 16)
		received, _ := strconv.Atoi(r[1])
		return received >= 4 && flash&0x07 == 0 && flash&0x20 != 0 &&
			regexp.MustCompile(`(?m)^bogus origin:\s+0$`).MatchString(string(out)), string(out)
	})
	if !ok {
		t.Fatalf("gontp's xleave association does not take classic's basic replies:\n%s\n%s", desc, g.Log())
	}
	t.Logf("gontp ntpq rv/pstats of its xleave association to classic:\n%s", desc)
	_, gout := ntpqDelay(t, gh, ntpq, cl.Addr().String())
	desc = gout
	_, cout := ntpqDelay(t, cl, cntpq, gh.Addr().String())
	t.Logf("gontp ntpq -pn:\n%s\nclassic ntpq -pn:\n%s", desc, cout)
	rv, _ := cl.Run(t, 10*time.Second, cntpq, "-c", "rv &2", "127.0.0.1")
	t.Logf("classic ntpq -c 'rv &2' (its xleave association to gontp):\n%s", rv)
}

// TestInterleavedSymmetricWithChronyd: gontp `peer CHRONYD xleave` and chronyd 4.3 `peer
// GONTP xleave` (chronyd at `local stratum 8`) run the interleaved symmetric mode: chronyc
// ntpdata shows "Interleaved : Yes" for gontp, and gontp's association is interleaved,
// reachable and its system peer.
func TestInterleavedSymmetricWithChronyd(t *testing.T) {
	t.Parallel()
	testnet.Reference(t, "chronyd", "chronyc")
	tn := testnet.New(t)
	ch := tn.Host("chrony")
	gh := tn.Host("gontp")
	sock := chronySocket(t)
	testnet.Chronyd(t, ch, fmt.Sprintf("local stratum 8\nallow\nbindcmdaddress %s\npeer %s xleave minpoll 3 maxpoll 3\n", sock, gh.Addr()))
	snap, logs := runGontpInProcessClock(t, gh, fmt.Sprintf("peer %s xleave minpoll 3 maxpoll 3\n", ch.Addr()), nil,
		daemon.ClockOptions{VirtualClock: "0,0"})
	var why, out string
	ok, _ := waitFor(3*time.Minute, func() (bool, string) {
		s := snap()
		p, found := findPeer(s, ch.Addr())
		out = chronyc(t, ch, sock, "ntpdata", gh.Addr().String())
		if !found {
			why = "no association for chronyd"
			return false, why
		}
		why = fmt.Sprintf("interleaved %v reach %o sys peer %d (chronyd is %d) flash %#x bogus %d delay %.3f ms xleave %.3f ms",
			p.Vars.Interleaved, p.Vars.Reach, s.SysPeer, p.ID, p.Vars.Flash, p.Vars.BogusOrg, p.Vars.Delay*1e3, p.Vars.Xleave*1e3)
		return p.Vars.Interleaved && p.Vars.Reach&7 == 7 && s.SysPeer == p.ID && interleavedRe.MatchString(out), why
	})
	if !ok {
		t.Fatalf("no interleaved symmetric association: gontp: %s\nchronyc ntpdata:\n%s\ngontp log:\n%s", why, out, logs)
	}
	t.Logf("gontp: %s\nchronyc ntpdata %s:\n%s", why, gh.Addr(), out)
}
