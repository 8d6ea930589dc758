// SPDX-License-Identifier: BSD-2-Clause

package architecture

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// spdxLine is the first line of every Go file: the licence (LICENSE, BSD-2-Clause) in the
// machine-readable form of https://spdx.org/licenses/, so that a file copied out of the tree
// keeps saying under which terms.
const spdxLine = "// SPDX-License-Identifier: BSD-2-Clause"

// repoRoot is the top of the checkout (this test runs in internal/architecture).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goFiles lists the Go files of the checkout: the tracked ones and the new ones not ignored,
// so that a file a contributor has not committed yet is caught too. Outside a git checkout
// (a source tarball) it walks the tree.
func goFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.go")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Fields(string(out)) {
			if _, err := os.Stat(filepath.Join(root, f)); err == nil { // deleted, not yet committed
				files = append(files, f)
			}
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// spdxProblem says what is wrong with the head of a Go file, or "" when it starts with the
// SPDX line followed by a blank line.
func spdxProblem(head []string) string {
	if len(head) == 0 || head[0] != spdxLine {
		return "does not start with the line " + spdxLine
	}
	if len(head) < 2 || head[1] != "" {
		return "has no blank line after the SPDX line"
	}
	return ""
}

func TestEveryGoFileHasTheSPDXLine(t *testing.T) {
	root := repoRoot(t)
	files := goFiles(t, root)
	if len(files) == 0 {
		t.Fatal("no Go file found")
	}
	for _, f := range files {
		fh, err := os.Open(filepath.Join(root, f))
		if err != nil {
			t.Error(err)
			continue
		}
		var head []string
		sc := bufio.NewScanner(fh)
		for len(head) < 2 && sc.Scan() {
			head = append(head, strings.TrimRight(sc.Text(), "\r"))
		}
		fh.Close()
		if p := spdxProblem(head); p != "" {
			t.Errorf("%s %s (then a blank line, then any //go:build line or the package clause)", f, p)
		}
	}
}

// TestSPDXCheckCatchesViolations proves the check can fail.
func TestSPDXCheckCatchesViolations(t *testing.T) {
	for _, head := range [][]string{
		{},
		{"package x"},
		{"// Package x does things."},
		{"// SPDX-License-Identifier: MIT", ""},
		{spdxLine, "package x"},
	} {
		if spdxProblem(head) == "" {
			t.Errorf("head %q passes; it should not", head)
		}
	}
	if p := spdxProblem([]string{spdxLine, ""}); p != "" {
		t.Errorf("a good head fails: %s", p)
	}
}

// TestLicenceFileIsBSD2Clause keeps LICENSE and the SPDX line saying the same thing.
func TestLicenceFileIsBSD2Clause(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BSD 2-Clause License", "The gontp authors",
		"Redistributions in binary form must reproduce"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("LICENSE does not contain %q", want)
		}
	}
}
