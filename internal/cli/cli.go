// SPDX-License-Identifier: BSD-2-Clause

// Package cli holds the command lines of gontp's programs: each program declares one table
// of its options (a Program), and the same table parses argv, prints --help and writes the
// manual page, so that the three cannot disagree. The parser follows the program's
// ancestor: classic ntpd and ntpq take libopts command lines (-x, --name=value, --name value,
// clustered letters), classic ntpdate a getopt one (letters only), and gontp's own tools
// Go's flag style (-name value, --name=value).
package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Arg is the kind of value an option takes; its Code is what classic's --help prints in the
// Arg column, and the parser checks that the value has that kind.
type Arg int

const (
	None     Arg = iota // a flag: takes no value
	String              // any text ("Str")
	Number              // a decimal integer ("Num")
	Keyword             // one of a fixed set of words ("KWd"); the program checks which
	Optional            // an optional value, given only as --name=value ("opt")
	Float               // a decimal number (gontp's own tools)
	Duration            // a Go duration such as 1.5s or 10m (gontp's own tools)
)

// Code is the three-letter column of classic's --help.
func (a Arg) Code() string {
	switch a {
	case String:
		return "Str"
	case Number:
		return "Num"
	case Keyword:
		return "KWd"
	case Optional:
		return "opt"
	case Float:
		return "Flt"
	case Duration:
		return "Dur"
	}
	return "no"
}

// placeholder is the value's name in the manual page when the option names none.
func (a Arg) placeholder() string {
	switch a {
	case Number:
		return "number"
	case Keyword:
		return "keyword"
	case Float:
		return "number"
	case Duration:
		return "duration"
	}
	return "string"
}

// Option is one entry of a program's option table.
type Option struct {
	Short byte   // the letter (0: none)
	Long  string // the name after "--"; empty only for getopt programs, which have letters only
	Arg   Arg
	// ArgName names the value in the usage line and the manual page ("file", "key#").
	ArgName string
	Default string // the value when the option is absent (Go-style tools; shown by --help)
	Multi   bool   // may be given more than once (each value is kept)
	// Prohibits are the long names of options that may not be given with this one.
	Prohibits []string
	Desc      string // one line, for --help
	Detail    string // more, for the manual page (paragraphs separated by blank lines)
	// Missing, when not empty, says what gontp lacks to do what classic does with this
	// option; --help marks the option and the manual page says it. Refused says whether
	// giving it is an error (otherwise the program warns and goes on).
	Missing string
	Refused bool
}

// Name is how messages name the option: its long name, or -x for a letter only.
func (o *Option) Name() string {
	if o.Long != "" {
		return o.Long
	}
	return "-" + string(o.Short)
}

// Style is the command-line convention a program follows.
type Style int

const (
	Libopts Style = iota // classic ntpd, ntpq: -x [val], -xval, --name[=| ]val, -abc
	Getopt               // classic ntpdate: -x [val], -xval, -abc; no long names
	GoFlag               // gontp's tools: -name[=| ]val, --name[=| ]val; no letters
)

// Section is one extra section of a manual page (FILES, EXIT STATUS, SEE ALSO, ...).
type Section struct {
	Title string
	Text  string  // paragraphs separated by blank lines
	Items []Entry // a tagged list after the text
}

// Entry is one entry of a tagged list in a manual page.
type Entry struct {
	Tag  string
	Text string
}

// Program is one program's command line and manual page.
type Program struct {
	Name    string
	Section int    // manual section: 1 for user commands, 8 for administration
	Summary string // the NAME line after "name - "
	// Title is the first line of --help (classic's "ntpd - NTP daemon program - Ver. ...").
	Title    string
	Operands string // the operands in the usage line, such as "[ host ...]"
	Style    Style
	// LastWins lets any option be repeated, the last value winning, instead of refusing a
	// repeated option that is not Multi.
	LastWins    bool
	Options     []Option
	Description string // the manual page's DESCRIPTION (paragraphs separated by blank lines)
	Sections    []Section
}

// Lookup returns the option with the letter c, or nil.
func (p *Program) Lookup(c byte) *Option {
	for i := range p.Options {
		if c != 0 && p.Options[i].Short == c {
			return &p.Options[i]
		}
	}
	return nil
}

// LookupLong returns the option with the long name, or nil.
func (p *Program) LookupLong(name string) *Option {
	for i := range p.Options {
		if name != "" && p.Options[i].Long == name {
			return &p.Options[i]
		}
	}
	return nil
}

// Parsed is a command line after parsing.
type Parsed struct {
	// Items are the options and operands in the order given (Opt nil: an operand), for
	// programs where the order matters (ntpq's -4 and -6 apply to the hosts after them).
	Items    []Item
	Operands []string
	values   map[string][]string // by Option.Name()
	prog     *Program
}

// Item is one element of a parsed command line: an option with its value, or an operand.
type Item struct {
	Opt   *Option // nil for an operand
	Value string
}

// Has reports whether the option (by long name, or "-x" for a letter-only option) was given.
func (p *Parsed) Has(name string) bool { _, ok := p.values[name]; return ok }

// Count is how many times the option was given.
func (p *Parsed) Count(name string) int { return len(p.values[name]) }

// All returns every value given to the option, in order.
func (p *Parsed) All(name string) []string { return p.values[name] }

// Last returns the option's last value, or its Default when it was not given.
func (p *Parsed) Last(name string) string {
	if v := p.values[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	if o := p.find(name); o != nil {
		return o.Default
	}
	return ""
}

// Int returns the option's last value (or Default) as an integer; the parser has checked it,
// so the only way to get 0 from a bad value is a Default that is not a number.
func (p *Parsed) Int(name string) int {
	n, _ := strconv.Atoi(p.Last(name))
	return n
}

// Uint64 is Int for values that may exceed the int range.
func (p *Parsed) Uint64(name string) uint64 {
	n, _ := strconv.ParseUint(p.Last(name), 10, 64)
	return n
}

// Float returns the option's last value (or Default) as a number.
func (p *Parsed) Float(name string) float64 {
	f, _ := strconv.ParseFloat(p.Last(name), 64)
	return f
}

// Duration returns the option's last value (or Default) as a duration.
func (p *Parsed) Duration(name string) time.Duration {
	d, _ := time.ParseDuration(p.Last(name))
	return d
}

func (p *Parsed) find(name string) *Option {
	for i := range p.prog.Options {
		if p.prog.Options[i].Name() == name {
			return &p.prog.Options[i]
		}
	}
	return nil
}

// Given returns the options given on the command line, each once, in table order.
func (p *Parsed) Given() []*Option {
	var out []*Option
	for i := range p.prog.Options {
		if p.Has(p.prog.Options[i].Name()) {
			out = append(out, &p.prog.Options[i])
		}
	}
	return out
}

// ErrorKind says what is wrong with a command line.
type ErrorKind int

const (
	Unknown    ErrorKind = iota // no such option
	NeedsValue                  // the option's value is missing
	NoValue                     // a value was given to an option that takes none
	Repeated                    // given twice, and it may not be
	Conflict                    // given with an option it prohibits
	BadValue                    // the value is not of the option's kind
)

// Error is a command-line mistake. Its message follows classic libopts's wording; programs
// whose ancestor words it differently (ntpq) format their own from the fields.
type Error struct {
	Kind   ErrorKind
	Opt    *Option // nil for Unknown
	Given  string  // the option as the user wrote it: "z" for -z, "bogus" for --bogus
	Letter bool    // Given is a letter
	Value  string  // for BadValue
	Other  *Option // for Conflict: the prohibited option
}

func (e *Error) Error() string {
	switch e.Kind {
	case Unknown:
		return "illegal option -- " + e.Given
	case NeedsValue:
		return fmt.Sprintf("option '%s' requires an argument", e.Opt.Name())
	case NoValue:
		return fmt.Sprintf("option '%s' takes no argument", e.Opt.Name())
	case Repeated:
		return fmt.Sprintf("option '%s' may not appear more than once", e.Opt.Name())
	case Conflict:
		return fmt.Sprintf("the '%s' option conflicts with the '%s' option", e.Opt.Name(), e.Other.Name())
	case BadValue:
		return fmt.Sprintf("option '%s': %q is not %s", e.Opt.Name(), e.Value, article(e.Opt.Arg))
	}
	return "bad command line"
}

func article(a Arg) string {
	switch a {
	case Duration:
		return "a duration (such as 1.5s or 10m)"
	case Float:
		return "a number"
	}
	return "a number"
}

// Parse parses argv (without the program name) by the program's style. The first mistake
// is returned as an *Error.
func (p *Program) Parse(argv []string) (*Parsed, error) {
	r := &Parsed{values: map[string][]string{}, prog: p}
	set := func(o *Option, val string) error {
		if err := checkValue(o, val); err != nil {
			return err
		}
		if _, dup := r.values[o.Name()]; dup && !o.Multi && !p.LastWins {
			return &Error{Kind: Repeated, Opt: o}
		}
		r.values[o.Name()] = append(r.values[o.Name()], val)
		r.Items = append(r.Items, Item{Opt: o, Value: val})
		return nil
	}
	operand := func(a string) {
		r.Operands = append(r.Operands, a)
		r.Items = append(r.Items, Item{Value: a})
	}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			for _, x := range argv[i+1:] {
				operand(x)
			}
			i = len(argv)
		case p.Style != Getopt && (strings.HasPrefix(a, "--") || p.Style == GoFlag && len(a) > 1 && a[0] == '-'):
			name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
			o := p.LookupLong(name)
			if o == nil {
				return nil, &Error{Kind: Unknown, Given: name}
			}
			switch {
			case o.Arg == None && hasVal:
				return nil, &Error{Kind: NoValue, Opt: o}
			case o.Arg != None && o.Arg != Optional && !hasVal:
				if i+1 >= len(argv) {
					return nil, &Error{Kind: NeedsValue, Opt: o, Given: name}
				}
				i++
				val = argv[i]
			}
			if err := set(o, val); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := p.Lookup(a[j])
				if o == nil {
					return nil, &Error{Kind: Unknown, Given: string(a[j]), Letter: true}
				}
				val := ""
				if o.Arg != None && o.Arg != Optional {
					switch {
					case j+1 < len(a):
						val = a[j+1:]
					case i+1 < len(argv):
						i++
						val = argv[i]
					default:
						return nil, &Error{Kind: NeedsValue, Opt: o, Given: string(a[j]), Letter: true}
					}
					j = len(a)
				}
				if err := set(o, val); err != nil {
					return nil, err
				}
			}
		default:
			operand(a)
		}
	}
	for i := range p.Options {
		o := &p.Options[i]
		if !r.Has(o.Name()) {
			continue
		}
		for _, other := range o.Prohibits {
			if r.Has(other) {
				return nil, &Error{Kind: Conflict, Opt: o, Other: p.LookupLong(other)}
			}
		}
	}
	return r, nil
}

// checkValue checks a value against the option's kind.
func checkValue(o *Option, v string) error {
	ok := true
	switch o.Arg {
	case Number:
		_, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			_, err = strconv.ParseUint(v, 10, 64)
		}
		ok = err == nil
	case Float:
		_, err := strconv.ParseFloat(v, 64)
		ok = err == nil
	case Duration:
		_, err := time.ParseDuration(v)
		ok = err == nil
	}
	if !ok {
		return &Error{Kind: BadValue, Opt: o, Value: v}
	}
	return nil
}
