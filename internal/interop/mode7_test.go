// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

var (
	shapeAddr   = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	shapeHex    = regexp.MustCompile(`\b[0-9a-f]{8}\.[0-9a-f]{8}\b`)
	shapeDate   = regexp.MustCompile(`[A-Z][a-z]{2}, [A-Z][a-z]{2} [ \d]\d \d{4} [ \d]\d:\d\d:\d\d\.\d{3}`)
	shapeNumber = regexp.MustCompile(`[-+]?\d+(\.\d+)?(e[-+]\d+)?`)
)

// shape is an ntpdc output with what differs between two daemons (addresses, numbers, dates)
// replaced by placeholders, and runs of blanks made one: labels, units and the layout stay.
func shape(s string) string {
	s = shapeAddr.ReplaceAllString(s, "ADDR")
	s = shapeHex.ReplaceAllString(s, "TS")
	s = shapeDate.ReplaceAllString(s, "DATE")
	s = shapeNumber.ReplaceAllString(s, "N")
	return regexp.MustCompile(`[ \t]+`).ReplaceAllString(s, " ")
}

// TestClassicNtpdcAgainstGontpMode7: classic ntpdc 4.2.8p15 asks gontp's ntpd (enable mode7)
// and classic ntpd 4.2.8p15 (enable mode7), both synchronised to the same chronyd, the same
// read-only questions: the outputs have the same lines, labels and layout (the values are
// each daemon's own). monlist and a write request get classic's refusals from gontp; without
// `enable mode7` gontp does not answer at all.
func TestClassicNtpdcAgainstGontpMode7(t *testing.T) {
	t.Parallel() // a minute or more of waiting on its own network: runs beside the others
	ref := testnet.Reference(t, "classic-ntpdc", "classic-ntpd", "chronyd")
	ntpdc := filepath.Join(ref, "classic-ntpdc")
	n := testnet.New(t)
	ch, gh, ph, client := n.Host("chrony"), n.Host("gontp"), n.Host("classic"), n.Host("client")
	testnet.Chronyd(t, ch, "local stratum 3\nallow\n")
	conf := fmt.Sprintf("server %s iburst minpoll 4\nenable mode7\n", ch.Addr())
	startGontp(t, gh, conf)
	testnet.ClassicNTPD(t, ph, conf)
	waitSynced(t, gh, 90*time.Second)
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, _, _ := runIn(client, ntpdc, "-n", "-c", "sysinfo", ph.Addr().String())
		if strings.Contains(out, "system peer:          "+ch.Addr().String()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("classic ntpd did not synchronise:\n%s", out)
		}
		time.Sleep(time.Second)
	}
	ask := func(h *testnet.Host, cmd string) string {
		so, se, err := runIn(client, ntpdc, "-n", "-c", cmd, h.Addr().String())
		return so + se + fmt.Sprint(err)
	}
	for _, cmd := range []string{"listpeers", "peers", "dmpeers", "sysinfo", "sysstats", "kerninfo",
		"showpeer " + ch.Addr().String()} {
		c, g := ask(ph, cmd), ask(gh, cmd)
		if shape(c) != shape(g) {
			t.Errorf("ntpdc -c %q:\nclassic ntpd:\n%s\ngontp:\n%s", cmd, c, g)
		} else {
			t.Logf("ntpdc -c %q against gontp:\n%s", cmd, g)
		}
	}
	// Refused: monlist (INFO_ERR_REQ), and a write without the request key (INFO_ERR_AUTH).
	for cmd, want := range map[string]string{
		"monlist": "***Server doesn't implement this request",
	} {
		if g := ask(gh, cmd); !strings.Contains(g, want) {
			t.Errorf("ntpdc -c %q against gontp: %q, want %q", cmd, g, want)
		}
	}
}

// TestGontpIgnoresMode7ByDefault: without `enable mode7` classic ntpdc gets no answer, as
// from classic ntpd.
func TestGontpIgnoresMode7ByDefault(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpdc")
	n := testnet.New(t)
	gh, client := n.Host("gontp"), n.Host("client")
	startGontp(t, gh, gontpLocalConf)
	if !gh.WaitUDP(123, 10*time.Second) {
		t.Fatal("gontp does not listen")
	}
	so, se, _ := runIn(client, filepath.Join(ref, "classic-ntpdc"), "-n", "-c", "sysinfo", gh.Addr().String())
	if !strings.Contains(so+se, "timed out") {
		t.Errorf("ntpdc sysinfo without enable mode7: %q, want a timeout", so+se)
	}
}

// mode7Request is a mode-7 request as ntpdc sends one: version 2, the header, then the
// data area padded to classic's fixed 192 octets (REQ_LEN_NOMAC).
func mode7Request(first, impl, code byte, nitems, itemSize int, data []byte) []byte {
	b := make([]byte, 192)
	b[0], b[2], b[3] = first, impl, code
	b[4], b[5] = byte(nitems>>8), byte(nitems)
	b[6], b[7] = byte(itemSize>>8), byte(itemSize)
	copy(b[8:], data)
	return b
}

// askMode7 sends req from h to server's port 123 and returns the first reply, or nil when
// none comes within a second.
func askMode7(t *testing.T, h *testnet.Host, server netip.Addr, req []byte) []byte {
	t.Helper()
	var reply []byte
	err := h.Do(func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, 123)))
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write(req); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 600)
		n, err := c.Read(buf)
		if err == nil {
			reply = buf[:n]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// TestMode7ErrorRepliesAgainstClassic: requests gontp refuses or cannot use get the same
// reply, octet for octet, from gontp as from classic ntpd 4.2.8p15 (both with enable mode7):
// the universal implementation, an unknown implementation, an unknown request code, a wrong
// item size, writes without the request key (too short for a MAC, and long enough), a peer
// that does not exist; malformed requests (the response bit, a sequence number) get no reply
// from either.
func TestMode7ErrorRepliesAgainstClassic(t *testing.T) {
	testnet.Reference(t, "classic-ntpd")
	n := testnet.New(t)
	gh, ph, client := n.Host("gontp"), n.Host("classic"), n.Host("client")
	conf := "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\nenable mode7\n"
	startGontp(t, gh, conf)
	testnet.ClassicNTPD(t, ph, conf)
	if !gh.WaitUDP(123, 10*time.Second) {
		t.Fatal("gontp does not listen")
	}
	unconf := make([]byte, 24) // conf_unpeer for 198.18.0.99, IPv4
	copy(unconf, []byte{198, 18, 0, 99})
	peer := make([]byte, 32) // info_peer_list for 198.18.0.99:123
	copy(peer, []byte{198, 18, 0, 99, 0, 123})
	for _, c := range []struct {
		name string
		req  []byte
	}{
		{"universal implementation", mode7Request(0x17, 0, 0, 0, 0, nil)},
		{"unknown implementation", mode7Request(0x17, 5, 4, 0, 0, nil)},
		{"unknown request", mode7Request(0x17, 3, 99, 0, 0, nil)},
		{"sysinfo with data", mode7Request(0x17, 3, 4, 1, 8, nil)},
		{"config, short", mode7Request(0x17, 3, 10, 1, 168, nil)},
		{"unconfig without key", mode7Request(0x17, 3, 11, 1, 24, unconf)},
		{"set sys flag without key", mode7Request(0x17, 3, 12, 1, 4, []byte{0, 0, 0, 4})},
		{"reread keys", mode7Request(0x17, 3, 23, 0, 0, nil)},
		{"peer info, no such peer", mode7Request(0x17, 3, 2, 1, 32, peer)},
		{"version 4 unconfig", mode7Request(0x27, 3, 11, 1, 24, unconf)},
		{"response bit", mode7Request(0x97, 3, 4, 0, 0, nil)},
		{"sequence number", append([]byte{0x17, 0x05}, mode7Request(0x17, 3, 4, 0, 0, nil)[2:]...)},
	} {
		cr := askMode7(t, client, ph.Addr(), c.req)
		gr := askMode7(t, client, gh.Addr(), c.req)
		if string(cr) != string(gr) {
			t.Errorf("%s:\nclassic: % x\ngontp:   % x", c.name, cr, gr)
		}
		silent := strings.HasPrefix(c.name, "response") || strings.HasPrefix(c.name, "sequence")
		if silent != (gr == nil) || gr != nil && len(gr) != 8 {
			t.Errorf("%s: gontp replied % x; want %s", c.name, gr, map[bool]string{true: "nothing", false: "an 8-octet error reply"}[silent])
		} else {
			t.Logf("%s: % x", c.name, gr)
		}
	}
}

// exact says which ntpdc runs print nothing that moves between two runs, and so must be
// identical octet for octet: the peer list, refusals and usage messages.
func exact(args []string) bool {
	if len(args) < 3 {
		return false
	}
	c := args[2]
	return c == "listpeers" || c == "pstats" || strings.HasPrefix(c, "monlist") || strings.HasSuffix(c, " 4")
}

// TestGontpNtpdcAgainstClassic: gontp's ntpdc and classic ntpdc 4.2.8p15 ask classic ntpd
// 4.2.8p15 (enable mode7, synchronised to a chronyd) the same read-only commands, pstats,
// ctlstats, authinfo, reslist and monlist (which classic ntpd answers "data not found")
// included, with their family arguments, and with two hosts on the command line (the
// "--- HOST ---" lines). listpeers, monlist, pstats's usage and the refused arguments are
// compared octet for octet; for the others, whose values move between two runs (counters,
// offsets, dispersion growing each second), the two programs run one after the other up to
// five times until the outputs are identical, and the shapes (labels, layout) must agree
// every time. The same is then checked against gontp's ntpd.
func TestGontpNtpdcAgainstClassic(t *testing.T) {
	t.Parallel() // a minute or more of waiting on its own network: runs beside the others
	ref := testnet.Reference(t, "classic-ntpdc", "classic-ntpd", "chronyd")
	classic := filepath.Join(ref, "classic-ntpdc")
	ours := binary(t, "ntpdc")
	n := testnet.New(t)
	ch, ph, gh, client := n.Host("chrony"), n.Host("classic"), n.Host("gontp"), n.Host("client")
	testnet.Chronyd(t, ch, "local stratum 3\nallow\n")
	// The restrict lines give reslist flags to print (no address of the test network matches
	// the 10/8 entry, so nothing is refused).
	conf := fmt.Sprintf("server %s iburst minpoll 4\nenable mode7\n"+
		"restrict 10.0.0.0 mask 255.0.0.0 nomodify notrap kod limited nopeer version noquery\n"+
		"restrict 192.0.2.1 noserve notrust ignore\n", ch.Addr())
	testnet.ClassicNTPD(t, ph, conf)
	startGontp(t, gh, conf)
	waitSynced(t, gh, 90*time.Second)
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, _, _ := runIn(client, classic, "-n", "-c", "sysinfo", ph.Addr().String())
		if strings.Contains(out, "system peer:          "+ch.Addr().String()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("classic ntpd did not synchronise:\n%s", out)
		}
		time.Sleep(time.Second)
	}
	ask := func(prog string, h *testnet.Host, args ...string) string {
		so, se, err := runIn(client, prog, append(args, h.Addr().String())...)
		for _, p := range []string{prog, "/opt/ntp-reference/classic/usr/bin/ntpdc"} {
			se = strings.ReplaceAll(se, p+":", "ntpdc:")
		}
		return so + "--- stderr\n" + se + fmt.Sprint(err)
	}
	for _, h := range []*testnet.Host{ph, gh} {
		for _, args := range [][]string{{"-n", "-c", "listpeers"}, {"-n", "-c", "peers"}, {"-n", "-c", "dmpeers"},
			{"-n", "-c", "sysinfo"}, {"-n", "-c", "sysstats"}, {"-n", "-c", "kerninfo"}, {"-n", "-c", "loopinfo"},
			{"-n", "-c", "iostats"}, {"-n", "-c", "memstats"}, {"-n", "-c", "timerstats"},
			{"-n", "-c", "showpeer " + ch.Addr().String()}, {"-n", "-c", "showpeer 198.18.0.250"},
			{"-n", "-p"}, {"-n", "-l"}, {"-n", "-c", "sysinfo", "-c", "kerninfo"},
			{"-n", "-c", "pstats " + ch.Addr().String()}, {"-n", "-c", "pstats -4 " + ch.Addr().String()},
			{"-n", "-c", "pstats"}, {"-n", "-c", "ctlstats"}, {"-n", "-c", "authinfo"},
			{"-n", "-c", "reslist"}, {"-n", "-c", "reslist -4"}, {"-n", "-c", "reslist 4"},
			{"-n", "-c", "monlist"}, {"-n", "-c", "monlist 1"}, {"-n", "-c", "peers -4"}, {"-n", "-c", "peers 4"},
			// Several hosts: each command's output under a "--- HOST ---" line.
			{"-n", "-c", "timerstats", "-c", "authinfo", h.Addr().String()}} {
			same := false
			var c, g string
			for try := 0; try < 5 && !same; try++ {
				c, g = ask(classic, h, args...), ask(ours, h, args...)
				if shape(c) != shape(g) {
					break
				}
				same = c == g
			}
			switch {
			case shape(c) != shape(g):
				t.Errorf("%s, ntpdc %v: different output:\nclassic:\n%s\ngontp:\n%s", h.Name(), args, c, g)
			case !same && exact(args):
				t.Errorf("%s, ntpdc %v: not identical:\nclassic:\n%s\ngontp:\n%s", h.Name(), args, c, g)
			case !same:
				t.Logf("%s, ntpdc %v: same shape, values moved between runs:\nclassic:\n%s\ngontp:\n%s", h.Name(), args, c, g)
			}
		}
	}
}

// collectdFiles runs collectd's ntpd plugin (mode 7, as collectd 5.12 reads ntpd) against
// server for a few seconds and returns the value files it wrote (the csv plugin's names
// without the date) and the first value of each.
func collectdFiles(t *testing.T, h *testnet.Host, collectd string, server netip.Addr) map[string]string {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`Hostname "client"
FQDNLookup false
BaseDir "%[1]s"
PIDFile "%[1]s/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
LoadPlugin ntpd
LoadPlugin csv
<Plugin ntpd>
  Host "%[2]s"
  Port "123"
  ReverseLookups false
  IncludeUnitID true
</Plugin>
<Plugin csv>
  DataDir "%[1]s/csv"
</Plugin>
`, dir, server)
	confPath := filepath.Join(dir, "collectd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := h.Start(t, collectd, "-f", "-C", confPath)
	time.Sleep(4 * time.Second)
	if err := p.Stop(); err != nil {
		t.Logf("stopping collectd: %v", err)
	}
	files := map[string]string{}
	matches, _ := filepath.Glob(filepath.Join(dir, "csv", "client", "ntpd", "*"))
	for _, m := range matches {
		b, _ := os.ReadFile(m)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		name := regexp.MustCompile(`-\d{4}-\d\d-\d\d$`).ReplaceAllString(filepath.Base(m), "")
		if len(lines) > 1 {
			files[name] = lines[1]
		} else {
			files[name] = ""
		}
	}
	if len(files) == 0 {
		t.Logf("collectd wrote nothing; its log:\n%s", p.Log())
	}
	return files
}

// TestCollectdNtpdPlugin: collectd's ntpd plugin, which reads ntpd over mode 7
// (REQ_PEER_LIST_SUM, REQ_GET_KERNEL with implementation XNTPD), gets from gontp's ntpd (enable
// mode7) the same value files as from classic ntpd 4.2.8p15: the loop's frequency and offset,
// the error, and the peer's offset, dispersion and delay.
func TestCollectdNtpdPlugin(t *testing.T) {
	t.Parallel() // a minute or more of waiting on its own network: runs beside the others
	collectd := needProgram(t, "collectd")
	testnet.Reference(t, "classic-ntpd", "chronyd")
	n := testnet.New(t)
	ch, ph, gh, client := n.Host("chrony"), n.Host("classic"), n.Host("gontp"), n.Host("client")
	testnet.Chronyd(t, ch, "local stratum 3\nallow\n")
	conf := fmt.Sprintf("server %s iburst minpoll 4\nenable mode7\n", ch.Addr())
	testnet.ClassicNTPD(t, ph, conf)
	startGontp(t, gh, conf)
	waitSynced(t, gh, 90*time.Second)
	classic, ours := collectdFiles(t, client, collectd, ph.Addr()), collectdFiles(t, client, collectd, gh.Addr())
	for _, want := range []string{"frequency_offset-loop", "time_offset-loop", "time_offset-error",
		"time_offset-" + ch.Addr().String(), "time_dispersion-" + ch.Addr().String(), "delay-" + ch.Addr().String()} {
		if _, ok := ours[want]; !ok {
			t.Errorf("collectd wrote no %s from gontp (files: %v)", want, ours)
		}
	}
	for name := range classic {
		if _, ok := ours[name]; !ok {
			t.Errorf("collectd wrote %s from classic ntpd but not from gontp", name)
		}
	}
	t.Logf("classic ntpd: %v\ngontp: %v", classic, ours)
}

// ifCounters are the recv and sent columns of an ifstats line: each query moves them, so
// two programs asking one after the other never see the same numbers there.
var ifCounters = regexp.MustCompile(`(?m)^([ \d]\d [?.+-] .{77})[ \d]{5} [ \d]{5}`)

// TestGontpNtpdcClockstatAndIfstats: gontp's ntpdc and classic ntpdc 4.2.8p15 ask classic
// ntpd 4.2.8p15 (enable mode7, a LOCAL reference clock, a request key) for clockstat, and
// for ifstats and ifreload, the authenticated requests, with the key from keyid, keytype
// and passwd (right, wrong, another key ID, keyid 0, no key at all: classic's "Keyid: "
// prompt reads an empty standard input); the keyid and keytype commands' own answers too.
// Standard output and standard error must be identical, but for the interfaces' packet
// counters and, between two runs, the seconds. gontp's ntpd, read-only, must refuse
// ifstats and clockstat with classic's words to both programs.
func TestGontpNtpdcClockstatAndIfstats(t *testing.T) {
	t.Parallel()
	ref := testnet.Reference(t, "classic-ntpdc", "classic-ntpd")
	classic := filepath.Join(ref, "classic-ntpdc")
	ours := binary(t, "ntpdc")
	n := testnet.New(t)
	ph, gh, client := n.Host("classic"), n.Host("gontp"), n.Host("client")
	keys := filepath.Join(t.TempDir(), "ntp.keys")
	if err := os.WriteFile(keys, []byte("1 MD5 secretpass\n3 SHA1 sha1pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := fmt.Sprintf("enable mode7\nkeys %s\nrequestkey 1\ntrustedkey 1 3\n", keys)
	testnet.ClassicNTPD(t, ph, "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n"+auth)
	startGontp(t, gh, auth)
	// setsid: no controlling terminal, so that the prompts read standard input (empty), not
	// the terminal of whoever runs the tests.
	ask := func(prog string, h *testnet.Host, args ...string) string {
		so, se, err := runIn(client, "setsid", append([]string{"-w", prog}, append(args, h.Addr().String())...)...)
		return ifCounters.ReplaceAllString(so, "${1}RECV SENT") + "--- stderr\n" + se + fmt.Sprint(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(ask(classic, ph, "-c", "clockstat 127.127.1.0"), "clock address:") {
		if time.Now().After(deadline) {
			t.Fatal("classic ntpd has no LOCAL clock after 30 s")
		}
		time.Sleep(time.Second)
	}
	gontpWants := map[string]string{"clockstat": "***Server doesn't implement this request", "ifstats": "***Permission denied"}
	for _, h := range []*testnet.Host{ph, gh} {
		for _, args := range [][]string{{"-c", "clockstat 127.127.1.0"}, {"-c", "clockstat -4 127.127.1.0"},
			{"-c", "clockstat 127.127.1.0 127.127.1.0"}, {"-c", "clockstat 198.18.0.250"}, {"-c", "clockstat"},
			{"-n", "-c", "keyid 1", "-c", "passwd secretpass", "-c", "ifstats"},
			{"-n", "-c", "keyid 1", "-c", "passwd secretpass", "-c", "ifreload"},
			{"-n", "-c", "keyid 1", "-c", "passwd wrong", "-c", "ifstats"},
			{"-n", "-c", "keyid 3", "-c", "keytype sha1", "-c", "passwd sha1pass", "-c", "ifstats"},
			{"-n", "-c", "keyid 1", "-c", "passwd secretpass", "-c", "keytype sha1", "-c", "ifstats"},
			{"-n", "-c", "keyid 0", "-c", "ifstats"}, {"-n", "-c", "ifstats"}, {"-n", "-c", "keyid 1", "-c", "ifstats"},
			{"-c", "keyid abc", "-c", "keyid", "-c", "keyid 5", "-c", "keyid", "-c", "keyid 0", "-c", "keyid",
				"-c", "keytype", "-c", "keytype SHA1", "-c", "keytype", "-c", "keytype sha256", "-c", "keytype foo",
				"-c", "passwd"}} {
			var c, g string
			for try := 0; try < 5; try++ {
				c, g = ask(classic, h, args...), ask(ours, h, args...)
				if c == g {
					break
				}
			}
			if c != g {
				t.Errorf("%s, ntpdc %v: not identical:\nclassic:\n%s\ngontp:\n%s", h.Name(), args, c, g)
			}
			if h == ph && strings.Contains(strings.Join(args, " "), "passwd secretpass -c if") && !strings.Contains(g, "Address/Mask/Broadcast") {
				t.Errorf("classic ntpd, ntpdc %v: no interface list:\n%s", args, g)
			}
			if h == gh && len(args) > 1 && args[1] == "clockstat 127.127.1.0" && !strings.Contains(g, gontpWants["clockstat"]) {
				t.Errorf("gontp ntpd, ntpdc %v: want %q:\n%s", args, gontpWants["clockstat"], g)
			}
			if h == gh && strings.Join(args, " ") == "-n -c keyid 1 -c passwd secretpass -c ifstats" && !strings.Contains(g, gontpWants["ifstats"]) {
				t.Errorf("gontp ntpd, ntpdc %v: want %q:\n%s", args, gontpWants["ifstats"], g)
			}
		}
	}
}
