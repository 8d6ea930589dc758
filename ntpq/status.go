// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"fmt"
	"strings"
)

// Kinds of status word (compat.md 1.7): which decoding StatusString applies.
const (
	StatusSys = iota
	StatusPeer
	StatusClock
)

var (
	leapCodes = []string{"leap_none", "leap_add_sec", "leap_del_sec", "leap_alarm"}
	syncCodes = []string{"sync_unspec", "sync_pps", "sync_lf_radio", "sync_hf_radio",
		"sync_uhf_radio", "sync_local", "sync_ntp", "sync_other", "sync_wristwatch",
		"sync_telephone"}
	selectCodes = []string{"sel_reject", "sel_falsetick", "sel_excess", "sel_outlier",
		"sel_candidate", "sel_backup", "sel_sys.peer", "sel_pps.peer"}
	clockCodes = []string{"clk_unspec", "clk_no_reply", "clk_bad_format", "clk_fault",
		"clk_bad_signal", "clk_bad_date", "clk_bad_time"}
	sysEvents = []string{"unspecified", "freq_not_set", "freq_set", "spike_detect",
		"freq_mode", "clock_sync", "restart", "panic_stop", "no_sys_peer", "leap_armed",
		"leap_disarmed", "leap_event", "clock_step", "kern", "TAI", "stale_leapsecond_values"}
	peerEvents = []string{1: "mobilize", 2: "demobilize", 3: "unreachable", 4: "reachable",
		5: "restart", 6: "no_reply", 7: "rate_exceeded", 8: "access_denied", 9: "leap_armed",
		10: "sys_peer", 11: "clock_event", 12: "bad_auth", 13: "popcorn",
		14: "interleave_mode", 15: "interleave_error"}
	peerFlagNames = []struct {
		bit  uint8
		name string
	}{{0x80, "conf"}, {0x40, "authenb"}, {0x20, "auth"}, {0x10, "reach"}, {0x08, "bcast"}}
	// tally is the peers-table character for each select code (classic's flash3).
	tally = " x.-+#*o"
)

// code names c from table, or "<prefix>_<c>" when the table has no name for it (classic's
// getcode).
func code(table []string, c int, prefix string) string {
	if c < len(table) && table[c] != "" {
		return table[c]
	}
	return fmt.Sprintf("%s_%d", prefix, c)
}

func events(n int) string {
	switch n {
	case 0:
		return "no events"
	case 1:
		return "1 event"
	}
	return fmt.Sprintf("%d events", n)
}

// StatusString decodes a status word as classic ntpq's statustoa does, e.g.
// "leap_alarm, sync_ntp, 1 event, restart" (system), "conf, reach, sel_sys.peer, 1 event,
// sys_peer" (peer), "no events, clk_unspec" (clock).
func StatusString(kind int, st uint16) string {
	switch kind {
	case StatusSys:
		return fmt.Sprintf("%s, %s, %s, %s", code(leapCodes, int(st>>14), "leap"),
			code(syncCodes, int(st>>8)&0x3f, "sync"), events(int(st>>4)&0xf),
			code(sysEvents, int(st)&0xf, ""))
	case StatusPeer:
		pst := uint8(st >> 8)
		var flags []string
		for _, f := range peerFlagNames {
			if pst&f.bit != 0 {
				flags = append(flags, f.name)
			}
		}
		s := fmt.Sprintf("%s, %s, %s", strings.Join(flags, ", "),
			code(selectCodes, int(pst&7), "sel"), events(int(st>>4)&0xf))
		if ev := int(st) & 0xf; ev != 0 {
			s += ", " + code(peerEvents, ev, "")
		}
		return s
	default:
		return fmt.Sprintf("%s, %s", events(int(st>>4)&0xf), code(clockCodes, int(st)&0xf, "clk"))
	}
}

// flashNames are the peer flash bits (compat.md 2.4) in bit order.
var flashNames = []string{"pkt_dup", "pkt_bogus", "pkt_unsync", "pkt_denied", "pkt_auth",
	"pkt_stratum", "pkt_header", "pkt_autokey", "pkt_crypto", "peer_stratum", "peer_dist",
	"peer_loop", "peer_unreach"}

// flashString cooks a flash value as classic does: "00 ok" or "1600 peer_stratum, ...".
func flashString(v uint64) string {
	s := fmt.Sprintf("%02x ", v)
	if v == 0 {
		return s + "ok"
	}
	var names []string
	for i, n := range flashNames {
		if v&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return s + strings.Join(names, ", ")
}
