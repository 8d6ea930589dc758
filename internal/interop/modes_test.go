// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
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
	if strings.Contains(logP.String(), "panic") {
		t.Errorf("passive gontp log mentions a panic:\n%s", logP)
	}
}
