// SPDX-License-Identifier: BSD-2-Clause

// Package perlopt reads command lines the way classic ntp 4.2.8p15's Perl tools (ntp-wait,
// ntptrace, update-leap... built from AutoGen's "perlopt" template) read theirs, so that a
// script calling one of them gets the same result from gontp's Go program.
//
// Those tools call Getopt::Long with its defaults: the template's Configure(no_auto_abbrev
// no_ignore_case_always) statement stands after the script's `exit run(@ARGV)` and so never
// runs. Hence: long and one-letter names both with one or two dashes; no bundling ("-vn" is
// the unknown option "vn", "-n5" the unknown option "n5"); names matched without regard to case
// and by any unambiguous prefix ("--tr" is --tries); values after "=" or as the next argument;
// integers as Perl's /^[-+]?\d+$/; every problem reported, parsing going on after it; "--" ends
// the options; other arguments are left in place for the caller (permute).
package perlopt

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"gontp/internal/cli"
)

// Tool is one of classic's Perl programs: its option table (a cli.Program, which also writes
// the manual page; Libopts-style rows with cli.None, cli.Number or cli.String values, the
// last two being help with '?' and more-help, as every perlopt tool has), the title of its
// usage text and the version it claims.
type Tool struct {
	*cli.Program
	Title   string // "Wait for ntpd to stabilize the system clock"
	Version string // "4.2.8p15"
}

// Values holds what was given: ints and strings by long name, flags as true.
type Values struct {
	Ints    map[string]int
	Strings map[string]string
	Flags   map[string]bool
	Rest    []string // the arguments that are not options, in order
}

// Usage is the AutoGen perlopt usage text, byte for byte.
func (t *Tool) Usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s - %s - Ver. %s\n", t.Name, t.Title, t.Version)
	fmt.Fprintf(&b, "USAGE: %s [ -<flag> [<val>] | --<name>[{=| }<val>] ]... %s\n\n", t.Name, t.Operands)
	for _, o := range t.Options {
		short := "   "
		if o.Short != 0 {
			short = fmt.Sprintf("-%c,", o.Short)
		}
		name := o.Long
		if o.Arg != cli.None {
			name += "=" + o.ArgName
		}
		fmt.Fprintf(&b, "    %s --%-22s %s\n", short, name, o.Desc)
	}
	b.WriteString("\nOptions are specified by doubled hyphens and their name or by a single\n" +
		"hyphen and the flag character.\n")
	return b.String()
}

// Outcome says what the caller does after Parse.
type Outcome int

const (
	Run      Outcome = iota // go on with the values
	Help                    // usage printed to stderr: exit 0
	MoreHelp                // usage printed to stdout: exit 0
	Bad                     // errors and usage printed to stderr: exit 1
)

// Parse reads args against t, writing Getopt::Long's messages and the usage text as classic's
// tools do, and returns the values and what to do next.
func (t *Tool) Parse(args []string, defaults Values, stdout, stderr io.Writer) (Values, Outcome) {
	v := Values{Ints: map[string]int{}, Strings: map[string]string{}, Flags: map[string]bool{}}
	for k, x := range defaults.Ints {
		v.Ints[k] = x
	}
	for k, x := range defaults.Strings {
		v.Strings[k] = x
	}
	opts := t.Options
	bad := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			v.Rest = append(v.Rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			v.Rest = append(v.Rest, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		value, hasValue := "", false
		if k := strings.IndexByte(name, '='); k > 0 {
			name, value, hasValue = name[:k], name[k+1:], true
		}
		o, key, ok := match(opts, name)
		if !ok && key != "" {
			fmt.Fprintln(stderr, key) // ambiguous
			bad = true
			continue
		}
		if !ok {
			fmt.Fprintf(stderr, "Unknown option: %s\n", strings.ToLower(name))
			bad = true
			continue
		}
		if o.Arg == cli.None {
			if hasValue {
				fmt.Fprintf(stderr, "Option %s does not take an argument\n", key)
				bad = true
				continue
			}
			v.Flags[o.Long] = true
			continue
		}
		if !hasValue {
			// A mandatory value is the next argument, whatever it looks like ("-n -v" gives
			// tries the value "-v", which then fails as a number).
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "Option %s requires an argument\n", key)
				bad = true
				continue
			}
			i++
			value = args[i]
		}
		switch o.Arg {
		case cli.Number:
			if !isInt(value) {
				fmt.Fprintf(stderr, "Value \"%s\" invalid for option %s (number expected)\n", value, key)
				bad = true
				continue
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(value, "+"))
			v.Ints[o.Long] = n
		default:
			v.Strings[o.Long] = value
		}
	}
	switch {
	case bad:
		io.WriteString(stderr, t.Usage())
		return v, Bad
	case v.Flags["help"]:
		io.WriteString(stderr, t.Usage())
		return v, Help
	case v.Flags["more-help"]:
		io.WriteString(stdout, t.Usage())
		return v, MoreHelp
	}
	return v, Run
}

// match finds the option name stands for: an exact long or short name first, then a unique
// prefix of a long name, all without regard to case. key is the name Getopt::Long uses in its
// messages: the long name, or the short letter when that was given. An ambiguous prefix gives
// ok false and, in key, Getopt::Long's message naming the candidates.
func match(opts []cli.Option, name string) (cli.Option, string, bool) {
	l := strings.ToLower(name)
	for _, o := range opts {
		if l == o.Long {
			return o, o.Long, true
		}
		if o.Short != 0 && l == strings.ToLower(string(o.Short)) {
			return o, strings.ToLower(string(o.Short)), true
		}
	}
	var found []cli.Option
	for _, o := range opts {
		if l != "" && strings.HasPrefix(o.Long, l) {
			found = append(found, o)
		}
	}
	if len(found) == 1 {
		return found[0], found[0].Long, true
	}
	if len(found) > 1 {
		names := make([]string, len(found))
		for i, o := range found {
			names[i] = o.Long
		}
		sort.Strings(names)
		return cli.Option{}, fmt.Sprintf("Option %s is ambiguous (%s)", l, strings.Join(names, ", ")), false
	}
	return cli.Option{}, "", false
}

// isInt is Getopt::Long's test for an "=i" value.
func isInt(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
