// SPDX-License-Identifier: BSD-2-Clause

package architecture

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docPath is the architecture document this package keeps true.
const docPath = "docs/architecture.md"

// section returns the text of the markdown section with the heading line, up to the next
// heading of the same or a higher level.
func section(doc, heading string) string {
	level := strings.IndexFunc(heading, func(r rune) bool { return r != '#' })
	start := strings.Index(doc, "\n"+heading+"\n")
	if start < 0 {
		return ""
	}
	rest := doc[start+len(heading)+2:]
	for _, l := range regexp.MustCompile(`(?m)^#+ `).FindAllStringIndex(rest, -1) {
		if l[1]-l[0]-1 <= level {
			return rest[:l[0]]
		}
	}
	return rest
}

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), docPath))
	if err != nil {
		t.Fatalf("the architecture document: %v", err)
	}
	return string(b)
}

// listed returns the packages named at the start of the section's bullet items: "- `peer`: ...".
func bulletPackages(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?m)^- `([a-z0-9_/-]+)`").FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

// TestDocumentCoreIsCheckedCore: the "Core packages" of docs/architecture.md are exactly the
// packages TestCorePackagesHaveNoIO checks.
func TestDocumentCoreIsCheckedCore(t *testing.T) {
	doc := readDoc(t)
	inDoc := bulletPackages(section(doc, "### Core packages"))
	var checked []string
	for _, c := range core {
		checked = append(checked, strings.TrimPrefix(c, "gontp/"))
	}
	sort.Strings(checked)
	if strings.Join(inDoc, " ") != strings.Join(checked, " ") {
		t.Errorf("%s lists the core packages %v, but the architecture test checks %v: change both together",
			docPath, inDoc, checked)
	}
}

// TestDocumentNamesEveryPackage: every package of the module is named in the package map.
func TestDocumentNamesEveryPackage(t *testing.T) {
	doc := section(readDoc(t), "## Package map")
	if doc == "" {
		t.Fatalf("%s has no \"## Package map\" section", docPath)
	}
	named := map[string]bool{}
	for _, p := range bulletPackages(doc) {
		named[p] = true
	}
	for _, p := range goList(t, "gontp/...") {
		rel := strings.TrimPrefix(p.ImportPath, "gontp/")
		if p.ImportPath == "gontp" || named[rel] {
			continue
		}
		t.Errorf("package %s is not in the package map of %s (a bullet item \"- `%s`: ...\")", rel, docPath, rel)
	}
	for p := range named {
		if _, err := os.Stat(filepath.Join(repoRoot(t), p)); err != nil {
			t.Errorf("%s names %s, which does not exist", docPath, p)
		}
	}
}

// TestDocumentStatesTheBoundaries: each boundary TestSeparatedPackages checks is described
// under "Seams" (both packages named there).
func TestDocumentStatesTheBoundaries(t *testing.T) {
	seams := section(readDoc(t), "## Seams")
	for pkg, not := range separated {
		for _, n := range append([]string{pkg}, not...) {
			if !strings.Contains(seams, "`"+strings.TrimPrefix(n, "gontp/")+"`") {
				t.Errorf("the Seams section of %s does not name %s (boundary: %s must not depend on %v)",
					docPath, n, pkg, not)
			}
		}
	}
}

// TestSelfContained: the README links to the architecture document, and no tracked file
// refers to anything beside the checkout (the repository must work from a clone alone).
func TestSelfContained(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "("+docPath+")") {
		t.Errorf("README.md does not link to %s", docPath)
	}
	outside := ".." + "/shared" // split so that this file does not match itself
	cmd := exec.Command("git", "grep", "-l", "-F", outside)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			return // nothing found
		}
		t.Skipf("not a git checkout (%v); the check for references outside it needs git", err)
	}
	t.Errorf("these files refer to %s, outside the repository: %s", outside, strings.TrimSpace(string(out)))
}

func TestSectionParsing(t *testing.T) {
	doc := "# T\n## A\ntext a\n### Core packages\n- `x`: one\n- `y/z`: two\nnot - `w`\n### Other\n- `q`: no\n## B\n"
	if got := bulletPackages(section(doc, "### Core packages")); strings.Join(got, " ") != "x y/z" {
		t.Errorf("core section packages %v", got)
	}
	if got := section(doc, "## A"); !strings.Contains(got, "`q`") || strings.Contains(got, "## B") {
		t.Errorf("section A is %q", got)
	}
}
