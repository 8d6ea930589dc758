// Command ntpd is gontp's NTP daemon, run with classic ntpd's command line.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gontp/internal/daemon"
	"gontp/ntpconf"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(argv []string, stdout, stderr io.Writer) int {
	p, err := parseArgs(argv[1:])
	if err != nil {
		fmt.Fprintf(stderr, "ntpd: %v\n", err)
		fmt.Fprint(stderr, usage())
		return 1
	}
	if p.has("help") {
		fmt.Fprint(stdout, usage())
		return 0
	}
	if p.has("version") {
		fmt.Fprintln(stdout, daemon.VersionString())
		return 0
	}
	for _, o := range options {
		if o.support == refused && p.has(o.long) {
			fmt.Fprintf(stderr, "ntpd: option %s: %s\n", optName(&o), o.why)
			return 1
		}
	}
	if len(p.args) > 0 {
		fmt.Fprintf(stderr, "ntpd: servers on the command line (%s) are not supported by gontp yet; put them in ntp.conf\n",
			strings.Join(p.args, " "))
		return 1
	}
	confFile := p.last("configfile")
	if confFile == "" {
		confFile = daemon.DefaultConfigFile
	}
	if p.has("configtest") {
		return configTest(confFile, stdout, stderr)
	}
	if p.has("saveconfigquit") {
		return saveConfig(confFile, p.last("saveconfigquit"), stderr)
	}

	level := slog.LevelInfo
	if n := len(p.values["debug-level"]); n > 0 {
		level = slog.LevelDebug
	}
	for _, v := range p.values["set-debug-level"] {
		if d, _ := strconv.Atoi(v); d > 0 {
			level = slog.LevelDebug
		}
	}
	logOut := stdout
	if f := p.last("logfile"); f != "" {
		lf, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "ntpd: logfile %s: %v\n", f, err)
			return 1
		}
		defer lf.Close()
		logOut = lf
	}
	log := slog.New(daemon.NewLineHandler(logOut, "ntpd", os.Getpid(), level, time.Now))
	for _, o := range options {
		if o.support == noop && p.has(o.long) {
			log.Warn(fmt.Sprintf("option %s has no effect: %s", optName(&o), o.why))
		}
	}
	if !p.has("nofork") {
		log.Warn("forking into the background is not implemented yet; running in the foreground as with -n")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	family := 0
	if p.has("ipv4") {
		family = 4
	} else if p.has("ipv6") {
		family = 6
	}
	opts := daemon.Options{
		Family:       family,
		ConfigFile:   confFile,
		PIDFile:      p.last("pidfile"),
		Interfaces:   p.values["interface"],
		NoVirtualIPs: p.has("novirtualips"),
		User:         p.last("user"),
		CommandLine:  argv,
	}
	if err := daemon.Run(ctx, opts, log); err != nil {
		log.Error(err.Error())
		return 1
	}
	return 0
}

func optName(o *option) string {
	if o.short != 0 {
		return fmt.Sprintf("-%c (--%s)", o.short, o.long)
	}
	return "--" + o.long
}

// configTest reports every problem of the configuration and exits non-zero when there is an
// error (warnings alone pass). This is gontp's addition; classic ntpd has no such check.
func configTest(file string, stdout, stderr io.Writer) int {
	cfg, err := daemon.ParseConfigFile(file)
	if cfg == nil {
		fmt.Fprintf(stderr, "ntpd: %v\n", err)
		return 1
	}
	problems := daemon.Problems(err)
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	n := len(problems)
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "warning: "+w.Error())
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
