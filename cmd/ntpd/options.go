package main

import (
	"fmt"
	"strconv"
	"strings"
)

// support says what gontp does with an option of classic ntpd's command line today.
type support int

const (
	acted   support = iota // implemented with classic's meaning
	noop                   // accepted; has no effect in gontp yet, and a warning says so
	refused                // not available yet: using it is an error naming it
)

// option is one entry of classic ntpd 4.2.8p15's option table (`ntpd --help`).
type option struct {
	short   byte   // 0 when there is none
	long    string // libopts name
	arg     bool   // takes a value
	multi   bool   // may appear more than once
	support support
	why     string // for noop and refused: what is missing
}

var options = []option{
	{'4', "ipv4", false, false, acted, ""},
	{'6', "ipv6", false, false, acted, ""},
	{'a', "authreq", false, false, refused, "authentication is not implemented yet"},
	{'A', "authnoreq", false, false, refused, "authentication is not implemented yet"},
	{'b', "bcastsync", false, false, refused, "broadcast client mode is not implemented"},
	{'c', "configfile", true, false, acted, ""},
	{'d', "debug-level", false, true, acted, ""},
	{'D', "set-debug-level", true, true, acted, ""},
	{'f', "driftfile", true, false, acted, ""},
	{'g', "panicgate", false, true, acted, ""},
	{'G', "force-step-once", false, false, acted, ""},
	{'i', "jaildir", true, false, acted, ""},
	{'I', "interface", true, true, acted, ""},
	{'k', "keyfile", true, false, refused, "authentication is not implemented yet"},
	{'l', "logfile", true, false, acted, ""},
	{'L', "novirtualips", false, false, acted, ""},
	{'n', "nofork", false, false, acted, ""},
	{'N', "nice", false, false, noop, "priority changes are not implemented yet"},
	{'p', "pidfile", true, false, acted, ""},
	{'P', "priority", true, false, noop, "priority changes are not implemented yet"},
	{'q', "quit", false, false, acted, ""},
	{'r', "propagationdelay", true, false, refused, "broadcast client mode is not implemented"},
	{0, "saveconfigquit", true, false, acted, ""},
	{0, "configtest", false, false, acted, ""},
	{'s', "statsdir", true, false, acted, ""},
	{'t', "trustedkey", true, true, refused, "authentication is not implemented yet"},
	{'u', "user", true, false, acted, ""},
	{'U', "updateinterval", true, false, acted, ""},
	{0, "var", true, true, noop, "command-line variables are not served yet; use setvar in ntp.conf"},
	{0, "dvar", true, true, noop, "command-line variables are not served yet; use setvar in ntp.conf"},
	{'w', "wait-sync", true, false, acted, ""},
	{'x', "slew", false, false, acted, ""},
	{0, "version", false, false, acted, ""},
	// gontp's own: run on a virtual clock OFFSET seconds off the host's with a PPM
	// frequency error, adjusting only that (end-to-end tests of the discipline).
	{0, "virtual-clock", true, false, acted, ""},
	{'?', "help", false, false, acted, ""},
}

// parsed is the command line after parsing: the values of each option given, in order.
type parsed struct {
	values map[string][]string // by long name; "" for options without a value
	args   []string            // operands (classic: servers to use)
}

func (p *parsed) has(name string) bool { _, ok := p.values[name]; return ok }

func (p *parsed) last(name string) string {
	v := p.values[name]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// conflicts are classic's "prohibits" rules.
var conflicts = [][2]string{
	{"ipv4", "ipv6"}, {"authreq", "authnoreq"}, {"nofork", "wait-sync"},
	{"quit", "saveconfigquit"}, {"quit", "wait-sync"}, {"saveconfigquit", "wait-sync"},
}

// parseArgs parses argv (without the program name) as libopts does for classic ntpd:
// clustered short flags (-gn), values attached or separate (-c FILE, -cFILE), long names with
// = or a space, and "--" ending the options. Errors name the option and what is wrong.
func parseArgs(argv []string) (*parsed, error) {
	p := &parsed{values: map[string][]string{}}
	set := func(o *option, val string) error {
		if _, dup := p.values[o.long]; dup && !o.multi {
			return fmt.Errorf("option '%s' may not appear more than once", o.long)
		}
		p.values[o.long] = append(p.values[o.long], val)
		return nil
	}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			p.args = append(p.args, argv[i+1:]...)
			i = len(argv)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			o := byLong(name)
			if o == nil {
				return nil, fmt.Errorf("illegal option -- %s", name)
			}
			if o.arg && !hasVal {
				if i+1 >= len(argv) {
					return nil, fmt.Errorf("option '%s' requires an argument", o.long)
				}
				i++
				val = argv[i]
			} else if !o.arg && hasVal {
				return nil, fmt.Errorf("option '%s' takes no argument", o.long)
			}
			if err := set(o, val); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := byShort(a[j])
				if o == nil {
					return nil, fmt.Errorf("illegal option -- %c", a[j])
				}
				val := ""
				if o.arg {
					if j+1 < len(a) {
						val = a[j+1:]
					} else if i+1 < len(argv) {
						i++
						val = argv[i]
					} else {
						return nil, fmt.Errorf("option '%s' requires an argument", o.long)
					}
					j = len(a)
				}
				if err := set(o, val); err != nil {
					return nil, err
				}
			}
		default:
			p.args = append(p.args, a)
		}
	}
	for _, c := range conflicts {
		if p.has(c[0]) && p.has(c[1]) {
			return nil, fmt.Errorf("the '%s' option conflicts with the '%s' option", c[0], c[1])
		}
	}
	for _, name := range []string{"set-debug-level", "updateinterval", "wait-sync"} {
		for _, v := range p.values[name] {
			if _, err := strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("option '%s': %q is not a number", name, v)
			}
		}
	}
	return p, nil
}

func byLong(name string) *option {
	for i := range options {
		if options[i].long == name {
			return &options[i]
		}
	}
	return nil
}

func byShort(c byte) *option {
	for i := range options {
		if options[i].short == c && c != 0 {
			return &options[i]
		}
	}
	return nil
}

func usage() string {
	var b strings.Builder
	b.WriteString("ntpd - NTP daemon program (gontp)\n")
	b.WriteString("Usage:  ntpd [ -<flag> [<val>] | --<name>[{=| }<val>] ]... \\\n\t\t[ <server1> ... <serverN> ]\n")
	b.WriteString("  Flg Arg Option-Name    Description\n")
	for _, o := range options {
		flg := "   "
		if o.short != 0 {
			flg = " -" + string(o.short)
		}
		arg := "no "
		if o.arg {
			arg = "Str"
		}
		note := ""
		switch o.support {
		case noop:
			note = " (no effect in gontp yet)"
		case refused:
			note = " (not available in gontp yet)"
		}
		fmt.Fprintf(&b, " %s %s %-14s%s\n", flg, arg, o.long, note)
	}
	return b.String()
}
