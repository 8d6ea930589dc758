// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// Issue 8's acceptance: gontp's ntpd run the way Debian runs ntpd (forking, pid file, -u,
// syslog), then reloaded and stopped with signals, and its systemd notifications.

// prodDir is a directory the daemon can still read after it dropped root (t.TempDir is
// 0700): ntp.conf must stay readable for a SIGHUP reload, as /etc/ntp.conf is.
func prodDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gontp-production-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// datagramSink listens on a unixgram socket (a stand-in for /dev/log or systemd's notify
// socket) that any user may write to, and collects what arrives.
type datagramSink struct {
	conn *net.UnixConn
	msgs chan string
}

func newDatagramSink(t *testing.T, path string) *datagramSink {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	s := &datagramSink{conn: c, msgs: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(s.msgs)
				return
			}
			s.msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { c.Close() })
	return s
}

// await returns the first message containing want, within timeout; what came before is
// returned too, for the failure message.
func (s *datagramSink) await(want string, timeout time.Duration) (string, []string, bool) {
	var seen []string
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return "", seen, false
			}
			if strings.Contains(m, want) {
				return m, seen, true
			}
			seen = append(seen, m)
		case <-deadline:
			return "", seen, false
		}
	}
}

// forkedDaemon runs `ntpd ARGS` without -n as an init script does and returns the pid of the
// daemon it left running (from the pid file), which the test stops by that pid.
func forkedDaemon(t *testing.T, h *testnet.Host, pidFile string, argv ...string) (int, string) {
	t.Helper()
	out, err := h.Run(t, 30*time.Second, argv...)
	if err != nil {
		t.Fatalf("the forking ntpd did not exit 0: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the parent exited 0 but there is no pid file: %v\n%s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("pid file %s holds %q", pidFile, b)
	}
	t.Cleanup(func() {
		if processRunning(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pid, string(out)
}

// processRunning reports whether pid is a live process (not a zombie).
func processRunning(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// procStatus reads the named fields of /proc/PID/status (or of one thread's).
func procStatus(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

// gontpPeers returns the remote column of `ntpq -pn` (gontp's ntpq) against the daemon.
func gontpPeers(t *testing.T, h *testnet.Host) ([]string, string) {
	t.Helper()
	out, err := h.Run(t, 10*time.Second, binary(t, "ntpq"), "-pn", "127.0.0.1")
	if err != nil {
		t.Fatalf("ntpq -pn: %v\n%s", err, out)
	}
	var remotes []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 10 || f[0] == "remote" {
			continue
		}
		r := f[0]
		if strings.IndexByte(" x.-+#*o", r[0]) > 0 {
			r = r[1:]
		}
		remotes = append(remotes, r)
	}
	return remotes, string(out)
}

// waitPeers polls ntpq -pn until has(remotes) holds, for up to timeout.
func waitPeers(t *testing.T, h *testnet.Host, timeout time.Duration, has func([]string) bool) (bool, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, out := gontpPeers(t, h)
		if has(r) {
			return true, out
		}
		if time.Now().After(deadline) {
			return false, out
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// capSysTime and capNetBindService are the capability bits the daemon keeps after -u.
const (
	capNetBindService = 10
	capSysTime        = 25
)

// TestProductionForkUserReloadStop is issue 8's main acceptance, as root in a private
// network namespace: `ntpd -c CONF -p PIDFILE -u nobody` (no -n) forks, the parent exits 0
// once the daemon runs, the pid file names the daemon, which answers ntpq -p, runs as nobody
// in every thread with exactly CAP_SYS_TIME and CAP_NET_BIND_SERVICE, logs to syslog
// (facility daemon, ident ntpd[PID]); SIGHUP after adding a server line shows it in ntpq -p,
// after removing it takes it away; SIGTERM ends the daemon within a second.
//
// Unlike every other interoperability test, this daemon keeps CAP_SYS_TIME in its bounding
// set: the test is about which privileges the daemon keeps, and a daemon started without
// CAP_SYS_TIME could not show that it keeps it. The clock stays untouched all the same: the
// configuration says `disable ntp` and has only the LOCAL clock, so the discipline never
// runs and nothing calls adjtimex or settimeofday.
func TestProductionForkUserReloadStop(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody on this machine: %v", err)
	}
	testnet.Reference(t, "chronyd")
	n := testnet.New(t)
	h := n.Host("prod")
	chrony := n.Host("chrony")
	testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
	dir := prodDir(t)
	conf := filepath.Join(dir, "ntp.conf")
	// The drift file lives where the daemon, once it is nobody, may write it (classic's
	// /var/lib/ntp belongs to the ntp user). It starts at 0 ppm; the daemon runs on a
	// virtual clock with a +20 ppm oscillator (this test keeps CAP_SYS_TIME, so the host
	// clock must never be the one disciplined), so the frequency it writes at exit differs.
	driftDir := filepath.Join(dir, "drift")
	if err := os.Mkdir(driftDir, 0o755); err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	if err := os.Chown(driftDir, uid, gid); err != nil {
		t.Fatal(err)
	}
	driftFile := filepath.Join(driftDir, "ntp.drift")
	if err := os.WriteFile(driftFile, []byte("0.000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("server 127.127.1.0\nfudge 127.127.1.0 stratum 10\nserver %s iburst minpoll 3 maxpoll 3\ndriftfile %s\n",
		chrony.Addr(), driftFile)
	if err := os.WriteFile(conf, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	sys := newDatagramSink(t, filepath.Join(dir, "log"))
	pidFile := filepath.Join(dir, "ntpd.pid")
	pid, parentOut := forkedDaemon(t, h, pidFile, "env", "GONTP_SYSLOG_SOCKET="+filepath.Join(dir, "log"),
		binary(t, "ntpd"), "-c", conf, "-p", pidFile, "-u", "nobody", "--virtual-clock", "0.05,20")
	if parentOut != "" {
		t.Errorf("the parent printed %q; a forking ntpd logs to syslog", parentOut)
	}
	if !processRunning(pid) {
		t.Fatalf("the daemon (pid %d from the pid file) is not running", pid)
	}

	// Syslog: facility daemon (3) at info (6) is priority 30, ident ntpd with the pid.
	ident := fmt.Sprintf("ntpd[%d]: ", pid)
	if m, seen, ok := sys.await(ident+"ntpd gontp", 5*time.Second); !ok || !strings.HasPrefix(m, "<30>") || !strings.HasSuffix(m, "Starting") {
		t.Errorf("no start-up banner on syslog as %q: got %q; before it: %q", ident, m, seen)
	}
	if _, seen, ok := sys.await(ident+"Listen normally on", 5*time.Second); !ok {
		t.Errorf(`no "Listen normally on" on syslog; got %q`, seen)
	}

	// The daemon is a session leader (setsid), detached from the caller's terminal.
	st := procStatus(t, fmt.Sprintf("/proc/%d/status", pid))
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if f := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+2:]); len(f) > 3 && f[3] != strconv.Itoa(pid) {
		t.Errorf("the daemon's session is %s, want its own (%d)", f[3], pid)
	}

	// Privileges, in every thread: nobody's uid and gid, and only the two capabilities.
	want := fmt.Sprintf("%016x", uint64(1)<<capSysTime|uint64(1)<<capNetBindService)
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if len(tasks) == 0 {
		t.Fatal("no threads under /proc/PID/task")
	}
	for _, task := range tasks {
		ts := procStatus(t, task)
		for _, c := range []struct{ field, want string }{
			{"Uid", strings.Repeat(nobody.Uid+" ", 3) + nobody.Uid},
			{"Gid", strings.Repeat(nobody.Gid+" ", 3) + nobody.Gid},
			{"CapEff", want}, {"CapPrm", want}, {"CapBnd", want}, {"CapInh", "0000000000000000"},
		} {
			if ts[c.field] != c.want {
				t.Errorf("%s: %s is %q, want %q", task, c.field, ts[c.field], c.want)
			}
		}
	}
	t.Logf("daemon pid %d: Uid %s, Gid %s, CapEff %s, CapPrm %s, CapBnd %s, %d threads",
		pid, st["Uid"], st["Gid"], st["CapEff"], st["CapPrm"], st["CapBnd"], len(tasks))

	if ok, out := waitPeers(t, h, 10*time.Second, func(r []string) bool { return contains(r, "127.127.1.0") }); !ok {
		t.Fatalf("ntpq -pn does not show the LOCAL clock:\n%s", out)
	}

	// SIGHUP after adding a server line: the association appears without a restart.
	added := "198.18.0.1"
	if err := os.WriteFile(conf, []byte(base+"server "+added+" iburst\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if ok, out := waitPeers(t, h, 10*time.Second, func(r []string) bool { return contains(r, added) && contains(r, "127.127.1.0") }); !ok {
		t.Fatalf("after SIGHUP with a new server line, ntpq -pn lacks %s:\n%s", added, out)
	}
	if _, seen, ok := sys.await(ident+"reload: "+added+" added", 5*time.Second); !ok {
		t.Errorf("no reload line on syslog; got %q", seen)
	}

	// SIGHUP after removing it: the association goes.
	if err := os.WriteFile(conf, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if ok, out := waitPeers(t, h, 10*time.Second, func(r []string) bool { return !contains(r, added) && contains(r, "127.127.1.0") }); !ok {
		t.Errorf("after SIGHUP without the server line, ntpq -pn still shows %s:\n%s", added, out)
	}

	// Let the discipline synchronise and move the frequency off the drift file's 0.000
	// (ntpq rv shows it); only then is there a new value to write at exit.
	if took, err := h.WaitSynced(h.Addr(), 120*time.Second); err != nil {
		t.Fatalf("the daemon did not synchronise to chronyd: %v", err)
	} else {
		t.Logf("synchronised after %v", took)
	}
	freqDeadline := time.Now().Add(120 * time.Second)
	for {
		out, err := h.Run(t, 10*time.Second, binary(t, "ntpq"), "-c", "rv 0 frequency", "127.0.0.1")
		if f, ok := rvValue(string(out), "frequency"); err == nil && ok && f != 0 {
			t.Logf("frequency %+.3f ppm", f)
			break
		}
		if time.Now().After(freqDeadline) {
			t.Fatalf("the frequency stayed 0.000 for 2 minutes after synchronisation: %s", out)
		}
		time.Sleep(2 * time.Second)
	}

	// SIGTERM: the daemon ends within a second, saying so.
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for processRunning(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if processRunning(pid) {
		t.Errorf("the daemon still runs 1 s after SIGTERM")
	}
	if _, seen, ok := sys.await(ident+"ntpd exiting on signal", 2*time.Second); !ok {
		t.Errorf("no exit line on syslog; got %q", seen)
	}
	// The drift file was written at exit with the frequency the daemon measured.
	if b, err := os.ReadFile(driftFile); err != nil || strings.TrimSpace(string(b)) == "0.000" {
		t.Errorf("drift file after SIGTERM: %q, %v; want the measured frequency, not the 0.000 it started with", b, err)
	} else {
		t.Logf("drift file after SIGTERM: %s", strings.TrimSpace(string(b)))
	}
}

// TestProductionSystemdNotify: under Type=notify (ntpd -n with NOTIFY_SOCKET) the daemon
// sends READY=1 with its pid and a STATUS= line once its sockets are bound, then WATCHDOG=1
// at half of WATCHDOG_USEC. Without -n the forked daemon sends READY=1 with its own pid as
// MAINPID, and the parent, which systemd watches under Type=notify, then sends
// MAINPID=<daemon> and READY=1 before it exits, handing the service over.
func TestProductionSystemdNotify(t *testing.T) {
	n := testnet.New(t)
	h := n.Host("notify")
	dir := prodDir(t)
	conf := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(conf, []byte("server 127.127.1.0\ndisable ntp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ntpd := binary(t, "ntpd")

	t.Run("Type=notify", func(t *testing.T) {
		sock := filepath.Join(dir, "notify")
		sink := newDatagramSink(t, sock)
		p := h.Start(t, "env", "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000",
			"setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
			ntpd, "-n", "-c", conf, "-l", filepath.Join(dir, "notify.log"))
		m, seen, ok := sink.await("READY=1", 10*time.Second)
		if !ok {
			t.Fatalf("no READY=1; got %q", seen)
		}
		if !strings.Contains(m, fmt.Sprintf("MAINPID=%d\n", p.Pid())) || !strings.Contains(m, "STATUS=unsynchronised") {
			t.Errorf("READY message %q lacks MAINPID=%d or STATUS=", m, p.Pid())
		}
		if _, seen, ok := sink.await("WATCHDOG=1", 5*time.Second); !ok {
			t.Errorf("no WATCHDOG=1 with WATCHDOG_USEC set; got %q", seen)
		}
		p.Stop()
		if _, seen, ok := sink.await("STOPPING=1", 5*time.Second); !ok {
			t.Errorf("no STOPPING=1 at SIGTERM; got %q", seen)
		}
	})

	t.Run("Type=forking", func(t *testing.T) {
		sock := filepath.Join(dir, "notify-fork")
		sink := newDatagramSink(t, sock)
		pidFile := filepath.Join(dir, "fork.pid")
		pid, _ := forkedDaemon(t, h, pidFile, "env", "NOTIFY_SOCKET="+sock,
			"setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
			ntpd, "-c", conf, "-p", pidFile, "-l", filepath.Join(dir, "fork.log"))
		m, seen, ok := sink.await("READY=1", 10*time.Second)
		if !ok {
			t.Fatalf("no READY=1 from the forked daemon; got %q", seen)
		}
		if !strings.Contains(m, fmt.Sprintf("MAINPID=%d\n", pid)) {
			t.Errorf("READY message %q does not name the daemon (pid %d from the pid file)", m, pid)
		}
		// The parent then hands the service over (Type=notify without -n).
		m, seen, ok = sink.await("READY=1", 5*time.Second)
		if want := fmt.Sprintf("MAINPID=%d\nREADY=1", pid); !ok || m != want {
			t.Errorf("the parent's hand-over: got %q (before it %q), want %q", m, seen, want)
		}
		syscall.Kill(pid, syscall.SIGTERM)
	})
}

// TestProductionWaitSync: with -w the parent waits for the first synchronisation; a daemon
// that cannot synchronise (`disable ntp` keeps the leap alarm, as classic does) makes the
// parent exit with ETIMEDOUT after the -w seconds while the daemon keeps running, as in
// classic. A start-up error in the child makes the parent exit 1 with the child's reason.
func TestProductionWaitSync(t *testing.T) {
	n := testnet.New(t)
	h := n.Host("wait")
	dir := prodDir(t)
	conf := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(conf, []byte("server 127.127.1.0\ndisable ntp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ntpd := binary(t, "ntpd")
	pidFile := filepath.Join(dir, "ntpd.pid")
	out, err := h.Run(t, 30*time.Second, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		ntpd, "-c", conf, "-p", pidFile, "-l", filepath.Join(dir, "ntpd.log"), "-w", "1")
	if b, rerr := os.ReadFile(pidFile); rerr == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 1 {
			defer syscall.Kill(pid, syscall.SIGTERM)
			if !processRunning(pid) {
				t.Errorf("the daemon did not keep running after the -w timeout")
			}
		}
	} else {
		t.Errorf("no pid file: %v", rerr)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != int(syscall.ETIMEDOUT) || !strings.Contains(string(out), "-w/--wait-sync 1 timed out.") {
		t.Errorf("ntpd -w 1 without sync: %v, output %q; want exit %d and the timeout message", err, out, int(syscall.ETIMEDOUT))
	}

	out, err = h.Run(t, 30*time.Second, ntpd, "-c", filepath.Join(dir, "missing.conf"), "-l", filepath.Join(dir, "fail.log"))
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "missing.conf") {
		t.Errorf("ntpd with a missing configuration: %v, output %q; want exit 1 naming the file", err, out)
	}
}

// TestProductionJail: -i DIR chroots the daemon (its /proc/PID/root is DIR) after binding,
// and it still serves ntpq; with -u it is nobody inside the jail.
func TestProductionJail(t *testing.T) {
	n := testnet.New(t)
	h := n.Host("jail")
	dir := prodDir(t)
	jail := filepath.Join(dir, "jail")
	if err := os.Mkdir(jail, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(conf, []byte("server 127.127.1.0\ndisable ntp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := h.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		binary(t, "ntpd"), "-n", "-c", conf, "-i", jail, "-u", "nobody")
	if ok, out := waitPeers(t, h, 10*time.Second, func(r []string) bool { return contains(r, "127.127.1.0") }); !ok {
		t.Fatalf("the jailed daemon does not answer ntpq -pn:\n%s\n%s", out, p.Log())
	}
	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", p.Pid()))
	if err != nil || root != jail {
		t.Errorf("/proc/%d/root is %q (%v), want the jail %s", p.Pid(), root, err, jail)
	}
	if log := p.Log(); !strings.Contains(log, "chrooted to "+jail) {
		t.Errorf("no chroot line in the log:\n%s", log)
	}
}
