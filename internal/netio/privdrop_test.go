// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDropPrivileges builds a static helper (no cgo, as the daemon is built), runs it as root
// in a private network namespace, and checks from /proc that every thread ends with the
// target uid and gid and exactly CAP_SYS_TIME and CAP_NET_BIND_SERVICE permitted and
// effective, nothing inheritable, and a bounding set of just those two.
func TestDropPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI runs as root)")
		}
		t.Skip("needs root to drop privileges")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s for a private network namespace", tool)
		}
	}
	bin := filepath.Join(t.TempDir(), "privdrop")
	build := exec.Command("go", "build", "-o", bin, "./testdata/privdrop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	out, err := exec.Command("unshare", "-n", "sh", "-c", `ip link set lo up && exec "$0" 65534:65534`, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	want := fmt.Sprintf("%016x", uint64(1)<<25|uint64(1)<<10) // CAP_SYS_TIME, CAP_NET_BIND_SERVICE
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if lines[len(lines)-1] != "ok" {
		t.Fatalf("helper did not finish:\n%s", out)
	}
	threads := 0
	for _, l := range lines[:len(lines)-1] {
		f := strings.Fields(l)
		switch f[0] {
		case "Uid:", "Gid:":
			threads++
			for _, id := range f[1:] {
				if id != "65534" {
					t.Errorf("thread still has id %s: %q", id, l)
				}
			}
		case "Groups:":
			if len(f) != 2 || f[1] != "65534" {
				t.Errorf("supplementary groups %q, want only 65534", l)
			}
		case "CapPrm:", "CapEff:", "CapBnd:":
			if f[1] != want {
				t.Errorf("%s %s, want %s", f[0], f[1], want)
			}
		case "CapInh:":
			if f[1] != "0000000000000000" {
				t.Errorf("inheritable capabilities %s", f[1])
			}
		}
	}
	if threads < 2*3 {
		t.Errorf("saw %d thread uid/gid lines; the helper should have several threads", threads)
	}
}

// TestDropPrivilegesWithoutSysTime: where CAP_SYS_TIME is withheld (a container, a test
// daemon's bounding set) the drop still works and keeps what is there.
func TestDropPrivilegesWithoutSysTime(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI runs as root)")
		}
		t.Skip("needs root to drop privileges")
	}
	for _, tool := range []string{"unshare", "ip", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	bin := filepath.Join(t.TempDir(), "privdrop")
	build := exec.Command("go", "build", "-o", bin, "./testdata/privdrop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	out, err := exec.Command("unshare", "-n", "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		"sh", "-c", `ip link set lo up && exec "$0" 65534:65534`, bin).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	want := fmt.Sprintf("CapEff: %016x", uint64(1)<<10) // CAP_NET_BIND_SERVICE alone
	if !strings.Contains(string(out), want) {
		t.Fatalf("want %q in:\n%s", want, out)
	}
}

func TestLookupCredentials(t *testing.T) {
	c, err := LookupCredentials("0:0")
	if err != nil || c.UID != 0 || c.GID != 0 {
		t.Fatalf("0:0 -> %+v %v", c, err)
	}
	c, err = LookupCredentials("root")
	if err != nil || c.UID != 0 || c.GID != 0 {
		t.Fatalf("root -> %+v %v", c, err)
	}
	if _, err := LookupCredentials("no-such-user-gontp"); err == nil || !strings.Contains(err.Error(), "no-such-user-gontp") {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := LookupCredentials(""); err == nil {
		t.Fatal("empty user accepted")
	}
}
