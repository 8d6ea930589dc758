// SPDX-License-Identifier: BSD-2-Clause

package testnet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = 5 * time.Second

// Proc is a process started by Host.Start inside a host's namespace.
type Proc struct {
	name    string // argv[0], for messages
	host    string
	cmd     *exec.Cmd
	logPath string
	// extraLogs are files the program writes its own log to (ntpd -l); Log appends them.
	extraLogs []string

	done    chan struct{} // closed when the process has been reaped
	waitErr error         // valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start runs argv inside the host's namespace (ip netns exec NS argv...; ip execs the program in
// place, so Pid is the program's own pid), stdout and stderr to a log file in t.TempDir(). The
// process leads a new process group so that Stop also reaches children it forked (ntpd's DNS
// worker). It is stopped by pid (SIGTERM, then SIGKILL after 5 s) in t.Cleanup; when the test
// has failed its log is printed with t.Log.
func (h *Host) Start(t testing.TB, argv ...string) *Proc {
	t.Helper()
	if len(argv) == 0 {
		t.Fatalf("testnet: Start on %s: empty command", h.name)
	}
	logPath := filepath.Join(t.TempDir(), filepath.Base(argv[0])+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("testnet: Start %s on %s: %v", argv[0], h.name, err)
	}
	defer logf.Close() // the child holds its own copy
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.ns}, argv...)...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proc{
		name:    filepath.Base(argv[0]),
		host:    h.name,
		cmd:     cmd,
		logPath: logPath,
		done:    make(chan struct{}),
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testnet: Start %s on %s: %v", argv[0], h.name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("testnet: %v", err)
		}
		if t.Failed() {
			t.Logf("testnet: %s on %s (pid %d) printed:\n%s", p.name, p.host, p.Pid(), p.Log())
		}
	})
	return p
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended (and been reaped).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitErr returns how the process ended (nil for status 0), or nil while it still runs.
func (p *Proc) ExitErr() error {
	if !p.Exited() {
		return nil
	}
	return p.waitErr
}

// Wait waits up to timeout for the process to end by itself; it reports whether it did.
func (p *Proc) Wait(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Log returns what the process printed so far, followed by any log file it writes itself.
func (p *Proc) Log() string {
	var b strings.Builder
	out, err := os.ReadFile(p.logPath)
	if err != nil {
		fmt.Fprintf(&b, "(cannot read %s: %v)\n", p.logPath, err)
	}
	b.Write(out)
	for _, f := range p.extraLogs {
		out, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		fmt.Fprintf(&b, "--- %s\n", f)
		if err != nil {
			fmt.Fprintf(&b, "(cannot read: %v)\n", err)
		}
		b.Write(out)
	}
	return b.String()
}

// Stop ends the process: SIGTERM to its process group, then SIGKILL after 5 s if it has not
// ended. It is idempotent; a process that already ended is not an error (its exit status is in
// ExitErr). It returns an error only when the process could not be ended.
func (p *Proc) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Proc) stop() error {
	if p.Exited() {
		return nil
	}
	pid := p.Pid()
	// Negative pid: the process group Start made, i.e. this process and its children.
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM %s (pid %d) on %s: %w", p.name, pid, p.host, err)
	}
	if p.Wait(stopGrace) {
		return nil
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL %s (pid %d) on %s: %w", p.name, pid, p.host, err)
	}
	if !p.Wait(stopGrace) {
		return fmt.Errorf("%s (pid %d) on %s did not end after SIGKILL", p.name, pid, p.host)
	}
	return nil
}
