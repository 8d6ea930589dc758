// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"os"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/ntske/testca"
	"gontp/internal/testnet"
)

// Network Time Security (RFC 8915, issue 20) between gontp and the reference daemons, in the
// private test network, with certificates from a throwaway CA made by the test.

// waitFor polls cond every second until it is true or timeout passes; it returns the last
// description cond gave.
func waitFor(timeout time.Duration, cond func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(timeout)
	for {
		ok, desc := cond()
		if ok || time.Now().After(deadline) {
			return ok, desc
		}
		time.Sleep(time.Second)
	}
}

// ntsNtpqPeers runs gontp's ntpq -pn against addr from h.
func ntsNtpqPeers(t *testing.T, h *testnet.Host, addr netip.Addr) string {
	out, err := h.Run(t, 10*time.Second, binary(t, "ntpq"), "-pn", addr.String())
	if err != nil {
		return fmt.Sprintf("ntpq: %v\n%s", err, out)
	}
	return string(out)
}

// chronyc runs chronyc against the command socket sock on h.
func chronyc(t *testing.T, h *testnet.Host, sock string, args ...string) string {
	ref := testnet.Reference(t, "chronyc")
	out, err := h.Run(t, 10*time.Second, append([]string{filepath.Join(ref, "chronyc"), "-n", "-h", sock}, args...)...)
	if err != nil {
		return fmt.Sprintf("chronyc %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// statValue reads "Name : value" from chronyc serverstats.
func statValue(out, name string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*:\s*(\d+)`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// chronySocket is a path for chronyd's command socket, in a directory only root may enter
// (chronyd refuses others: "Wrong permissions").
func chronySocket(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "chronyd.sock")
}

// chronydNTSServer starts chronyd as an NTS server (ntsserverkey/ntsservercert) on h, with a
// command socket for chronyc; extra is appended to its configuration.
func chronydNTSServer(t *testing.T, h *testnet.Host, ca *testca.Files, extra string) string {
	sock := chronySocket(t)
	dump := t.TempDir()
	testnet.Chronyd(t, h, fmt.Sprintf("local stratum 8\nallow\nbindcmdaddress %s\nntsserverkey %s\nntsservercert %s\nntsdumpdir %s\n%s",
		sock, ca.Key, ca.Cert, dump, extra))
	return sock
}

// TestNTSGontpClientToChronyd: gontp's `server ADDR nts` against chronyd 4.3's NTS server:
// gontp synchronises to it (ntpq -pn shows it as system peer), and chronyd counts NTS-KE
// connections and authenticated NTP packets.
func TestNTSGontpClientToChronyd(t *testing.T) {
	testnet.Reference(t, "chronyd", "chronyc")
	tn := testnet.New(t)
	ch := tn.Host("chrony")
	gh := tn.Host("gontp")
	ca := testca.New(t, ch.Addr().String())
	sock := chronydNTSServer(t, ch, ca, "")
	g := startGontp(t, gh, fmt.Sprintf("server %s nts iburst minpoll 3 maxpoll 3\nnts ca %s\ndisable ntp\n", ch.Addr(), ca.CA))
	ok, desc := waitFor(90*time.Second, func() (bool, string) {
		out := ntsNtpqPeers(t, gh, gh.Addr())
		return regexp.MustCompile(`(?m)^\*` + regexp.QuoteMeta(ch.Addr().String()) + ` `).MatchString(out), out
	})
	if !ok {
		t.Fatalf("gontp did not take chronyd as its NTS system peer:\n%s\n%s", desc, g.Log())
	}
	t.Logf("gontp ntpq -pn:\n%s", desc)
	stats := chronyc(t, ch, sock, "serverstats")
	t.Logf("chronyc serverstats:\n%s", stats)
	if n := statValue(stats, "NTS-KE connections accepted"); n < 1 {
		t.Errorf("chronyd accepted %d NTS-KE connections, want >= 1", n)
	}
	if n := statValue(stats, "Authenticated NTP packets"); n < 3 {
		t.Errorf("chronyd counted %d authenticated NTP packets, want >= 3", n)
	}
	if strings.Contains(g.Log(), "refused") {
		t.Errorf("gontp refused replies of an honest chronyd:\n%s", g.Log())
	}
}
