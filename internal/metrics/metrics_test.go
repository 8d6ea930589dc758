// SPDX-License-Identifier: BSD-2-Clause

package metrics

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"gontp/internal/control"
	"gontp/internal/filegen"
	"gontp/internal/ntptime"
	"gontp/internal/server"
	"gontp/internal/snapshot"
	"gontp/internal/stats"
	"gontp/peer"
	"gontp/system"
)

func fixture() Sources {
	s := &snapshot.Snapshot{SysPeer: 7, Offset: -0.000012, Jitter: 0.00002, Frequency: 12.5,
		ClkJitter: 1e-6, ClkWander: 0.01, ClockState: 5}
	s.Sys.Leap, s.Sys.Stratum, s.Sys.Poll, s.Sys.Precision = 0, 3, 6, -20
	s.Sys.RefID, s.Sys.RootDelay, s.Sys.RootDisp = 0xc6120002, 0.002, 0.003
	s.Peers = []snapshot.Peer{{ID: 7, Vars: peer.Vars{Addr: netip.MustParseAddrPort("198.18.0.2:123"),
		Stratum: 2, RefID: 0x47505300, Reach: 0o377, HPoll: 6, HMode: 3, Offset: -0.000012, Delay: 0.0003,
		Jitter: 0.00001, Disp: 0.001, Sent: 10, Received: 9, Selection: system.SelSysPeer}}}
	return Sources{
		Snapshot: func() *snapshot.Snapshot { return s },
		Now:      func() ntptime.Time { return 0 },
		ServerStats: func(ntptime.Time) server.Stats {
			return server.Stats{Received: 100, Replies: 90, Limited: 3, KoDSent: 1}
		},
		MRUEntries: func() int { return 42 },
		Control:    func() control.Stats { return control.Stats{Requests: 5, Responses: 5} },
		Stats:      func(stats.Kind) filegen.Counts { return filegen.Counts{Written: 1} },
		Version:    "gontp-test",
	}
}

// TestCollectorValues: the metrics carry the snapshot's values in base units, and promlint
// (the linter of promtool check metrics) finds nothing.
func TestCollectorValues(t *testing.T) {
	c := NewCollector(fixture())
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	want := `
# HELP ntp_system_frequency_ratio Frequency correction of the clock as a ratio (ntpq rv frequency is this times 1e6, in ppm).
# TYPE ntp_system_frequency_ratio gauge
ntp_system_frequency_ratio 1.25e-05
# HELP ntp_peer_reach Reach register of the association (0-255, octal in ntpq).
# TYPE ntp_peer_reach gauge
ntp_peer_reach{address="198.18.0.2",assoc_id="7"} 255
# HELP ntp_system_sync_source_info The system peer and reference ID; the value is 1 (no series while there is none).
# TYPE ntp_system_sync_source_info gauge
ntp_system_sync_source_info{address="198.18.0.2",assoc_id="7",refid="198.18.0.2"} 1
# HELP ntp_server_mru_entries Entries in the MRU list (ntpq monstats addresses).
# TYPE ntp_server_mru_entries gauge
ntp_server_mru_entries 42
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ntp_system_frequency_ratio", "ntp_peer_reach",
		"ntp_system_sync_source_info", "ntp_server_mru_entries"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "ntp_peer_info"); n != 1 {
		t.Errorf("ntp_peer_info: %d series", n)
	}
}

// TestKernelPPSMetrics: a PPS clock with fudge flag3 shows whether the kernel's PPS
// discipline is bound and how often the kernel refused it; other clocks show neither.
func TestKernelPPSMetrics(t *testing.T) {
	src := fixture()
	s := src.Snapshot()
	pps := snapshot.Peer{ID: 8, Refclock: "PPS(0)", Vars: peer.Vars{Addr: netip.MustParseAddrPort("127.127.22.0:123")},
		Clock: &snapshot.ClockVars{Type: 22, Flags: 4, KernelPPSRefused: 2}}
	shm := snapshot.Peer{ID: 9, Refclock: "SHM(0)", Vars: peer.Vars{Addr: netip.MustParseAddrPort("127.127.28.0:123")},
		Clock: &snapshot.ClockVars{Type: 28, Flags: 4}}
	s.Peers = append(s.Peers, pps, shm)
	c := NewCollector(src)
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	want := `
# HELP ntp_refclock_kernel_pps_bound 1 while a PPS clock with fudge flag3 has the kernel's PPS discipline bound to its pulses (PPS_KC_BIND).
# TYPE ntp_refclock_kernel_pps_bound gauge
ntp_refclock_kernel_pps_bound{address="127.127.22.0",assoc_id="8"} 0
# HELP ntp_refclock_kernel_pps_refused_total Times the kernel refused a PPS clock's fudge flag3 bind (a kernel without CONFIG_NTP_PPS: EOPNOTSUPP).
# TYPE ntp_refclock_kernel_pps_refused_total counter
ntp_refclock_kernel_pps_refused_total{address="127.127.22.0",assoc_id="8"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ntp_refclock_kernel_pps_bound", "ntp_refclock_kernel_pps_refused_total"); err != nil {
		t.Error(err)
	}
}
