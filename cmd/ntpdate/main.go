// SPDX-License-Identifier: BSD-2-Clause

// Command ntpdate is gontp's drop-in for classic ntpdate 4.2.8p15: it queries the NTP servers
// named on the command line and steps or slews the clock once. The logic is in
// gontp/internal/ntpdate; this file only wires the real clock, resolver and syslog.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/syslog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"gontp/clock/adjtimex"
	"gontp/internal/ntpdate"
)

// version is logged with -v and -d, as classic logs its own version string.
const version = "ntpdate gontp (compatible with ntpdate 4.2.8p15)"

func main() {
	prog := os.Args[0]
	opts, err := ntpdate.Parse(prog, os.Args[1:])
	if err != nil {
		var ue *ntpdate.UsageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, ue.Error())
			os.Exit(ntpdate.ExitUsage)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(ntpdate.ExitUsage)
	}
	clk := adjtimex.Clock{}
	term := &ntpdate.TermLogger{Stdout: os.Stdout, Stderr: os.Stderr, PID: os.Getpid(), Now: clk.Now}
	cfg := ntpdate.Config{
		Clock:    clk,
		Resolver: net.DefaultResolver,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Log:      term,
		Version:  version,
	}
	if opts.Syslog {
		if w, err := syslog.New(syslog.LOG_NOTICE|syslog.LOG_DAEMON, "ntpdate"); err == nil {
			defer w.Close()
			cfg.Syslog = syslogLogger{w}
		} else {
			term.Err(fmt.Sprintf("cannot open syslog (%v); logging to the terminal", err))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ntpdate.Run(ctx, opts, cfg)
	stop()
	os.Exit(code)
}

// syslogLogger sends ntpdate's msyslog messages to syslog (facility daemon), for -s.
type syslogLogger struct{ w *syslog.Writer }

func (l syslogLogger) Notice(msg string) { _ = l.w.Notice(msg) }
func (l syslogLogger) Err(msg string)    { _ = l.w.Err(msg) }
