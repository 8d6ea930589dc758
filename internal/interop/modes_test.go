// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/daemon"
	"gontp/internal/snapshot"
	"gontp/internal/testnet"
	"gontp/internal/wire"
)

// TestSymmetricModesWithClassic is issue 19's symmetric acceptance against classic ntpd
// 4.2.8p15 in the private network. Classic takes its time from a chronyd (`local stratum
// 8`) and has `peer` lines for two gontp daemons (in process, each on its own virtual
// clock so that only the daemon's clock moves):
//
//   - "active" has `peer CLASSIC`: symmetric active both ways;
//   - "passive" has no line for classic and `disable auth`: classic's symmetric-active
//     packets mobilise a symmetric passive association (hmode 2, not configured), as they
//     do in classic with `disable auth`.
//
// Both gontp daemons must reach classic, select it and serve at stratum 10 with leap 0,
// and classic must list both with its reach register's last three bits lit.
func TestSymmetricModesWithClassic(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq", "chronyd")
	tn := testnet.New(t)
	chrony := tn.Host("chrony")
	classic := tn.Host("classic")
	active := tn.Host("active")
	passive := tn.Host("passive")
	testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
	testnet.ClassicNTPD(t, classic, fmt.Sprintf(
		"server %s iburst minpoll 3 maxpoll 3\npeer %s minpoll 3 maxpoll 3\npeer %s minpoll 3 maxpoll 3\n",
		chrony.Addr(), active.Addr(), passive.Addr()))
	virtual := daemon.ClockOptions{VirtualClock: "0,0"}
	snapA, _ := runGontpInProcessClock(t, active, fmt.Sprintf("peer %s minpoll 3 maxpoll 3\n", classic.Addr()), nil, virtual)
	snapP, logP := runGontpInProcessClock(t, passive, "disable auth\n", nil, virtual)

	synced := func(s *snapshot.Snapshot, wantMode uint8) (string, bool) {
		p, ok := findPeer(s, classic.Addr())
		switch {
		case !ok:
			return "no association for classic", false
		case p.Vars.HMode != wantMode || p.Vars.PMode == 0:
			return fmt.Sprintf("hmode %d pmode %d, want hmode %d", p.Vars.HMode, p.Vars.PMode, wantMode), false
		case p.Vars.Reach == 0 || s.SysPeer != p.ID:
			return fmt.Sprintf("reach %o, sys peer %d (classic is %d), flash %#x", p.Vars.Reach, s.SysPeer, p.ID, p.Vars.Flash), false
		case s.Sys.Stratum != 10 || s.Sys.Leap != wire.LeapNone:
			return fmt.Sprintf("stratum %d leap %d, want 10 and 0", s.Sys.Stratum, s.Sys.Leap), false
		}
		return "", true
	}
	classicSees := func() (string, bool) {
		rows := classicPeers(t, classic, ref)
		seen := map[string]uint64{}
		for _, r := range rows {
			seen[r.remote] = r.reach
		}
		// Three answers in a row: the exchange runs, not one stray packet.
		ok := seen[active.Addr().String()]&7 == 7 && seen[passive.Addr().String()]&7 == 7
		return fmt.Sprintf("%+v", rows), ok
	}

	deadline := time.Now().Add(4 * time.Minute)
	for {
		whyA, okA := synced(snapA(), wire.ModeSymActive)
		whyP, okP := synced(snapP(), wire.ModeSymPassive)
		rows, okC := classicSees()
		if okA && okP && okC {
			t.Logf("classic's peers: %s", rows)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 4 minutes: active gontp: %s; passive gontp: %s; classic's peers: %s", whyA, whyP, rows)
		}
		time.Sleep(2 * time.Second)
	}
	if p, _ := findPeer(snapP(), classic.Addr()); p.Vars.Configured {
		t.Errorf("the passive association is marked configured: %+v", p.Vars)
	}
	if p, _ := findPeer(snapA(), classic.Addr()); !p.Vars.Configured {
		t.Errorf("the peer line's association is not marked configured: %+v", p.Vars)
	}
	// Classic's ntpq shows the association type as classic's own would: `s` for the
	// peer line, `S` for the passive association.
	for _, tc := range []struct {
		h    *testnet.Host
		want string
	}{{active, "s"}, {passive, "S"}} {
		out, err := tc.h.Run(t, 10*time.Second, filepath.Join(ref, "classic-ntpq"), "-pn", "127.0.0.1")
		if err != nil {
			t.Fatalf("classic ntpq -pn on %s: %v\n%s", tc.h, err, out)
		}
		found := false
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 10 && strings.TrimLeft(f[0], " x.-+#*o") == classic.Addr().String() {
				found = true
				if f[3] != tc.want {
					t.Errorf("%s: ntpq type %q for classic, want %q:\n%s", tc.h, f[3], tc.want, out)
				}
			}
		}
		if !found {
			t.Errorf("%s: ntpq -pn lists no row for classic:\n%s", tc.h, out)
		}
	}
	if strings.Contains(logP.String(), "panic") {
		t.Errorf("passive gontp log mentions a panic:\n%s", logP)
	}
}

// classicSys returns classic's system stratum, refid and leap (ntpq rv).
func classicSys(t *testing.T, h *testnet.Host, ref string) (stratum int, refid string, leap int) {
	t.Helper()
	out, err := h.Run(t, 10*time.Second, filepath.Join(ref, "classic-ntpq"), "-c", "rv 0 stratum,refid,leap", "127.0.0.1")
	if err != nil {
		return -1, string(out), -1
	}
	for _, f := range strings.FieldsFunc(string(out), func(r rune) bool { return r == ',' || r == '\n' }) {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			continue
		}
		switch k {
		case "stratum":
			stratum, _ = strconv.Atoi(v)
		case "refid":
			refid = v
		case "leap":
			leap, _ = strconv.Atoi(v)
		}
	}
	return stratum, refid, leap
}

// TestOrphanMeshWithClassic is issue 19's orphan acceptance: two gontp daemons (in process,
// virtual clocks) and one classic ntpd 4.2.8p15, each with `tos orphan 10 orphanwait 10`
// and `peer` lines for the other two, and no server. Within 5 minutes all three must be
// synchronised, exactly one of them (the lowest address, classic's rule) at stratum 10
// with refid 127.0.0.1 and the others at 11 naming it. Gontp A also has a `server` line for
// a chronyd that is not running at first; once it starts (`local stratum 8`), the mesh
// must follow it: A at stratum 9, the other two at 10 (from A, or from chronyd through A).
//
// It runs twice: with gontp A at the lowest address (gontp is the parent, classic a
// child) and with classic there (classic is the parent of both gontp daemons).
func TestOrphanMeshWithClassic(t *testing.T) {
	t.Parallel() // minutes of waiting on its own networks: runs beside the others
	for _, classicFirst := range []bool{false, true} {
		name := "gontp-parent"
		if classicFirst {
			name = "classic-parent"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each run has its own network
			orphanMesh(t, classicFirst)
		})
	}
}

func orphanMesh(t *testing.T, classicFirst bool) {
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq", "chronyd")
	tn := testnet.New(t)
	var a, b, c *testnet.Host
	if classicFirst {
		c = tn.Host("classic")
	}
	a = tn.Host("gontp-a")
	b = tn.Host("gontp-b")
	if !classicFirst {
		c = tn.Host("classic")
	}
	chrony := tn.Host("chrony")
	const tos = "tos orphan 10 orphanwait 10\n"
	peers := func(hs ...*testnet.Host) string {
		var s string
		for _, h := range hs {
			s += fmt.Sprintf("peer %s minpoll 3 maxpoll 4\n", h.Addr())
		}
		return s
	}
	testnet.ClassicNTPD(t, c, tos+peers(a, b))
	virtual := daemon.ClockOptions{VirtualClock: "0,0"}
	snapA, _ := runGontpInProcessClock(t, a, tos+peers(b, c)+fmt.Sprintf("server %s iburst minpoll 3 maxpoll 4\n", chrony.Addr()), nil, virtual)
	snapB, _ := runGontpInProcessClock(t, b, tos+peers(a, c), nil, virtual)

	type node struct {
		name    string
		stratum int
		refid   string
		leap    int
	}
	state := func() []node {
		sa, sb := snapA(), snapB()
		cs, cr, cl := classicSys(t, c, ref)
		return []node{
			{"gontp-a", int(sa.Sys.Stratum), refidString(sa.Sys.RefID), int(sa.Sys.Leap)},
			{"gontp-b", int(sb.Sys.Stratum), refidString(sb.Sys.RefID), int(sb.Sys.Leap)},
			{"classic", cs, cr, cl},
		}
	}
	// Classic's rule: the lowest address is the orphan parent.
	low := a.Addr()
	for _, h := range []*testnet.Host{b, c} {
		if h.Addr().Less(low) {
			low = h.Addr()
		}
	}
	parent := low.String()
	wait := func(limit time.Duration, what string, ok func([]node) bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			n := state()
			if ok(n) {
				t.Logf("%s: %+v", what, n)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v: %+v", what, limit, n)
			}
			time.Sleep(3 * time.Second)
		}
	}
	wait(5*time.Minute, "orphan mesh", func(ns []node) bool {
		parents := 0
		for _, n := range ns {
			switch {
			case n.leap != 0:
				return false
			case n.stratum == 10 && n.refid == "127.0.0.1":
				parents++
			case n.stratum == 11 && n.refid == parent:
			default:
				return false
			}
		}
		return parents == 1
	})

	testnet.Chronyd(t, chrony, "local stratum 8\nallow\n")
	wait(5*time.Minute, "following chronyd", func(ns []node) bool {
		return ns[0].stratum == 9 && ns[0].refid == chrony.Addr().String() &&
			ns[1].stratum == 10 && ns[2].stratum == 10 && ns[1].leap == 0 && ns[2].leap == 0 &&
			ns[1].refid == a.Addr().String() && ns[2].refid == a.Addr().String()
	})
}

// refidString shows a refid as ntpq does for an address refid (dotted quad).
func refidString(r uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", r>>24, r>>16&0xff, r>>8&0xff, r&0xff)
}

// TestPassiveMobilisationMatchesClassic gives classic ntpd 4.2.8p15 and gontp the same
// `disable auth` and restrict lines and sends both the same symmetric-active packet from
// three sources: one with no restriction (a passive association is mobilised and sends its
// own mode-2 packets), one under `nopeer` (an immediate mode-2 answer, no association) and
// one under `noepeer` (nothing), and a packet claiming leap 0 at stratum 0 from a fourth
// (refused as out of range, nothing). Classic is the oracle for the replies and for which
// sources have an association (`ntpq -n -c lpeers`).
func TestPassiveMobilisationMatchesClassic(t *testing.T) {
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	restricts := "disable auth\nrestrict 198.18.0.61 nopeer\nrestrict 198.18.0.62 noepeer\n"
	cli, classic, gontp := restrictServers(t, restricts)
	addClientAddrs(t, cli, 60, 61, 62, 63)
	assocs := func(server netip.Addr) string {
		// lpeers: `peers` hides associations neither configured nor reachable yet.
		out, err := cli.Run(t, 10*time.Second, filepath.Join(ref, "classic-ntpq"), "-n", "-c", "lpeers", server.String())
		if err != nil {
			t.Fatalf("classic ntpq -n -c lpeers %s: %v\n%s", server, err, out)
		}
		var got []string
		for _, n := range []int{60, 61, 62, 63} {
			if strings.Contains(string(out), fmt.Sprintf("198.18.0.%d ", n)) {
				got = append(got, strconv.Itoa(n))
			}
		}
		return strings.Join(got, ",")
	}
	// A synchronised stratum-2 peer's packet, whose transmit timestamp run sets; from .63
	// the same with stratum 0, which classic counts as 16, out of range: no association.
	active := pkt(4, 1, 0)
	active[1] = 2
	for _, n := range []int{60, 61, 62, 63} {
		p := newProbe(t, cli, netip.MustParseAddrPort(fmt.Sprintf("198.18.0.%d:123", n)), classic, gontp)
		req := active
		if n == 63 {
			req = pkt(4, 1, 0)
		}
		got := p.run(t, [][]byte{req}, 0, 4*time.Second)
		if got[classic] != got[gontp] {
			t.Errorf("source .%d: classic %q, gontp %q", n, got[classic], got[gontp])
		}
		t.Logf("source .%d: classic %q, gontp %q", n, got[classic], got[gontp])
	}
	ca, ga := assocs(classic), assocs(gontp)
	t.Logf("sources with an association: classic [%s], gontp [%s]", ca, ga)
	if ca != ga || ca != "60" {
		t.Errorf("sources with an association: classic [%s], gontp [%s], want [60] in both", ca, ga)
	}
}
