// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"gontp/internal/daemon"
	"gontp/internal/server"
	"gontp/internal/snapshot"
	"gontp/internal/testnet"
)

// inProcess is a gontp daemon run in this test process inside a testnet host, on the
// virtual clock (it never touches the host clock), that the test can reload.
type inProcess struct {
	confPath string
	reload   chan struct{}
	reloaded chan bool
	state    func() daemon.ConfigState
	snap     func() *snapshot.Snapshot
	logs     *syncBuffer
	stop     func()
}

// reloadDNS names a pool that resolves to the private network's first host.
var reloadDNS = fakeDNS{"pool.test": {netip.MustParseAddr("198.18.0.2")}}

func startInProcess(t *testing.T, h *testnet.Host, conf string) *inProcess {
	t.Helper()
	d := &inProcess{confPath: filepath.Join(t.TempDir(), "ntp.conf"), reload: make(chan struct{}),
		reloaded: make(chan bool, 1), logs: &syncBuffer{}}
	if err := os.WriteFile(d.confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	statec := make(chan func() daemon.ConfigState, 1)
	snapc := make(chan func() *snapshot.Snapshot, 1)
	done := make(chan error, 1)
	go func() {
		done <- h.Do(func() error {
			return daemon.Run(ctx, daemon.Options{ConfigFile: d.confPath, Port: 123, Reload: d.reload, Resolver: reloadDNS,
				Clock:         daemon.ClockOptions{VirtualClock: "0,0"},
				Reloaded:      func(ok bool) { d.reloaded <- ok },
				ObserveConfig: func(f func() daemon.ConfigState) { statec <- f },
				Observe:       func(f func() *snapshot.Snapshot) { snapc <- f }}, log)
		})
	}()
	stopped := false
	d.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gontp daemon: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("gontp daemon did not stop within 10 s")
		}
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("gontp log on %s:\n%s", h, d.logs)
		}
	})
	for d.state == nil || d.snap == nil {
		select {
		case d.snap = <-snapc:
		case d.state = <-statec:
		case err := <-done:
			t.Fatalf("gontp daemon stopped at start: %v\n%s", err, d.logs)
		case <-time.After(20 * time.Second):
			t.Fatalf("gontp daemon did not start within 20 s\n%s", d.logs)
		}
	}
	return d
}

// hup writes conf and reloads; it reports whether the daemon applied it.
func (d *inProcess) hup(t *testing.T, conf string) bool {
	t.Helper()
	if err := os.WriteFile(d.confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.reload <- struct{}{}
	select {
	case ok := <-d.reloaded:
		return ok
	case <-time.After(30 * time.Second):
		t.Fatalf("reload not done within 30 s\n%s", d.logs)
	}
	return false
}

// comparable is a ConfigState without what differs between two hosts (the hidden restrict
// entries of each host's own addresses) and without the wildcard sockets, which only drop:
// a rescan leaves them open when the rules no longer let any address of their family
// listen, where a fresh start does not open them (known difference, harmless).
func comparable(s daemon.ConfigState) daemon.ConfigState {
	var r []server.RestrictEntry
	for _, e := range s.Restrict {
		if e.Match&server.MatchInterface == 0 {
			r = append(r, e)
		}
	}
	s.Restrict = r
	var socks []string
	for _, x := range s.Sockets {
		if !strings.Contains(x, "wildcard") {
			socks = append(socks, x)
		}
	}
	s.Sockets = socks
	return s
}

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// measured is what an association has measured, by address: it must survive a reload.
func measured(s *snapshot.Snapshot) map[string]string {
	m := map[string]string{}
	for _, p := range s.Peers {
		if p.Hostname == "" && p.Refclock == "" {
			m[p.Vars.Addr.Addr().String()] = fmt.Sprintf("id %d received %d mode %d", p.ID, p.Vars.Received, p.Vars.HMode)
		}
	}
	return m
}

// ntpqRemotes is the sorted remote column of gontp's `ntpq -pn` on h, and the whole output.
func ntpqRemotes(t *testing.T, h *testnet.Host) ([]string, string) {
	t.Helper()
	r, out := gontpPeers(t, h)
	sort.Strings(r)
	return r, out
}

// TestReloadCorpus is issue 15's acceptance: for a corpus of edits, including every fault
// the issue lists, the configuration a daemon has in effect after SIGHUP equals that of a
// daemon freshly started with the new file (associations with their options, restrict
// list, MRU limits, tos, tinker, and the `ntpq -pn` peer list); what the associations
// measured is kept; a broken file changes nothing; a file that is unchanged or broken loses
// no association.
func TestReloadCorpus(t *testing.T) {
	testnet.Reference(t, "chronyd")
	n := testnet.New(t)
	srv, hA, hB := n.Host("server"), n.Host("reloaded"), n.Host("fresh")
	testnet.Chronyd(t, srv, "local stratum 8\nallow\n")
	S := srv.Addr().String()
	base := fmt.Sprintf(`# reload corpus: base
server %s iburst minpoll 3 maxpoll 4
server 198.18.0.200 iburst
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.1
restrict 198.18.0.0 mask 255.255.255.0 nomodify
tos minsane 1 orphan 12
tinker panic 0 stepout 600
`, S)
	big := func() string {
		var b strings.Builder
		b.WriteString(base)
		for b.Len() < 5<<20 {
			b.WriteString("# padding past the old 4 MiB limit, which dropped the file and left the daemon open\n")
		}
		b.WriteString("restrict 192.0.2.0/24 noserve\n")
		return b.String()
	}()
	incDir := t.TempDir()
	self := filepath.Join(incDir, "self.conf")
	if err := os.WriteFile(self, []byte("restrict 192.0.2.7 noquery\nincludefile "+self+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type step struct {
		name string
		conf string
		// broken: the reload must be refused and change nothing.
		broken bool
		// log: text the reload must log.
		log string
	}
	steps := []step{
		{name: "unchanged", conf: base},
		{name: "B1 edited server options", conf: strings.Replace(base, "iburst minpoll 3 maxpoll 4", "iburst minpoll 3 maxpoll 8", 1),
			log: "takes its edited options; its measurements are kept"},
		{name: "B2 typo", conf: strings.Replace(base, "server 198.18.0.200 iburst", "server 198.18.0.200 ibrust", 1), broken: true,
			log: "nothing was changed, the running configuration stays"},
		{name: "B2 garbage", conf: "\x00\x01garbage {{{ not a configuration\n", broken: true},
		{name: "B3 duplicate lines", conf: base + fmt.Sprintf("server %s maxpoll 8\npeer 198.18.0.200\n", S),
			log: "duplicate association"},
		{name: "B3 self include", conf: base + "includefile " + self + "\n", log: "Maximum include file level exceeded"},
		{name: "B4 large file", conf: big},
		{name: "restrict edits", conf: strings.Replace(base, "restrict 198.18.0.0 mask 255.255.255.0 nomodify",
			"restrict 198.18.0.0/24 nomodify notrap\nrestrict 2001:db8::/32 ignore\nunrestrict 198.18.0.0/24 notrap", 1)},
		{name: "no limited entry left", conf: strings.Replace(base, "noquery limited", "noquery", 1)},
		{name: "disable monitor", conf: base + "disable monitor\n"},
		{name: "tos", conf: strings.Replace(base, "tos minsane 1 orphan 12", "tos minsane 2 orphan 10 maxdist 2", 1)},
		{name: "tinker", conf: strings.Replace(base, "tinker panic 0 stepout 600", "tinker panic 0 stepout 900 step 0.5", 1)},
		{name: "discard and mru", conf: base + "discard average 4 minimum 1\nmru maxdepth 2000 maxage 100\n"},
		{name: "server replaced by peer, another added", conf: strings.Replace(base, "server 198.18.0.200 iburst",
			"peer 198.18.0.200\nserver 198.18.0.201 burst prefer", 1)},
		{name: "pool added", conf: base + "pool pool.test iburst\n", log: "pool pool.test added"},
		{name: "pool edited", conf: base + "pool pool.test iburst maxpoll 8\n", log: "take the edited options"},
		{name: "interface rules", conf: base + "interface listen ipv4\ninterface ignore ipv6\n", log: "Deleting interface"},
		{name: "driftfile", conf: base + "driftfile " + filepath.Join(incDir, "ntp.drift") + "\n"},
		{name: "disable ntp", conf: base + "disable ntp\n"},
		{name: "setvar", conf: base + "setvar site = \"lab 7\" default\nsetvar rack = 12\n"},
		{name: "statistics", conf: base + "statsdir " + incDir + "\nstatistics loopstats peerstats\n",
			log: "statistics, filegen, statsdir, enable/disable stats applied"},
		{name: "metrics", conf: base + "metrics 127.0.0.1:19975\n", log: "reload: metrics applied"},
		{name: "reference clock added", conf: base + "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
			log: "reload: reference clock LOCAL(0) added"},
		{name: "reference clock fudge edited", conf: base + "server 127.127.1.0\nfudge 127.127.1.0 stratum 9 refid TEST\n",
			log: "reload: reference clock LOCAL(0) takes its edited line and fudge; its measurements are kept"},
		{name: "broadcastdelay", conf: base + "broadcastdelay 0.008\n", log: "reload: broadcastdelay applied"},
		{name: "restart-only directive", conf: base + "disable kernel\n",
			log: "enable/disable kernel changed: gontp cannot change that in a running daemon yet"},
		{name: "enable mode7 added", conf: base + "enable mode7\n", log: "enable mode7: ntpdc's read-only requests are answered"},
		{name: "back to base", conf: base},
	}

	a := startInProcess(t, hA, base)
	// Wait until the live server has answered a few times: its measurements must survive.
	deadline := time.Now().Add(30 * time.Second)
	for measured(a.snap())[S] == "" || a.snap().Peers[0].Vars.Reach == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no reply from the chronyd at %s", S)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			beforeState := a.state()
			beforeMeasured := measured(a.snap())
			beforeRemotes, beforeOut := ntpqRemotes(t, hA)
			logMark := len(a.logs.String())
			applied := a.hup(t, st.conf)
			afterRemotes, afterOut := ntpqRemotes(t, hA)
			t.Logf("ntpq -pn before:\n%safter:\n%s", beforeOut, afterOut)
			logs := a.logs.String()[logMark:]
			if st.log != "" && !strings.Contains(logs, st.log) {
				t.Errorf("reload log lacks %q:\n%s", st.log, logs)
			}
			after := a.state()
			if st.broken {
				if applied {
					t.Fatalf("a broken file was applied")
				}
				if diff := cmp.Diff(beforeState, after, addrCmp); diff != "" {
					t.Errorf("a refused reload changed the configuration (-before +after):\n%s", diff)
				}
				if !cmp.Equal(beforeRemotes, afterRemotes) {
					t.Errorf("ntpq -pn peers changed: %v -> %v", beforeRemotes, afterRemotes)
				}
			} else if !applied {
				t.Fatalf("a valid file was refused:\n%s", logs)
			}
			// What was measured is kept for every address still configured (same
			// association ID, at least as many packets received).
			nowMeasured := measured(a.snap())
			for addr, was := range beforeMeasured {
				now, ok := nowMeasured[addr]
				if !ok {
					if st.broken || st.name == "unchanged" {
						t.Errorf("association %s lost by a reload of an unchanged or broken file", addr)
					}
					continue
				}
				var id1, id2, r1, r2, m1, m2 int
				fmt.Sscanf(was, "id %d received %d mode %d", &id1, &r1, &m1)
				fmt.Sscanf(now, "id %d received %d mode %d", &id2, &r2, &m2)
				if m1 != m2 {
					continue // a new mode (server to peer) is a new association
				}
				if id1 != id2 || r2 < r1 {
					t.Errorf("%s: measurements not kept: before %s, after %s", addr, was, now)
				}
			}
			if st.broken {
				return
			}
			// The same file, started fresh.
			b := startInProcess(t, hB, st.conf)
			fresh := b.state()
			freshRemotes, freshOut := ntpqRemotes(t, hB)
			b.stop()
			if diff := cmp.Diff(comparable(fresh), comparable(after), addrCmp); diff != "" {
				t.Errorf("after SIGHUP the configuration differs from a fresh start (-fresh +reloaded):\n%s", diff)
			}
			if !cmp.Equal(freshRemotes, afterRemotes) {
				t.Errorf("ntpq -pn peers: fresh start %v, after reload %v\nfresh:\n%s", freshRemotes, afterRemotes, freshOut)
			}
		})
	}
}

// TestSIGHUPRealDaemon is the corpus's worst cases through the real program and a real
// SIGHUP (gontp's ntpd in the foreground, without CAP_SYS_TIME): an edited server line keeps
// its association and what it measured (B1), a typo, a file of garbage and a missing file
// change nothing (B2); `ntpq -pn` is taken before and after each reload.
func TestSIGHUPRealDaemon(t *testing.T) {
	testnet.Reference(t, "chronyd")
	n := testnet.New(t)
	srv, h := n.Host("server"), n.Host("gontp")
	testnet.Chronyd(t, srv, "local stratum 8\nallow\n")
	dir := t.TempDir()
	conf := filepath.Join(dir, "ntp.conf")
	S := srv.Addr().String()
	base := "server " + S + " iburst minpoll 3 maxpoll 4\nserver 198.18.0.200\nrestrict default kod nomodify nopeer noquery limited\nrestrict 127.0.0.1\ndisable ntp\n"
	if err := os.WriteFile(conf, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	p := h.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		binary(t, "ntpd"), "-n", "-c", conf, "-p", filepath.Join(dir, "ntpd.pid"))
	reached := func(out string) bool {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 10 && strings.HasSuffix(f[0], S) && f[6] != "0" {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, out := gontpPeers(t, h)
		if reached(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached:\n%s\n%s", S, out, p.Log())
		}
		time.Sleep(300 * time.Millisecond)
	}
	hup := func(content *string, wantLog string) {
		t.Helper()
		if content == nil {
			os.Remove(conf)
		} else if err := os.WriteFile(conf, []byte(*content), 0o644); err != nil {
			t.Fatal(err)
		}
		before, beforeOut := ntpqRemotes(t, h)
		mark := strings.Count(p.Log(), wantLog)
		if err := syscall.Kill(p.Pid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(p.Log(), wantLog) == mark {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after SIGHUP:\n%s", wantLog, p.Log())
			}
			time.Sleep(100 * time.Millisecond)
		}
		after, afterOut := ntpqRemotes(t, h)
		t.Logf("ntpq -pn before:\n%safter:\n%s", beforeOut, afterOut)
		if !cmp.Equal(before, after) || !reached(afterOut) {
			t.Errorf("the reload lost an association or its reach: before %v, after %v\n%s", before, after, afterOut)
		}
	}
	edited := strings.Replace(base, "maxpoll 4", "maxpoll 8", 1)
	typo := strings.Replace(base, "server 198.18.0.200", "server 198.18.0.200 ibrust", 1)
	garbage := "\x7fELF\x02\x01\x01 not a configuration {{{\n"
	hup(&edited, "takes its edited options; its measurements are kept")
	hup(&typo, "nothing was changed, the running configuration stays")
	hup(&garbage, "nothing was changed, the running configuration stays")
	hup(nil, "nothing was changed, the running configuration stays")
	hup(&base, "takes its edited options; its measurements are kept")
}

// refclockPeer is the snapshot entry of the reference clock named name (GPS_NMEA(0)), nil
// when there is none.
func refclockPeer(s *snapshot.Snapshot, name string) *snapshot.Peer {
	for i := range s.Peers {
		if s.Peers[i].Refclock == name {
			return &s.Peers[i]
		}
	}
	return nil
}

// TestReloadRefclock (issue 17): reference clock lines and fudge are applied by SIGHUP in a
// running daemon. An NMEA clock on a pseudo-terminal is reached; a reload adding its fudge
// (time2, stratum, refid) keeps the association (same ID, reach kept) and advertises the new
// stratum and refid at once, and later samples carry the new time2; a reload adding a LOCAL
// clock mobilises it; a reload removing the NMEA line demobilises its association and its
// driver closes the serial line; after each step the configuration equals a fresh start's.
func TestReloadRefclock(t *testing.T) {
	n := testnet.New(t)
	hA, hB := n.Host("reloaded"), n.Host("fresh")
	m, pts := openPTY(t)
	unix.SetNonblock(int(m.Fd()), true)
	nmeaFeeder(t, nil, m)
	base := fmt.Sprintf("disable ntp\nrefclock nmea unit 0 path %s minpoll 4 maxpoll 4\n", pts)
	a := startInProcess(t, hA, base)
	const name = "GPS_NMEA(0)"
	deadline := time.Now().Add(90 * time.Second)
	for {
		if p := refclockPeer(a.snap(), name); p != nil && p.Vars.Reach != 0 && p.Vars.Offset != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the NMEA clock was not reached within 90 s\n%s", a.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	before := *refclockPeer(a.snap(), name)
	pid := os.Getpid()
	if !holds(pid, pts) {
		t.Fatalf("the NMEA driver does not hold %s", pts)
	}
	fresh := func(t *testing.T, conf string) {
		t.Helper()
		b := startInProcess(t, hB, conf)
		want := b.state()
		b.stop()
		if diff := cmp.Diff(comparable(want), comparable(a.state()), addrCmp); diff != "" {
			t.Errorf("after SIGHUP the configuration differs from a fresh start (-fresh +reloaded):\n%s", diff)
		}
	}

	t.Run("fudge added", func(t *testing.T) {
		conf := base + "fudge 127.127.20.0 time2 0.25 stratum 3 refid XGPS\n"
		mark := len(a.logs.String())
		if !a.hup(t, conf) {
			t.Fatalf("refused:\n%s", a.logs.String()[mark:])
		}
		logs := a.logs.String()[mark:]
		if !strings.Contains(logs, "reload: reference clock GPS_NMEA(0) takes its edited line and fudge; its measurements are kept") ||
			strings.Contains(logs, "takes effect at the next restart") {
			t.Errorf("reload log:\n%s", logs)
		}
		p := refclockPeer(a.snap(), name)
		if p == nil || p.ID != before.ID || p.Vars.Reach == 0 {
			t.Fatalf("association after the reload %+v, want ID %d with its reach kept", p, before.ID)
		}
		if p.Vars.Stratum != 3 || p.Vars.RefID != 0x58475053 {
			t.Errorf("stratum %d refid %#x, want 3 and XGPS", p.Vars.Stratum, p.Vars.RefID)
		}
		// The next polls carry time2 (NMEA's serial time fudge): the offset moves by 250 ms.
		deadline := time.Now().Add(60 * time.Second)
		for {
			p := refclockPeer(a.snap(), name)
			if d := p.Vars.Offset - before.Vars.Offset; d > 0.2 && d < 0.3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("offset %.6f s after the reload, %.6f s before: time2 0.25 (the NMEA serial fudge) not applied", p.Vars.Offset, before.Vars.Offset)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !holds(pid, pts) {
			t.Errorf("the restarted NMEA driver does not hold %s", pts)
		}
		fresh(t, conf)
	})
	t.Run("LOCAL added", func(t *testing.T) {
		conf := base + "fudge 127.127.20.0 time2 0.25 stratum 3 refid XGPS\nserver 127.127.1.0\nfudge 127.127.1.0 stratum 10\n"
		if !a.hup(t, conf) {
			t.Fatalf("refused:\n%s", a.logs)
		}
		p := refclockPeer(a.snap(), "LOCAL(0)")
		if p == nil || p.Vars.Stratum != 10 {
			t.Fatalf("LOCAL(0) after the reload: %+v", p)
		}
		if q := refclockPeer(a.snap(), name); q == nil || q.ID != before.ID {
			t.Errorf("the NMEA association changed: %+v", q)
		}
		fresh(t, conf)
	})
	t.Run("NMEA removed", func(t *testing.T) {
		conf := "disable ntp\nserver 127.127.1.0\nfudge 127.127.1.0 stratum 10\n"
		if !a.hup(t, conf) {
			t.Fatalf("refused:\n%s", a.logs)
		}
		if p := refclockPeer(a.snap(), name); p != nil {
			t.Errorf("GPS_NMEA(0) still there: %+v", p)
		}
		deadline := time.Now().Add(10 * time.Second)
		for holds(pid, pts) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still open 10 s after its line was removed", pts)
			}
			time.Sleep(50 * time.Millisecond)
		}
		fresh(t, conf)
	})
}
