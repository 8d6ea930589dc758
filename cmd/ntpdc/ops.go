// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"gontp/internal/ntptime"
)

// The read-only commands of classic ntpdc 4.2.8p15 (ntpdc_ops.c) gontp's ntpdc has, each
// printing what classic prints.
var ops = map[string]func(c *client, args []string, out io.Writer){
	"listpeers":  (*client).listpeers,
	"peers":      func(c *client, a []string, w io.Writer) { c.dopeers(a, w, false) },
	"dmpeers":    func(c *client, a []string, w io.Writer) { c.dopeers(a, w, true) },
	"showpeer":   (*client).showpeer,
	"sysinfo":    (*client).sysinfo,
	"sysstats":   (*client).sysstats,
	"kerninfo":   (*client).kerninfo,
	"loopinfo":   (*client).loopinfo,
	"iostats":    (*client).iostats,
	"memstats":   (*client).memstats,
	"timerstats": (*client).timerstats,
	"pstats":     (*client).pstats,
	"ctlstats":   (*client).ctlstats,
	"authinfo":   (*client).authinfo,
	"reslist":    (*client).reslist,
	"monlist":    (*client).monlist,
	"clockstat":  (*client).clockstat,
	"ifstats":    (*client).ifstats,
	"ifreload":   (*client).ifreload,
	"keyid":      (*client).keyidCmd,
	"keytype":    (*client).keytypeCmd,
	"passwd":     (*client).passwdCmd,
}

// classicOnly are classic ntpdc's other commands: gontp's ntpdc names them and refuses them
// (the write commands need classic's request key, and monlist is the amplifier classic
// itself turned off).
var classicOnly = []string{"addpeer", "addrefclock", "addserver", "addtrap", "broadcast",
	"clkbug", "clrtrap", "controlkey", "delrestrict", "disable", "enable",
	"fudge", "preset", "readkeys", "requestkey", "reset",
	"restrict", "traps", "trustedkey", "unconfig", "unrestrict", "untrustedkey"}

// Fixed-point printing as libntp's lfptoa, fptoa and ufptoa (ntptime.FormatFixed).
func lfptoa(b []byte, ndec int) string {
	return ntptime.FormatFixed(int64(binary.BigEndian.Uint64(b)), ndec, true)
}
func fptoa(v uint32, ndec int) string  { return ntptime.FormatFixed(int64(int32(v))<<16, ndec, false) }
func ufptoa(v uint32, ndec int) string { return ntptime.FormatFixed(int64(v)<<16, ndec, false) }
func be32(b []byte) uint32             { return binary.BigEndian.Uint32(b) }

var modeNames = []string{"unspec", "sym_active", "sym_passive", "client", "server", "broadcast", "control", "private", "bclient"}

// modetoa is libntp's modetoa.
func modetoa(m byte) string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode#%d", m)
}

// address is classic's SET_ADDR: the v6 address when the flag says so, else the v4 one.
func address(v6flag bool, v4 []byte, v6 []byte) netip.Addr {
	if v6flag && v6 != nil {
		return netip.AddrFrom16([16]byte(v6))
	}
	return netip.AddrFrom4([4]byte(v4))
}

// nntohost is ntpdc's: the address's name unless -n, else the address.
func (c *client) nntohost(a netip.Addr) string {
	if !c.numeric {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if names, err := net.DefaultResolver.LookupAddr(ctx, a.String()); err == nil && len(names) > 0 {
			return strings.TrimSuffix(names[0], ".")
		}
	}
	return a.String()
}

// refidString is ntpdc's refid_string: the four characters at stratum 0 and 1, else the
// dotted quad.
func refidString(refid []byte, stratum byte) string {
	if stratum <= 1 {
		return strings.TrimRight(string(refid), "\x00")
	}
	return netip.AddrFrom4([4]byte(refid)).String()
}

func prettydate(b []byte) string {
	return ntptime.PrettyDate(ntptime.Time(binary.BigEndian.Uint64(b)), time.Now(), time.Local)
}

// checkitems, checkitemsize and check1item are ntpdc's.
func checkitems(r *response, w io.Writer) bool {
	if len(r.items) == 0 {
		fmt.Fprintln(w, "No data returned in response to query")
		return false
	}
	return true
}

func (c *client) checkitemsize(size, expected int) bool {
	if size != expected {
		fmt.Fprintf(c.stderr, "***Incorrect item size returned by remote host (%d should be %d)\n", size, expected)
		return false
	}
	return true
}

func check1item(r *response, w io.Writer) bool {
	switch {
	case len(r.items) == 0:
		fmt.Fprintln(w, "No data returned in response to query")
		return false
	case len(r.items) > 1:
		fmt.Fprintf(w, "Expected one item in response, got %d\n", len(r.items))
		return false
	}
	return true
}

// eitherSize accepts the full or the IPv4-only item size, warning about the first as
// ntpdc's pair of checkitemsize calls does.
func (c *client) eitherSize(size, full, v4 int) bool {
	if size == full {
		return true
	}
	if size == v4 {
		fmt.Fprintf(c.stderr, "***Incorrect item size returned by remote host (%d should be %d)\n", size, full)
		return true
	}
	c.checkitemsize(size, full)
	c.checkitemsize(size, v4)
	return false
}

// familyWanted is classic's IP_VERSION argument of peers, dmpeers, listpeers and reslist:
// "-4" or "-6" keeps one address family.
func familyWanted(args []string, v6 bool) bool {
	if len(args) == 0 {
		return true
	}
	return (args[0] == "-6" && v6) || (args[0] == "-4" && !v6)
}

// familyArg checks that argument: anything but -4 or -6 is refused with classic's words
// before a request is sent.
func (c *client) familyArg(args []string) bool {
	if len(args) > 0 && args[0] != "-4" && args[0] != "-6" {
		fmt.Fprintln(c.stderr, "***Version must be either 4 or 6")
		return false
	}
	return true
}

func (c *client) listpeers(args []string, w io.Writer) {
	if !c.familyArg(args) {
		return
	}
	r, res := c.s.query(reqPeerList, 0, 0, nil)
	if res != 0 || !checkitems(r, w) || !c.eitherSize(r.itemSize, 32, 8) {
		return
	}
	for _, it := range r.items {
		v6 := len(it) >= 32 && binary.LittleEndian.Uint32(it[8:12]) != 0
		var a6 []byte
		if len(it) >= 32 {
			a6 = it[16:32]
		}
		a := address(v6, it[0:4], a6)
		if !familyWanted(args, v6) {
			continue
		}
		host, addr := c.nntohost(a), a.String()
		fmt.Fprintf(w, "%-12s %s", modetoa(it[6]), host)
		if host != addr {
			fmt.Fprintf(w, " (%s)\n", addr)
		} else {
			fmt.Fprint(w, "\n")
		}
	}
}

func (c *client) dopeers(args []string, w io.Writer, dm bool) {
	if !c.familyArg(args) {
		return
	}
	r, res := c.s.query(reqPeerListSum, 0, 0, nil)
	if res != 0 || !checkitems(r, w) || !c.eitherSize(r.itemSize, 72, 32) {
		return
	}
	fmt.Fprint(w, "     remote           local      st poll reach  delay   offset    disp\n")
	fmt.Fprint(w, "=======================================================================\n")
	for _, it := range r.items {
		flags, hmode := it[14], it[15]
		ch := ' '
		if !dm {
			switch {
			case flags&0x2 != 0:
				ch = '*'
			case hmode == 1:
				ch = '+'
			case hmode == 2:
				ch = '-'
			case hmode == 3:
				ch = '='
			case hmode == 5:
				ch = '^'
			case hmode == 6:
				ch = '~'
			}
		} else {
			switch {
			case flags&0x2 != 0:
				ch = '*'
			case flags&0x80 != 0:
				ch = '+'
			case flags&0x40 != 0:
				ch = '.'
			}
		}
		hpoll, ppoll := int(int8(it[11])), int(int8(it[12]))
		poll := 1 << max(min(ppoll, hpoll, 17), 3)
		v6 := len(it) >= 72 && binary.LittleEndian.Uint32(it[32:36]) != 0
		var d6, s6 []byte
		if len(it) >= 72 {
			d6, s6 = it[40:56], it[56:72]
		}
		dst, src := address(v6, it[0:4], d6), address(v6, it[4:8], s6)
		if !familyWanted(args, v6) {
			continue
		}
		fmt.Fprintf(w, "%c%-15.15s %-15.15s %2d %4d  %3o %7.7s %9.9s %7.7s\n", ch, c.nntohost(src), dst.String(),
			it[10], poll, it[13], fptoa(be32(it[16:]), 5), lfptoa(it[20:28], 6), ufptoa(be32(it[28:]), 5))
	}
}

func printPflag(w io.Writer, flags uint16) {
	if flags == 0 {
		fmt.Fprint(w, " none\n")
		return
	}
	dlim := ""
	for _, f := range []struct {
		bit  uint16
		name string
	}{{0x2, "system_peer"}, {0x1, "config"}, {0x8, "refclock"}, {0x20, "auth"}, {0x10, "prefer"},
		{0x100, "iburst"}, {0x4, "burst"}, {0x40, "candidate"}, {0x80, "shortlist"}} {
		if flags&f.bit != 0 {
			fmt.Fprintf(w, "%s %s", dlim, f.name)
			dlim = ","
		}
	}
	fmt.Fprint(w, "\n")
}

func (c *client) showpeer(args []string, w io.Writer) {
	data, n, ok := c.peerItems("showpeer", args)
	if !ok {
		return
	}
	size := len(data) / n
	r, res := c.s.query(reqPeerInfo, n, size, data)
	if res != 0 || !checkitems(r, w) || !c.eitherSize(r.itemSize, 280, 240) {
		return
	}
	for i, it := range r.items {
		c.printpeer(it, w)
		if i < len(r.items)-1 {
			fmt.Fprint(w, "\n")
		}
	}
}

func (c *client) printpeer(p []byte, w io.Writer) {
	v6 := len(p) >= 280 && binary.LittleEndian.Uint32(p[240:244]) != 0
	var d6, s6 []byte
	if len(p) >= 280 {
		d6, s6 = p[248:264], p[264:280]
	}
	dst, src := address(v6, p[0:4], d6), address(v6, p[4:8], s6)
	fmt.Fprintf(w, "remote %s, local %s\n", src, dst)
	fmt.Fprintf(w, "hmode %s, pmode %s, stratum %d, precision %d\n", modetoa(p[12]), modetoa(p[13]), p[14], int8(p[17]))
	leap := p[11]
	fmt.Fprintf(w, "leap %c%c, refid [%s], rootdistance %s, rootdispersion %s\n", bit(leap&2), bit(leap&1),
		refidString(p[36:40], refclockStratum(p[10], p[14])), fptoa(be32(p[44:]), 5), ufptoa(be32(p[48:]), 5))
	fmt.Fprintf(w, "ppoll %d, hpoll %d, keyid %d, version %d, association %d\n", p[15], p[16],
		binary.LittleEndian.Uint32(p[28:]), p[18], binary.BigEndian.Uint16(p[26:]))
	fmt.Fprintf(w, "reach %03o, unreach %d, flash 0x%04x, ", p[20], p[21], binary.LittleEndian.Uint16(p[24:]))
	fmt.Fprintf(w, "boffset %s, ttl/mode %d\n", fptoa(be32(p[236:]), 5), p[23])
	fmt.Fprintf(w, "timer %ds, flags", int32(be32(p[40:])))
	printPflag(w, uint16(p[10]))
	fmt.Fprintf(w, "reference time:      %s\n", prettydate(p[52:60]))
	fmt.Fprintf(w, "originate timestamp: %s\n", prettydate(p[60:68]))
	fmt.Fprintf(w, "receive timestamp:   %s\n", prettydate(p[68:76]))
	fmt.Fprintf(w, "transmit timestamp:  %s\n", prettydate(p[76:84]))
	row := func(label string, cell func(i int) string) {
		fmt.Fprint(w, label)
		for i := 0; i < 8; i++ {
			fmt.Fprintf(w, " %-8.8s", cell(i))
			if i == 3 {
				fmt.Fprint(w, "\n              ")
			}
		}
		fmt.Fprint(w, "\n")
	}
	row("filter delay: ", func(i int) string { return fptoa(be32(p[84+4*i:]), 5) })
	row("filter offset:", func(i int) string { return lfptoa(p[116+8*i:124+8*i], 6) })
	row("filter order: ", func(i int) string { return fmt.Sprint(p[180+i]) })
	fmt.Fprintf(w, "offset %s, delay %s, error bound %s, filter error %s\n", lfptoa(p[196:204], 6),
		fptoa(be32(p[188:]), 5), ufptoa(be32(p[192:]), 5), ufptoa(be32(p[204:]), 5))
}

// refclockStratum is the stratum printpeer reads the refid with: 0 for a reference clock
// (INFO_FLAG_REFCLOCK), whose refid is its four-letter name whatever its fudged stratum.
func refclockStratum(flags, stratum byte) byte {
	if flags&0x8 != 0 {
		return 0
	}
	return stratum
}

func bit(b byte) byte {
	if b != 0 {
		return '1'
	}
	return '0'
}

func (c *client) sysinfo(_ []string, w io.Writer) {
	r, res := c.s.query(reqSysInfo, 0, 0, nil)
	if res != 0 || !check1item(r, w) || !c.eitherSize(r.itemSize, 80, 56) {
		return
	}
	is := r.items[0]
	v6 := len(is) >= 80 && binary.LittleEndian.Uint32(is[56:60]) != 0
	var p6 []byte
	if len(is) >= 80 {
		p6 = is[64:80]
	}
	fmt.Fprintf(w, "system peer:          %s\n", c.nntohost(address(v6, is[0:4], p6)))
	fmt.Fprintf(w, "system peer mode:     %s\n", modetoa(is[4]))
	fmt.Fprintf(w, "leap indicator:       %c%c\n", bit(is[5]&2), bit(is[5]&1))
	fmt.Fprintf(w, "stratum:              %d\n", is[6])
	fmt.Fprintf(w, "precision:            %d\n", int8(is[7]))
	fmt.Fprintf(w, "root distance:        %s s\n", fptoa(be32(is[8:]), 5))
	fmt.Fprintf(w, "root dispersion:      %s s\n", ufptoa(be32(is[12:]), 5))
	fmt.Fprintf(w, "reference ID:         [%s]\n", refidString(is[16:20], is[6]))
	fmt.Fprintf(w, "reference time:       %s\n", prettydate(is[20:28]))
	fmt.Fprint(w, "system flags:         ")
	f := is[32]
	if f&(0x1|0x20|0x4|0x8|0x10|0x20|0x40|0x80) == 0 {
		fmt.Fprint(w, "none\n")
	} else {
		for _, x := range []struct {
			bit  byte
			name string
		}{{0x1, "bclient"}, {0x2, "auth"}, {0x40, "monitor"}, {0x4, "ntp"}, {0x8, "kernel"}, {0x80, "stats"}, {0x10, "calibrate"}, {0x20, "pps"}} {
			if f&x.bit != 0 {
				fmt.Fprint(w, x.name+" ")
			}
		}
		fmt.Fprint(w, "\n")
	}
	fmt.Fprintf(w, "jitter:               %s s\n", fptoa(be32(is[40:]), 6))
	fmt.Fprintf(w, "stability:            %s ppm\n", ufptoa(be32(is[52:]), 3))
	fmt.Fprintf(w, "broadcastdelay:       %s s\n", fptoa(be32(is[36:]), 6))
	fmt.Fprintf(w, "authdelay:            %s s\n", lfptoa(is[44:52], 6))
}

func (c *client) sysstats(_ []string, w io.Writer) {
	r, res := c.s.query(reqSysStats, 0, 0, nil)
	if res != 0 || !check1item(r, w) {
		return
	}
	// 52 octets from 4.2.8p15 servers (two counters more, which classic's ntpdc does not
	// print), 44 from older ones, 40 from the oldest.
	if r.itemSize != 52 && r.itemSize != 44 && r.itemSize != 40 {
		c.checkitemsize(r.itemSize, 52)
		return
	}
	ss := r.items[0]
	for _, l := range []struct {
		label string
		off   int
	}{{"time since restart:     ", 0}, {"time since reset:       ", 4}, {"packets received:       ", 36},
		{"packets processed:      ", 28}, {"current version:        ", 16}, {"previous version:       ", 12},
		{"declined:               ", 20}, {"access denied:          ", 8}, {"bad length or format:   ", 24},
		{"bad authentication:     ", 32}} {
		if l.off+4 > len(ss) {
			continue
		}
		fmt.Fprintf(w, "%s%d\n", l.label, be32(ss[l.off:]))
	}
	if r.itemSize < 44 {
		return
	}
	fmt.Fprintf(w, "rate exceeded:          %d\n", be32(ss[40:]))
}

// cg is C's %g, which Go's %g matches for these values ("1e-06", "16").
func cg(v float64) string { return fmt.Sprintf("%g", v) }

func (c *client) kerninfo(_ []string, w io.Writer) {
	r, res := c.s.query(reqGetKernel, 0, 0, nil)
	if res != 0 || !check1item(r, w) || !c.checkitemsize(r.itemSize, 60) {
		return
	}
	ik := r.items[0]
	status := binary.BigEndian.Uint16(ik[16:])
	unano, usec := 1e-6, 1e-6
	if status&0x2000 != 0 {
		unano = 1e-9
	}
	fmt.Fprintf(w, "pll offset:           %s s\n", cg(float64(int32(be32(ik[0:])))*unano))
	fmt.Fprintf(w, "pll frequency:        %s ppm\n", fptoa(be32(ik[4:]), 3))
	fmt.Fprintf(w, "maximum error:        %s s\n", cg(float64(be32(ik[8:]))*usec))
	fmt.Fprintf(w, "estimated error:      %s s\n", cg(float64(be32(ik[12:]))*usec))
	fmt.Fprintf(w, "status:               %04x ", status)
	for _, s := range []struct {
		bit  uint16
		name string
	}{{0x1, "pll"}, {0x2, "ppsfreq"}, {0x4, "ppstime"}, {0x8, "fll"}, {0x10, "ins"}, {0x20, "del"},
		{0x40, "unsync"}, {0x80, "freqhold"}, {0x100, "ppssignal"}, {0x200, "ppsjitter"}, {0x400, "ppswander"},
		{0x800, "ppserror"}, {0x1000, "clockerr"}, {0x2000, "nano"}, {0x4000, "mode=fll"}, {0x8000, "src=B"}} {
		if status&s.bit != 0 {
			fmt.Fprint(w, " "+s.name)
		}
	}
	fmt.Fprint(w, "\n")
	fmt.Fprintf(w, "pll time constant:    %d\n", be32(ik[20:]))
	fmt.Fprintf(w, "precision:            %s s\n", cg(float64(be32(ik[24:]))*usec))
	fmt.Fprintf(w, "frequency tolerance:  %s ppm\n", fptoa(be32(ik[28:]), 0))
	shift := binary.BigEndian.Uint16(ik[18:])
	if shift == 0 {
		return
	}
	fmt.Fprintf(w, "pps frequency:        %s ppm\n", fptoa(be32(ik[32:]), 3))
	fmt.Fprintf(w, "pps stability:        %s ppm\n", fptoa(be32(ik[40:]), 3))
	fmt.Fprintf(w, "pps jitter:           %s s\n", cg(float64(be32(ik[36:]))*unano))
	fmt.Fprintf(w, "calibration interval: %d s\n", 1<<shift)
	fmt.Fprintf(w, "calibration cycles:   %d\n", be32(ik[48:]))
	fmt.Fprintf(w, "jitter exceeded:      %d\n", be32(ik[44:]))
	fmt.Fprintf(w, "stability exceeded:   %d\n", be32(ik[56:]))
	fmt.Fprintf(w, "calibration errors:   %d\n", be32(ik[52:]))
}

func (c *client) loopinfo(args []string, w io.Writer) {
	r, res := c.s.query(reqLoopInfo, 0, 0, nil)
	if res != 0 || !check1item(r, w) || !c.checkitemsize(r.itemSize, 24) {
		return
	}
	il := r.items[0]
	if len(args) > 0 && args[0] == "oneline" {
		fmt.Fprintf(w, "offset %s, frequency %s, time_const %d, watchdog %d\n", lfptoa(il[0:8], 6), lfptoa(il[8:16], 3),
			int32(be32(il[16:])), be32(il[20:]))
		return
	}
	fmt.Fprintf(w, "offset:               %s s\n", lfptoa(il[0:8], 6))
	fmt.Fprintf(w, "frequency:            %s ppm\n", lfptoa(il[8:16], 3))
	fmt.Fprintf(w, "poll adjust:          %d\n", int32(be32(il[16:])))
	fmt.Fprintf(w, "watchdog timer:       %d s\n", be32(il[20:]))
}

func (c *client) iostats(_ []string, w io.Writer) {
	r, res := c.s.query(reqIOStats, 0, 0, nil)
	if res != 0 || !check1item(r, w) || !c.checkitemsize(r.itemSize, 40) {
		return
	}
	io := r.items[0]
	u16 := func(o int) uint16 { return binary.BigEndian.Uint16(io[o:]) }
	fmt.Fprintf(w, "time since reset:     %d\n", be32(io[0:]))
	fmt.Fprintf(w, "receive buffers:      %d\n", u16(4))
	fmt.Fprintf(w, "free receive buffers: %d\n", u16(6))
	fmt.Fprintf(w, "used receive buffers: %d\n", u16(8))
	fmt.Fprintf(w, "low water refills:    %d\n", u16(10))
	fmt.Fprintf(w, "dropped packets:      %d\n", be32(io[12:]))
	fmt.Fprintf(w, "ignored packets:      %d\n", be32(io[16:]))
	fmt.Fprintf(w, "received packets:     %d\n", be32(io[20:]))
	fmt.Fprintf(w, "packets sent:         %d\n", be32(io[24:]))
	fmt.Fprintf(w, "packets not sent:     %d\n", be32(io[28:]))
	fmt.Fprintf(w, "interrupts handled:   %d\n", be32(io[32:]))
	fmt.Fprintf(w, "received by int:      %d\n", be32(io[36:]))
}

// hashSize is classic's NTP_HASH_SIZE.
const hashSize = 128

func (c *client) memstats(_ []string, w io.Writer) {
	r, res := c.s.query(reqMemStats, 0, 0, nil)
	if res != 0 || !check1item(r, w) || !c.checkitemsize(r.itemSize, 20+hashSize) {
		return
	}
	m := r.items[0]
	fmt.Fprintf(w, "time since reset:     %d\n", be32(m[0:]))
	fmt.Fprintf(w, "total peer memory:    %d\n", binary.BigEndian.Uint16(m[4:]))
	fmt.Fprintf(w, "free peer memory:     %d\n", binary.BigEndian.Uint16(m[6:]))
	fmt.Fprintf(w, "calls to findpeer:    %d\n", be32(m[8:]))
	fmt.Fprintf(w, "new peer allocations: %d\n", be32(m[12:]))
	fmt.Fprintf(w, "peer demobilizations: %d\n", be32(m[16:]))
	fmt.Fprint(w, "hash table counts:   ")
	for i := 0; i < hashSize; i++ {
		fmt.Fprintf(w, "%4d", m[20+i])
		if i%8 == 7 && i != hashSize-1 {
			fmt.Fprint(w, "\n                     ")
		}
	}
	fmt.Fprint(w, "\n")
}

func (c *client) timerstats(_ []string, w io.Writer) {
	r, res := c.s.query(reqTimerStats, 0, 0, nil)
	if res != 0 || !check1item(r, w) || !c.checkitemsize(r.itemSize, 16) {
		return
	}
	t := r.items[0]
	fmt.Fprintf(w, "time since reset:  %d\n", be32(t[0:]))
	fmt.Fprintf(w, "alarms handled:    %d\n", be32(t[4:]))
	fmt.Fprintf(w, "alarm overruns:    %d\n", be32(t[8:]))
	fmt.Fprintf(w, "calls to transmit: %d\n", be32(t[12:]))
}
