// SPDX-License-Identifier: BSD-2-Clause

package testnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestUDPBound(t *testing.T) {
	table := []byte(`   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1702: 00000000:007B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 13963 2 000000001291e4be 0
  44: 0100007F:A1B2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 13964 2 000000001291e4be 0
`)
	for _, c := range []struct {
		port int
		want bool
	}{{123, true}, {0xA1B2, true}, {124, false}, {0x7B00, false}, {0, false}} {
		if got := udpBound(table, c.port); got != c.want {
			t.Errorf("udpBound(port %d) = %v, want %v", c.port, got, c.want)
		}
	}
	if udpBound(nil, 123) {
		t.Error("udpBound on an empty table is true")
	}
}

func TestNamespacePattern(t *testing.T) {
	for name, want := range map[string]bool{
		"gontp-123-1-hub":  true,
		"gontp-123-17-h2":  true,
		"gontp-lead":       false, // other tools' namespaces are never swept
		"gontp-probe-5243": false,
		"gontp-123-1-hubx": false,
		"xgontp-123-1-hub": false,
	} {
		if got := nsPattern.MatchString(name); got != want {
			t.Errorf("nsPattern matches %q = %v, want %v", name, got, want)
		}
	}
}

func TestChronyServerPort(t *testing.T) {
	for _, c := range []struct {
		conf   string
		port   int
		serves bool
	}{
		{"local stratum 8\nallow\n", 123, true},
		{"local stratum 8\n", 123, false},
		{"allow 198.18.0.0/24\nport 11123\n", 11123, true},
		{"allow\nport 0\n", 0, false},
	} {
		port, serves := chronyServerPort(c.conf)
		if port != c.port || serves != c.serves {
			t.Errorf("chronyServerPort(%q) = %d, %v; want %d, %v", c.conf, port, serves, c.port, c.serves)
		}
	}
}

// TestUDPBetweenHosts shows that two hosts exchange UDP over the bridge and that Host.Do really
// runs in the host's namespace: there the host's own address is local and the other's is not.
func TestUDPBetweenHosts(t *testing.T) {
	n := New(t)
	a, b := n.Host("a"), n.Host("b")
	if a.Name() != "a" || a.Addr() != netip.MustParseAddr("198.18.0.2") || b.Addr() != netip.MustParseAddr("198.18.0.3") {
		t.Fatalf("hosts: %v, %v", a, b)
	}
	if a.Namespace() == b.Namespace() || !strings.HasPrefix(a.Namespace(), Prefix) {
		t.Fatalf("namespaces %q, %q", a.Namespace(), b.Namespace())
	}

	var srv *net.UDPConn
	if err := a.Do(func() error {
		var err error
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.Addr(), 0)))
		return err
	}); err != nil {
		t.Fatalf("listen on %v: %v", a, err)
	}
	defer srv.Close()
	srvAddr := srv.LocalAddr().(*net.UDPAddr).AddrPort()

	// b's address is not local in a's namespace: binding to it must fail.
	if err := a.Do(func() error {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.Addr(), 0)))
		if err == nil {
			c.Close()
			return errors.New("bound to the other host's address")
		}
		if !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return fmt.Errorf("want EADDRNOTAVAIL, got %w", err)
		}
		return nil
	}); err != nil {
		t.Errorf("isolation of %v: %v", a, err)
	}

	go func() { // echo "pong" to whatever arrives
		buf := make([]byte, 64)
		for {
			k, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.WriteToUDPAddrPort(append([]byte("pong:"), buf[:k]...), from)
		}
	}()

	var cli *net.UDPConn
	if err := b.Do(func() error {
		var err error
		cli, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(srvAddr))
		return err
	}); err != nil {
		t.Fatalf("dial from %v: %v", b, err)
	}
	defer cli.Close()
	if got := cli.LocalAddr().(*net.UDPAddr).AddrPort().Addr(); got != b.Addr() {
		t.Errorf("client's source address %v, want %v", got, b.Addr())
	}
	buf := make([]byte, 64)
	var got string
	for try := 0; try < 5 && got == ""; try++ { // the first datagram may wait for ARP
		if _, err := cli.Write([]byte("ping")); err != nil {
			t.Fatalf("send: %v", err)
		}
		cli.SetReadDeadline(time.Now().Add(2 * time.Second))
		if k, err := cli.Read(buf); err == nil {
			got = string(buf[:k])
		}
	}
	if got != "pong:ping" {
		t.Fatalf("reply %q, want %q", got, "pong:ping")
	}
}

// ntpdateServerLine is what `ntpdate -q` prints per server that answered.
func ntpdateServerLine(addr netip.Addr, stratum int) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^server ` + regexp.QuoteMeta(addr.String()) + `, stratum ` +
		strconv.Itoa(stratum) + `, offset [-+][0-9.]+, delay [0-9.]+$`)
}

// TestReferenceDaemons starts classic ntpd (LOCAL only) and chronyd (local stratum 8) on two
// hosts and queries both from a third with classic ntpdate and sntp.
func TestReferenceDaemons(t *testing.T) {
	bin := Reference(t, "classic-ntpd", "chronyd", "classic-ntpdate", "classic-sntp")
	n := New(t)
	classic, chrony, client := n.Host("classic"), n.Host("chrony"), n.Host("client")

	ntpd := ClassicNTPD(t, classic, "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\ndisable ntp\n"+
		"driftfile "+filepath.Join(t.TempDir(), "ntp.drift")+"\n")
	chronyd := Chronyd(t, chrony, "local stratum 8\nallow\n")

	ntpdate := filepath.Join(bin, "classic-ntpdate")
	sntp := filepath.Join(bin, "classic-sntp")
	kod := filepath.Join(t.TempDir(), "kod") // sntp's KoD database, instead of /var/lib/sntp/kod

	// chronyd with `local stratum 8` answers synchronised from the start.
	if d, err := client.WaitSynced(chrony.Addr(), 10*time.Second); err != nil {
		t.Errorf("chronyd: %v", err)
	} else {
		t.Logf("chronyd answered synchronised after %v", d)
	}
	out, err := client.Run(t, 0, ntpdate, "-q", "-u", chrony.Addr().String())
	if err != nil || !ntpdateServerLine(chrony.Addr(), 8).Match(out) {
		t.Errorf("ntpdate -q against chronyd: %v\n%s", err, out)
	}
	out, err = client.Run(t, 0, sntp, "-K", kod, chrony.Addr().String())
	if err != nil || !regexp.MustCompile(`(?m) `+regexp.QuoteMeta(chrony.Addr().String())+` s8 no-leap$`).Match(out) {
		t.Errorf("sntp against chronyd: %v\n%s", err, out)
	}

	// Classic ntpd with `disable ntp` answers, but never as synchronised: leap 3 (alarm),
	// stratum 0 on the wire (16 inside ntpd, and ntpdate prints 16), refid INIT (see
	// ClassicNTPD). ntpdate still prints its server line and then refuses it; sntp skips it.
	r, err := client.QueryNTP(classic.Addr(), 5*time.Second)
	if err != nil {
		t.Errorf("classic ntpd: %v", err)
	} else if r.Leap != 3 || r.Stratum != 0 || string(r.RefID[:]) != "INIT" {
		t.Errorf("classic ntpd answered %+v (refid %q), want leap 3, stratum 0, refid INIT", r, r.RefID[:])
	}
	out, err = client.Run(t, 0, ntpdate, "-q", "-u", classic.Addr().String())
	if !ntpdateServerLine(classic.Addr(), 16).Match(out) || !strings.Contains(string(out), "no server suitable for synchronization found") {
		t.Errorf("ntpdate -q against classic ntpd (%v):\n%s", err, out)
	}
	out, err = client.Run(t, 0, sntp, "-K", kod, classic.Addr().String())
	if !strings.Contains(string(out), classic.Addr().String()+" not in sync, skipping this server") {
		t.Errorf("sntp against classic ntpd (%v):\n%s", err, out)
	}

	for _, p := range []*Proc{ntpd, chronyd} {
		if p.Exited() {
			t.Errorf("%s ended early: %v\n%s", p.name, p.ExitErr(), p.Log())
		}
	}
	if !strings.Contains(ntpd.Log(), "Listen normally on 3 eth0 "+classic.Addr().String()+":123") {
		t.Errorf("classic ntpd's log lacks its eth0 listen line:\n%s", ntpd.Log())
	}
	// With duplicate address detection off, the link-local address is usable at once.
	if log := ntpd.Log(); !regexp.MustCompile(`Listen normally on [0-9]+ eth0 \[fe80::`).MatchString(log) ||
		strings.Contains(log, "Cannot assign requested address") {
		t.Errorf("classic ntpd did not bind eth0's IPv6 link-local address:\n%s", log)
	}
}

// TestCleanup checks that after a (sub)test its namespaces are deleted and its processes, both
// those from Host.Start and one started behind the package's back, are gone.
func TestCleanup(t *testing.T) {
	if why := canMakeNamespaces(); why != "" {
		skipOrFail(t, "testnet: %s", why)
	}
	var namespaces []string
	var startedPid int
	var stray *exec.Cmd
	t.Run("network", func(t *testing.T) {
		n := New(t)
		h1, h2 := n.Host("one"), n.Host("two")
		namespaces = []string{n.Hub(), h1.Namespace(), h2.Namespace()}
		for _, ns := range namespaces {
			if !namespaceExists(ns) {
				t.Fatalf("namespace %s was not made", ns)
			}
		}
		p := h1.Start(t, "sleep", "1000")
		startedPid = p.Pid()
		// Run is synchronous and sees the same namespace.
		if out, err := h2.Run(t, 5*time.Second, "ip", "-4", "-o", "addr", "show", "dev", "eth0"); err != nil ||
			!strings.Contains(string(out), h2.Addr().String()+"/24") {
			t.Errorf("ip addr in %s: %v\n%s", h2.Namespace(), err, out)
		}
		if _, err := h2.Run(t, 200*time.Millisecond, "sleep", "10"); err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("Run past its timeout: err = %v", err)
		}
		stray = exec.Command("ip", "netns", "exec", h2.Namespace(), "sleep", "1000")
		if err := stray.Start(); err != nil {
			t.Fatal(err)
		}
		// `ip netns exec` joins the namespace and then execs sleep under the same pid; until
		// it has, the cleanup could not see the process in the namespace (a race that made
		// this test fail once in CI).
		comm := fmt.Sprintf("/proc/%d/comm", stray.Process.Pid)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if b, err := os.ReadFile(comm); err == nil && strings.TrimSpace(string(b)) == "sleep" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the stray process %d did not become sleep in %s", stray.Process.Pid, h2.Namespace())
			}
		}
		if p.Exited() {
			t.Fatalf("sleep ended early: %v", p.ExitErr())
		}
		if err := p.Stop(); err != nil { // Stop is idempotent: the cleanup's Stop is a no-op
			t.Errorf("Stop: %v", err)
		}
		if !p.Exited() {
			t.Errorf("sleep still runs after Stop")
		}
		p2 := h1.Start(t, "sleep", "1000") // left for the cleanup to stop
		startedPid = p2.Pid()
	})

	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, ns := range namespaces {
		if namespaceExists(ns) || strings.Contains(string(out), ns) {
			t.Errorf("namespace %s still exists after its test", ns)
		}
	}
	if err := syscall.Kill(startedPid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d from Start still exists after its test (kill 0: %v)", startedPid, err)
	}
	done := make(chan error, 1)
	go func() { done <- stray.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("stray sleep ended normally; it should have been killed")
		}
	case <-time.After(5 * time.Second):
		stray.Process.Kill()
		t.Errorf("stray process %d left in a deleted namespace was not killed", stray.Process.Pid)
	}
}

// TestSweep checks that a namespace left by a dead test binary is removed, and nothing else.
func TestSweep(t *testing.T) {
	if why := canMakeNamespaces(); why != "" {
		skipOrFail(t, "testnet: %s", why)
	}
	max, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(max)))
	if err != nil {
		t.Fatal(err)
	}
	// A pid above pid_max can never belong to a running process. Our own pid as the counter keeps
	// the name apart from that of a concurrently running copy of this test.
	stale := fmt.Sprintf("%s%d-%d-hub", Prefix, pidMax+1, os.Getpid())
	live := fmt.Sprintf("%s%d-999999-hub", Prefix, os.Getpid()) // ours: must survive
	for _, ns := range []string{stale, live} {
		t.Cleanup(func() { removeNamespace(t, ns) })
		if err := ipCmd("netns", "add", ns); err != nil {
			t.Fatal(err)
		}
	}
	removed := Sweep()
	if namespaceExists(stale) {
		t.Errorf("Sweep left %s (removed %v)", stale, removed)
	}
	if !namespaceExists(live) {
		t.Errorf("Sweep removed %s, whose test binary is running", live)
	}
	found := false
	for _, r := range removed {
		found = found || r == stale
	}
	if !found {
		// Another test binary's New may have swept it between our add and our Sweep.
		t.Logf("Sweep returned %v without %s: another sweeper removed it first", removed, stale)
	}
}

// TestClassicLocalSyncTime measures how long classic ntpd, configured as in TestReferenceDaemons
// (LOCAL at stratum 10, `disable ntp`), takes to answer synchronised. It is a measurement, not a
// check, and takes minutes: it runs only with GONTP_MEASURE_SYNC set to a duration (e.g. 11m).
// Result on the development machine: not synchronised after 11 minutes; from about 320 s on it
// answers leap 3, stratum 11, refid 127.127.1.0 (see ClassicNTPD).
func TestClassicLocalSyncTime(t *testing.T) {
	limit, err := time.ParseDuration(os.Getenv("GONTP_MEASURE_SYNC"))
	if err != nil {
		t.Skip("set GONTP_MEASURE_SYNC=11m to measure classic ntpd's time to synchronise from LOCAL")
	}
	Reference(t, "classic-ntpd")
	n := New(t)
	server, client := n.Host("classic"), n.Host("client")
	p := ClassicNTPD(t, server, "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\ndisable ntp\n")
	d, err := client.WaitSynced(server.Addr(), limit)
	if p.Exited() {
		t.Fatalf("classic ntpd ended: %v\n%s", p.ExitErr(), p.Log())
	}
	if err != nil {
		t.Logf("measured: %v", err)
		return
	}
	t.Logf("measured: classic ntpd answered synchronised %v after it listened", d)
}

func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	pid := cmd.Process.Pid
	if !processAlive(pid) {
		t.Errorf("running sleep %d is not alive", pid)
	}
	cmd.Process.Kill()
	// Until Wait reaps it the killed sleep is a zombie, which must count as dead.
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if processAlive(pid) {
		t.Errorf("killed (zombie) sleep %d counts as alive", pid)
	}
	cmd.Wait()
	if processAlive(pid) {
		t.Errorf("reaped sleep %d counts as alive", pid)
	}
}

func TestReferenceMissingSkips(t *testing.T) {
	if inCI() {
		t.Skip("with CI=true a missing program fails the test instead; nothing to check here")
	}
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Reference(t, "no-such-reference-program")
	})
	if !skipped {
		t.Error("Reference with a missing program did not skip")
	}
}
