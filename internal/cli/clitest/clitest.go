// SPDX-License-Identifier: BSD-2-Clause

// Package clitest checks a program's manual page against its option table. Each program in
// cmd/ has one test that calls ManPage; `make man` runs those tests with -update-man, which
// rewrites the pages in man/ instead of comparing them.
package clitest

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gontp/internal/cli"
)

var update = flag.Bool("update-man", false, "rewrite the manual pages in man/ from the option tables")

// Root returns the top of the source tree (the directory holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// ManPage checks that man/NAME.SECTION is what the option table generates (or, with
// -update-man, writes it), and that the page, rendered by man -l, names every option that
// --help lists.
func ManPage(t *testing.T, p *cli.Program) {
	t.Helper()
	path := filepath.Join(Root(t), "man", p.ManFile())
	want := p.ManText()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s has no manual page (%v); run make man", p.Name, err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from what %s's option table generates; run make man and commit it", path, p.Name)
	}
	HelpInPage(t, p, path)
}

// HelpInPage renders the page with man -l and checks that every option --help lists appears
// in it. Without man it skips, or fails under CI=true (scripts/install-test-deps installs
// man-db).
func HelpInPage(t *testing.T, p *cli.Program, page string) {
	t.Helper()
	if _, err := exec.LookPath("man"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("man is not installed (CI=true, so this is a failure): apt-get install man-db")
		}
		t.Skipf("man is not installed; the rendering of %s is not checked (apt-get install man-db)", page)
	}
	cmd := exec.Command("man", "-l", "-P", "cat", page)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "MANWIDTH=200", "MAN_KEEP_FORMATTING=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("man -l %s: %v\n%s", page, err, stderr.String())
	}
	text := Plain(string(out))
	opts := HelpOptions(p.HelpText(), p.Style)
	if len(opts) != len(p.Options) {
		t.Errorf("--help lists %d options, the table has %d: %q", len(opts), len(p.Options), opts)
	}
	for _, names := range opts {
		for _, o := range names {
			if !regexp.MustCompile(`(^|[\s,\[])` + regexp.QuoteMeta(o) + `([\s,=\[]|$)`).MatchString(text) {
				t.Errorf("%s lists %s in --help, but the rendered page %s does not name it", p.Name, o, page)
			}
		}
	}
	if !strings.Contains(text, "NAME") || !strings.Contains(text, "OPTIONS") {
		t.Errorf("the rendered page lacks NAME or OPTIONS:\n%s", text)
	}
}

// Plain removes overstrike and colour formatting from man's output and turns the Unicode
// hyphens and minus signs some locales give into ASCII ones.
func Plain(s string) string {
	s = regexp.MustCompile(`.\x08`).ReplaceAllString(s, "")
	s = regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(s, "")
	return strings.NewReplacer("\u2010", "-", "\u2212", "-", "\u2011", "-").Replace(s)
}

// HelpOptions reads the options --help prints, one entry per option with its names as the
// user would type them: "-c" and "--configfile" from a row of classic's table, "-name" for a
// Go-style tool, a letter of a getopt usage line.
func HelpOptions(help string, style cli.Style) [][]string {
	var out [][]string
	if style == cli.Getopt {
		for _, m := range regexp.MustCompile(`\[-([^\] ]+)\]`).FindAllStringSubmatch(help, -1) {
			for _, c := range m[1] {
				out = append(out, []string{"-" + string(c)})
			}
		}
		for _, m := range regexp.MustCompile(`\[-(.) [^\]]+\]`).FindAllStringSubmatch(help, -1) {
			out = append(out, []string{"-" + m[1]})
		}
		return out
	}
	row := regexp.MustCompile(`^   (-.|  ) (no |Str|Num|KWd|opt|Flt|Dur) (\S+)`)
	for _, l := range strings.Split(help, "\n") {
		m := row.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var names []string
		if m[1] != "  " {
			names = append(names, m[1])
		}
		if style == cli.GoFlag {
			names = append(names, "-"+m[3])
		} else {
			names = append(names, "--"+m[3])
		}
		out = append(out, names)
	}
	return out
}
