// SPDX-License-Identifier: BSD-2-Clause

// Package testnet builds a private IPv4 network out of Linux network namespaces for
// interoperability tests (layer 5 of docs/architecture.md): a hub namespace holding bridge br0 at
// 198.18.0.1/24 and one namespace per host at 198.18.0.N/24, each joined to the bridge by a veth
// pair. Every daemon then owns UDP port 123 on its own host, as on a real LAN. This matters for
// classic ntpd, which listens on every local address and refuses loopback peers other than
// 127.0.0.1, so several daemons cannot share the machine's loopback.
//
// Traffic never leaves the namespaces a test made: both ends of every veth pair are created
// directly inside their namespaces (no interface ever appears in the root namespace), and no
// namespace has a default route. 198.18.0.0/15 is the range RFC 2544 reserves for benchmarking,
// so it never collides with a real network.
//
// Names: every namespace is called "gontp-<pid>-<n>-hub" or "gontp-<pid>-<n>-h<N>", where pid is
// the creating test binary's process id and n counts networks within that binary, so parallel
// tests and packages never collide. Leftovers of a killed test binary are found with
//
//	ip netns list | grep '^gontp-[0-9]'
//
// and New deletes those whose creating process no longer exists (see Sweep).
package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RefDir is where scripts/install-reference-ntp puts the wrappers of the reference
// programs. The daemon wrappers drop CAP_SYS_TIME, so they can never set this machine's clock.
const RefDir = "/opt/ntp-reference/bin"

// Prefix starts the name of every namespace this package makes.
const Prefix = "gontp-"

// Bridge is the name of the bridge in the hub namespace; HubAddr is its address.
const Bridge = "br0"

// HubAddr is the bridge's address in the hub namespace.
var HubAddr = netip.MustParseAddr("198.18.0.1")

// BroadcastAddr is the private network's IPv4 broadcast address, set on every host's
// interface (broadcast mode's tests send to it).
var BroadcastAddr = netip.MustParseAddr("198.18.0.255")

// maxHosts keeps host addresses within 198.18.0.2 .. 198.18.0.254.
const maxHosts = 253

// netSeq numbers the networks made by this test binary.
var netSeq atomic.Uint64

// nsPattern matches exactly the names this package gives to namespaces; Sweep touches nothing
// else (other tools use names like "gontp-lead").
var nsPattern = regexp.MustCompile(`^gontp-([0-9]+)-([0-9]+)-(hub|h[0-9]+)$`)

// inCI reports whether missing privileges or programs must fail rather than skip: CI provides
// them, so their absence there is a broken runner, not a reason to pass silently.
func inCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips the test, or fails it when CI=true.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format+" (CI=true, so this is a failure)", args...)
	}
	t.Skipf(format, args...)
}

// Reference returns the directory of the reference programs (RefDir) after checking that each
// named program exists there and is executable. Missing: t.Skip with a message naming the program
// and scripts/install-reference-ntp, or t.Fatal when CI=true.
func Reference(t testing.TB, programs ...string) string {
	t.Helper()
	for _, p := range programs {
		path := filepath.Join(RefDir, p)
		fi, err := os.Stat(path)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			skipOrFail(t, "reference program %s is not installed (%s); install it with scripts/install-reference-ntp", p, path)
		}
	}
	return RefDir
}

// Net is one private network: the hub namespace with its bridge and the hosts joined to it.
// Its methods must be called from the test's goroutine (they call t.Fatal on failure).
type Net struct {
	t   testing.TB
	id  string // "gontp-<pid>-<n>"
	hub string

	mu    sync.Mutex
	hosts []*Host
}

// Host is one namespace on the network.
type Host struct {
	net  *Net
	name string
	addr netip.Addr
	ns   string
}

// Name returns the name given to Net.Host.
func (h *Host) Name() string { return h.name }

// Addr returns the host's address, 198.18.0.N.
func (h *Host) Addr() netip.Addr { return h.addr }

// Namespace returns the network namespace's name, for `ip netns exec`.
func (h *Host) Namespace() string { return h.ns }

// String names the host and its namespace, for test messages.
func (h *Host) String() string { return fmt.Sprintf("%s (%s, netns %s)", h.name, h.addr, h.ns) }

// ipCmd runs `ip args...` and returns an error naming the command and its output.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// canMakeNamespaces reports why namespaces cannot be made here, or "" when they can.
func canMakeNamespaces() string {
	if _, err := exec.LookPath("ip"); err != nil {
		return "the ip command (iproute2) is not installed"
	}
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	return ""
}

// New makes a private network for this test: a hub namespace with bridge br0 at 198.18.0.1/24.
// It needs root and `ip` (iproute2): otherwise t.Skip (t.Fatal when CI=true). Everything it makes
// (namespaces, veths, processes still inside them) is removed in t.Cleanup; each removal is
// registered before the step that creates the thing, so a failure half-way still cleans up.
func New(t testing.TB) *Net {
	t.Helper()
	if why := canMakeNamespaces(); why != "" {
		skipOrFail(t, "testnet: %s", why)
	}
	Sweep()
	id := fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), netSeq.Add(1))
	n := &Net{t: t, id: id, hub: id + "-hub"}

	t.Cleanup(func() { removeNamespace(t, n.hub) })
	if err := ipCmd("netns", "add", n.hub); err != nil {
		if inCI() {
			t.Fatalf("testnet: cannot make namespace: %v", err)
		}
		// Root without CAP_SYS_ADMIN (an unprivileged container) cannot make namespaces.
		t.Skipf("testnet: cannot make namespace: %v", err)
	}
	steps := [][]string{
		{"-n", n.hub, "link", "set", "lo", "up"},
		{"-n", n.hub, "link", "add", Bridge, "type", "bridge"},
		// "broadcast +": the subnet's broadcast address (198.18.0.255), as a LAN's
		// DHCP or ifupdown sets it; iproute2 leaves it unset otherwise, and broadcast
		// mode (`broadcast`, `broadcastclient`) finds its interface by it.
		{"-n", n.hub, "addr", "add", HubAddr.String() + "/24", "broadcast", "+", "dev", Bridge},
		{"-n", n.hub, "link", "set", Bridge, "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatalf("testnet: hub %s: %v", n.hub, err)
		}
	}
	return n
}

// Hub returns the hub namespace's name (it holds br0 at 198.18.0.1).
func (n *Net) Hub() string { return n.hub }

// Hosts returns the hosts in order of creation.
func (n *Net) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// Host adds a namespace joined to the bridge by a veth pair, with address 198.18.0.N/24
// (N = 2, 3, ... in order of creation) and its loopback up. The host's end of the pair is
// called eth0, the hub's end vethN; both are created inside their namespaces, so the names are
// private to this network and never appear in the root namespace.
func (n *Net) Host(name string) *Host {
	t := n.t
	t.Helper()
	n.mu.Lock()
	idx := len(n.hosts) + 2
	if idx-1 > maxHosts {
		n.mu.Unlock()
		t.Fatalf("testnet: host %q: a network holds at most %d hosts", name, maxHosts)
	}
	h := &Host{
		net:  n,
		name: name,
		addr: netip.AddrFrom4([4]byte{198, 18, 0, byte(idx)}),
		ns:   fmt.Sprintf("%s-h%d", n.id, idx),
	}
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()

	t.Cleanup(func() { removeNamespace(t, h.ns) })
	if err := ipCmd("netns", "add", h.ns); err != nil {
		t.Fatalf("testnet: host %q: %v", name, err)
	}
	// Duplicate address detection would leave eth0's IPv6 link-local address tentative for
	// about a second after the link comes up, and a daemon started in that second (classic ntpd)
	// fails to bind it ("bind(21) AF_INET6 fe80::...: Cannot assign requested address"). No
	// address on this private link can be a duplicate, so detection is switched off before eth0
	// exists ("default" applies to interfaces made later).
	if out, err := exec.Command("ip", "netns", "exec", h.ns, "sysctl", "-q", "-w",
		"net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0").CombinedOutput(); err != nil {
		t.Fatalf("testnet: host %q: sysctl accept_dad in %s: %v: %s", name, h.ns, err, bytes.TrimSpace(out))
	}
	hubEnd := "veth" + strconv.Itoa(idx)
	steps := [][]string{
		{"-n", h.ns, "link", "set", "lo", "up"},
		{"link", "add", "eth0", "netns", h.ns, "type", "veth", "peer", "name", hubEnd, "netns", n.hub},
		{"-n", n.hub, "link", "set", hubEnd, "master", Bridge},
		{"-n", n.hub, "link", "set", hubEnd, "up"},
		{"-n", h.ns, "addr", "add", h.addr.String() + "/24", "broadcast", "+", "dev", "eth0"},
		{"-n", h.ns, "link", "set", "eth0", "up"},
		// The multicast range goes out on the LAN, as a default route would send it:
		// without a route to the group, joining it (multicastclient) and sending to it
		// fail (ENODEV, ENETUNREACH).
		{"-n", h.ns, "route", "add", "224.0.0.0/4", "dev", "eth0"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatalf("testnet: host %q: %v", name, err)
		}
	}
	return h
}

// removeNamespace kills what still runs inside ns (by pid, as `ip netns pids` lists it, never
// this test binary) and deletes it. A namespace that is already gone is not an error.
func removeNamespace(t testing.TB, ns string) {
	if !namespaceExists(ns) {
		return
	}
	if pids := namespacePids(ns); len(pids) > 0 {
		t.Logf("testnet: killing processes left in %s: %v", ns, pids)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if err := ipCmd("netns", "del", ns); err != nil && namespaceExists(ns) {
		t.Errorf("testnet: cannot remove namespace: %v", err)
	}
}

// namespaceExists reports whether `ip netns add` made ns (it keeps a file per namespace).
func namespaceExists(ns string) bool {
	_, err := os.Stat(filepath.Join("/var/run/netns", ns))
	return err == nil
}

// namespacePids lists the processes whose network namespace is ns, except this one (a Host.Do
// thread may have left this binary's main thread in ns).
func namespacePids(ns string) []int {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err == nil && pid != os.Getpid() && pid > 1 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Sweep deletes namespaces left by test binaries that were killed before their cleanup ran: those
// named by this package whose creating pid no longer exists. It touches no other namespace and
// never fails (a namespace another sweeper removed first is simply gone). Returns the names it
// deleted.
func Sweep() []string {
	entries, err := os.ReadDir("/var/run/netns")
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		m := nsPattern.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if processAlive(pid) {
			continue // its test binary still runs
		}
		for _, p := range namespacePids(e.Name()) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		if ipCmd("netns", "del", e.Name()) == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}

// processAlive reports whether pid is a process that has not ended: it exists and is not a zombie
// (a killed test binary stays a zombie until its parent reaps it).
func processAlive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may itself hold ") ".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true // unreadable: assume alive, never delete a live test's network
	}
	return stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// Do runs f on a locked OS thread that has joined the host's network namespace (setns), so that
// sockets f opens live in the namespace (a socket keeps its namespace after f returns, whichever
// thread uses it later). The thread is never handed back to the scheduler: it stays locked and
// exits with the goroutine, so no other goroutine ever runs in the wrong namespace.
func (h *Host) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread dies with this goroutine.
		fd, err := unix.Open(filepath.Join("/var/run/netns", h.ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("testnet: open netns %s: %w", h.ns, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("testnet: setns %s: %w", h.ns, err)
			return
		}
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("testnet: panic in %s: %v", h.ns, r)
			}
		}()
		errc <- f()
	}()
	return <-errc
}

// defaultRunTimeout bounds Host.Run when no timeout is given.
const defaultRunTimeout = 30 * time.Second

// Run runs argv inside the namespace to completion and returns its combined output and error.
// A timeout of 0 means 30 s; when it expires the process is killed and the error says so.
func (h *Host) Run(t testing.TB, timeout time.Duration, argv ...string) ([]byte, error) {
	t.Helper()
	if len(argv) == 0 {
		return nil, errors.New("testnet: Run: empty command")
	}
	if timeout <= 0 {
		timeout = defaultRunTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.ns}, argv...)...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return out, fmt.Errorf("testnet: %s on %s: timed out after %v: %w", argv[0], h.name, timeout, ctx.Err())
	}
	if err != nil {
		return out, fmt.Errorf("testnet: %s on %s: %w", strings.Join(argv, " "), h.name, err)
	}
	return out, nil
}

// WaitUDP waits until something in the host's namespace has a UDP socket bound to port (it reads
// /proc/net/udp and /proc/net/udp6 inside the namespace via `ip netns exec NS cat ...`), up to
// timeout; false if not.
func (h *Host) WaitUDP(port int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		out, _ := exec.Command("ip", "netns", "exec", h.ns, "cat", "/proc/net/udp", "/proc/net/udp6").Output()
		if udpBound(out, port) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// udpBound reports whether a /proc/net/udp{,6} table lists a socket whose local port is port.
// Lines look like "  12: 00000000:007B 00000000:0000 07 ..." (address and port in hex).
func udpBound(table []byte, port int) bool {
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(table), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasSuffix(f[0], ":") {
			continue // header
		}
		if strings.HasSuffix(f[1], want) {
			return true
		}
	}
	return false
}

// WriteFile writes a file into a fresh t.TempDir() and returns its path (configs for daemons).
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("testnet: %v", err)
	}
	return path
}
