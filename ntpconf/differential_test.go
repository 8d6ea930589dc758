// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-multierror"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from classic ntpd (needs root and the reference programs)")

const (
	corpusDir     = "testdata/corpus"
	goldenDir     = "testdata/golden"
	classicNtpd   = "/opt/ntp-reference/bin/classic-ntpd"
	minCorpusSize = 40
)

// divergent lists the corpus files where gontp knowingly differs from classic ntpd
// 4.2.8p15: it accepts NTPsec forms that classic rejects or ignores. For them gontp's own
// output is kept in NAME.gontp and the error lines are not compared.
var divergent = map[string]string{
	"ntpsec-refclock.conf":    "refclock NAME lines become server 127.127.t.u + fudge; classic: syntax error",
	"ntpsec-cidr.conf":        "unrestrict is accepted (classic: syntax error) and ADDR/LEN applied (classic keeps the word but cannot resolve it)",
	"broken-ntpsec-only.conf": "`nts enable` (NTPsec, RFC 8915) is read and written back (issue 20); classic: syntax error",
}

func corpusFiles(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(corpusDir, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	sort.Strings(names)
	if len(names) < minCorpusSize {
		t.Fatalf("corpus has %d files, want at least %d", len(names), minCorpusSize)
	}
	return names
}

// gontpResult parses a corpus file as the daemon would and returns its saveconfig text
// and the FILE:LINE of every syntax error (the lines classic's parser rejects too).
func gontpResult(t *testing.T, name string) (string, []string) {
	t.Helper()
	cfg, err := Parse(os.DirFS(corpusDir), name)
	var lines []string
	if err != nil {
		var me *multierror.Error
		if !errors.As(err, &me) {
			t.Fatalf("%s: error is %T, want *multierror.Error", name, err)
		}
		for _, e := range me.Errors {
			var pe *PosError
			if !errors.As(e, &pe) {
				t.Fatalf("%s: error %T in the list, want *PosError", name, e)
			}
			if pe.Kind == KindSyntax {
				lines = append(lines, fmt.Sprintf("%s:%d", pe.Pos.File, pe.Pos.Line))
			}
		}
	}
	var buf bytes.Buffer
	if err := cfg.WriteSaveconfig(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String(), uniqSorted(lines)
}

func uniqSorted(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func readGolden(t *testing.T, file string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, file))
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func splitLines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestGolden compares gontp against the stored outputs of classic ntpd; it needs neither
// root nor the reference programs.
func TestGolden(t *testing.T) {
	for _, name := range corpusFiles(t) {
		t.Run(name, func(t *testing.T) {
			out, lines := gontpResult(t, name)
			if *update {
				if _, ok := divergent[name]; ok {
					writeGolden(t, name+".gontp", out)
				}
				return // TestClassicDifferential writes the classic files
			}
			wantFile := name + ".saveconfig"
			if _, ok := divergent[name]; ok {
				wantFile = name + ".gontp"
			}
			want, ok := readGolden(t, wantFile)
			if !ok {
				t.Fatalf("no golden file %s; run go test -run TestClassicDifferential -update as root", wantFile)
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("saveconfig differs from %s (-want +got):\n%s", wantFile, diff)
			}
			if _, ok := divergent[name]; ok {
				return
			}
			wantLines, _ := readGolden(t, name+".errlines")
			if diff := cmp.Diff(splitLines(wantLines), lines); diff != "" {
				t.Errorf("syntax error lines differ from classic's (-classic +gontp):\n%s", diff)
			}
		})
	}
}

func writeGolden(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(goldenDir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// needClassic skips (or, with CI=true, fails) when the test cannot run classic ntpd.
func needClassic(t *testing.T) {
	t.Helper()
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "root (for network namespaces)"
	default:
		if _, err := os.Stat(classicNtpd); err != nil {
			missing = classicNtpd + " (install-reference-ntp)"
		} else if _, err := exec.LookPath("ip"); err != nil {
			missing = "the ip command"
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the classic differential test needs %s", missing)
	}
	t.Skipf("needs %s", missing)
}

var classicSyntaxLine = regexp.MustCompile(`syntax error in (\S+) line (\d+), column`)

// runClassic runs classic ntpd --saveconfigquit on a corpus file inside the network
// namespace ns (so it can open no socket on the host) and returns its output without the
// #NTF header lines, and the FILE:LINE of its syntax errors.
func runClassic(t *testing.T, ns, dir, name string) (string, []string) {
	t.Helper()
	outFile := filepath.Join(t.TempDir(), "saved.conf")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, classicNtpd, "-n", "--saveconfigquit", outFile, "-c", name)
	cmd.Dir = dir
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("classic ntpd on %s: %v\n%s", name, err, log)
	}
	saved, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatalf("classic ntpd wrote no saveconfig for %s: %v\n%s", name, err, log)
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(saved), "\n") {
		if !strings.HasPrefix(l, "#NTF") {
			b.WriteString(l)
		}
	}
	var lines []string
	for _, m := range classicSyntaxLine.FindAllStringSubmatch(string(log), -1) {
		lines = append(lines, m[1]+":"+m[2])
	}
	return b.String(), uniqSorted(lines)
}

// TestClassicDifferential runs classic ntpd 4.2.8p15 on every corpus file and compares its
// saveconfig output and syntax error lines with gontp's. Broken files keep at least one
// good line between bad ones: classic attributes an error found within three tokens of the
// previous one to the previous line.
func TestClassicDifferential(t *testing.T) {
	needClassic(t)
	ns := fmt.Sprintf("gontp-conf-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", ns, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})
	dir, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	identical, total := 0, 0
	for _, name := range corpusFiles(t) {
		total++
		classicOut, classicLines := runClassic(t, ns, dir, name)
		if *update {
			writeGolden(t, name+".saveconfig", classicOut)
			writeGolden(t, name+".errlines", strings.Join(classicLines, "\n")+strings.Repeat("\n", min(len(classicLines), 1)))
		}
		t.Run(name, func(t *testing.T) {
			if stored, ok := readGolden(t, name+".saveconfig"); !ok || stored != classicOut {
				t.Errorf("stored golden %s.saveconfig is missing or stale; run with -update", name)
			}
			out, lines := gontpResult(t, name)
			if why, ok := divergent[name]; ok {
				t.Logf("known divergence: %s", why)
				return
			}
			same := true
			if diff := cmp.Diff(classicOut, out); diff != "" {
				same = false
				t.Errorf("saveconfig differs from classic (-classic +gontp):\n%s", diff)
			}
			if diff := cmp.Diff(classicLines, lines); diff != "" {
				same = false
				t.Errorf("syntax error lines differ (-classic +gontp):\n%s", diff)
			}
			if same {
				identical++
			}
		})
	}
	t.Logf("%d of %d corpus files identical to classic ntpd (%d known divergences)", identical, total, len(divergent))
}
