// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

// Package uml boots User-Mode Linux guests for tests that need a real Linux kernel clock: UML is
// the Linux kernel (Debian's user-mode-linux, 6.1) built as a host program, so its timekeeping,
// adjtimex and NTP PLL/FLL code are the kernel's own, and a guest process's adjtimex reaches the
// guest kernel only (guest system calls are intercepted with ptrace and never reach the host).
// The host's clock cannot be changed by anything a guest does.
//
// A guest's root is the host's / through hostfs, mounted read-only; its init is the agent
// (internal/uml/agent, built static by this package), which follows a plan.Plan written into a
// run directory that the guest mounts read-write at the same path. Each guest sits on a tap in
// the hub namespace of an internal/testnet network, bridged to br0 (198.18.0.1/24), so it reaches
// the test's hosts (198.18.0.2, ...) and nothing else.
//
// The guest's clock is read against the host's through the time-stamp counter (internal/uml/
// probe); HostClock maps counter values to the host's CLOCK_REALTIME.
package uml

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gontp/internal/testnet"
	"gontp/internal/uml/plan"
)

// Kernel is the UML kernel Debian's user-mode-linux package installs.
const Kernel = "/usr/bin/linux.uml"

// inCI reports whether missing prerequisites must fail rather than skip.
func inCI() bool { return os.Getenv("CI") == "true" }

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format+" (CI=true, so this is a failure)", args...)
	}
	t.Skipf(format, args...)
}

// Require skips the test (fails it when CI=true) unless guests can be booted here: root, the UML
// kernel, and a Go toolchain to build the agent and the daemon.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "uml: booting User-Mode Linux guests on a private network needs root")
	}
	if _, err := os.Stat(Kernel); err != nil {
		skipOrFail(t, "uml: %s is missing (Debian package user-mode-linux; scripts/install-test-deps installs it)", Kernel)
	}
	if _, err := exec.LookPath("go"); err != nil {
		skipOrFail(t, "uml: the go command is needed to build the guest's programs")
	}
	if !invariantTSC() {
		skipOrFail(t, "uml: this CPU's time-stamp counter is not invariant (constant_tsc nonstop_tsc); guest clocks cannot be read against the host's")
	}
}

func invariantTSC() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	return err == nil && bytes.Contains(b, []byte(" constant_tsc")) && bytes.Contains(b, []byte(" nonstop_tsc"))
}

// Builds are the static programs a guest runs, built once per test binary.
type Builds struct {
	Dir   string // holds agent, ntpd, ntpq, ntpdate
	Agent string
	NTPD  string
}

var (
	buildOnce sync.Once
	builds    Builds
	buildErr  error
)

// Build compiles the agent and gontp's commands with CGO_ENABLED=0 into a directory under the
// system temp dir (once per test binary; Cleanup removes it). A build failure fails the test.
func Build(t testing.TB) Builds {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "gontp-uml-bin-")
		if err != nil {
			buildErr = err
			return
		}
		for _, pkg := range []string{"./internal/uml/agent", "./cmd/ntpd", "./cmd/ntpq", "./cmd/ntpdate"} {
			cmd := exec.Command("go", "build", "-trimpath", "-o", dir+"/", pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
				return
			}
		}
		builds = Builds{Dir: dir, Agent: filepath.Join(dir, "agent"), NTPD: filepath.Join(dir, "ntpd")}
	})
	if buildErr != nil {
		t.Fatalf("uml: %v", buildErr)
	}
	return builds
}

// Cleanup removes what Build made; call it from TestMain after the tests.
func Cleanup() {
	if builds.Dir != "" {
		os.RemoveAll(builds.Dir)
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the gontp module")
	}
	return filepath.Dir(mod), nil
}

// guestSeq numbers guests within this test binary (tap names, umids, addresses).
var guestSeq atomic.Uint32

// Config describes one guest.
type Config struct {
	Name string // for messages and file names
	Plan plan.Plan
	// Dir is the run directory (made with t.TempDir when empty). Files the plan needs (a
	// configuration, a drift file) go there before Boot; the guest sees it at the same path.
	Dir string
	// Memory in MiB (0: 160).
	Memory int
	// Timeout bounds the whole run from boot to power-off (0: 2 minutes).
	Timeout time.Duration
}

// Guest is a booted guest.
type Guest struct {
	Name string
	Dir  string     // run directory (same path inside the guest)
	Addr netip.Addr // eth0's address (198.18.0.100 and up)

	t       testing.TB
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	timeout time.Duration
	started time.Time
}

// Boot starts a guest on net: a tap in net's hub namespace bridged to br0, the guest's eth0 at
// 198.18.0.(100+n); with a nil net the guest has no network. The plan's Addr and Anchor are
// filled in here. The guest is killed (its
// process group, by pid) in t.Cleanup if it is still running; its console and agent log are
// printed when the test failed.
func Boot(t testing.TB, net *testnet.Net, cfg Config) *Guest {
	t.Helper()
	b := Build(t)
	n := guestSeq.Add(1)
	if n > 150 {
		t.Fatalf("uml: more than 150 guests in one test binary")
	}
	var addr netip.Addr
	tap := fmt.Sprintf("uml%d", n)
	argv := []string{Kernel}
	if net != nil {
		addr = netip.AddrFrom4([4]byte{198, 18, 0, byte(99 + n)})
		hub := net.Hub()
		for _, c := range [][]string{
			{"-n", hub, "tuntap", "add", "dev", tap, "mode", "tap"},
			{"-n", hub, "link", "set", tap, "master", testnet.Bridge},
			{"-n", hub, "link", "set", tap, "up"},
		} {
			if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
				t.Fatalf("uml: ip %s: %v: %s", strings.Join(c, " "), err, bytes.TrimSpace(out))
			}
		}
		argv = []string{"ip", "netns", "exec", hub, Kernel, fmt.Sprintf("eth0=tuntap,%s,02:67:6e:00:00:%02x", tap, n)}
	}
	dir := cfg.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := cfg.Plan
	if addr.IsValid() {
		p.Addr = addr.String() + "/24"
	}
	p.Anchor = Host().Anchor()
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, plan.PlanFile), js, 0o644); err != nil {
		t.Fatal(err)
	}
	mem := cfg.Memory
	if mem == 0 {
		mem = 160
	}
	umlDir := filepath.Join(dir, "uml")
	if err := os.Mkdir(umlDir, 0o755); err != nil {
		t.Fatal(err)
	}
	console, err := os.Create(filepath.Join(dir, "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close()
	argv = append(argv,
		fmt.Sprintf("umid=gontp-%d-%d", os.Getpid(), n), "uml_dir="+umlDir, fmt.Sprintf("mem=%dM", mem),
		"root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro", "init="+b.Agent, "gontp_run="+dir,
		"con=null", "con0=null,fd:1", "ssl=null")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	g := &Guest{Name: cfg.Name, Dir: dir, Addr: addr, t: t, cmd: cmd, done: make(chan struct{}), timeout: cfg.Timeout}
	if g.timeout == 0 {
		g.timeout = 2 * time.Minute
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("uml: starting %s: %v", Kernel, err)
	}
	g.started = time.Now()
	go func() { g.waitErr = cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		g.kill()
		if t.Failed() {
			t.Logf("uml: guest %s (%s) agent log:\n%s", g.Name, g.Dir, g.ReadFile(plan.LogFile))
			t.Logf("uml: guest %s console (last lines):\n%s", g.Name, tail(g.ReadFile("console.log"), 25))
		}
	})
	return g
}

// kill ends the UML process group (the kernel and one host process per guest process).
func (g *Guest) kill() {
	select {
	case <-g.done:
		return
	default:
	}
	pid := g.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-g.done
	}
}

// Done is closed when the guest's UML process has ended.
func (g *Guest) Done() <-chan struct{} { return g.done }

// Wait waits until the guest has powered off (or its timeout since boot has passed: then it is
// killed) and fails the test unless the agent ran the whole plan.
func (g *Guest) Wait() {
	g.t.Helper()
	select {
	case <-g.done:
	case <-time.After(time.Until(g.started.Add(g.timeout))):
		g.kill()
		g.t.Fatalf("uml: guest %s did not power off within %v", g.Name, g.timeout)
	}
	if _, err := os.Stat(filepath.Join(g.Dir, plan.DoneFile)); err != nil {
		g.t.Fatalf("uml: guest %s stopped before the end of its plan (UML: %v); agent log:\n%s\nconsole:\n%s",
			g.Name, g.waitErr, g.ReadFile(plan.LogFile), tail(g.ReadFile("console.log"), 25))
	}
}

// ReadFile returns a file of the run directory ("" if it is missing).
func (g *Guest) ReadFile(name string) string {
	b, _ := os.ReadFile(filepath.Join(g.Dir, name))
	return string(b)
}

// Samples returns the guest's clock samples.
func (g *Guest) Samples() []plan.Sample {
	g.t.Helper()
	var out []plan.Sample
	readLines(g.t, filepath.Join(g.Dir, plan.SamplesFile), func(b []byte) error {
		var s plan.Sample
		err := json.Unmarshal(b, &s)
		out = append(out, s)
		return err
	})
	return out
}

// Calls returns the plan's recorded calls and program exits.
func (g *Guest) Calls() []plan.Call {
	g.t.Helper()
	var out []plan.Call
	readLines(g.t, filepath.Join(g.Dir, plan.CallsFile), func(b []byte) error {
		var c plan.Call
		err := json.Unmarshal(b, &c)
		out = append(out, c)
		return err
	})
	return out
}

func readLines(t testing.TB, path string, f func([]byte) error) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatalf("uml: %v", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := f(sc.Bytes()); err != nil {
			t.Fatalf("uml: %s:%d: %v", path, n, err)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Itoa is strconv.Itoa, for building argv lists.
func Itoa(n int) string { return strconv.Itoa(n) }
