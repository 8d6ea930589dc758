// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"

	"gontp/internal/filegen"
	"gontp/internal/server"
	"gontp/internal/stats"
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
	rc := applyConfig(cfg, cmdFamily, slog.New(slog.NewTextHandler(&logs, nil)))
	openRefclocks(rc)
	for _, p := range rc.problems {
		logs.WriteString("problem: " + p + "\n")
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

// TestDuplicateAssociationWarnedAndSkipped is issue 15 B3 at the daemon's level: a second
// line for an address is skipped with a warning naming both lines (classic skips it
// silently); the engine would refuse the duplicate and the daemon used to exit 1.
func TestDuplicateAssociationWarnedAndSkipped(t *testing.T) {
	rc, logs := apply(t, "server 198.18.0.2 iburst\nserver 198.18.0.2 maxpoll 8\npeer 198.18.0.2\nserver 198.18.0.3\n", 0)
	if len(rc.engine.Servers) != 2 || rc.engine.Servers[0].MaxPoll == 8 || len(rc.problems) != 0 {
		t.Fatalf("servers %+v problems %q", rc.engine.Servers, rc.problems)
	}
	for _, want := range []string{
		"ntp.conf:2:1: server 198.18.0.2: duplicate association for 198.18.0.2 (first at ntp.conf:1:1); this line is skipped",
		"ntp.conf:3:1: peer 198.18.0.2: duplicate association for 198.18.0.2 (first at ntp.conf:1:1); this line is skipped",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestUnusedFlagsAndOptionsWarned is issue 15 item 5: every enable/disable flag and every
// association option gontp reads but does not act on is named with its line, and `enable
// mode7` says what it answers and what it refuses.
func TestUnusedFlagsAndOptionsWarned(t *testing.T) {
	_, logs := apply(t, `enable mode7 auth bclient calibrate stats
disable auth
enable monitor ntp kernel
broadcast 198.18.0.255 xleave
server 198.18.0.3 autokey
server 198.18.0.4 xmtnonce
server 198.18.0.5 ttl 5
server 198.18.0.6 ident grp
`, 0)
	for _, want := range []string{
		"ntp.conf:1:8: enable mode7: ntpdc's read-only requests are answered (peers, showpeer, sysinfo, sysstats, kerninfo); monlist and every write request are refused",
		"ntp.conf:1:19: enable bclient is read",
		"ntp.conf:1:27: enable calibrate is read",
		"ntp.conf:1:37: enable stats is read",
		"ntp.conf:4:1: broadcast 198.18.0.255: option xleave works only on server, pool and peer lines",
		"ntp.conf:5:1: server 198.18.0.3: option autokey is read",
		"ntp.conf:6:1: server 198.18.0.4: option xmtnonce is read",
		"ntp.conf:7:1: server 198.18.0.5: option ttl is read",
		"ntp.conf:8:1: server 198.18.0.6: option ident is read",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, not := range []string{"enable monitor", "enable ntp", "enable kernel", "enable auth", "disable auth"} {
		if strings.Contains(logs, not) {
			t.Errorf("log warns about %q, which gontp acts on:\n%s", not, logs)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}

// TestCommandLineServers: ntpd's operands become "server NAME iburst" associations in front
// of the file's, as classic's config_peers makes them; an operand that would be more than a
// host name on a configuration line is refused by name.
func TestCommandLineServers(t *testing.T) {
	cfg, err := ntpconf.ParseBytes("ntp.conf", []byte("server 192.0.2.9 minpoll 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := addCommandLineServers(cfg, []string{"pool.ntp.example", "2001:db8::1"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range cfg.Associations {
		got = append(got, string(a.Kind)+" "+a.Address+" "+strings.Join(a.Flags, ","))
	}
	if want := "server pool.ntp.example iburst|server 2001:db8::1 iburst|server 192.0.2.9 "; strings.Join(got, "|") != want {
		t.Errorf("associations %q, want %q", strings.Join(got, "|"), want)
	}
	for _, bad := range []string{"a b", "x#y", `"q"`, ""} {
		if err := addCommandLineServers(cfg, []string{bad}); err == nil || !strings.Contains(err.Error(), "command line") {
			t.Errorf("operand %q: error %v, want a refusal naming the command line", bad, err)
		}
	}
}

// TestDebianDefaultConfigNoWarnings: Debian's default ntp.conf (ntp 4.2.8p15), with its
// statistics lines and with statsdir uncommented, is taken without a warning: the statistics
// directives are acted on (issue 18).
func TestDebianDefaultConfigNoWarnings(t *testing.T) {
	b, err := os.ReadFile("../../ntpconf/testdata/corpus/debian-default.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, conf := range []string{string(b), strings.Replace(string(b), "#statsdir", "statsdir", 1)} {
		_, logs := apply(t, conf, 0)
		sc, warns := filegen.FromConfig(mustParse(t, conf), "")
		if strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=ERROR") || len(warns) > 0 {
			t.Errorf("warnings:\n%s%v", logs, warns)
		}
		if !sc.Enabled(stats.LoopStats) || !sc.Enabled(stats.PeerStats) || !sc.Enabled(stats.ClockStats) {
			t.Errorf("statistics not enabled: %+v", sc)
		}
	}
}

func mustParse(t *testing.T, conf string) *ntpconf.Config {
	cfg, err := ntpconf.ParseBytes("ntp.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSysStatsLine: the hourly sysstats line carries the counters' growth since the last
// line, in classic's order.
func TestSysStatsLine(t *testing.T) {
	prev := server.Stats{Uptime: 100, Received: 10, Processed: 4, ThisVer: 8, OldVer: 2, Restricted: 1, Limited: 1}
	cur := server.Stats{Uptime: 3700, Received: 110, Processed: 14, ThisVer: 98, OldVer: 12, Restricted: 3,
		BadFormat: 5, BadAuth: 6, Declined: 7, Limited: 9, KoDSent: 2}
	got := sysStatsLine(prev, cur)
	want := stats.Sys{Seconds: 3600, Received: 100, Processed: 10, NewVersion: 90, OldVersion: 10, Restricted: 2,
		BadLength: 5, BadAuth: 6, Declined: 7, Limited: 8, KoDSent: 2}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestKernelPPSFlag3Accepted: fudge flag3 on a PPS or NMEA clock asks for the kernel's
// hardpps discipline, which the driver binds (refclockio TestPPSKernelBind): the line is
// taken as written, without a warning, and reaches the driver's configuration.
func TestKernelPPSFlag3Accepted(t *testing.T) {
	rc, logs := apply(t, "server 127.127.22.0\nfudge 127.127.22.0 flag3 1\nserver 127.127.20.1\nfudge 127.127.20.1 flag1 1 flag3 1\n"+
		"server 127.127.28.0\nfudge 127.127.28.0 flag3 1\nserver 127.127.22.1\nfudge 127.127.22.1 flag3 0\n", 0)
	if strings.Contains(logs, "flag3") || strings.Contains(logs, "not supported") {
		t.Errorf("flag3 warned about:\n%s", logs)
	}
	if len(rc.engine.Refclocks) != 4 || !rc.engine.Refclocks[0].Clock.Fudge.Flags[2] || !rc.engine.Refclocks[1].Clock.Fudge.Flags[2] ||
		rc.engine.Refclocks[3].Clock.Fudge.Flags[2] {
		t.Errorf("refclocks %+v", rc.engine.Refclocks)
	}
}

// TestCastReloadWithoutNewSockets: a reload may turn the broadcast client and the manycast
// server off, and back on with the sockets bound at start; anything else needs a restart.
func TestCastReloadWithoutNewSockets(t *testing.T) {
	g1, g2 := netip.MustParseAddr("224.0.1.1"), netip.MustParseAddr("239.1.1.1")
	start := castListen{broadcast: true, groups: []netip.Addr{g1}, manycast: []netip.Addr{g2}}
	for _, c := range []struct {
		name string
		next castListen
		want bool
	}{
		{"unchanged", start, true},
		{"all off", castListen{}, true},
		{"client off, manycast kept", castListen{manycast: []netip.Addr{g2}}, true},
		{"manycast off, client kept", castListen{broadcast: true, groups: []netip.Addr{g1}}, true},
		{"another group", castListen{broadcast: true, groups: []netip.Addr{g2}}, false},
		{"broadcast dropped, group kept", castListen{groups: []netip.Addr{g1}}, false},
		{"another manycast group", castListen{manycast: []netip.Addr{g1}}, false},
	} {
		if got := start.serves(c.next); got != c.want {
			t.Errorf("%s: serves = %v, want %v", c.name, got, c.want)
		}
	}
	if (castListen{}).serves(castListen{broadcast: true}) {
		t.Error("a broadcast client added to a daemon that bound no broadcast socket")
	}
}
