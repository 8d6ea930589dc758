// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"strings"
	"testing"
)

// TestNTS reads NTPsec's NTS lines and writes them back.
func TestNTS(t *testing.T) {
	src := `server time.example.com nts iburst
pool pool.example.org nts noval
nts enable
nts cert /etc/ntp/cert.pem
nts key /etc/ntp/key.pem
nts ca /etc/ntp/ca.pem
nts cookie /var/lib/ntp/nts-keys
nts mintls TLS1.3
nts aead AES_SIV_CMAC_256:AES_SIV_CMAC_512
`
	cfg, errs := parseString(t, src)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if a := cfg.Associations[0]; !a.Has("nts") || !a.Has("iburst") || a.Has("noval") {
		t.Errorf("server flags %v", a.Flags)
	}
	if a := cfg.Associations[1]; !a.Has("nts") || !a.Has("noval") {
		t.Errorf("pool flags %v", a.Flags)
	}
	if !cfg.NTSEnabled() || cfg.NTSSetting("cert").Value != "/etc/ntp/cert.pem" || cfg.NTSSetting("cookie") == nil {
		t.Errorf("nts settings %+v", cfg.NTS)
	}
	out := saveconfig(t, cfg)
	for _, want := range []string{"server time.example.com nts iburst\n", "pool pool.example.org nts noval\n",
		"nts enable\n", "nts cert /etc/ntp/cert.pem\n", "nts aead AES_SIV_CMAC_256:AES_SIV_CMAC_512\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("saveconfig lacks %q:\n%s", want, out)
		}
	}
	again, errs := parseString(t, out)
	if len(errs) != 0 || len(again.NTS) != len(cfg.NTS) {
		t.Fatalf("saveconfig output does not read back: %v", errs)
	}
}

func TestNTSErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"nts\n", "/etc/ntp.conf:1:4: nts: missing subcommand"},
		{"nts certt /x\n", `/etc/ntp.conf:1:5: unknown nts subcommand "certt"; did you mean "cert"?`},
		{"nts cert\n", "/etc/ntp.conf:1:9: nts cert: missing value"},
		{"nts mintls TLS1.2\n", `/etc/ntp.conf:1:12: nts mintls "TLS1.2": gontp speaks only TLS1.3`},
		{"nts tlsciphersuites X\n", "/etc/ntp.conf:1:5: nts tlsciphersuites is not supported by gontp"},
		{"server a.example ntss\n", `/etc/ntp.conf:1:18: unknown option "ntss" for server; did you mean "nts"?`},
	} {
		_, errs := parseString(t, c.src)
		if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), c.want) {
			t.Errorf("%q: errors %v, want %q", c.src, errs, c.want)
		}
	}
}
