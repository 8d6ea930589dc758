// SPDX-License-Identifier: BSD-2-Clause

package cli

import (
	"fmt"
	"io"
	"strings"
)

// Usage is the usage line(s) of --help and of a command-line error. For a getopt program it
// is classic ntpdate's one line, naming the program as invoked (argv0); the others use
// p.Name.
func (p *Program) Usage(argv0 string) string {
	switch p.Style {
	case Getopt:
		var flags, valued strings.Builder
		for _, o := range p.Options {
			if o.Arg == None {
				flags.WriteByte(o.Short)
			} else {
				fmt.Fprintf(&valued, " [-%c %s]", o.Short, o.argName())
			}
		}
		return fmt.Sprintf("usage: %s [-%s]%s %s\n", argv0, flags.String(), valued.String(), p.Operands)
	case GoFlag:
		return joinUsage("Usage:  "+p.Name+" [ -<name>[{=| }<val>] ]...", p.Operands)
	}
	return joinUsage("Usage:  "+p.Name+" [ -<flag> [<val>] | --<name>[{=| }<val>] ]...", p.Operands)
}

// joinUsage puts the operands on the usage line, or on a second line when the first would
// reach 80 columns, as libopts does (classic sntp's 80-column line is wrapped).
func joinUsage(head, operands string) string {
	if operands == "" {
		return head + "\n"
	}
	if len(head)+1+len(operands) >= 80 {
		return head + " \\\n\t\t" + operands + "\n"
	}
	return head + " " + operands + "\n"
}

func (o *Option) argName() string {
	if o.ArgName != "" {
		return o.ArgName
	}
	return o.Arg.placeholder()
}

// missingMark is what --help adds to the description of an option gontp lacks.
func (o *Option) missingMark() string {
	switch {
	case o.Missing == "":
		return ""
	case o.Refused:
		return " (not available in gontp yet)"
	}
	return " (no effect in gontp yet)"
}

// Help writes --help. Libopts and Go-style programs get classic's table
// ("Flg Arg Option-Name Description", then the rules of each option on lines of their own);
// a getopt program its usage line.
func (p *Program) Help(w io.Writer) error {
	var b strings.Builder
	if p.Style == Getopt {
		b.WriteString(p.Usage(p.Name))
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString(p.Title + "\n")
	b.WriteString(p.Usage(p.Name))
	b.WriteString("  Flg Arg Option-Name    Description\n")
	for i := range p.Options {
		o := &p.Options[i]
		flg := "  "
		if o.Short != 0 {
			flg = "-" + string(o.Short)
		}
		desc := o.Desc + o.missingMark()
		if o.Default != "" {
			desc += " (default " + o.Default + ")"
		}
		fmt.Fprintf(&b, "   %s %-3s %-14s %s\n", flg, o.Arg.Code(), o.Long, desc)
		switch len(o.Prohibits) {
		case 0:
		case 1:
			fmt.Fprintf(&b, "\t\t\t\t- prohibits the option '%s'\n", o.Prohibits[0])
		default:
			b.WriteString("\t\t\t\t- prohibits these options:\n")
			for _, x := range o.Prohibits {
				b.WriteString("\t\t\t\t" + x + "\n")
			}
		}
		if o.Multi {
			b.WriteString("\t\t\t\t- may appear multiple times\n")
		}
	}
	if p.Style == GoFlag {
		b.WriteString("\nOptions are specified by one or two hyphens and their name.\n")
	} else {
		b.WriteString("\nOptions are specified by doubled hyphens and their name or by a single\nhyphen and the flag character.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// HelpText is Help as a string.
func (p *Program) HelpText() string {
	var b strings.Builder
	_ = p.Help(&b)
	return b.String()
}
