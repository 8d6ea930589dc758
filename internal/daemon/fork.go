// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Classic ntpd forks once without -n: the parent exits when the child runs (or, with -w,
// when it first synchronises), the child calls setsid() and goes on as the daemon. Debian's
// Type=forking unit relies on that: systemd takes the process left after the parent exits
// (or the one in the pid file) as the service. A Go program cannot fork(), so gontp re-runs
// its own executable as that child, in a new session, with stdin, stdout and stderr on
// /dev/null, and a pipe on which the child reports its progress:
//
//	"R"          sockets bound, pid file written, privileges dropped: the daemon runs
//	"S"          first synchronisation (only awaited with -w)
//	"E message"  start-up failed: the parent prints the message and exits 1
//
// The environment variable detachEnv names the pipe's descriptor in the child; its presence
// is what makes the child not fork again.
const detachEnv = "GONTP_DETACHED_FD"

// ETIMEDOUT is classic's exit status when -w runs out before the first sync.
const ETIMEDOUT = int(syscall.ETIMEDOUT)

// Detach starts the daemon child and waits for it as classic ntpd's parent does. argv is the
// full command line (argv[0] included); waitSync is -w (0: return once the child runs). It
// returns the parent's exit status: 0 when the child runs (or synchronised within waitSync),
// ETIMEDOUT when it did not synchronise in time (the child keeps running, as in classic),
// 1 when it failed to start, with its reason on stderr.
func Detach(argv []string, waitSync time.Duration, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "ntpd: cannot find my own executable to fork: %v\n", err)
		return 1
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "ntpd: fork: %v\n", err)
		return 1
	}
	defer pr.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		pw.Close()
		fmt.Fprintf(stderr, "ntpd: fork: %v\n", err)
		return 1
	}
	defer null.Close()
	cmd := exec.Command(exe, argv[1:]...)
	cmd.Args[0] = argv[0]
	env := detachEnv + "=3"
	if waitSync > 0 {
		env += ",wait"
	}
	cmd.Env = append(childEnv(os.Environ(), os.Getpid()), env)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{pw}
	// The working directory is kept, as classic's child keeps it: relative -c, -p and -l
	// paths on the command line must mean the same in the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		fmt.Fprintf(stderr, "ntpd: fork: %v\n", err)
		return 1
	}
	pw.Close()
	// The child is not waited for: it outlives us and init reaps it.
	child := cmd.Process
	defer child.Release()

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var deadline <-chan time.Time
	running := false
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				if running && waitSync == 0 {
					return 0
				}
				fmt.Fprintf(stderr, "ntpd: the daemon (pid %d) ended before it %s\n", child.Pid,
					map[bool]string{false: "was running", true: "synchronised"}[running])
				return 1
			}
			switch {
			case l == "R":
				running = true
				// Under Type=notify systemd watches this process; hand the service over
				// to the daemon (MAINPID) and say it is ready, so that forking works
				// there too. The daemon's own READY=1 came before this and was refused,
				// not being the main process yet; its later STATUS= and WATCHDOG=1 are
				// accepted.
				if n, err := NewNotifier(nil); err == nil && n != nil {
					if err := n.Send(fmt.Sprintf("MAINPID=%d\nREADY=1", child.Pid)); err != nil {
						fmt.Fprintf(stderr, "ntpd: %v\n", err)
					}
					n.Close()
				}
				if waitSync <= 0 {
					return 0
				}
				t := time.NewTimer(waitSync)
				defer t.Stop()
				deadline = t.C
			case l == "S":
				return 0
			case strings.HasPrefix(l, "E "):
				fmt.Fprintf(stderr, "ntpd: %s\n", l[2:])
				return 1
			}
		case <-deadline:
			fmt.Fprintf(stderr, "ntpd: -w/--wait-sync %d timed out.\n", int(waitSync/time.Second))
			return ETIMEDOUT
		}
	}
}

// childEnv is the environment of the daemon child: the parent's, except that a systemd
// watchdog addressed to the parent (WATCHDOG_PID) is passed on to the child, which becomes
// the main process.
func childEnv(env []string, parent int) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if e == "WATCHDOG_PID="+strconv.Itoa(parent) || strings.HasPrefix(e, detachEnv+"=") {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Readiness is the child's end of the pipe Detach waits on; nil when the process was not
// started by Detach (with -n, or by a supervisor), and then every method does nothing.
type Readiness struct {
	f      *os.File
	wait   bool // the parent waits for "S" (-w)
	closed bool
}

// DetachedChild returns the Readiness of a child started by Detach, nil otherwise. It
// removes the variable from the environment so that nothing the daemon starts inherits it.
func DetachedChild() (*Readiness, error) {
	v, ok := os.LookupEnv(detachEnv)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(detachEnv)
	fdText, wait := strings.CutSuffix(v, ",wait")
	fd, err := strconv.Atoi(fdText)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q: not a file descriptor", detachEnv, v)
	}
	return &Readiness{f: os.NewFile(uintptr(fd), "readiness pipe"), wait: wait}, nil
}

// Detached reports whether this process is the detached daemon.
func (r *Readiness) Detached() bool { return r != nil }

// Running tells the parent the daemon runs; without -w that is all the parent waits for,
// and the pipe is closed.
func (r *Readiness) Running() {
	r.write("R")
	if r != nil && !r.wait {
		r.close()
	}
}

// Synced tells a parent waiting with -w about the first synchronisation, then closes the
// pipe.
func (r *Readiness) Synced() {
	r.write("S")
	r.close()
}

// Fail tells the parent why the daemon could not start.
func (r *Readiness) Fail(err error) {
	r.write("E " + strings.ReplaceAll(err.Error(), "\n", "; "))
}

// write sends one report. The parent may be gone (-w timed out, or it was killed): the
// write then fails with EPIPE (Go ignores SIGPIPE on descriptors other than 1 and 2), which
// is harmless, so errors are dropped.
func (r *Readiness) write(s string) {
	if r == nil || r.closed {
		return
	}
	io.WriteString(r.f, s+"\n")
}

func (r *Readiness) close() {
	if r == nil || r.closed {
		return
	}
	r.closed = true
	r.f.Close()
}
