// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"strings"
	"testing"

	"gontp/internal/nts"
	"gontp/internal/ntske/testca"
)

func TestNTSConfig(t *testing.T) {
	ca := testca.New(t, "localhost")
	rc, logs := apply(t, fmt.Sprintf(`server time.example nts iburst
pool pool.example nts noval
server 198.18.0.9 noval
nts ca %s
nts aead AES_SIV_CMAC_512
nts enable
nts cert %s
nts key %s
nts cookie /var/lib/gontp/nts-keys
`, ca.CA, ca.Cert, ca.Key), 0)
	if len(rc.problems) != 0 {
		t.Fatalf("problems: %v", rc.problems)
	}
	c := rc.nts.clients
	if len(c) != 2 || c[0].name != "time.example" || c[0].noval || !c[0].peer.NTS || !c[0].peer.IBurst ||
		c[1].name != "pool.example" || !c[1].noval {
		t.Fatalf("NTS clients %+v", c)
	}
	if len(rc.engine.Servers) != 1 || len(rc.engine.Pools) != 0 || len(rc.named) != 0 {
		t.Errorf("NTS lines also became plain associations: %+v %+v %+v", rc.engine.Servers, rc.engine.Pools, rc.named)
	}
	if !strings.Contains(logs, "ntp.conf:3:1: server 198.18.0.9: noval applies only with nts") {
		t.Errorf("no warning for noval without nts:\n%s", logs)
	}
	if !rc.nts.serve || rc.nts.tls == nil || rc.nts.cookie != "/var/lib/gontp/nts-keys" || rc.nts.rootCAs == nil ||
		len(rc.nts.aeads) != 1 || rc.nts.aeads[0] != nts.AEADAESSIVCMAC512 {
		t.Errorf("NTS settings %+v", rc.nts)
	}
	if strings.Contains(logs, `"nts" is read but`) {
		t.Errorf("nts named as not acted on:\n%s", logs)
	}
}

func TestNTSConfigProblems(t *testing.T) {
	for _, c := range []struct{ conf, want string }{
		{"nts enable\n", "nts enable: the NTS server needs `nts cert FILE` and `nts key FILE`"},
		{"nts enable\nnts cert /nonexistent/cert.pem\nnts key /nonexistent/key.pem\n", "ntp.conf:2:10: nts cert /nonexistent/cert.pem"},
		{"nts ca /nonexistent/ca.pem\n", "ntp.conf:1:8: nts ca: open /nonexistent/ca.pem"},
		{"nts aead AES_GCM\n", `ntp.conf:1:10: nts aead: unsupported NTS AEAD algorithm "AES_GCM"`},
	} {
		rc, _ := apply(t, c.conf, 0)
		if len(rc.problems) != 1 || !strings.HasPrefix(rc.problems[0], c.want) {
			t.Errorf("%q: problems %q, want %q", c.conf, rc.problems, c.want)
		}
		if rc.nts.serve {
			t.Errorf("%q: NTS server would start", c.conf)
		}
	}
}
