// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"gontp/internal/cli"
)

// Missing-feature texts shared by several options.
const (
	noBroadcast = "broadcast client mode is not implemented"
)

// command is ntpd's command line: classic ntpd 4.2.8p15's option table (`ntpd --help`), with
// the same letters, names, argument types and rules, plus gontp's own --virtual-clock. It
// parses argv, prints --help and writes the manual page (make man).
var command = cli.Program{
	Name:     "ntpd",
	Section:  8,
	Summary:  "NTP daemon program (gontp)",
	Title:    "ntpd - NTP daemon program - Ver. 4.2.8p15 (gontp)",
	Operands: "[ <server1> ... <serverN> ]",
	Style:    cli.Libopts,
	Options: []cli.Option{
		{Short: '4', Long: "ipv4", Prohibits: []string{"ipv6"}, Desc: "Resolve host names to IPv4 addresses only"},
		{Short: '6', Long: "ipv6", Prohibits: []string{"ipv4"}, Desc: "Resolve host names to IPv6 addresses only"},
		{Short: 'a', Long: "authreq", Prohibits: []string{"authnoreq"}, Desc: "Require authentication of every association",
			Detail: "The default: a symmetric-active packet from a peer that is not configured mobilises a passive association only when it is authenticated."},
		{Short: 'A', Long: "authnoreq", Prohibits: []string{"authreq"}, Desc: "Do not require authentication",
			Detail: "As disable auth: a symmetric-active packet without a MAC from a peer that is not configured mobilises a passive association (unless restrict nopeer or noepeer applies). An enable or disable auth line in the configuration wins."},
		{Short: 'b', Long: "bcastsync", Desc: "Synchronise to broadcast servers", Missing: noBroadcast, Refused: true},
		{Short: 'c', Long: "configfile", Arg: cli.String, ArgName: "file", Desc: "Read the configuration from this file",
			Detail: "The default is /etc/ntp.conf."},
		{Short: 'd', Long: "debug-level", Multi: true, Desc: "Raise the debug level by one",
			Detail: "Level 1 and above log debug messages."},
		{Short: 'D', Long: "set-debug-level", Arg: cli.Number, ArgName: "level", Multi: true, Desc: "Set the debug level"},
		{Short: 'f', Long: "driftfile", Arg: cli.String, ArgName: "file", Desc: "Keep the frequency correction in this file",
			Detail: "Overrides the driftfile line of the configuration."},
		{Short: 'g', Long: "panicgate", Multi: true, Desc: "Allow the first clock correction to exceed the panic threshold",
			Detail: "Without it a first offset larger than the panic threshold (1000 s) stops the daemon with exit status 255, as classic's does."},
		{Short: 'G', Long: "force-step-once", Desc: "Step the clock for the first correction, whatever its size"},
		{Short: 'i', Long: "jaildir", Arg: cli.String, ArgName: "directory", Desc: "Change the root directory to this one once started",
			Detail: "The daemon chroots there after binding its sockets and writing its pid file."},
		{Short: 'I', Long: "interface", Arg: cli.String, ArgName: "iface", Multi: true, Desc: "Listen on this interface name or address",
			Detail: "Like the configuration's \"interface listen\" line."},
		{Short: 'k', Long: "keyfile", Arg: cli.String, ArgName: "file", Desc: "Read the symmetric keys from this file",
			Detail: "Instead of the configuration's keys line; see ntp.keys(5)."},
		{Short: 'l', Long: "logfile", Arg: cli.String, ArgName: "file", Desc: "Write the log to this file instead of syslog"},
		{Short: 'L', Long: "novirtualips", Desc: "Do not listen on virtual interfaces (names with a colon)"},
		{Short: 'n', Long: "nofork", Prohibits: []string{"wait-sync"}, Desc: "Stay in the foreground",
			Detail: "Without it the daemon forks, the parent exits once the child has bound its sockets, and the child runs detached."},
		{Short: 'N', Long: "nice", Desc: "Run at a raised scheduling priority",
			Detail: "As classic's: every thread of the daemon runs SCHED_FIFO at the highest priority (99); if that is refused, at nice -12; if that is refused too, the daemon says \"set_process_priority: No way found to improve our priority\" and goes on."},
		{Short: 'p', Long: "pidfile", Arg: cli.String, ArgName: "file", Desc: "Write the daemon's process ID to this file"},
		{Short: 'P', Long: "priority", Arg: cli.Number, ArgName: "priority", Desc: "Run at this scheduling priority",
			Detail: "Like -N, at this SCHED_FIFO priority (1 to 99; a value outside is taken as the nearest end), as classic's."},
		{Short: 'q', Long: "quit", Prohibits: []string{"saveconfigquit", "wait-sync"}, Desc: "Set the time once and exit",
			Detail: "The daemon stays in the foreground, waits until its servers have been selected, steps or slews the clock once and exits, printing the offset as classic's does."},
		{Short: 'r', Long: "propagationdelay", Arg: cli.String, ArgName: "delay", Desc: "Assume this broadcast propagation delay",
			Missing: noBroadcast, Refused: true},
		{Long: "saveconfigquit", Arg: cli.String, ArgName: "file", Prohibits: []string{"quit", "wait-sync"},
			Desc:   "Write the configuration as understood to this file and exit",
			Detail: "The file starts with two #NTF lines (date and version), then the configuration normalised as classic's saveconfig writes it."},
		{Long: "configtest", Desc: "Check the configuration and exit",
			Detail: "Reports every problem with its file, line and column and exits non-zero when there is an error (warnings alone pass). Classic ntpd has no such option."},
		{Short: 's', Long: "statsdir", Arg: cli.String, ArgName: "directory", Desc: "Write statistics files into this directory",
			Detail: "Overrides the statsdir line of the configuration."},
		{Short: 't', Long: "trustedkey", Arg: cli.String, ArgName: "key", Multi: true, Desc: "Trust this key number",
			Detail: "Added to the configuration's trustedkey list."},
		{Short: 'u', Long: "user", Arg: cli.String, ArgName: "user[:group]", Desc: "Run as this user (and group) once the sockets are bound",
			Detail: "Names or numbers. The daemon keeps only the capabilities to set the clock and to bind port 123."},
		{Short: 'U', Long: "updateinterval", Arg: cli.Number, ArgName: "seconds", Desc: "Scan for new or vanished interfaces this often",
			Detail: "300 seconds without it; 0 turns the scans off, as in classic."},
		{Long: "var", Arg: cli.String, ArgName: "name=value", Multi: true, Desc: "Serve this system variable (writable)",
			Missing: "command-line variables are not served yet; use setvar in ntp.conf"},
		{Long: "dvar", Arg: cli.String, ArgName: "name=value", Multi: true, Desc: "Serve this system variable (writable, default list)",
			Missing: "command-line variables are not served yet; use setvar in ntp.conf"},
		{Short: 'w', Long: "wait-sync", Arg: cli.Number, ArgName: "seconds", Prohibits: []string{"nofork", "quit", "saveconfigquit"},
			Desc:   "Wait this long for the first synchronisation before the parent exits",
			Detail: "The parent exits 0 once the daemon has synchronised, or with status 110 (ETIMEDOUT) when the time has passed first; the daemon goes on in either case."},
		{Short: 'x', Long: "slew", Desc: "Slew offsets up to 600 seconds instead of stepping them"},
		{Long: "version", Arg: cli.Optional, ArgName: "keyword", Desc: "Print the version and exit",
			Detail: "The optional value, which selects copyright or licence text in classic's, is ignored."},
		{Long: "virtual-clock", Arg: cli.String, ArgName: "offset,ppm", Desc: "Discipline a virtual clock instead of the system's",
			Detail: "gontp's own: the daemon runs on a clock OFFSET seconds off the host's with a frequency error of PPM, and adjusts only that clock. The end-to-end tests use it; the system clock is never touched."},
		{Short: '?', Long: "help", Desc: "Print this list and exit"},
	},
	Description: `ntpd is gontp's NTP daemon, a drop-in replacement for classic ntpd 4.2.8p15: it reads the same configuration file, /etc/ntp.conf, takes the same command line, exchanges time with the servers, peers and pools named there as RFC 5905 describes, disciplines the system clock, answers NTP clients on UDP port 123 within the limits set by the restrict lines, and answers the mode 6 control queries of ntpq(1).

Unless -n, -q, --configtest or --saveconfigquit is given, ntpd forks: the parent waits until the child has bound its sockets (and, with -w, until it is synchronised) and exits, and the child goes on in the background with its log in syslog.

An option that gontp cannot honour yet is refused with a message naming it when honouring it matters (authentication, broadcast), and accepted with a warning in the log when it does not change what the daemon does; --help marks both.`,
	Sections: []cli.Section{
		{Title: "Files", Items: []cli.Entry{
			{Tag: "/etc/ntp.conf", Text: "The configuration; see ntp.conf(5)."},
			{Tag: "/var/lib/ntp/ntp.drift", Text: "The frequency correction kept between runs (the driftfile line)."},
		}},
		{Title: "Signals", Items: []cli.Entry{
			{Tag: "SIGTERM, SIGINT, SIGQUIT", Text: "Stop cleanly; the drift file is written when the frequency has been measured and moved."},
			{Tag: "SIGHUP", Text: "Reopen the log file and read the configuration again, all or nothing: a file with any error changes nothing (each error is logged with file:line:col); otherwise the changes take effect at once, edited server lines keeping their measurements, and one warning names what needs a restart. Classic ntpd has no reload."},
			{Tag: "SIGUSR1, SIGUSR2", Text: "Raise or lower the debug level by one, as classic's debug builds do."},
		}},
		{Title: "Exit status", Text: `0 after a clean stop, a successful -q or --configtest. 255 when the first offset exceeds the panic threshold without -g. Otherwise non-zero, with a message naming the cause, when an option or the configuration is rejected or a socket cannot be opened.`},
		{Title: "See also", Text: "ntp.conf(5), ntpq(1), ntpdate(8)"},
	},
}
