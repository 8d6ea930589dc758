// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"gontp/internal/wire"
	"gontp/ntpconf"
)

func apply(t *testing.T, conf string, cmdFamily int) (*runConfig, string) {
	t.Helper()
	cfg, err := ntpconf.ParseBytes("ntp.conf", []byte(conf))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var logs bytes.Buffer
	rc, err := applyConfig(cfg, cmdFamily, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return rc, logs.String()
}

func TestApplyConfigNetworkAssociations(t *testing.T) {
	rc, logs := apply(t, `server 198.18.0.2 iburst minpoll 4 maxpoll 5
server -6 ntp.example.org prefer
peer 198.18.0.3 key 0
peer fd00::5
pool -4 pool.example.org iburst prefer noselect
server 127.127.1.0
`, 0)
	if len(rc.engine.Servers) != 3 {
		t.Fatalf("servers %+v", rc.engine.Servers)
	}
	s := rc.engine.Servers[0]
	if s.Addr != netip.MustParseAddrPort("198.18.0.2:123") || s.Mode != wire.ModeClient || !s.IBurst || s.MinPoll != 4 || s.MaxPoll != 5 {
		t.Errorf("server line: %+v", s)
	}
	if p := rc.engine.Servers[1]; p.Mode != wire.ModeSymActive || p.Addr.Addr() != netip.MustParseAddr("198.18.0.3") {
		t.Errorf("peer line: %+v", p)
	}
	if p := rc.engine.Servers[2]; p.Mode != wire.ModeSymActive || p.Addr.Addr() != netip.MustParseAddr("fd00::5") {
		t.Errorf("peer line: %+v", p)
	}
	if len(rc.named) != 1 || rc.named[0].name != "ntp.example.org" || rc.named[0].family != 6 ||
		!rc.named[0].peer.Prefer || rc.named[0].peer.Mode != wire.ModeClient || !strings.HasPrefix(rc.named[0].pos, "ntp.conf:2:") {
		t.Errorf("named: %+v", rc.named)
	}
	if len(rc.engine.Pools) != 1 {
		t.Fatalf("pools %+v", rc.engine.Pools)
	}
	p := rc.engine.Pools[0]
	if p.Name != "pool.example.org" || p.Family != 4 || !p.Peer.IBurst || !p.Peer.NoSelect || p.Peer.Prefer {
		t.Errorf("pool: %+v", p)
	}
	if !strings.Contains(logs, "option prefer has no effect on a pool") {
		t.Errorf("no warning about prefer on a pool:\n%s", logs)
	}
	if len(rc.engine.Refclocks) != 1 {
		t.Errorf("refclocks %+v", rc.engine.Refclocks)
	}
	if strings.Contains(logs, "does not poll network servers") {
		t.Errorf("stale warning:\n%s", logs)
	}
}

func TestApplyConfigFamily(t *testing.T) {
	rc, logs := apply(t, "server fd00::1\nserver 198.18.0.2\nserver ntp.example.org\n", 4)
	if len(rc.engine.Servers) != 1 || !rc.engine.Servers[0].Addr.Addr().Is4() {
		t.Errorf("with -4: servers %+v", rc.engine.Servers)
	}
	if !strings.Contains(logs, "not an IPv4 address") {
		t.Errorf("no warning for the IPv6 literal under -4:\n%s", logs)
	}
	if network(rc.named[0].family, 4) != "ip4" || network(6, 4) != "ip6" || network(0, 0) != "ip" {
		t.Errorf("network choice wrong")
	}
}
