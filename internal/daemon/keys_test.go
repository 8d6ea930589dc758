// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gontp/ntpconf"
)

// TestLoadKeys: the key file is read with trustedkey ranges and -t, -k replaces `keys`, a
// world-readable file is named in a warning, a key on a server line that is not trusted is
// named, and a file with a counted error is rejected whole.
func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ntp.keys")
	if err := os.WriteFile(good, []byte("1 MD5 one\n2 SHA1 0123456789abcdef0123456789abcdef01234567\n3 AES128CMAC 00112233445566778899aabbccddeeff\n7 MD5 seven\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.keys")
	if err := os.WriteFile(other, []byte("9 MD5 nine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.keys")
	if err := os.WriteFile(bad, []byte("1 MD5 one\nx MD5 two\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	rc, logs := apply(t, fmt.Sprintf("keys %s\ntrustedkey 1 (2 ... 3)\ncontrolkey 1\nserver 198.18.0.2 key 7\n", good), 0)
	if rc.keys == nil || !rc.keys.Trusted(1) || !rc.keys.Trusted(3) || rc.keys.Trusted(7) || rc.controlKey != 1 {
		t.Fatalf("keys %+v, controlkey %d\n%s", rc.keys, rc.controlKey, logs)
	}
	for _, want := range []string{"readable by every user (mode 0644)", "key 7: not a trusted key", "4 keys loaded"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	cfg, _ := ntpconf.ParseBytes("ntp.conf", []byte(fmt.Sprintf("keys %s\ntrustedkey 1\n", good)))
	commandLineKeys(cfg, Options{KeyFile: other, TrustedKeys: []uint32{9}})
	var b strings.Builder
	set, _ := loadKeys(cfg, slog.New(slog.NewTextHandler(&b, nil)))
	if set == nil || !set.Trusted(9) || set.Key(1) != nil {
		t.Errorf("-k %s -t 9: %+v\n%s", other, set, b.String())
	}

	rc, logs = apply(t, fmt.Sprintf("keys %s\ntrustedkey 1\n", bad), 0)
	if rc.keys != nil || !strings.Contains(logs, "authreadkeys: cannot change key x") || !strings.Contains(logs, "rejecting file") {
		t.Errorf("a bad key file was used:\n%s", logs)
	}
}
