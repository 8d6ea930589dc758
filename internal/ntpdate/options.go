// SPDX-License-Identifier: BSD-2-Clause

package ntpdate

import (
	"fmt"
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
func Usage(prog string) string {
	return "usage: " + prog + " [-46bBdqsuv] [-a key#] [-e delay] [-k file] [-p samples] [-o version#] [-t timeo] server ...\n"
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
	var msgs []string
	samplesSet := false
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if !strings.ContainsRune("46bBdqsuvaekopt", rune(c)) {
				msgs = append(msgs, fmt.Sprintf("%s: unknown option -%c", prog, c))
				continue
			}
			var arg string
			if strings.ContainsRune("aekopt", rune(c)) {
				switch {
				case j+1 < len(a):
					arg = a[j+1:]
				case i+1 < len(args):
					i++
					arg = args[i]
				default:
					msgs = append(msgs, fmt.Sprintf("%s: option requires argument -%c", prog, c))
					j = len(a)
					continue
				}
				j = len(a)
			}
			switch c {
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
				o.Version = atoi(arg)
			case 'p':
				o.Samples = atoi(arg)
				samplesSet = true
				if o.Samples <= 0 || o.Samples > maxSamples {
					msgs = append(msgs, fmt.Sprintf("%s: number of samples (%d) is invalid", prog, o.Samples))
				}
			case 'e':
				v, ok := atolfp(arg)
				if !ok || v < 0 || v >= 1<<32 {
					msgs = append(msgs, fmt.Sprintf("%s: encryption delay %s is unlikely", prog, arg))
					break
				}
				o.AuthDelay = v.seconds()
			case 't':
				v, ok := atolfp(arg)
				if !ok {
					msgs = append(msgs, fmt.Sprintf("%s: timeout %s is undecodeable", prog, arg))
					break
				}
				if v < 0 {
					// Classic accepts a negative timeout and then waits forever; refuse it.
					msgs = append(msgs, fmt.Sprintf("%s: timeout %s is negative", prog, arg))
					break
				}
				ticks := (int64(toSfp(v))*timerHz + 0x8000) >> 16
				o.TimeoutTicks = int(max(ticks, minTimeoutTicks))
			}
		}
	}
	o.Servers = append(o.Servers, args[i:]...)
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

// atoi is C's atoi: leading blanks, an optional sign, then digits up to the first non-digit;
// no digits gives 0. Values are clamped to the int32 range instead of overflowing.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := int64(0)
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			break
		}
		n = min(n*10+int64(c-'0'), 1<<31)
	}
	if neg {
		n = -n
	}
	return int(max(min(n, 1<<31-1), -1<<31))
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
