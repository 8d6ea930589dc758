// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"gontp/internal/cli/clitest"
)

// TestManPage: man/ntp-keygen.8 is what the option table generates and names every option.
func TestManPage(t *testing.T) { clitest.ManPage(t, &command) }

// TestAutokeyRefused: every Autokey option, and a call without -M, fails naming Autokey.
func TestAutokeyRefused(t *testing.T) {
	for _, args := range [][]string{{"-H"}, {"--iffkey"}, {"-s", "host"}, {"-M", "-T"}, {}} {
		var b bytes.Buffer
		if code := run(args, &b, time.Now()); code != 1 || !strings.Contains(b.String(), "Autokey") {
			t.Errorf("%q: exit %d, %q", args, code, b.String())
		}
	}
}

// TestMakesKeys: -M writes the key file, mode 0600, and the link, as classic does.
func TestMakesKeys(t *testing.T) {
	t.Chdir(t.TempDir())
	var b bytes.Buffer
	now := time.Date(2026, 12, 6, 13, 24, 32, 0, time.UTC)
	if code := run([]string{"-M"}, &b, now); code != 0 {
		t.Fatalf("exit %d: %s", code, b.String())
	}
	target, err := os.Readlink("ntp.keys")
	if err != nil || !strings.HasSuffix(target, ".4005552272") {
		t.Fatalf("link %q: %v", target, err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v", target, err)
	}
	if !strings.Contains(b.String(), "Generating new md5 file and link\nntp.keys->"+target) {
		t.Errorf("messages %q", b.String())
	}
}
