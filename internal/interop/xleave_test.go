// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

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
