// SPDX-License-Identifier: BSD-2-Clause

// Command ntpd is gontp's NTP daemon, run with classic ntpd's command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"gontp/clock"
	"gontp/internal/cli"
	"gontp/internal/daemon"
	"gontp/ntpconf"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(argv []string, stdout, stderr io.Writer) int {
	p, err := command.Parse(argv[1:])
	if err != nil {
		fmt.Fprintf(stderr, "ntpd: %v\n", err)
		command.Help(stderr)
		return 1
	}
	if p.Has("help") {
		command.Help(stdout)
		return 0
	}
	if p.Has("version") {
		fmt.Fprintln(stdout, daemon.VersionString())
		return 0
	}
	for _, o := range p.Given() {
		if o.Missing != "" && o.Refused {
			fmt.Fprintf(stderr, "ntpd: option %s: %s\n", optName(o), o.Missing)
			return 1
		}
	}
	confFile := p.Last("configfile")
	if confFile == "" {
		confFile = daemon.DefaultConfigFile
	}
	if p.Has("configtest") {
		family := 0
		if p.Has("ipv4") {
			family = 4
		} else if p.Has("ipv6") {
			family = 6
		}
		return configTest(confFile, family, stdout, stderr)
	}
	if p.Has("saveconfigquit") {
		return saveConfig(confFile, p.Last("saveconfigquit"), stderr)
	}

	// The detached child (started by Detach below) runs the daemon; everybody else
	// without -n is the parent that forks it and waits.
	ready, err := daemon.DetachedChild()
	if err != nil {
		fmt.Fprintf(stderr, "ntpd: %v\n", err)
		return 1
	}
	// -q sets the clock once in the foreground, as classic's does.
	if !p.Has("nofork") && !p.Has("quit") && !ready.Detached() {
		wait := 0
		if w := p.Last("wait-sync"); w != "" {
			wait, _ = strconv.Atoi(w) // checked by the parser (cli.Number)
		}
		return daemon.Detach(argv, time.Duration(wait)*time.Second, stderr)
	}
	return runDaemon(p, argv, ready, stdout, stderr)
}

// debugLevel is classic's debug level from -d (each adds one) and -D N (sets it).
func debugLevel(p *cli.Parsed) int {
	n := p.Count("debug-level")
	for _, v := range p.All("set-debug-level") {
		n, _ = strconv.Atoi(v) // checked by the parser (cli.Number)
	}
	return n
}

// runDaemon runs the daemon in this process: in the foreground with -n, or as the detached
// child. Its log goes to syslog (and, in the foreground, to the terminal too, as classic's
// does) or to the -l file.
func runDaemon(p *cli.Parsed, argv []string, ready *daemon.Readiness, stdout, stderr io.Writer) int {
	level := new(slog.LevelVar)
	level.Set(daemon.LevelFor(debugLevel(p)))
	ls := daemon.LogSettings{File: p.Last("logfile"), Ident: "ntpd", PID: os.Getpid(), Now: time.Now,
		Level: level, SyslogPath: os.Getenv(syslogEnv)}
	// In the foreground the log also goes to the terminal, except when the output is the
	// journal (ntp.service): the syslog lines reach the journal already.
	journal := !ready.Detached() && daemon.StreamIsJournal(os.Stderr, os.Getenv("JOURNAL_STREAM"))
	if !ready.Detached() && !journal {
		ls.Stdout, ls.Stderr = stdout, stderr
	}
	out, err := daemon.NewLogOutput(ls)
	if err != nil {
		fmt.Fprintf(stderr, "ntpd: %v\n", err)
		ready.Fail(err)
		return 1
	}
	defer out.Close()
	log := slog.New(out.Handler())
	// fatal logs the error that stops the daemon. On the journal it also goes to standard
	// error: journald attributes a syslog line to the service by the sender's cgroup, which
	// it cannot read once the process has exited, so the last line of a daemon that stops at
	// once would be missing from `systemctl status ntp` and `journalctl -u ntp`.
	fatal := func(err error) {
		log.Error(err.Error())
		if journal {
			fmt.Fprintf(stderr, "ntpd: %v\n", err)
		}
		ready.Fail(err)
	}
	for _, o := range p.Given() {
		if o.Missing != "" && !o.Refused {
			log.Warn(fmt.Sprintf("option %s has no effect: %s", optName(o), o.Missing))
		}
	}
	notifier, err := daemon.NewNotifier(nil)
	if err != nil {
		fatal(err)
		return 1
	}
	defer notifier.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	defer stop()
	family := 0
	if p.Has("ipv4") {
		family = 4
	} else if p.Has("ipv6") {
		family = 6
	}
	confFile := p.Last("configfile")
	if confFile == "" {
		confFile = daemon.DefaultConfigFile
	}
	trusted, err := trustedKeys(p.All("trustedkey"))
	if err != nil {
		fatal(err)
		return 1
	}
	opts := daemon.Options{
		AuthNoReq:    p.Has("authnoreq"),
		KeyFile:      p.Last("keyfile"),
		TrustedKeys:  trusted,
		Family:       family,
		ConfigFile:   confFile,
		PIDFile:      p.Last("pidfile"),
		Interfaces:   p.All("interface"),
		NoVirtualIPs: p.Has("novirtualips"),
		User:         p.Last("user"),
		Jail:         p.Last("jaildir"),
		StatsDir:     p.Last("statsdir"),
		Servers:      p.Operands,
		Priority: daemon.Priority{
			Raise:    p.Has("nice") || p.Has("priority"),
			Value:    p.Int("priority"),
			Override: p.Has("priority"),
		},
		CommandLine:            argv,
		LogOutput:              out,
		LogFileFromCommandLine: p.Has("logfile"),
		Reload:                 daemon.HandleSignals(ctx, level, log),
		Notifier:               notifier,
		Readiness:              ready,
		Clock: daemon.ClockOptions{
			VirtualClock: p.Last("virtual-clock"),
			PanicGate:    p.Has("panicgate"),
			ForceStep:    p.Has("force-step-once"),
			Once:         p.Has("quit"),
			SlewOnly:     p.Has("slew"),
			DriftFile:    p.Last("driftfile"),
		},
	}
	if p.Has("updateinterval") {
		// -U N: rescan the interfaces every N s; classic's 0 turns the rescans off.
		n, _ := strconv.Atoi(p.Last("updateinterval")) // a number: checked by the parser
		opts.UpdateInterval = time.Duration(n) * time.Second
		if n <= 0 {
			opts.UpdateInterval = -1
		}
	}
	err = daemon.Run(ctx, opts, log)
	var once *daemon.OnceDone
	switch {
	case err == nil:
		return 0
	case errors.As(err, &once):
		fmt.Fprintln(stdout, once.Message)
		return 0
	case errors.Is(err, clock.ErrPanic):
		// classic: "... set clock manually within 1000 s.", then exit 255 ("panic_stop").
		fatal(err)
		return 255
	default:
		fatal(err)
		return 1
	}
}

// syslogEnv names another syslog socket than /dev/log: for containers that mount the host's
// socket elsewhere, and for tests.
const syslogEnv = "GONTP_SYSLOG_SOCKET"

func optName(o *cli.Option) string {
	if o.Short != 0 {
		return fmt.Sprintf("-%c (--%s)", o.Short, o.Long)
	}
	return "--" + o.Long
}

// configTest reports every problem of the configuration, exactly as start-up would log it
// (daemon.CheckConfig runs the same checks), and exits non-zero when there is an error, the
// kind that makes a SIGHUP reload keep the running configuration (warnings alone pass).
// This is gontp's addition; classic ntpd has no such check.
func configTest(file string, family int, stdout, stderr io.Writer) int {
	problems, warnings, err := daemon.CheckConfig(file, family)
	if err != nil {
		fmt.Fprintf(stderr, "ntpd: %v\n", err)
		return 1
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	n := len(problems)
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	if n > 0 {
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", file, n)
		return 1
	}
	fmt.Fprintf(stdout, "%s: configuration OK\n", file)
	return 0
}

// saveConfig writes the configuration as classic's --saveconfigquit does: two "#NTF:" header
// lines (date and daemon version), then the normalised configuration; problems in the file
// are reported but do not stop the save, as in classic.
func saveConfig(file, out string, stderr io.Writer) int {
	cfg, err := daemon.ParseConfigFile(file)
	if cfg == nil {
		fmt.Fprintf(stderr, "ntpd: %v\n", err)
		return 1
	}
	for _, p := range daemon.Problems(err) {
		fmt.Fprintln(stderr, p)
	}
	f, err := os.Create(out)
	if err != nil {
		fmt.Fprintf(stderr, "ntpd: saveconfigquit: %v\n", err)
		return 1
	}
	werr := ntpconf.WriteSaveconfigHeader(f, time.Now(), daemon.VersionString())
	if werr == nil {
		werr = cfg.WriteSaveconfig(f)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		fmt.Fprintf(stderr, "ntpd: saveconfigquit: writing %s: %v\n", out, werr)
		return 1
	}
	fmt.Fprintf(stderr, "configuration saved to %s\n", out)
	return 0
}

// trustedKeys reads -t values: key ids from 1 to 65535 (classic's -t takes one id each).
func trustedKeys(vals []string) ([]uint32, error) {
	var ids []uint32
	for _, v := range vals {
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil || id < 1 || id > 65535 {
			return nil, fmt.Errorf("-t %s: a trusted key is a key id from 1 to 65535", v)
		}
		ids = append(ids, uint32(id))
	}
	return ids, nil
}
