// SPDX-License-Identifier: BSD-2-Clause

// Command sntp is gontp's drop-in for classic sntp 4.2.8p15: it asks NTP servers for the
// time once, prints one line per answer in classic's format ("2026-12-06 13:50:00.123456
// (+0000) +0.000123 +/- 0.000456 host 198.18.0.2 s2 no-leap"), and with -S or -s steps or
// slews the clock once. Options, messages, the KoD history file and exit statuses are
// classic's. The logic is in sntp.go; this file holds the option table and the wiring.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gontp/clock/adjtimex"
	"gontp/internal/cli"
)

// command is sntp's option table: classic sntp 4.2.8p15's (`sntp --help`).
var command = cli.Program{
	Name:     "sntp",
	Section:  1,
	Summary:  "standard Simple Network Time Protocol client program (gontp)",
	Title:    "sntp - standard Simple Network Time Protocol client program - Ver. 4.2.8p15 (gontp)",
	Operands: "[ hostname-or-IP ...]",
	Style:    cli.Libopts,
	Options: []cli.Option{
		{Short: '4', Long: "ipv4", Prohibits: []string{"ipv6"}, Desc: "Force IPv4 DNS name resolution"},
		{Short: '6', Long: "ipv6", Prohibits: []string{"ipv4"}, Desc: "Force IPv6 DNS name resolution"},
		{Short: 'a', Long: "authentication", Arg: cli.Number, ArgName: "auth-keynumber", Desc: "Enable authentication with the key auth-keynumber",
			Detail: "Requests carry the key's MAC (MD5 or SHA1, from the key file of -k); a reply must carry a MAC that verifies under a key of that file."},
		{Short: 'b', Long: "broadcast", Arg: cli.String, ArgName: "broadcast-address", Multi: true, Desc: "Listen to the address specified for broadcast time sync",
			Detail: "An IPv4 broadcast address or a multicast group; sntp listens on port 123 (root or CAP_NET_BIND_SERVICE) for at most -t seconds and takes the time from the first broadcast that passes its checks, as t3 - t4: late by the network's one-way delay, which a broadcast cannot measure. Classic 4.2.8p15 documents -b but never takes the time from a broadcast: it waits out -t and prints nothing."},
		{Short: 'c', Long: "concurrent", Arg: cli.String, ArgName: "host-name", Multi: true, Desc: "Concurrently query all IPs returned for host-name",
			Detail: "As in classic 4.2.8p15 these names are queried exactly as the operands are (before them): the addresses of one name two seconds apart."},
		{Short: 'd', Long: "debug-level", Multi: true, Desc: "Increase debug verbosity level",
			Missing: "sntp prints no debug traces"},
		{Short: 'D', Long: "set-debug-level", Arg: cli.Number, ArgName: "number", Multi: true, Desc: "Set the debug verbosity level",
			Missing: "sntp prints no debug traces"},
		{Short: 'g', Long: "gap", Arg: cli.Number, ArgName: "milliseconds", Desc: "The gap (in milliseconds) between time requests",
			Detail: "The default is 50; at most 999."},
		{Short: 'K', Long: "kod", Arg: cli.String, ArgName: "file-name", Desc: "KoD history filename",
			Detail: "The default is /var/lib/sntp/kod. A server that sent a DENY or RSTR kiss is recorded there and skipped (\"prior KoD for ADDRESS, skipping.\") by later runs. As in classic, a file that does not exist is reported and not created; -K /dev/null keeps no history."},
		{Short: 'k', Long: "keyfile", Arg: cli.String, ArgName: "file-name", Desc: "Look in this file for the key specified with -a",
			Detail: "The default is /etc/ntp.keys (ntp.keys(5))."},
		{Short: 'l', Long: "logfile", Arg: cli.String, ArgName: "file-name", Desc: "Log to specified logfile",
			Detail: "Every message is also appended to the file, with a time stamp and sntp[PID]."},
		{Short: 'M', Long: "steplimit", Arg: cli.Number, ArgName: "number", Desc: "Adjustments less than steplimit msec will be slewed",
			Detail: "With both -S and -s, an offset of more than this many milliseconds is stepped and a smaller one slewed. The default is 0."},
		{Short: 'o', Long: "ntpversion", Arg: cli.Number, ArgName: "number", Desc: "Send int as our NTP protocol version",
			Detail: "From 0 to 7; the default is 4."},
		{Short: 'r', Long: "usereservedport", Desc: "Use the NTP Reserved Port (port 123)"},
		{Short: 'S', Long: "step", Desc: "OK to 'step' the time with settimeofday(2)"},
		{Short: 's', Long: "slew", Desc: "OK to 'slew' the time with adjtime(2)"},
		{Short: 't', Long: "timeout", Arg: cli.Number, ArgName: "seconds", Desc: "The number of seconds to wait for responses",
			Detail: "The default is 5. As in classic the time is counted in whole seconds."},
		{Long: "wait", Desc: "Wait for pending replies (if not setting the time)",
			Detail: "Without it sntp stops at the first good answer. As in classic 4.2.8p15, --no-wait waits too."},
		{Long: "no-wait", Desc: "The no-wait form of --wait (waits, as classic's does)"},
		{Long: "version", Arg: cli.Optional, ArgName: "keyword", Desc: "output version information and exit"},
		{Short: '?', Long: "help", Desc: "display extended usage information and exit"},
		{Short: '!', Long: "more-help", Desc: "extended usage information passed thru pager"},
		{Short: '>', Long: "save-opts", Arg: cli.Optional, Desc: "save the option state to a config file",
			Missing: "option files are not read or written", Refused: true},
		{Short: '<', Long: "load-opts", Arg: cli.String, Multi: true, Desc: "load options from a config file",
			Missing: "option files are not read or written", Refused: true},
	},
	Description: `sntp asks one or more NTP servers for the time once and prints, for the first good answer, a line such as "2026-12-06 13:50:00.123456 (+0000) +0.000123 +/- 0.000456 ntp.example 198.18.0.2 s2 no-leap": the local time at which the answer came, the local zone as the minutes to add to get to UTC, the clock's offset (as many decimals as the server's precision warrants), the synchronisation distance, the name and address of the server, its stratum and leap indicator. With -S or -s it then steps or slews the clock (-M decides between the two when both are given).

gontp's sntp is classic sntp 4.2.8p15's: the same options, lines, messages, KoD history file and exit statuses: 0, or 1 when -S/-s could not set the clock, and 64 without a host. The first line is the version, "sntp 4.2.8p15 (gontp)" where classic prints its build stamp. Broadcast mode (-b) and option files (-<, ->) are refused by name.`,
	Sections: []cli.Section{
		{Title: "Files", Items: []cli.Entry{{Tag: "/var/lib/sntp/kod", Text: "the KoD history (-K)"}, {Tag: "/etc/ntp.keys", Text: "the keys (-k)"}}},
		{Title: "See also", Text: "ntpdate(8), ntpd(8), ntp.keys(5)"},
	},
}

// host is one server to query, from -c or an operand.
type host struct {
	name       string
	concurrent bool
}

// options is sntp's parsed command line.
type options struct {
	family     string // "ip", "ip4" (-4), "ip6" (-6)
	auth       bool
	keyID      uint32
	keyFile    string
	kodFile    string
	logFile    string
	stepLimit  float64 // seconds
	version    int
	reserved   bool
	step       bool
	slew       bool
	timeout    int
	gap        time.Duration
	wait       bool // --wait or --no-wait given: classic's HAVE_OPT(WAIT)
	hosts      []host
	broadcasts []string // -b addresses
}

func main() {
	os.Exit(runArgs(os.Args, os.Stdout, os.Stderr, config{
		clock: adjtimex.Clock{}, resolver: net.DefaultResolver, progname: filepath.Base(os.Args[0]), pid: os.Getpid(),
	}))
}

// runArgs parses argv and runs sntp; it returns the exit status.
func runArgs(argv []string, stdout, stderr io.Writer, cfg config) int {
	cfg.stdout, cfg.stderr = stdout, stderr
	o, code, done := parse(argv, stdout, stderr)
	if done {
		return code
	}
	return sntp(o, cfg)
}

// usageTail is what classic's libopts prints after a command-line error.
func usageTail() string {
	return command.Title + "\n" + command.Usage(command.Name) + "Try 'sntp --help' for more information.\n"
}

// parse reads the command line as classic's libopts does. done is true when the program
// should exit with code (help, version, an error).
func parse(argv []string, stdout, stderr io.Writer) (o *options, code int, done bool) {
	p, err := command.Parse(argv[1:])
	if err != nil {
		var ce *cli.Error
		msg := err.Error()
		if errors.As(err, &ce) {
			switch ce.Kind {
			case cli.Unknown:
				if ce.Letter {
					msg = argv[0] + ": illegal option -- " + ce.Given
				} else {
					msg = argv[0] + ": illegal option -- " + ce.Given
				}
			case cli.Conflict:
				msg = fmt.Sprintf("sntp error:  the '%s' and '%s' options conflict", ce.Opt.Long, ce.Other.Long)
			case cli.BadValue:
				msg = fmt.Sprintf("sntp error:  '%s' is not a recognizable number", ce.Value)
			default:
				msg = "sntp error:  " + msg
			}
		}
		fmt.Fprint(stderr, msg+"\n"+usageTail())
		return nil, exitFail, true
	}
	if p.Has("help") || p.Has("more-help") {
		_ = command.Help(stdout)
		return nil, exitOK, true
	}
	if p.Has("version") {
		fmt.Fprintln(stdout, version)
		return nil, exitOK, true
	}
	for _, opt := range p.Given() {
		if opt.Refused {
			fmt.Fprintf(stderr, "sntp error:  the '%s' option is not available in gontp's sntp: %s\n%s", opt.Long, opt.Missing, usageTail())
			return nil, exitFail, true
		}
		if opt.Missing != "" {
			fmt.Fprintf(stderr, "sntp: warning: option '%s' has no effect: %s\n", opt.Long, opt.Missing)
		}
	}
	rangeErr := func(name, v, rule string) (*options, int, bool) {
		fmt.Fprintf(stderr, "sntp error:  %s option value %s is out of range.\nit must be in the range:\n\t%s\n%s", name, v, rule, usageTail())
		return nil, exitFail, true
	}
	o = &options{family: "ip", keyFile: "/etc/ntp.keys", kodFile: "/var/lib/sntp/kod", version: 4, timeout: 5, gap: 50 * time.Millisecond}
	if p.Has("ipv4") {
		o.family = "ip4"
	} else if p.Has("ipv6") {
		o.family = "ip6"
	}
	if p.Has("authentication") {
		n, err := strconv.ParseUint(p.Last("authentication"), 10, 32)
		if err != nil {
			return rangeErr("authentication", p.Last("authentication"), "0 to 4294967295")
		}
		o.auth, o.keyID = true, uint32(n)
	}
	if p.Has("keyfile") {
		o.keyFile = p.Last("keyfile")
	}
	if p.Has("kod") {
		o.kodFile = p.Last("kod")
	}
	o.logFile = p.Last("logfile")
	if p.Has("steplimit") {
		if p.Int("steplimit") < 0 {
			return rangeErr("steplimit", p.Last("steplimit"), "greater than or equal to 0")
		}
		o.stepLimit = float64(p.Int("steplimit")) / 1e3
	}
	if p.Has("ntpversion") {
		if v := p.Int("ntpversion"); v < 0 || v > 7 {
			return rangeErr("ntpversion", p.Last("ntpversion"), "0 to 7")
		}
		o.version = p.Int("ntpversion")
	}
	if p.Has("gap") {
		ms := max(0, p.Int("gap"))
		o.gap = min(time.Duration(ms)*time.Millisecond, 999999*time.Microsecond)
	}
	if p.Has("timeout") {
		o.timeout = p.Int("timeout")
	}
	o.reserved, o.step, o.slew = p.Has("usereservedport"), p.Has("step"), p.Has("slew")
	o.wait = p.Has("wait") || p.Has("no-wait")
	o.broadcasts = p.All("broadcast")
	for _, c := range p.All("concurrent") {
		o.hosts = append(o.hosts, host{name: c, concurrent: true})
	}
	for _, h := range p.Operands {
		o.hosts = append(o.hosts, host{name: h})
	}
	return o, 0, false
}
