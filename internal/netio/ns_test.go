// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const classicNtpd = "/opt/ntp-reference/bin/classic-ntpd"

// testNamespace makes a network namespace with lo up and a veth pair whose ends both live in
// it: "eth0" with the given IPv4 addresses and "peer0" without any. IPv6 link-local
// addresses are turned off (their DAD timing would make the comparison flaky). It is deleted
// when the test ends.
func testNamespace(t *testing.T, addrs ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "network namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing(t, "the ip command (iproute2) is not installed")
	}
	ns := fmt.Sprintf("gontp-netio-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	in := func(args ...string) { run(append([]string{"-n", ns}, args...)...) }
	in("link", "set", "lo", "up")
	in("link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
	for _, l := range []string{"eth0", "peer0"} {
		in("link", "set", l, "addrgenmode", "none")
		in("link", "set", l, "up")
	}
	for _, a := range addrs {
		in("addr", "add", a, "dev", "eth0")
	}
	return ns
}

// inNamespace runs f on a thread switched into the namespace: sockets and netlink queries
// made there belong to it and stay there.
func inNamespace(t *testing.T, ns string, f func()) {
	t.Helper()
	target, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open namespace %s: %v", ns, err)
	}
	defer unix.Close(target)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// The thread is not unlocked: it ends with the goroutine instead of going back to
		// the pool in the wrong namespace.
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns %s: %v", ns, err)
			return
		}
		f()
	}()
	<-done
}

// classicListenLines runs the real classic ntpd in the namespace with `disable ntp` and the
// given extra config lines and returns its "Listen ..." log lines without the timestamp and
// pid prefix.
func classicListenLines(t *testing.T, ns string, extra ...string) []string {
	t.Helper()
	if _, err := os.Stat(classicNtpd); err != nil {
		missing(t, "classic ntpd reference is not installed at %s", classicNtpd)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "ntp.conf")
	text := "disable ntp\ndriftfile " + filepath.Join(dir, "drift") + "\n" + strings.Join(extra, "\n") + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(dir, "ntpd.log")
	cmd := exec.Command("ip", "netns", "exec", ns, classicNtpd, "-n", "-c", conf, "-l", logf, "-p", filepath.Join(dir, "pid"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	}
	defer stop()
	var listen []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(logf)
		if !strings.Contains(string(b), "routing socket") {
			continue // classic logs this right after its last "Listen" line
		}
		listen = nil
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			_, msg, ok := strings.Cut(sc.Text(), "]: ")
			if ok && strings.HasPrefix(msg, "Listen ") {
				listen = append(listen, msg)
			}
		}
		return listen
	}
	t.Fatal("classic ntpd did not finish opening its interfaces within 10 s")
	return nil
}

// TestNamespaceMatchesClassic opens port 123 in a private namespace with lo and an eth0
// holding two addresses, once by classic ntpd and once by netio, and compares the lines.
func TestNamespaceMatchesClassic(t *testing.T) {
	ns := testNamespace(t, "198.18.0.2/24", "198.18.0.3/24")
	for _, rules := range [][]string{nil, {"ignore all", "listen 198.18.0.3"}, {"drop eth0"}} {
		var conf []string
		for _, r := range rules {
			conf = append(conf, "interface "+r)
		}
		want := classicListenLines(t, ns, conf...)
		t.Logf("classic ntpd with %q:\n  %s", conf, strings.Join(want, "\n  "))
		log := &lines{}
		parsed := mustRules(t, rules...)
		var sockets []*Socket
		inNamespace(t, ns, func() {
			s, err := Open(Config{Port: 123, Rules: parsed, DSCP: DefaultDSCP, Logger: slog.New(log), Now: time.Now})
			if err != nil {
				t.Errorf("Open in %s: %v", ns, err)
				return
			}
			sockets = s.Sockets()
			s.Close()
		})
		if got := log.all(); !slices.Equal(got, want) {
			t.Errorf("rules %q:\nnetio:\n  %s\nclassic:\n  %s", rules, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		if rules == nil && len(sockets) != 6 {
			t.Errorf("default rules: %d sockets, want 6 (2 wildcards, 127.0.0.1, two on eth0, ::1)", len(sockets))
		}
	}
}

// TestNamespaceRescan: addresses added and removed on a real interface are picked up by
// Rescan through the kernel's address list, an alias keeps its label as classic shows it,
// and an interface taken down loses its sockets.
func TestNamespaceRescan(t *testing.T) {
	ns := testNamespace(t, "198.18.0.2/24")
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	log := &lines{}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start
	var s *Set
	inNamespace(t, ns, func() {
		var err error
		s, err = Open(Config{Port: 123, DSCP: DefaultDSCP, Logger: slog.New(log), Now: func() time.Time { return now }})
		if err != nil {
			t.Errorf("Open: %v", err)
		}
	})
	if s == nil {
		return
	}
	t.Cleanup(func() { s.Close() })
	rescan := func() {
		t.Helper()
		inNamespace(t, ns, func() {
			if _, err := s.Rescan(); err != nil {
				t.Errorf("Rescan: %v", err)
			}
		})
	}
	ip("addr", "add", "198.18.0.6/24", "dev", "eth0", "label", "eth0:1")
	rescan()
	now = now.Add(3 * time.Second)
	ip("link", "set", "eth0", "down")
	rescan()
	want := []string{
		"Listen and drop on 0 v6wildcard [::]:123",
		"Listen and drop on 1 v4wildcard 0.0.0.0:123",
		"Listen normally on 2 lo 127.0.0.1:123",
		"Listen normally on 3 eth0 198.18.0.2:123",
		"Listen normally on 4 lo [::1]:123",
		"Listen normally on 5 eth0:1 198.18.0.6:123",
		"Deleting interface #3 eth0, 198.18.0.2#123, interface stats: received=0, sent=0, dropped=0, active_time=3 secs",
		"Deleting interface #5 eth0:1, 198.18.0.6#123, interface stats: received=0, sent=0, dropped=0, active_time=3 secs",
	}
	if got := log.all(); !slices.Equal(got, want) {
		t.Errorf("log:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
