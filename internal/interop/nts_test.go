// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
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
	t.Parallel() // tens of seconds of waiting on its own network: runs beside the others
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
	// ntpq's association list: the NTS association is authenticated (auth "ok").
	as, err := gh.Run(t, 10*time.Second, binary(t, "ntpq"), "-c", "as", gh.Addr().String())
	t.Logf("gontp ntpq -c as:\n%s", as)
	if err != nil || !regexp.MustCompile(`(?m)^\s*1\s+\d+\s+f[0-9a-f]{3}\s+yes\s+yes\s+ok\s+sys\.peer`).Match(as) {
		t.Errorf("ntpq -c as does not show an authenticated system peer (%v)", err)
	}
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

// gontpNTSServerConf is a gontp NTS server synchronised to its LOCAL clock (as
// gontpLocalConf), with the throwaway certificate and a master key file in dir.
func gontpNTSServerConf(ca *testca.Files, keys string) string {
	return gontpLocalConf + fmt.Sprintf("nts enable\nnts cert %s\nnts key %s\nnts cookie %s\n", ca.Cert, ca.Key, keys)
}

// authdataRow returns chronyc authdata's row for addr as fields: Name/IP, Mode, KeyID, Type,
// KLen, Last, Atmp, NAK, Cook, CLen.
func authdataRow(out string, addr netip.Addr) []string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 10 && f[0] == addr.String() {
			return f
		}
	}
	return nil
}

// TestNTSChronydClientToGontp: chronyd 4.3 with `server GONTP nts` synchronises to a gontp
// NTS server; chronyc authdata shows NTS with cookies. Then gontp is restarted with its master
// key file aged by a day, so that it rotates to a new key at start: chronyd keeps using the
// cookies it holds (made with the old key, which gontp keeps), stays synchronised, gets no
// NTS NAK and makes no new NTS-KE.
func TestNTSChronydClientToGontp(t *testing.T) {
	t.Parallel() // tens of seconds of waiting on its own network: runs beside the others
	testnet.Reference(t, "chronyd", "chronyc")
	tn := testnet.New(t)
	gh := tn.Host("gontp")
	ch := tn.Host("chrony")
	ca := testca.New(t, gh.Addr().String())
	keys := filepath.Join(t.TempDir(), "nts-keys")
	conf := gontpNTSServerConf(ca, keys)
	g := startGontp(t, gh, conf)
	if !gh.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp does not listen:\n%s", g.Log())
	}
	if _, err := ch.WaitSynced(gh.Addr(), 30*time.Second); err != nil {
		t.Fatalf("gontp not synchronised to LOCAL: %v", err)
	}
	sock := chronySocket(t)
	testnet.Chronyd(t, ch, fmt.Sprintf("bindcmdaddress %s\nntstrustedcerts %s\nntsdumpdir %s\nserver %s iburst nts minpoll 1 maxpoll 1\n",
		sock, ca.CA, t.TempDir(), gh.Addr()))
	synced := func() (bool, string) {
		out := chronyc(t, ch, sock, "sources")
		return regexp.MustCompile(`(?m)^\^\*\s+` + regexp.QuoteMeta(gh.Addr().String()) + `\s`).MatchString(out), out
	}
	if ok, out := waitFor(60*time.Second, synced); !ok {
		t.Fatalf("chronyd did not synchronise to gontp over NTS:\n%s\n%s", out, chronyc(t, ch, sock, "authdata"))
	}
	auth := chronyc(t, ch, sock, "authdata")
	t.Logf("chronyc authdata:\n%s", auth)
	row := authdataRow(auth, gh.Addr())
	if row == nil || row[1] != "NTS" || row[8] == "0" {
		t.Fatalf("authdata does not show NTS with cookies for gontp: %v", row)
	}
	// gontp's NTS counters, read with NTPsec's ntpq.
	info := ntpsecNtpq(t, ch, "-c", "ntsinfo", gh.Addr().String())
	t.Logf("NTPsec ntpq ntsinfo against gontp:\n%s", info)
	if ntsCounter(info, "NTS server recvs good") < 1 || ntsCounter(info, "NTS KE serves good") != 1 ||
		ntsCounter(info, "NTS decode cookies") < 1 {
		t.Errorf("gontp's ntsinfo does not count chronyd's NTS-KE and requests")
	}

	// Restart with the key file aged by a day: gontp rotates at start, keeping the old key.
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(text), "\n")
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 3 {
			ts, _ := strconv.ParseInt(f[1], 10, 64)
			f[1] = strconv.FormatInt(ts-86400-60, 10)
			lines[i+1] = strings.Join(f, " ")
		}
	}
	if err := os.WriteFile(keys, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	g2 := startGontp(t, gh, conf)
	if !gh.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp does not listen after the restart:\n%s", g2.Log())
	}
	after, _ := os.ReadFile(keys)
	if n := strings.Count(string(after), "\n") - 1; n != 2 {
		t.Fatalf("key file after the restart holds %d keys, want 2 (rotated, old one kept):\n%s", n, after)
	}
	// Some polls (2 s) with the old cookies and then the new ones.
	time.Sleep(20 * time.Second)
	if ok, out := waitFor(30*time.Second, synced); !ok {
		t.Fatalf("chronyd lost gontp after the restart:\n%s", out)
	}
	auth = chronyc(t, ch, sock, "authdata")
	t.Logf("chronyc authdata %v after the restart:\n%s", time.Since(restarted).Round(time.Second), auth)
	row = authdataRow(auth, gh.Addr())
	if row == nil || row[7] != "0" {
		t.Errorf("chronyd got NTS NAKs after the restart: %v", row)
	}
	if strings.Contains(g2.Log(), "NTS-KE: served") {
		t.Errorf("chronyd made a new NTS-KE after the restart:\n%s", g2.Log())
	}
	// The restarted gontp decoded cookies made with the previous key (the rotated-out one).
	info = ntpsecNtpq(t, ch, "-c", "ntsinfo", gh.Addr().String())
	t.Logf("ntsinfo after the restart:\n%s", info)
	if ntsCounter(info, "NTS decode cookies old") < 1 || ntsCounter(info, "NTS KE serves good") != 0 {
		t.Errorf("after the restart gontp decoded no cookie of the previous key, or served an NTS-KE")
	}
	if row != nil {
		if last := chronyInterval(row[5]); last < time.Since(restarted)-2*time.Second {
			t.Errorf("chronyd's last NTS-KE was %v ago, after gontp's restart %v ago", last, time.Since(restarted))
		}
	}
}

// ntsCounter reads one line of NTPsec's `ntpq -c ntsinfo` ("NTS server sends:  12"), -1 if
// absent.
func ntsCounter(out, label string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `:\s+(\d+)\s*$`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// chronyInterval reads chronyc's short intervals ("45", "12m", "3h", "2d").
func chronyInterval(s string) time.Duration {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "m"):
		unit = time.Minute
	case strings.HasSuffix(s, "h"):
		unit = time.Hour
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	}
	n, err := strconv.Atoi(strings.TrimRight(s, "smhd"))
	if err != nil {
		return -1
	}
	return time.Duration(n) * unit
}

// tamperRelay forwards NTP between clients and server from h's port 123, changing one octet of
// every reply: alternately the transmit timestamp's last octet (a man in the middle moving the
// time) and the packet's last octet (in the authenticator).
type tamperRelay struct {
	altered atomic.Int64
}

func startTamperRelay(t *testing.T, h *testnet.Host, server netip.Addr) *tamperRelay {
	r := &tamperRelay{}
	var local, up *net.UDPConn
	err := h.Do(func() error {
		var err error
		if local, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 123}); err != nil {
			return err
		}
		up, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, 123)))
		return err
	})
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	t.Cleanup(func() { local.Close(); up.Close() })
	var client atomic.Pointer[net.UDPAddr]
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := local.ReadFromUDP(buf)
			if err != nil {
				return
			}
			client.Store(from)
			up.Write(buf[:n])
		}
	}()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, err := up.Read(buf)
			if err != nil {
				return
			}
			to := client.Load()
			if to == nil || n < 48 {
				continue
			}
			if r.altered.Add(1)%2 == 1 {
				buf[47] ^= 0x01
			} else {
				buf[n-1] ^= 0x80
			}
			local.WriteToUDP(buf[:n], to)
		}
	}()
	return r
}

// TestNTSManInTheMiddle: chronyd's NTS-KE sends gontp to a relay for NTP (ntsntpserver); the
// relay changes one octet of every reply. gontp refuses every reply, counts and logs each,
// and takes no time: the association never becomes reachable.
func TestNTSManInTheMiddle(t *testing.T) {
	t.Parallel() // tens of seconds of waiting on its own network: runs beside the others
	testnet.Reference(t, "chronyd", "chronyc")
	tn := testnet.New(t)
	ch := tn.Host("chrony")
	mitm := tn.Host("mitm")
	gh := tn.Host("gontp")
	ca := testca.New(t, ch.Addr().String())
	sock := chronydNTSServer(t, ch, ca, fmt.Sprintf("ntsntpserver %s\n", mitm.Addr()))
	relay := startTamperRelay(t, mitm, ch.Addr())
	g := startGontp(t, gh, fmt.Sprintf("server %s nts iburst minpoll 3 maxpoll 3\nnts ca %s\ndisable ntp\n", ch.Addr(), ca.CA))
	ok, _ := waitFor(60*time.Second, func() (bool, string) {
		return relay.altered.Load() >= 6 && strings.Count(g.Log(), "refused") >= 6, ""
	})
	peers := ntsNtpqPeers(t, gh, gh.Addr())
	t.Logf("relay altered %d replies; gontp ntpq -pn:\n%s", relay.altered.Load(), peers)
	if !ok {
		t.Fatalf("relay altered %d replies, gontp logged %d refusals:\n%s", relay.altered.Load(), strings.Count(g.Log(), "refused"), g.Log())
	}
	row := regexp.MustCompile(`(?m)^(.)` + regexp.QuoteMeta(mitm.Addr().String()) + `\s.*$`).FindStringSubmatch(peers)
	if row == nil {
		t.Fatalf("gontp has no association with the NTP address the NTS-KE gave (%s):\n%s", mitm.Addr(), peers)
	}
	f := strings.Fields(row[0])
	if row[1] == "*" || len(f) < 7 || f[6] != "0" {
		t.Errorf("gontp took time from altered replies (tally %q, reach %v):\n%s", row[1], f, peers)
	}
	if strings.Contains(g.Log(), "synchronized to") {
		t.Errorf("gontp synchronised through the man in the middle:\n%s", g.Log())
	}
	info := ntpsecNtpq(t, gh, "-c", "ntsinfo", gh.Addr().String())
	t.Logf("NTPsec ntpq ntsinfo against gontp:\n%s", info)
	if n := ntsCounter(info, "NTS client recvs w error"); n < 6 {
		t.Errorf("gontp counted %d refused NTS replies, want >= 6", n)
	}
	if n := ntsCounter(info, "NTS client recvs good"); n != 0 {
		t.Errorf("gontp counted %d good NTS replies through the man in the middle", n)
	}
	stats := chronyc(t, ch, sock, "serverstats")
	if n := statValue(stats, "Authenticated NTP packets"); n < 6 {
		t.Errorf("chronyd authenticated %d requests through the relay, want >= 6:\n%s", n, stats)
	}
}

// startNTPsec runs NTPsec's ntpd in the foreground on h with conf (through the reference
// wrapper, which takes CAP_SYS_TIME away), logging to a file the Proc log shows.
func startNTPsec(t *testing.T, h *testnet.Host, conf string) (*testnet.Proc, func() string) {
	ref := testnet.Reference(t, "ntpsec-ntpd")
	dir := t.TempDir()
	confPath := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := h.Start(t, filepath.Join(ref, "ntpsec-ntpd"), "-n", "-c", confPath, "-p", filepath.Join(dir, "ntpd.pid"),
		"-l", filepath.Join(dir, "ntpd.log"))
	logPath := filepath.Join(dir, "ntpd.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("NTPsec log:\n%s", b)
		}
	})
	if !h.WaitUDP(123, 15*time.Second) {
		t.Fatalf("NTPsec ntpd does not listen on UDP 123:\n%s", p.Log())
	}
	return p, func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
}

// ntpsecNtpq runs NTPsec's ntpq on h with args.
func ntpsecNtpq(t *testing.T, h *testnet.Host, args ...string) string {
	ref := testnet.Reference(t, "ntpsec-ntpq")
	out, err := h.Run(t, 15*time.Second, append([]string{filepath.Join(ref, "ntpsec-ntpq")}, args...)...)
	if err != nil {
		return fmt.Sprintf("ntpsec ntpq %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// ntpsecNTSServerConf is an NTPsec NTS server synchronised to upstream (NTPsec has no LOCAL
// clock driver, and its orphan mode uses the loopback refid, which clients rightly refuse as
// a loop). The restrict lines let its own ntpq read its counters (without them NTPsec 1.2.2
// leaves mode-6 queries unanswered).
func ntpsecNTSServerConf(t *testing.T, upstream netip.Addr, ca *testca.Files) string {
	return fmt.Sprintf("server %s iburst minpoll 3 maxpoll 3\nrestrict default\nrestrict 127.0.0.1\nnts enable\nnts key %s\nnts cert %s\nnts cookie %s\n",
		upstream, ca.Key, ca.Cert, filepath.Join(t.TempDir(), "nts-keys"))
}

// TestNTSGontpClientToNTPsec: gontp's `server ADDR nts` against NTPsec 1.2.2's NTS server:
// gontp synchronises to it, and NTPsec's ntsinfo counts the NTS requests.
func TestNTSGontpClientToNTPsec(t *testing.T) {
	t.Parallel() // tens of seconds of waiting on its own network: runs beside the others
	testnet.Reference(t, "ntpsec-ntpd", "ntpsec-ntpq")
	tn := testnet.New(t)
	up := tn.Host("chrony")
	nh := tn.Host("ntpsec")
	gh := tn.Host("gontp")
	testnet.Chronyd(t, up, "local stratum 8\nallow\n")
	ca := testca.New(t, nh.Addr().String())
	_, nlog := startNTPsec(t, nh, ntpsecNTSServerConf(t, up.Addr(), ca))
	g := startGontp(t, gh, fmt.Sprintf("server %s nts iburst minpoll 3 maxpoll 3\nnts ca %s\ndisable ntp\n", nh.Addr(), ca.CA))
	ok, desc := waitFor(120*time.Second, func() (bool, string) {
		out := ntsNtpqPeers(t, gh, gh.Addr())
		return regexp.MustCompile(`(?m)^\*` + regexp.QuoteMeta(nh.Addr().String()) + ` `).MatchString(out), out
	})
	if !ok {
		t.Fatalf("gontp did not take NTPsec as its NTS system peer:\n%s\n%s\n%s", desc, g.Log(), nlog())
	}
	t.Logf("gontp ntpq -pn:\n%s", desc)
	if !strings.Contains(nlog(), "NTS-KE from "+gh.Addr().String()) {
		t.Errorf("NTPsec's log has no NTS-KE from gontp:\n%s", nlog())
	}
	info := ntpsecNtpq(t, nh, "-c", "ntsinfo", "127.0.0.1")
	t.Logf("NTPsec ntsinfo:\n%s", info)
	if ntsCounter(info, "NTS server recvs good") < 1 || ntsCounter(info, "NTS KE serves good") < 1 {
		t.Errorf("NTPsec's ntsinfo does not count gontp's NTS-KE and requests")
	}
}

// TestNTSNTPsecClientToGontp: NTPsec 1.2.2 with `server GONTP nts` makes its NTS-KE with gontp
// and takes gontp as its system peer.
func TestNTSNTPsecClientToGontp(t *testing.T) {
	t.Parallel() // tens of seconds of waiting on its own network: runs beside the others
	testnet.Reference(t, "ntpsec-ntpd")
	tn := testnet.New(t)
	gh := tn.Host("gontp")
	nh := tn.Host("ntpsec")
	ca := testca.New(t, gh.Addr().String())
	g := startGontp(t, gh, gontpNTSServerConf(ca, filepath.Join(t.TempDir(), "nts-keys")))
	if !gh.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp does not listen:\n%s", g.Log())
	}
	if _, err := nh.WaitSynced(gh.Addr(), 30*time.Second); err != nil {
		t.Fatalf("gontp not synchronised to LOCAL: %v", err)
	}
	// NTPsec's peerstats file tells the selection: the status word's select code 6 is
	// sys.peer.
	stats := t.TempDir()
	_, nlog := startNTPsec(t, nh, fmt.Sprintf("statsdir %s/\nstatistics peerstats\nfilegen peerstats file peerstats type none enable\n"+
		"restrict default\nrestrict 127.0.0.1\nserver %s nts iburst minpoll 3 maxpoll 3\nnts ca %s\n", stats, gh.Addr(), ca.CA))
	sysPeer := regexp.MustCompile(`(?m)^\d+ [\d.]+ ` + regexp.QuoteMeta(gh.Addr().String()) + ` ([0-9a-f])6[0-9a-f]{2} `)
	var status string
	ok, _ := waitFor(90*time.Second, func() (bool, string) {
		b, _ := os.ReadFile(filepath.Join(stats, "peerstats"))
		status = string(b)
		return sysPeer.MatchString(status), ""
	})
	t.Logf("NTPsec peerstats:\n%s", status)
	if !ok {
		t.Fatalf("NTPsec did not take gontp as its system peer:\n%s\n%s", nlog(), g.Log())
	}
	// The high nibble's 0x2 bit is "authentic": NTPsec authenticated gontp's replies.
	if m := sysPeer.FindStringSubmatch(status); m != nil {
		if n, _ := strconv.ParseUint(m[1], 16, 8); n&0x2 == 0 {
			t.Errorf("NTPsec's status for gontp %s6.. is not authentic", m[1])
		}
	}
	if !strings.Contains(g.Log(), "NTS-KE: served client="+nh.Addr().String()) {
		t.Errorf("gontp served no NTS-KE to NTPsec")
	}
	info := ntpsecNtpq(t, nh, "-c", "ntsinfo", "127.0.0.1")
	t.Logf("NTPsec ntsinfo:\n%s", info)
	if ntsCounter(info, "NTS client recvs good") < 1 || ntsCounter(info, "NTS KE client probes good") != 1 {
		t.Errorf("NTPsec's ntsinfo does not count its NTS-KE with gontp and good replies")
	}
}

// TestNTSNAKRekey: gontp client and gontp server. The server restarts without its master
// keys (the file removed), so the client's cookies are worthless: the server answers with
// NTS NAKs, and the client makes a new NTS-KE and carries on, authenticated.
func TestNTSNAKRekey(t *testing.T) {
	t.Parallel() // tens of seconds of waiting on its own network: runs beside the others
	tn := testnet.New(t)
	sh := tn.Host("server")
	ch := tn.Host("client")
	ca := testca.New(t, sh.Addr().String())
	keys := filepath.Join(t.TempDir(), "nts-keys")
	conf := gontpNTSServerConf(ca, keys)
	s := startGontp(t, sh, conf)
	if !sh.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp server does not listen:\n%s", s.Log())
	}
	if _, err := ch.WaitSynced(sh.Addr(), 30*time.Second); err != nil {
		t.Fatalf("gontp server not synchronised to LOCAL: %v", err)
	}
	c := startGontp(t, ch, fmt.Sprintf("server %s nts iburst minpoll 3 maxpoll 3\nnts ca %s\ndisable ntp\n", sh.Addr(), ca.CA))
	sysPeer := regexp.MustCompile(`(?m)^\*` + regexp.QuoteMeta(sh.Addr().String()) + ` `)
	if ok, out := waitFor(60*time.Second, func() (bool, string) {
		out := ntsNtpqPeers(t, ch, ch.Addr())
		return sysPeer.MatchString(out), out
	}); !ok {
		t.Fatalf("gontp client did not synchronise to the gontp NTS server:\n%s\n%s", out, c.Log())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keys); err != nil {
		t.Fatal(err)
	}
	s2 := startGontp(t, sh, conf)
	if !sh.WaitUDP(123, 10*time.Second) {
		t.Fatalf("gontp server does not listen after the restart:\n%s", s2.Log())
	}
	ok, _ := waitFor(60*time.Second, func() (bool, string) {
		return strings.Count(c.Log(), "NTS-KE with "+sh.Addr().String()) >= 2, ""
	})
	if !ok {
		t.Fatalf("the client made no new NTS-KE after the server lost its keys:\n%s\n%s", c.Log(), s2.Log())
	}
	if !strings.Contains(c.Log(), "NTS NAK; new NTS-KE") {
		t.Errorf("the client did not log the NTS NAK:\n%s", c.Log())
	}
	info := ntpsecNtpq(t, sh, "-c", "ntsinfo", sh.Addr().String())
	t.Logf("server ntsinfo:\n%s", info)
	if ntsCounter(info, "NTS decode cookies too old") < 1 || ntsCounter(info, "NTS KE serves good") != 1 {
		t.Errorf("the restarted server did not count the stale cookie and the new NTS-KE")
	}
	// The association keeps answering, authenticated, with the new keys.
	before := strings.Count(c.Log(), "refused")
	time.Sleep(20 * time.Second)
	info = ntpsecNtpq(t, ch, "-c", "ntsinfo", ch.Addr().String())
	t.Logf("client ntsinfo:\n%s", info)
	if ntsCounter(info, "NTS KE client probes good") != 2 || ntsCounter(info, "NTS client recvs good") < 4 {
		t.Errorf("client counters do not show two NTS-KEs and good replies")
	}
	if after := strings.Count(c.Log(), "refused"); after != before {
		t.Errorf("replies refused after the new NTS-KE:\n%s", c.Log())
	}
}
