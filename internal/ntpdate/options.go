// SPDX-License-Identifier: BSD-2-Clause

package ntpdate

import (
	"fmt"
	"gontp/internal/cli"
	"math/bits"
	"strconv"
	"strings"
)

// Options is the parsed classic ntpdate command line (ntpdate(8) of ntp 4.2.8p15).
type Options struct {
	Family       int    // 0: both, 4: -4, 6: -6 (the last one given wins)
	AuthKey      string // -a key; authentication is requested when AuthKeySet
	AuthKeySet   bool
	AlwaysStep   bool    // -b
	NeverStep    bool    // -B
	Debug        int     // -d, may be repeated
	AuthDelay    float64 // -e, seconds in [0, 1)
	KeyFile      string  // -k, default /etc/ntp.keys
	Version      int     // -o, default 4; not range-checked, as classic does not check it
	Samples      int     // -p, 1..8; default 4, but 1 with -q (observed: classic -q sends one)
	Query        bool    // -q
	Syslog       bool    // -s
	TimeoutTicks int     // -t, in ticks of 0.2 s, at least 5; default 10 (2 s)
	Unprivileged bool    // -u, or implied by -q and -d
	Verbose      bool    // -v
	Servers      []string
}

// UsageError is a command-line error. Classic ntpdate prints each message, then the usage line,
// to stderr and exits with status 2.
type UsageError struct {
	Prog     string
	Messages []string
}

func (e *UsageError) Error() string {
	var b strings.Builder
	for _, m := range e.Messages {
		b.WriteString(m)
		b.WriteByte('\n')
	}
	b.WriteString(Usage(e.Prog))
	return b.String()
}

// ExitUsage is the exit status of classic ntpdate after a usage error.
const ExitUsage = 2

// Usage returns classic ntpdate's usage line (with its newline); prog is argv[0] as invoked.
func Usage(prog string) string { return Command.Usage(prog) }

// Command is ntpdate's command line: classic ntpdate 4.2.8p15's getopt letters
// ("46a:bBde:k:o:p:qst:uv"), in the order of its usage line. It drives Parse, the usage line
// and the manual page (make man).
var Command = cli.Program{
	Name:     "ntpdate",
	Section:  8,
	Summary:  "set the date and time by NTP (gontp)",
	Operands: "server ...",
	Style:    cli.Getopt,
	Options: []cli.Option{
		{Short: '4', Desc: "Resolve server names to IPv4 addresses only"},
		{Short: '6', Desc: "Resolve server names to IPv6 addresses only"},
		{Short: 'b', Desc: "Always step the clock (settimeofday), never slew it"},
		{Short: 'B', Desc: "Always slew the clock (adjtime), even for offsets over 0.5 s"},
		{Short: 'd', Desc: "Debug: print what is sent and received and do not adjust the clock",
			Detail: "May be given more than once for more detail; implies -u."},
		{Short: 'q', Desc: "Query only: print the offsets and do not adjust the clock",
			Detail: "Sends one sample to each server unless -p says otherwise; implies -u."},
		{Short: 's', Desc: "Log to syslog (facility daemon) instead of the terminal"},
		{Short: 'u', Desc: "Send from an unprivileged port instead of port 123"},
		{Short: 'v', Desc: "Verbose: log the version and the result"},
		{Short: 'a', Arg: cli.String, ArgName: "key#", Desc: "Authenticate the requests with this key"},
		{Short: 'e', Arg: cli.String, ArgName: "delay", Desc: "Authentication delay in seconds, from 0 to 1"},
		{Short: 'k', Arg: cli.String, ArgName: "file", Desc: "Read the keys from this file",
			Detail: "The default is /etc/ntp.keys."},
		{Short: 'p', Arg: cli.String, ArgName: "samples", Desc: "Samples to take from each server, 1 to 8",
			Detail: "The default is 4 (1 with -q)."},
		{Short: 'o', Arg: cli.String, ArgName: "version#", Desc: "NTP version to send (default 4)"},
		{Short: 't', Arg: cli.String, ArgName: "timeo", Desc: "Seconds to wait for each reply",
			Detail: "Rounded to classic's 0.2 s ticks; at least 1 s, 2 s by default."},
	},
	Description: `ntpdate sets the system clock from one or more NTP servers, as classic ntpdate 4.2.8p15 does, with its options, messages and exit statuses: it takes samples from each server, selects the best, and steps the clock when the offset exceeds 0.5 seconds (slews it otherwise), unless -b or -B says which.

Arguments are parsed as classic's getopt loop parses them: unknown letters are reported together with the usage line (exit status 2).`,
	Sections: []cli.Section{
		{Title: "See also", Text: "ntpd(8), ntpq(1)"},
	},
}

const (
	timerHz         = 5  // classic's timer runs at 5 Hz (200 ms ticks)
	defTimeoutTicks = 10 // 2 s
	minTimeoutTicks = 5  // 1 s: smaller -t values are raised to this
	maxSamples      = 8  // NTP_SHIFT
	defSamples      = 4
)

// Parse parses the arguments after the program name the way classic ntpdate's getopt loop
// does: flags may be clustered (-qu), option arguments attached (-p2) or separate (-p 2), and
// option processing stops at the first server name or at "--". prog is used in messages.
func Parse(prog string, args []string) (*Options, error) {
	o := &Options{KeyFile: "/etc/ntp.keys", Version: 4, TimeoutTicks: defTimeoutTicks}
	samplesSet := false
	operands, msgs := Command.Getopt(prog, args, func(opt *cli.Option, arg string) string {
		switch opt.Short {
		case '4':
			o.Family = 4
		case '6':
			o.Family = 6
		case 'b':
			o.AlwaysStep, o.NeverStep = true, false
		case 'B':
			o.NeverStep, o.AlwaysStep = true, false
		case 'd':
			o.Debug++
		case 'q':
			o.Query = true
		case 's':
			o.Syslog = true
		case 'u':
			o.Unprivileged = true
		case 'v':
			o.Verbose = true
		case 'a':
			o.AuthKey, o.AuthKeySet = arg, true
		case 'k':
			o.KeyFile = arg
		case 'o':
			o.Version = cli.Atoi(arg)
		case 'p':
			o.Samples = cli.Atoi(arg)
			samplesSet = true
			if o.Samples <= 0 || o.Samples > maxSamples {
				return fmt.Sprintf("%s: number of samples (%d) is invalid", prog, o.Samples)
			}
		case 'e':
			v, ok := atolfp(arg)
			if !ok || v < 0 || v >= 1<<32 {
				return fmt.Sprintf("%s: encryption delay %s is unlikely", prog, arg)
			}
			o.AuthDelay = v.seconds()
		case 't':
			v, ok := atolfp(arg)
			if !ok {
				return fmt.Sprintf("%s: timeout %s is undecodeable", prog, arg)
			}
			if v < 0 {
				// Classic accepts a negative timeout and then waits forever; refuse it.
				return fmt.Sprintf("%s: timeout %s is negative", prog, arg)
			}
			ticks := (int64(toSfp(v))*timerHz + 0x8000) >> 16
			o.TimeoutTicks = int(max(ticks, minTimeoutTicks))
		}
		return ""
	})
	o.Servers = append(o.Servers, operands...)
	if len(msgs) > 0 || (len(args) == 0) {
		return nil, &UsageError{Prog: prog, Messages: msgs}
	}
	if !samplesSet {
		o.Samples = defSamples
		if o.Query {
			o.Samples = 1
		}
	}
	if o.Query || o.Debug > 0 {
		o.Unprivileged = true
	}
	return o, nil
}

// atolfp parses a decimal number of seconds ("[-+]digits[.digits]", blanks around it allowed)
// into an lfp as libntp's atolfp does; anything else is undecodeable.
func atolfp(s string) (lfp, bool) {
	t := strings.TrimSpace(s)
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	ip, fp, _ := strings.Cut(t, ".")
	for _, part := range []string{ip, fp} {
		for _, c := range []byte(part) {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
	}
	var sec uint64
	if ip != "" {
		v, err := strconv.ParseUint(ip, 10, 32)
		if err != nil {
			return 0, false
		}
		sec = v
	}
	var frac uint64
	if fp != "" {
		if len(fp) > 18 {
			fp = fp[:18]
		}
		num, _ := strconv.ParseUint(fp, 10, 64)
		den := uint64(1)
		for range len(fp) {
			den *= 10
		}
		// frac = round(num/den * 2^32); num < den, so the quotient fits in 33 bits.
		hi, lo := bits.Mul64(num, 1<<32)
		q, r := bits.Div64(hi, lo, den)
		if r >= den-r {
			q++
		}
		sec += q >> 32
		frac = q & 0xffffffff
	}
	if sec >= 1<<32 {
		return 0, false
	}
	v := lfp(sec<<32 | frac)
	if neg {
		v = -v
	}
	return v, true
}
