// SPDX-License-Identifier: BSD-2-Clause

package cli

import (
	"fmt"
	"io"
	"strings"
)

// Man writes the program's manual page in roff with the man macros (man(7)): NAME, SYNOPSIS,
// DESCRIPTION, OPTIONS from the option table, then the program's own sections. The output
// depends on the table only (no date, no version), so that regenerating a page that did not
// change gives the same bytes.
func (p *Program) Man(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".\\\" SPDX-License-Identifier: BSD-2-Clause\n")
	fmt.Fprintf(&b, ".\\\" Written by `make man` from the option table of %s (package internal/cli); do not edit.\n", p.Name)
	fmt.Fprintf(&b, ".TH %s %d \"\" \"gontp\" \"%s\"\n", strings.ToUpper(p.Name), p.Section, manual(p.Section))
	b.WriteString(".nh\n.ad l\n")
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", p.Name, roff(p.Summary))
	b.WriteString(".SH SYNOPSIS\n")
	p.synopsis(&b)
	if p.Description != "" {
		b.WriteString(".SH DESCRIPTION\n")
		paragraphs(&b, p.Description)
	}
	if len(p.Options) > 0 {
		b.WriteString(".SH OPTIONS\n")
		for i := range p.Options {
			p.manOption(&b, &p.Options[i])
		}
	}
	for _, s := range p.Sections {
		fmt.Fprintf(&b, ".SH %s\n", strings.ToUpper(s.Title))
		if s.Text != "" {
			paragraphs(&b, s.Text)
		}
		for _, e := range s.Items {
			fmt.Fprintf(&b, ".TP\n%s\n", roff(e.Tag))
			indented(&b, e.Text)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ManText is Man as a string.
func (p *Program) ManText() string {
	var b strings.Builder
	_ = p.Man(&b)
	return b.String()
}

// ManFile is the page's file name: name.section.
func (p *Program) ManFile() string { return fmt.Sprintf("%s.%d", p.Name, p.Section) }

func manual(section int) string {
	if section == 8 {
		return "System Manager's Manual"
	}
	return "User Commands"
}

func (p *Program) synopsis(b *strings.Builder) {
	fmt.Fprintf(b, ".B %s\n", p.Name)
	switch p.Style {
	case Getopt:
		var flags strings.Builder
		for _, o := range p.Options {
			if o.Arg == None {
				flags.WriteByte(o.Short)
			}
		}
		fmt.Fprintf(b, ".RB [ \\-%s ]\n", roff(flags.String()))
		for _, o := range p.Options {
			if o.Arg != None {
				fmt.Fprintf(b, ".RB [ \\-%c\n.IR %s ]\n", o.Short, roff(o.argName()))
			}
		}
	default:
		b.WriteString("[\\fIoption\\fR]...\n")
	}
	if p.Operands != "" {
		fmt.Fprintf(b, "%s\n", roff(p.Operands))
	}
}

// manOption writes one option as a tagged paragraph: "-c, --configfile=file".
func (p *Program) manOption(b *strings.Builder, o *Option) {
	var tag []string
	if o.Short != 0 {
		t := "\\fB\\-" + roffChar(o.Short) + "\\fR"
		if o.Long == "" && o.Arg != None {
			t += " \\fI" + roff(o.argName()) + "\\fR"
		}
		tag = append(tag, t)
	}
	if o.Long != "" {
		dash := "\\-\\-"
		if p.Style == GoFlag {
			dash = "\\-"
		}
		t := "\\fB" + dash + roff(o.Long) + "\\fR"
		switch o.Arg {
		case None:
		case Optional:
			t += "[=\\fI" + roff(o.argName()) + "\\fR]"
		default:
			t += "=\\fI" + roff(o.argName()) + "\\fR"
		}
		tag = append(tag, t)
	}
	fmt.Fprintf(b, ".TP\n%s\n", strings.Join(tag, ", "))
	text := o.Desc
	if !strings.HasSuffix(text, ".") {
		text += "."
	}
	if o.Detail != "" {
		text += "\n\n" + o.Detail
	}
	var rules []string
	if o.Default != "" {
		rules = append(rules, "The default is "+o.Default+".")
	}
	if o.Multi {
		rules = append(rules, "May be given more than once.")
	}
	if len(o.Prohibits) > 0 {
		var names []string
		for _, x := range o.Prohibits {
			names = append(names, optionRef(p, x))
		}
		rules = append(rules, "Cannot be given with "+strings.Join(names, " or ")+".")
	}
	if len(rules) > 0 {
		text += "\n\n" + strings.Join(rules, " ")
	}
	if o.Missing != "" {
		what := "gontp accepts this option but it has no effect yet: "
		if o.Refused {
			what = "gontp refuses this option for now: "
		}
		text += "\n\n" + what + o.Missing + "."
	}
	indented(b, text)
}

// optionRef names another option of the program as the user would type it.
func optionRef(p *Program, long string) string {
	if o := p.LookupLong(long); o != nil && o.Short != 0 && p.Style != GoFlag {
		return "-" + string(o.Short) + " (--" + long + ")"
	}
	if p.Style == GoFlag {
		return "-" + long
	}
	return "--" + long
}

// paragraphs writes text split at blank lines, one roff paragraph each.
func paragraphs(b *strings.Builder, text string) { paras(b, text, ".PP") }

// indented is paragraphs inside a tagged paragraph (.TP): the later ones keep its indent.
func indented(b *strings.Builder, text string) { paras(b, text, ".IP") }

func paras(b *strings.Builder, text, sep string) {
	for i, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			b.WriteString(sep + "\n")
		}
		for _, line := range strings.Split(strings.TrimSpace(para), "\n") {
			b.WriteString(roff(strings.TrimSpace(line)) + "\n")
		}
	}
}

// roff escapes text for a roff line: backslashes, and a dot or quote that would start a
// request at the beginning of the line. Hyphens stay hyphens; an option's own dashes are
// written as \- by the callers.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func roffChar(c byte) string {
	if c == '\\' {
		return `\e`
	}
	return string(c)
}
