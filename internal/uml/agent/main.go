// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

// Command agent is the init (PID 1) of a User-Mode Linux test guest. The host boots the guest
// with the host's own / as a read-only hostfs root and this program as init=; the kernel command
// line names the run directory (gontp_run=DIR), which the agent mounts over itself read-write
// through hostfs so that it has the same path in the guest and on the host. The agent reads
// DIR/plan.json (package plan), sets up the guest (proc, sys, dev, tmpfs on /run and /var/lib,
// eth0), puts the plan's clock error into the guest's own kernel clock, samples that clock once
// per SampleMs against the time-stamp counter, runs the plan's steps, and powers the guest off.
//
// It refuses to run anywhere but as PID 1 of a UML kernel: its clock calls must never reach a
// host's clock.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gontp/internal/uml/plan"
	"gontp/internal/uml/probe"
)

func main() {
	if os.Getpid() != 1 || !isUML() {
		fmt.Fprintln(os.Stderr, "agent: not PID 1 of a User-Mode Linux guest; refusing to touch this machine's clock")
		os.Exit(2)
	}
	err := run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "agent: %v\n", err)
	}
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// Init must not exit; if power-off failed, halt here (the host kills the guest).
	select {}
}

// isUML mounts the guest's own proc (before that, /proc is the host's, seen through the hostfs
// root) and reports whether the running kernel is User-Mode Linux: its cpuinfo says "UML".
func isUML() bool {
	if unix.Mount("proc", "/proc", "proc", 0, "") != nil {
		return false
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	return err == nil && strings.Contains(string(b), "UML")
}

type agent struct {
	dir   string
	start time.Time // plan start, for At and Mono (monotonic)
	log   *os.File

	mu    sync.Mutex
	calls *os.File
	bg    map[string]*exec.Cmd
	steps int
}

func run() error {
	dir := os.Getenv("gontp_run")
	if dir == "" || !filepath.IsAbs(dir) {
		return fmt.Errorf("no run directory: boot with gontp_run=/abs/dir on the kernel command line")
	}
	mounts := []struct{ src, dst, fs, data string }{
		{"sys", "/sys", "sysfs", ""},
		{"dev", "/dev", "devtmpfs", ""},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
		{"tmpfs", "/var/lib", "tmpfs", "mode=0755"},
		{"none", dir, "hostfs", dir},
	}
	for _, m := range mounts {
		if err := unix.Mount(m.src, m.dst, m.fs, 0, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fs, m.dst, err)
		}
	}
	a := &agent{dir: dir, bg: map[string]*exec.Cmd{}}
	var err error
	if a.log, err = os.OpenFile(filepath.Join(dir, plan.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return err
	}
	os.Stderr = a.log
	b, err := os.ReadFile(filepath.Join(dir, plan.PlanFile))
	if err != nil {
		return err
	}
	var p plan.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", plan.PlanFile, err)
	}
	if err := a.runPlan(&p); err != nil {
		a.logf("plan failed: %v", err)
		return err
	}
	a.logf("plan done")
	return os.WriteFile(filepath.Join(dir, plan.DoneFile), []byte("done\n"), 0o644)
}

func (a *agent) logf(format string, args ...any) {
	fmt.Fprintf(a.log, "%s agent: %s\n", time.Now().UTC().Format("15:04:05.000000"), fmt.Sprintf(format, args...))
}

func (a *agent) runPlan(p *plan.Plan) error {
	os.Setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
	for _, d := range p.Mkdirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	net := [][]string{{"ip", "link", "set", "lo", "up"}}
	if p.Addr != "" {
		net = append(net, []string{"ip", "addr", "add", p.Addr, "dev", "eth0"}, []string{"ip", "link", "set", "eth0", "up"})
	}
	for _, c := range net {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	if err := a.setClock(p); err != nil {
		return err
	}
	// Count the settings of the clock from here on (the plan's own error is not one).
	tfd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("timerfd_create: %w", err)
	}
	arm(tfd)
	// Start on a whole second of this clock: steps At whole seconds plus a half then run in
	// the middle of the kernel's second, away from the boundary where its NTP code runs (on
	// the first tick after the clock crosses it, up to a tick later), and samples are taken an
	// eighth of a second off the boundaries for the same reason.
	var now unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &now)
	time.Sleep(time.Duration((1e9-now.Nsec)%1e9) * time.Nanosecond)
	a.start = time.Now()
	if a.calls, err = os.Create(filepath.Join(a.dir, plan.CallsFile)); err != nil {
		return err
	}
	defer a.calls.Close()
	samples, err := os.Create(filepath.Join(a.dir, plan.SamplesFile))
	if err != nil {
		return err
	}
	defer samples.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.sample(samples, tfd, p.SampleMs, stop)
	}()
	defer func() { close(stop); wg.Wait() }()
	defer a.stopAll()
	for i := range p.Steps {
		if err := a.step(i, &p.Steps[i]); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

// setClock puts the plan's error into this kernel's clock: tick first (the oscillator's rate),
// then one ADJ_SETOFFSET from the clock's current error against the host (the anchor) to the
// plan's. UML's clock comes up behind the host's by however long early boot ran on the jiffies
// clocksource, so the current error is measured, not assumed.
func (a *agent) setClock(p *plan.Plan) error {
	if p.Tick != 0 {
		tx := unix.Timex{Modes: unix.ADJ_TICK, Tick: p.Tick}
		if _, err := unix.Adjtimex(&tx); err != nil {
			return fmt.Errorf("adjtimex(ADJ_TICK %d): %w", p.Tick, err)
		}
	}
	if p.Anchor.GHz == 0 {
		return nil
	}
	r := probe.Read(9)
	host := p.Anchor.Ns + int64(float64(int64(r.TSC-p.Anchor.TSC))/p.Anchor.GHz)
	delta := p.Offset - (r.Ns - host)
	if err := setOffset(delta); err != nil {
		return err
	}
	// ADJ_NANO left the kernel in nanosecond mode; a booted kernel is in microseconds.
	tx := unix.Timex{Modes: unix.ADJ_MICRO}
	if _, err := unix.Adjtimex(&tx); err != nil {
		return fmt.Errorf("adjtimex(ADJ_MICRO): %w", err)
	}
	a.logf("boot error %+.6f s; clock stepped by %+.6f s to %+.9f s from the host, tick %d",
		float64(r.Ns-host)/1e9, float64(delta)/1e9, float64(p.Offset)/1e9, p.Tick)
	return nil
}

// setOffset adds ns to CLOCK_REALTIME (ADJ_SETOFFSET|ADJ_NANO; the nanoseconds part must be
// non-negative).
func setOffset(ns int64) error {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	tx := unix.Timex{Modes: unix.ADJ_SETOFFSET | unix.ADJ_NANO}
	tx.Time.Sec, tx.Time.Usec = sec, nsec
	if _, err := unix.Adjtimex(&tx); err != nil {
		return fmt.Errorf("adjtimex(ADJ_SETOFFSET %d ns): %w", ns, err)
	}
	return nil
}

// arm sets a far-away absolute timer that any setting of CLOCK_REALTIME cancels.
func arm(tfd int) {
	var now unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &now)
	its := unix.ItimerSpec{Value: unix.Timespec{Sec: now.Sec + 10*365*86400}}
	_ = unix.TimerfdSettime(tfd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &its, nil)
}

func readKernel() (plan.Kernel, error) {
	var tx unix.Timex
	st, err := unix.Adjtimex(&tx)
	return kernelOf(st, &tx), err
}

func kernelOf(state int, tx *unix.Timex) plan.Kernel {
	off := tx.Offset
	if tx.Status&unix.STA_NANO == 0 {
		off *= 1000
	}
	return plan.Kernel{State: state, Offset: off, Freq: tx.Freq, Status: tx.Status, Constant: tx.Constant,
		Tick: tx.Tick, MaxError: tx.Maxerror, EstError: tx.Esterror, TAI: tx.Tai}
}

func (a *agent) sample(f *os.File, tfd, ms int, stop <-chan struct{}) {
	if ms <= 0 {
		ms = 1000
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	time.Sleep(time.Until(a.start.Add(125 * time.Millisecond)))
	tk := time.NewTicker(time.Duration(ms) * time.Millisecond)
	defer tk.Stop()
	steps := 0
	for {
		var buf [8]byte
		if _, err := unix.Read(tfd, buf[:]); errors.Is(err, unix.ECANCELED) {
			steps++
			arm(tfd)
		}
		r := probe.Read(9)
		k, _ := readKernel()
		_ = enc.Encode(plan.Sample{Mono: time.Since(a.start).Seconds(), TSC: r.TSC, Ns: r.Ns, Width: r.Width, Steps: steps, Kernel: k})
		_ = w.Flush()
		select {
		case <-stop:
			return
		case <-tk.C:
		}
	}
}

func (a *agent) record(c plan.Call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, _ := json.Marshal(c)
	a.calls.Write(append(b, '\n'))
}

func (a *agent) step(i int, s *plan.Step) error {
	if s.At > 0 {
		if d := time.Until(a.start.Add(time.Duration(s.At * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
	}
	switch {
	case s.Adjtimex != nil:
		in := *s.Adjtimex
		tx := unix.Timex{Modes: in.Modes, Offset: in.Offset, Freq: in.Freq, Status: in.Status, Constant: in.Constant, Tick: in.Tick,
			Maxerror: in.MaxError, Esterror: in.EstError}
		if in.Modes&unix.ADJ_SETOFFSET != 0 {
			ns := in.SetOffset
			sec, nsec := ns/1e9, ns%1e9
			if nsec < 0 {
				sec, nsec = sec-1, nsec+1e9
			}
			tx.Time.Sec, tx.Time.Usec = sec, nsec
			if in.Modes&unix.ADJ_NANO == 0 {
				tx.Time.Usec = nsec / 1000
			}
		}
		c := plan.Call{Step: i, In: &in, Mono: time.Since(a.start).Seconds()}
		c.TSC0 = probe.Rdtsc()
		st, err := unix.Adjtimex(&tx)
		c.TSC1 = probe.Rdtsc()
		c.Kernel = kernelOf(st, &tx)
		if err != nil {
			c.Err = err.Error()
		}
		a.record(c)
	case len(s.Argv) > 0:
		return a.exec(i, s)
	case s.Stop != "":
		a.stop(s.Stop)
	case s.Sleep > 0:
		time.Sleep(time.Duration(s.Sleep * float64(time.Second)))
	}
	return nil
}

func (a *agent) exec(i int, s *plan.Step) error {
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Dir = a.dir
	out := filepath.Join(a.dir, s.Name+".log")
	if s.Output != "" {
		out = filepath.Join(a.dir, s.Output)
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.logf("run %s: %s", s.Name, strings.Join(s.Argv, " "))
	if err := cmd.Start(); err != nil {
		a.record(plan.Call{Step: i, Name: s.Name, ExitCode: -1, Err: err.Error(), Mono: time.Since(a.start).Seconds()})
		return nil
	}
	if s.Background {
		a.mu.Lock()
		a.bg[s.Name] = cmd
		a.mu.Unlock()
		return nil
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 60
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	c := plan.Call{Step: i, Name: s.Name}
	select {
	case err = <-done:
	case <-time.After(time.Duration(timeout * float64(time.Second))):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
		c.Err = fmt.Sprintf("timed out after %g s", timeout)
	}
	c.Mono = time.Since(a.start).Seconds()
	c.ExitCode = cmd.ProcessState.ExitCode()
	if err != nil && c.Err == "" {
		c.Err = err.Error()
	}
	c.Kernel, _ = readKernel()
	a.record(c)
	a.logf("%s exited: %d %s", s.Name, c.ExitCode, c.Err)
	return nil
}

// stop ends a background program: SIGTERM to its process group, SIGKILL after 3 s.
func (a *agent) stop(name string) {
	a.mu.Lock()
	cmd := a.bg[name]
	delete(a.bg, name)
	a.mu.Unlock()
	if cmd == nil {
		a.logf("stop %s: not running", name)
		return
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	a.logf("stopped %s: %v", name, cmd.ProcessState)
}

func (a *agent) stopAll() {
	a.mu.Lock()
	var names []string
	for n := range a.bg {
		names = append(names, n)
	}
	a.mu.Unlock()
	for _, n := range names {
		a.stop(n)
	}
}
