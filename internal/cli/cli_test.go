// SPDX-License-Identifier: BSD-2-Clause

package cli_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gontp/internal/cli"
	"gontp/internal/cli/clitest"
)

var libopts = cli.Program{
	Name: "prog", Title: "prog - a test", Operands: "[ host ...]", Style: cli.Libopts,
	Options: []cli.Option{
		{Short: 'n', Long: "nofork", Prohibits: []string{"wait"}, Desc: "Stay"},
		{Short: 'g', Long: "go", Multi: true, Desc: "Go"},
		{Short: 'c', Long: "config", Arg: cli.String, Desc: "File"},
		{Short: 'w', Long: "wait", Arg: cli.Number, Desc: "Wait"},
		{Long: "set-something-long", Arg: cli.String, Desc: "Long name", Missing: "not yet"},
		{Long: "version", Arg: cli.Optional, Desc: "Version"},
	},
}

func TestLiboptsParse(t *testing.T) {
	p, err := libopts.Parse([]string{"-gnc/x", "h1", "--go", "--version", "--set-something-long=v", "--", "-h2"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Count("go") != 2 || !p.Has("nofork") || p.Last("config") != "/x" || !p.Has("version") ||
		p.Last("set-something-long") != "v" || strings.Join(p.Operands, ",") != "h1,-h2" {
		t.Fatalf("parsed as %+v", p.Items)
	}
	if p, err := libopts.Parse([]string{"-c", "a", "--wait", "5"}); err != nil || p.Int("wait") != 5 || p.Last("config") != "a" {
		t.Fatalf("separate values: %+v, %v", p, err)
	}
	for _, c := range []struct {
		args []string
		kind cli.ErrorKind
		msg  string
	}{
		{[]string{"-z"}, cli.Unknown, "illegal option -- z"},
		{[]string{"--zz"}, cli.Unknown, "illegal option -- zz"},
		{[]string{"-c"}, cli.NeedsValue, "option 'config' requires an argument"},
		{[]string{"--nofork=1"}, cli.NoValue, "option 'nofork' takes no argument"},
		{[]string{"-c", "a", "-cb"}, cli.Repeated, "option 'config' may not appear more than once"},
		{[]string{"-n", "-w", "3"}, cli.Conflict, "the 'nofork' option conflicts with the 'wait' option"},
		{[]string{"-w", "soon"}, cli.BadValue, `option 'wait': "soon" is not a number`},
	} {
		_, err := libopts.Parse(c.args)
		var ce *cli.Error
		if !errors.As(err, &ce) || ce.Kind != c.kind || err.Error() != c.msg {
			t.Errorf("%q: error %v, want kind %d %q", c.args, err, c.kind, c.msg)
		}
	}
}

func TestGoFlagAndGetopt(t *testing.T) {
	gf := cli.Program{Name: "tool", Style: cli.GoFlag, Options: []cli.Option{
		{Long: "duration", Arg: cli.Duration, Default: "5s"},
		{Long: "rate", Arg: cli.Float, Default: "0"},
		{Long: "v"},
	}}
	p, err := gf.Parse([]string{"-v", "--rate=2.5", "x"})
	if err != nil || p.Duration("duration").Seconds() != 5 || p.Float("rate") != 2.5 || !p.Has("v") || p.Operands[0] != "x" {
		t.Fatalf("%+v, %v", p, err)
	}
	if _, err := gf.Parse([]string{"-duration", "5"}); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Errorf("a duration without a unit: %v", err)
	}
	ge := cli.Program{Name: "nd", Style: cli.Getopt, Operands: "server ...", Options: []cli.Option{
		{Short: 'q'}, {Short: 'd'}, {Short: 'a', Arg: cli.String, ArgName: "key#"}, {Short: 't', Arg: cli.String, ArgName: "timeo"},
	}}
	if got, want := ge.Usage("/usr/sbin/nd"), "usage: /usr/sbin/nd [-qd] [-a key#] [-t timeo] server ...\n"; got != want {
		t.Errorf("getopt usage %q, want %q", got, want)
	}
	if _, err := ge.Parse([]string{"--long"}); err == nil {
		t.Error("a getopt program accepted a long option")
	}
}

// TestHelpLayout: the rows and rule lines of classic's libopts table.
func TestHelpLayout(t *testing.T) {
	h := libopts.HelpText()
	for _, want := range []string{
		"prog - a test\nUsage:  prog [ -<flag> [<val>] | --<name>[{=| }<val>] ]... [ host ...]\n  Flg Arg Option-Name    Description\n",
		"   -n no  nofork         Stay\n\t\t\t\t- prohibits the option 'wait'\n",
		"   -g no  go             Go\n\t\t\t\t- may appear multiple times\n",
		"   -w Num wait           Wait\n",
		"      Str set-something-long Long name (no effect in gontp yet)\n",
		"      opt version        Version\n",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("--help lacks %q:\n%s", want, h)
		}
	}
	if got := clitest.HelpOptions(h, cli.Libopts); len(got) != len(libopts.Options) {
		t.Errorf("HelpOptions read %d options, want %d: %q", len(got), len(libopts.Options), got)
	}
}

func TestManEscapes(t *testing.T) {
	p := cli.Program{Name: "x", Section: 1, Summary: "s", Description: ".starts with a dot \\ and a backslash",
		Options: []cli.Option{{Short: 'c', Long: "config", Arg: cli.String, ArgName: "file", Desc: "d"}}}
	m := p.ManText()
	for _, want := range []string{`\&.starts with a dot \e and a backslash`, `\fB\-c\fR, \fB\-\-config\fR=\fIfile\fR`, ".TH X 1 "} {
		if !strings.Contains(m, want) {
			t.Errorf("page lacks %q:\n%s", want, m)
		}
	}
}

// handWritten are pages in man/ that no option table writes.
var handWritten = map[string]bool{"ntp.conf.5": true}

// TestEveryProgramHasAPage: each program in cmd/ has a page in man/ and a TestManPage that
// keeps it generated; each page in man/ belongs to a program (or is hand-written).
func TestEveryProgramHasAPage(t *testing.T) {
	root := clitest.Root(t)
	cmds, err := os.ReadDir(filepath.Join(root, "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(root, "man", "*"))
	owned := map[string]bool{}
	for _, c := range cmds {
		if !c.IsDir() {
			continue
		}
		name := c.Name()
		var page string
		for _, s := range []string{"1", "8"} {
			if _, err := os.Stat(filepath.Join(root, "man", name+"."+s)); err == nil {
				page = name + "." + s
			}
		}
		if page == "" {
			t.Errorf("cmd/%s has no manual page man/%s.1 or man/%s.8: give it a cli.Program and a TestManPage calling clitest.ManPage, then run make man", name, name, name)
			continue
		}
		owned[page] = true
		tests, _ := filepath.Glob(filepath.Join(root, "cmd", name, "*_test.go"))
		found := false
		for _, f := range tests {
			b, _ := os.ReadFile(f)
			found = found || strings.Contains(string(b), "clitest.ManPage(")
		}
		if !found {
			t.Errorf("cmd/%s has no test calling clitest.ManPage, so man/%s can drift from its options", name, page)
		}
	}
	for _, p := range pages {
		if b := filepath.Base(p); !owned[b] && !handWritten[b] {
			t.Errorf("man/%s belongs to no program in cmd/", b)
		}
	}
}
