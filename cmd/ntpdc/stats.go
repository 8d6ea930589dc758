// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// The read-only commands of classic ntpdc 4.2.8p15 beyond the peer list and the system
// variables (ntpdc_ops.c): per-peer counters (pstats), the mode-6 counters (ctlstats), the
// key store's counters (authinfo), the restriction list (reslist) and the monitor list
// (monlist, which classic ntpd 4.2.8p15 itself no longer serves: it answers "data not
// found"). Each prints what classic prints.

// peerItems is the request data of showpeer and pstats: up to four info_peer_list items (32
// octets, 8 for a pre-IPv6 server), address, port 123 and the IPv6 flag.
func (c *client) peerItems(cmd string, args []string) ([]byte, int, bool) {
	// "-4" or "-6" first only chooses how names are resolved (classic's ntpdc).
	if len(args) > 0 && (args[0] == "-4" || args[0] == "-6") {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintf(c.stderr, "usage: %s [ -4|-6 ] peer_address [ peer2_addr ] [ peer3_addr ] [ peer4_addr ]\n", cmd)
		return nil, 0, false
	}
	size := 32
	if c.s.impl == implXntpdOld {
		size = 8
	}
	var data []byte
	n := 0
	for _, a := range args[:min(len(args), 4)] {
		addr, err := c.resolve(a)
		if err != nil {
			fmt.Fprintf(c.stderr, "***Can't find host %s\n", a)
			return nil, 0, false
		}
		it := make([]byte, size)
		if addr.Is4() {
			a4 := addr.As4()
			copy(it, a4[:])
		} else {
			if size == 8 {
				fmt.Fprintln(c.stderr, "***Server doesn't understand IPv6 addresses")
				return nil, 0, false
			}
			a16 := addr.As16()
			copy(it[16:], a16[:])
			binary.LittleEndian.PutUint32(it[8:], 1)
		}
		binary.BigEndian.PutUint16(it[4:], 123)
		data = append(data, it...)
		n++
	}
	return data, n, true
}

// pstats prints info_peer_stats (120 octets, 80 without the IPv6 part) as classic's
// peerstats, including its quirk: the blank line between two peers comes before the second
// to last peer's "flags:" line.
func (c *client) pstats(args []string, w io.Writer) {
	data, n, ok := c.peerItems("pstats", args)
	if !ok {
		return
	}
	size := len(data) / n
	r, res := c.s.query(reqPeerStats, n, size, data)
	if res != 0 || !checkitems(r, w) || !c.eitherSize(r.itemSize, 120, 80) {
		return
	}
	for i, p := range r.items {
		v6 := len(p) >= 120 && binary.LittleEndian.Uint32(p[80:84]) != 0
		var d6, s6 []byte
		if len(p) >= 120 {
			d6, s6 = p[88:104], p[104:120]
		}
		dst, src := address(v6, p[0:4], d6), address(v6, p[4:8], s6)
		fmt.Fprintf(w, "remote host:          %s\n", c.nntohost(src))
		fmt.Fprintf(w, "local interface:      %s\n", dst)
		fmt.Fprintf(w, "time last received:   %ds\n", be32(p[16:]))
		fmt.Fprintf(w, "time until next send: %ds\n", be32(p[20:]))
		fmt.Fprintf(w, "reachability change:  %ds\n", be32(p[24:]))
		fmt.Fprintf(w, "packets sent:         %d\n", be32(p[28:]))
		fmt.Fprintf(w, "packets received:     %d\n", be32(p[36:]))
		fmt.Fprintf(w, "bad authentication:   %d\n", be32(p[44:]))
		fmt.Fprintf(w, "bogus origin:         %d\n", be32(p[48:]))
		fmt.Fprintf(w, "duplicate:            %d\n", be32(p[52:]))
		fmt.Fprintf(w, "bad dispersion:       %d\n", be32(p[64:]))
		fmt.Fprintf(w, "bad reference time:   %d\n", be32(p[68:]))
		fmt.Fprintf(w, "candidate order:      %d\n", p[76])
		if i < len(r.items)-1 {
			fmt.Fprint(w, "\n")
		}
		fmt.Fprint(w, "flags:\t")
		printPflag(w, binary.BigEndian.Uint16(p[10:]))
	}
}

// ctlstats prints info_control (15 counters of the mode-6 module) in classic's order.
func (c *client) ctlstats(_ []string, w io.Writer) {
	r, res := c.s.query(reqGetCtlStats, 0, 0, nil)
	if res != 0 || !check1item(r, w) || !c.checkitemsize(r.itemSize, 60) {
		return
	}
	ic := r.items[0]
	for _, l := range []struct {
		label string
		off   int
	}{{"time since reset:       ", 0}, {"requests received:      ", 4}, {"responses sent:         ", 12},
		{"fragments sent:         ", 16}, {"async messages sent:    ", 56}, {"error msgs sent:        ", 20},
		{"total bad pkts:         ", 8}, {"packet too short:       ", 24}, {"response on input:      ", 28},
		{"fragment on input:      ", 32}, {"error set on input:     ", 36}, {"bad offset on input:    ", 40},
		{"bad version packets:    ", 44}, {"data in pkt too short:  ", 48}, {"unknown op codes:       ", 52}} {
		fmt.Fprintf(w, "%s%d\n", l.label, be32(ic[l.off:]))
	}
}

// authinfo prints info_auth (nine counters of the key store) in classic's order.
func (c *client) authinfo(_ []string, w io.Writer) {
	r, res := c.s.query(reqAuthInfo, 0, 0, nil)
	if res != 0 || !check1item(r, w) || !c.checkitemsize(r.itemSize, 36) {
		return
	}
	ia := r.items[0]
	for _, l := range []struct {
		label string
		off   int
	}{{"time since reset:     ", 0}, {"stored keys:          ", 4}, {"free keys:            ", 8},
		{"key lookups:          ", 12}, {"keys not found:       ", 16}, {"uncached keys:        ", 32},
		{"encryptions:          ", 20}, {"decryptions:          ", 24}, {"expired keys:         ", 28}} {
		fmt.Fprintf(w, "%s%d\n", l.label, be32(ia[l.off:]))
	}
}

type flagName struct {
	bit  uint16
	name string
}

// The restriction flags as classic ntpdc names them: the match flags first, then the
// access flags (ntp.h of 4.2.8p15 for the implementation-3 values, the old table for
// implementation 2).
var (
	resMatchFlags = []flagName{{0x2000, "ntpport"}, {0x1000, "interface"}, {0x4000, "source"}}
	resFlagsV3    = []flagName{{0x0001, "ignore"}, {0x0002, "noserve"}, {0x0004, "notrust"}, {0x0080, "noquery"},
		{0x0100, "nomodify"}, {0x0010, "nopeer"}, {0x0200, "notrap"}, {0x0400, "lptrap"}, {0x0040, "limited"},
		{0x0008, "version"}, {0x0800, "kod"}, {0x2000, "flake"}}
	resFlagsV2 = []flagName{{0x001, "ignore"}, {0x002, "noserve"}, {0x004, "notrust"}, {0x008, "noquery"},
		{0x010, "nomodify"}, {0x020, "nopeer"}, {0x040, "notrap"}, {0x080, "lptrap"}, {0x100, "limited"}}
)

// reslist prints info_restrict entries (56 octets, 16 without the IPv6 part); "reslist 4"
// and "reslist 6" keep one family.
func (c *client) reslist(args []string, w io.Writer) {
	if !c.familyArg(args) {
		return
	}
	r, res := c.s.query(reqGetRestrict, 0, 0, nil)
	if res != 0 || !checkitems(r, w) || !c.eitherSize(r.itemSize, 56, 16) {
		return
	}
	fmt.Fprint(w, "   address          mask            count        flags\n")
	fmt.Fprint(w, "=====================================================================\n")
	for _, it := range r.items {
		v6 := len(it) >= 56 && binary.LittleEndian.Uint32(it[16:20]) != 0
		var a6, m6 []byte
		if len(it) >= 56 {
			a6, m6 = it[24:40], it[40:56]
		}
		addr, mask := address(v6, it[0:4], a6), address(v6, it[4:8], m6)
		name := addr.String()
		if v6 || be32(it[4:]) == 0xffffffff {
			name = c.nntohost(addr)
		}
		var flags []string
		rflags, mflags := binary.BigEndian.Uint16(it[12:]), binary.BigEndian.Uint16(it[14:])
		for _, f := range resMatchFlags {
			if mflags&f.bit != 0 {
				flags = append(flags, f.name)
			}
		}
		table := resFlagsV3
		if c.s.impl == implXntpdOld {
			table = resFlagsV2
		}
		for _, f := range table {
			if rflags&f.bit != 0 {
				flags = append(flags, f.name)
			}
		}
		if len(flags) == 0 {
			flags = []string{"none"}
		}
		if familyWanted(args, v6) {
			fmt.Fprintf(w, "%-15.15s %-15.15s %9d  %s\n", name, mask.String(), be32(it[8:]), strings.Join(flags, ", "))
		}
	}
}

// monlist asks for the monitor list as classic's ntpdc: REQ_MON_GETLIST_1 first and, when
// the server does not know it, REQ_MON_GETLIST. Classic ntpd 4.2.8p15 answers both with
// "data not found" (the list was the traffic amplifier of CVE-2013-5211) and gontp's ntpd
// refuses them; older servers' lists are printed in classic's two layouts.
func (c *client) monlist(args []string, w io.Writer) {
	version := -1
	if len(args) > 0 {
		if _, err := fmt.Sscan(args[0], &version); err != nil {
			fmt.Fprintf(c.stderr, "***'%s' is not a number\n", args[0])
			return
		}
	}
	code := byte(reqMonGetList)
	quiet := 0
	if version == 1 || version == -1 {
		code = reqMonGetList1
	}
	if version < 0 {
		quiet = 1 << errReq
	}
	r, res := c.s.queryQuiet(code, 0, 0, nil, quiet)
	if res == errReq && version < 0 {
		r, res = c.s.query(reqMonGetList, 0, 0, nil)
	}
	if res != 0 || !checkitems(r, w) {
		return
	}
	wanted := func(v6 bool) bool {
		return version < 0 || (version == 6 && v6) || (version == 4 && !v6)
	}
	switch r.itemSize {
	case 72, 32: // info_monitor_1
		fmt.Fprint(w, "remote address          port local address      count m ver rstr avgint  lstint\n")
		fmt.Fprint(w, "===============================================================================\n")
		for _, m := range r.items {
			v6 := len(m) >= 72 && binary.LittleEndian.Uint32(m[32:36]) != 0
			var a6, d6 []byte
			if len(m) >= 72 {
				a6, d6 = m[40:56], m[56:72]
			}
			if len(args) == 0 || wanted(v6) {
				fmt.Fprintf(w, "%-22.22s %5d %-15s %8d %1d %1d %6x %6d %7d\n", c.nntohost(address(v6, m[16:20], a6)),
					binary.BigEndian.Uint16(m[28:]), address(v6, m[20:24], d6), be32(m[12:]), m[30], m[31],
					be32(m[8:]), be32(m[0:]), be32(m[4:]))
			}
		}
	case 48, 24: // info_monitor
		fmt.Fprint(w, "     address               port     count mode ver rstr avgint  lstint\n")
		fmt.Fprint(w, "===============================================================================\n")
		for _, m := range r.items {
			v6 := len(m) >= 48 && binary.LittleEndian.Uint32(m[24:28]) != 0
			var a6 []byte
			if len(m) >= 48 {
				a6 = m[32:48]
			}
			if len(args) == 0 || wanted(v6) {
				fmt.Fprintf(w, "%-25.25s %5d %9d %4d %2d %9x %9d %9d\n", c.nntohost(address(v6, m[16:20], a6)),
					binary.BigEndian.Uint16(m[20:]), be32(m[12:]), m[22], m[23], be32(m[8:]), be32(m[0:]), be32(m[4:]))
			}
		}
	default:
		c.checkitemsize(r.itemSize, 48)
	}
}
