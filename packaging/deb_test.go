// SPDX-License-Identifier: BSD-2-Clause

// Package packaging holds the tests of gontp's Debian package (debian/, issues 9 and 21). The
// work is done by the shell scripts beside this file, which are also usable on their own:
// deb-build (make deb), deb-test-root (the cached Debian 12 root), deb-acceptance,
// deb-tutorial (the seed tutorial in a container booted with systemd), deb-uml-timedate and
// deb-uml-apparmor (User-Mode Linux guests: timedatectl's clock state, the AppArmor profile).
package packaging

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// need skips the test when something the package test needs is missing, except under CI=true,
// where CI provides everything and a missing piece is a failure.
func need(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (debootstrap, chroot, namespaces)")
	}
	for _, tool := range []string{"dpkg-buildpackage", "dh", "dh_apparmor", "debootstrap", "lintian", "unshare", "chroot", "ip", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("the Debian package test needs %s (apt-get install debhelper dh-apparmor debootstrap lintian)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var (
	checkLine = regexp.MustCompile(`^(not ok|ok) - (.*)$`)
	totalLine = regexp.MustCompile(`^(\d+) passed, (\d+) failed$`)
)

// TestDebianPackage builds the package, installs it over ntpsec in a throwaway Debian 12 root
// and runs the daemon there (packaging/deb-acceptance), then checks the package with lintian.
// Every "not ok" line of the script is a test error; its comment lines are logged.
func TestDebianPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the Debian package test builds and installs the package (about two minutes)")
	}
	need(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "./deb-acceptance", "-o", out)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting deb-acceptance: %v", err)
	}
	passed, failed, totals := read(t, pipe)
	err = cmd.Wait()
	if s := stderr.String(); s != "" {
		t.Logf("deb-acceptance stderr:\n%s", s)
	}
	switch {
	case !totals:
		t.Errorf("deb-acceptance ended without its closing count (%d ok, %d not ok seen): %v", passed, failed, err)
	case err != nil && failed == 0:
		t.Errorf("deb-acceptance: %v with no failed check", err)
	}
	if passed == 0 {
		t.Error("deb-acceptance passed no check")
	}

	t.Run("lintian", func(t *testing.T) {
		changes, _ := filepath.Glob(filepath.Join(out, "gontp_*.changes"))
		for _, c := range changes {
			if strings.Contains(filepath.Base(c), "~") {
				continue // the earlier build made for the upgrade check
			}
			res, err := exec.Command("lintian", "--fail-on", "error", c).CombinedOutput()
			t.Logf("lintian %s:\n%s", filepath.Base(c), res)
			if err != nil {
				t.Errorf("lintian reports errors on %s: %v", filepath.Base(c), err)
			}
			return
		}
		t.Fatalf("no .changes file of the current build in %s", out)
	})

	t.Run("tutorial", func(t *testing.T) {
		tutorial(t, ctx, "deb-tutorial", currentDeb(t, out))
	})
	t.Run("timedatectl-synchronized", func(t *testing.T) {
		// About four minutes: the script's guest powers itself off after at most 200 s.
		uctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		tutorial(t, uctx, "deb-uml-timedate", currentDeb(t, out))
	})
	t.Run("apparmor-enforce", func(t *testing.T) {
		// About a minute: the guest powers itself off when its checks have run, after at
		// most 200 s waiting for synchronisation and 90 s for the host's query.
		uctx, cancel := context.WithTimeout(ctx, 7*time.Minute)
		defer cancel()
		tutorial(t, uctx, "deb-uml-apparmor", currentDeb(t, out))
	})
}

// currentDeb is the .deb of the current build in out (not the earlier build, whose version has
// a "~", made for the upgrade check).
func currentDeb(t *testing.T, out string) string {
	t.Helper()
	debs, _ := filepath.Glob(filepath.Join(out, "gontp_*.deb"))
	for _, d := range debs {
		if !strings.Contains(filepath.Base(d), "~") {
			return d
		}
	}
	t.Fatalf("no .deb of the current build in %s", out)
	return ""
}

// tutorial runs packaging/deb-tutorial on the built package: the seed tutorial in a
// systemd-nspawn container (apt install, edit ntp.conf, systemctl, ntpq -p, timedatectl
// set-ntp, a client's ntpdate -q) and the package's Debian plumbing. The script exits 77 with a
// "skip - WHY" line where the machine cannot boot a container; under CI=true that fails.
// The same for packaging/deb-uml-timedate (script), timedatectl's "System clock synchronized:
// yes" in a User-Mode Linux guest booting the Debian root with systemd, and for
// packaging/deb-uml-apparmor, the AppArmor profile enforced in such a guest booted with
// AppArmor (the host kernel has none).
func tutorial(t *testing.T, ctx context.Context, script, deb string) {
	cmd := exec.CommandContext(ctx, "./"+script, "-d", deb)
	// On a timeout the script gets SIGTERM, so that its trap powers the container off, stops
	// chronyd by its PID and removes the namespaces; SIGKILL only if that hangs.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", script, err)
	}
	var skipped string
	passed, failed, totals := readSkip(t, pipe, &skipped)
	err = cmd.Wait()
	if s := stderr.String(); s != "" {
		t.Logf("%s stderr:\n%s", script, s)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 77 {
		msg := script + ": " + skipped
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	switch {
	case !totals:
		t.Errorf("%s ended without its closing count (%d ok, %d not ok seen): %v", script, passed, failed, err)
	case err != nil && failed == 0:
		t.Errorf("%s: %v with no failed check", script, err)
	}
	if passed == 0 {
		t.Errorf("%s passed no check", script)
	}
}

// read follows the script's output: it logs each line and turns "not ok" lines into errors.
func read(t *testing.T, r io.Reader) (passed, failed int, totals bool) {
	t.Helper()
	var skipped string
	return readSkip(t, r, &skipped)
}

// readSkip is read that also keeps the reason of a "skip - WHY" line.
func readSkip(t *testing.T, r io.Reader, skipped *string) (passed, failed int, totals bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if why, ok := strings.CutPrefix(line, "skip - "); ok {
			*skipped = why
		}
		if m := checkLine.FindStringSubmatch(line); m != nil {
			if m[1] == "ok" {
				passed++
			} else {
				failed++
				t.Errorf("deb-acceptance: %s", m[2])
			}
		}
		if totalLine.MatchString(line) {
			totals = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("reading deb-acceptance's output: %v", err)
	}
	return passed, failed, totals
}
