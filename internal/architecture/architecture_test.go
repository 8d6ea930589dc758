// SPDX-License-Identifier: BSD-2-Clause

package architecture

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// core lists the packages docs/architecture.md calls core. A package not written yet is skipped, so the
// rule holds from the day it appears.
var core = []string{
	"gontp/internal/ntptime",
	"gontp/internal/wire",
	"gontp/peer",
	"gontp/system",
	"gontp/clock",
	"gontp/ntpconf",
	"gontp/internal/engine",
	"gontp/internal/snapshot",
	"gontp/internal/stats",
	"gontp/internal/server",
	"gontp/internal/control",
	"gontp/refclock",
	"gontp/internal/mode7",
	"gontp/internal/nts",
	"gontp/internal/siv",
}

// separated lists, for each package, the packages it must not depend on, directly or not: the
// time server and the control server read the engine's published snapshot
// (internal/snapshot) and take settings the daemon translated for them, so that neither
// changes when the engine or the configuration format does.
var separated = map[string][]string{
	"gontp/internal/server":  {"gontp/internal/engine", "gontp/ntpconf"},
	"gontp/internal/control": {"gontp/internal/engine", "gontp/ntpconf", "gontp/internal/server"},
	"gontp/internal/mode7":   {"gontp/internal/engine", "gontp/ntpconf", "gontp/internal/server", "gontp/internal/control"},
	// The system process is below the association: peer uses it, never the other way.
	"gontp/system": {"gontp/peer"},
}

// forbiddenDeps returns the packages of forbidden that p imports or depends on.
func forbiddenDeps(p listed, forbidden []string) []string {
	var found []string
	for _, f := range forbidden {
		for _, d := range append(append([]string{}, p.Imports...), p.Deps...) {
			if d == f {
				found = append(found, f)
				break
			}
		}
	}
	return found
}

func TestSeparatedPackages(t *testing.T) {
	all := goList(t, "gontp/...")
	byPath := map[string]listed{}
	for _, p := range all {
		byPath[p.ImportPath] = p
	}
	for name, forbidden := range separated {
		p, ok := byPath[name]
		if !ok || len(p.GoFiles) == 0 {
			t.Errorf("%s: not found; the list of separated packages is out of date", name)
			continue
		}
		for _, f := range forbiddenDeps(p, forbidden) {
			t.Errorf("%s depends on %s", name, f)
		}
	}
}

// forbiddenImport reports whether a core package may not import path: anything that reaches
// the network, the file system, processes or the kernel directly.
func forbiddenImport(path string) bool {
	switch {
	case path == "net", strings.HasPrefix(path, "net/") && path != "net/netip":
		return true
	case path == "os", strings.HasPrefix(path, "os/"):
		return true
	case path == "syscall", strings.HasPrefix(path, "golang.org/x/sys"):
		return true
	}
	return false
}

// forbiddenCalls are functions of package time (and math/rand's global source) that read the
// wall clock, sleep or draw from global randomness; core code takes time and randomness as
// arguments instead.
var forbiddenCalls = map[string]map[string]bool{
	"time": {"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
		"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true},
	"math/rand":    {"Int": true, "Intn": true, "Int63": true, "Float64": true, "Uint32": true, "Uint64": true, "Perm": true, "Shuffle": true, "Seed": true},
	"math/rand/v2": {"Int": true, "IntN": true, "Int64": true, "Float64": true, "Uint32": true, "Uint64": true, "N": true, "Perm": true, "Shuffle": true},
}

type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestCorePackagesHaveNoIO(t *testing.T) {
	all := goList(t, "gontp/...")
	byPath := map[string]listed{}
	for _, p := range all {
		byPath[p.ImportPath] = p
	}
	checked := 0
	for _, name := range core {
		p, ok := byPath[name]
		if !ok || len(p.GoFiles) == 0 {
			t.Logf("%s: not written yet, skipped", name)
			continue
		}
		checked++
		// The package itself and every package of this module it depends on, directly or not,
		// must import nothing forbidden: a core package cannot reach I/O through a helper.
		scope := []listed{p}
		for _, d := range p.Deps {
			if dp, ok := byPath[d]; ok {
				scope = append(scope, dp)
			}
		}
		for _, s := range scope {
			for _, imp := range s.Imports {
				if forbiddenImport(imp) {
					if s.ImportPath == name {
						t.Errorf("core package %s imports %s", name, imp)
					} else {
						t.Errorf("core package %s depends on %s, which imports %s", name, s.ImportPath, imp)
					}
				}
			}
			checkCalls(t.Errorf, name, s)
		}
	}
	if checked == 0 {
		t.Fatal("no core package found: the package list is out of date")
	}
}

// checkCalls parses the non-test files of s and reports calls of forbidden functions.
func checkCalls(errorf func(string, ...any), core string, s listed) {
	fset := token.NewFileSet()
	for _, f := range s.GoFiles {
		file, err := parser.ParseFile(fset, filepath.Join(s.Dir, f), nil, parser.SkipObjectResolution)
		if err != nil {
			errorf("parse %s: %v", f, err)
			continue
		}
		local := map[string]string{} // local name -> import path
		for _, imp := range file.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			name := path[strings.LastIndex(path, "/")+1:]
			if path == "math/rand/v2" {
				name = "rand"
			}
			if imp.Name != nil {
				name = imp.Name.Name
			}
			local[name] = path
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			if fns := forbiddenCalls[local[id.Name]]; fns[sel.Sel.Name] {
				errorf("%s: %s uses %s.%s (core code takes time and randomness as arguments; %s)",
					fset.Position(sel.Pos()), s.ImportPath, local[id.Name], sel.Sel.Name, core)
			}
			return true
		})
	}
}

// TestRuleCatchesViolations proves the checks can fail: a forbidden import and call are found.
func TestRuleCatchesViolations(t *testing.T) {
	for _, bad := range []string{"net", "os", "os/exec", "syscall", "golang.org/x/sys/unix", "net/http"} {
		if !forbiddenImport(bad) {
			t.Errorf("%s should be forbidden", bad)
		}
	}
	for _, ok := range []string{"net/netip", "time", "io/fs", "log/slog", "fmt"} {
		if forbiddenImport(ok) {
			t.Errorf("%s should be allowed", ok)
		}
	}
	srv := listed{ImportPath: "gontp/internal/server", Imports: []string{"gontp/internal/wire"},
		Deps: []string{"gontp/internal/wire", "gontp/ntpconf"}}
	if got := forbiddenDeps(srv, separated[srv.ImportPath]); len(got) != 1 || got[0] != "gontp/ntpconf" {
		t.Errorf("an indirect dependency on ntpconf was not found: %v", got)
	}
	dir := t.TempDir()
	src := "package x\nimport (\n\"time\"\nr \"math/rand/v2\"\n)\nfunc f() { _ = time.Now(); _ = r.IntN(3); _ = time.Duration(1) }\n"
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var found []string
	collect := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }
	checkCalls(collect, "x", listed{ImportPath: "x", Dir: dir, GoFiles: []string{"x.go"}})
	if len(found) != 2 {
		t.Fatalf("found %d violations, want 2: %v", len(found), found)
	}
}
