// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"fmt"
	"io"
	"strings"
)

// reqGetClockInfo is REQ_GET_CLOCKINFO (ntp_request.h); infoClockSize is the size of its
// answer's item, classic's struct info_clock.
const (
	reqGetClockInfo = 36
	infoClockSize   = 52
)

// clockType is one reference-clock driver of classic 4.2.8p15's table (libntp/clocktypes.c):
// the long name ntpdc's clockstat prints and the short one classic's clockname() gives
// (clockstats and ntpq's refclock names).
type clockType struct {
	long, short string
}

// clockTypes maps a driver's type number (the third octet of its 127.127.T.U address) to its
// names. The numbers classic lists as "not used" (15, 23, 24, 25) are in its table under
// type 0, so a lookup by number never finds them: clockstat prints them as unknown types,
// as classic does.
var clockTypes = map[byte]clockType{
	0:  {"unspecified type (0)", "UNKNOWN"},
	1:  {"Undisciplined local clock (1)", "LOCAL"},
	2:  {"TRAK 8810 GPS Receiver (2)", "GPS_TRAK"},
	3:  {"PSTI/Traconex WWV/WWVH Receiver (3)", "WWV_PST"},
	4:  {"Spectracom (generic) Receivers (4)", "SPECTRACOM"},
	5:  {"TrueTime (generic) Receivers (5)", "TRUETIME"},
	6:  {"IRIG Audio Decoder (6)", "IRIG_AUDIO"},
	7:  {"CHU Audio Demodulator/Decoder (7)", "CHU_AUDIO"},
	8:  {"Generic reference clock driver (8)", "GENERIC"},
	9:  {"Magnavox MX4200 GPS Receiver (9)", "GPS_MX4200"},
	10: {"Austron 2201A GPS Receiver (10)", "GPS_AS2201"},
	11: {"Arbiter 1088A/B GPS Receiver (11)", "GPS_ARBITER"},
	12: {"KSI/Odetics TPRO/S IRIG Interface (12)", "IRIG_TPRO"},
	13: {"Leitch CSD 5300 Master Clock Controller (13)", "ATOM_LEITCH"},
	14: {"EES M201 MSF Receiver (14)", "MSF_EES"},
	16: {"Bancomm GPS/IRIG Receiver (16)", "GPS_BANC"},
	17: {"Datum Precision Time System (17)", "GPS_DATUM"},
	18: {"Automated Computer Time Service (18)", "ACTS_MODEM"},
	19: {"Heath WWV/WWVH Receiver (19)", "WWV_HEATH"},
	20: {"Generic NMEA GPS Receiver (20)", "GPS_NMEA"},
	21: {"TrueTime GPS-VME Interface (21)", "GPS_VME"},
	22: {"PPS Clock Discipline (22)", "PPS"},
	26: {"HP 58503A GPS Time & Frequency Receiver (26)", "GPS_HP"},
	27: {"ARCRON MSF (and DCF77) Receiver (27)", "MSF_ARCRON"},
	28: {"Clock attached thru shared Memory (28)", "SHM"},
	29: {"Trimble Navigation Palisade GPS (29)", "GPS_PALISADE"},
	30: {"Motorola UT Oncore GPS (30)", "GPS_ONCORE"},
	31: {"Rockwell Jupiter GPS (31)", "GPS_JUPITER"},
	32: {"Chrono-log K (32)", "CHRONOLOG"},
	33: {"Dumb generic hh:mm:ss local clock (33)", "DUMBCLOCK"},
	34: {"Ultralink M320 WWVB receiver (34)", "ULINK_M320"},
	35: {"Conrad parallel port radio clock (35)", "PCF"},
	36: {"WWV/H Audio Demodulator/Decoder (36)", "WWV_AUDIO"},
	37: {"Forum Graphic GPS Dating Station (37)", "GPS_FG"},
	38: {"hopf Elektronic serial line receiver (38)", "HOPF_S"},
	39: {"hopf Elektronic PCI receiver (39)", "HOPF_P"},
	40: {"JJY receiver (40)", "JJY"},
	41: {"TrueTime 560 IRIG-B decoder (41)", "TT_IRIG"},
	42: {"Zyfer GPStarplus receiver (42)", "GPS_ZYFER"},
	43: {"RIPE NCC Trimble driver (43)", "GPS_RIPENCC"},
	44: {"NeoClock4X DCF77 / TDF receiver (44)", "NEOCLK4X"},
	45: {"Spectracom TSYNC PCI timing board (45)", "PCI_TSYNC"},
	46: {"GPSD JSON socket (46)", "GPSD_JSON"},
}

// clockTypeName is the "clock type:" text of clockstat.
func clockTypeName(t byte) string {
	if ct, ok := clockTypes[t]; ok {
		return ct.long
	}
	return fmt.Sprintf("unknown type (%d)", t)
}

// clockstat asks for reference clocks' state (REQ_GET_CLOCKINFO) and prints each
// info_clock as classic's clockstat (ntpdc_ops.c).
//
// The request data is classic's, quirk included: classic keeps the addresses in an array of
// 8-octet u_long but sends 4-octet items, so the second item of a request for several
// clocks is the upper half of the first address's slot, 0.0.0.0, and classic ntpd answers
// "data not found". One clock per clockstat works; several give what classic gives. An
// IPv6 address goes out as 0.0.0.0 (classic reads the IPv4 field of its socket address).
func (c *client) clockstat(args []string, w io.Writer) {
	if len(args) > 0 && (args[0] == "-4" || args[0] == "-6") {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, "usage: clockstat [ -4|-6 ] address [ address ] [ address ] [ address ]")
		return
	}
	args = args[:min(len(args), 4)]
	slots := make([]byte, 8*len(args))
	for i, a := range args {
		addr, err := c.resolve(a)
		if err != nil {
			fmt.Fprintf(c.stderr, "***Can't find host %s\n", a)
			return
		}
		if addr.Is4() {
			a4 := addr.As4()
			copy(slots[8*i:], a4[:])
		}
	}
	r, res := c.s.query(reqGetClockInfo, len(args), 4, slots[:4*len(args)])
	if res != 0 || !checkitems(r, w) || !c.checkitemsize(r.itemSize, infoClockSize) {
		return
	}
	for i, cl := range r.items {
		fmt.Fprintf(w, "clock address:        %d.%d.%d.%d\n", cl[0], cl[1], cl[2], cl[3])
		fmt.Fprintf(w, "clock type:           %s\n", clockTypeName(cl[4]))
		fmt.Fprintf(w, "last event:           %d\n", cl[6])
		fmt.Fprintf(w, "current status:       %d\n", cl[7])
		fmt.Fprintf(w, "number of polls:      %d\n", be32(cl[8:]))
		fmt.Fprintf(w, "no response to poll:  %d\n", be32(cl[12:]))
		fmt.Fprintf(w, "bad format responses: %d\n", be32(cl[16:]))
		fmt.Fprintf(w, "bad data responses:   %d\n", be32(cl[20:]))
		fmt.Fprintf(w, "running time:         %d\n", be32(cl[24:]))
		fmt.Fprintf(w, "fudge time 1:         %s\n", lfptoa(cl[28:36], 6))
		fmt.Fprintf(w, "fudge time 2:         %s\n", lfptoa(cl[36:44], 6))
		fmt.Fprintf(w, "stratum:              %d\n", be32(cl[44:]))
		fmt.Fprintf(w, "reference ID:         %s\n", refidString(cl[48:52], 0))
		fmt.Fprintf(w, "fudge flags:          0x%x\n", cl[5])
		if i < len(r.items)-1 {
			fmt.Fprintln(w)
		}
	}
}

// infoIfStatsSize is the size of classic's struct info_if_stats, the item of REQ_IF_STATS
// and REQ_IF_RELOAD; intBcastOpen is its INT_BCASTOPEN flag (a broadcast socket is open:
// the broadcast address is listed).
const (
	infoIfStatsSize = 136
	intBcastOpen    = 0x020
)

// ifstats and ifreload are classic's commands of the same names: the server's interface
// list, after rescanning the interfaces for ifreload. Both are authenticated requests.
func (c *client) ifstats(_ []string, w io.Writer)  { c.iflist(reqIfStats, w) }
func (c *client) ifreload(_ []string, w io.Writer) { c.iflist(reqIfReload, w) }

// iflist prints info_if_stats items as classic's iflist: one line per interface, then its
// mask and, with a broadcast socket, its broadcast address.
func (c *client) iflist(code byte, w io.Writer) {
	r, res := c.s.queryAuth(code)
	if res != 0 || !checkitems(r, w) || !c.checkitemsize(r.itemSize, infoIfStatsSize) {
		return
	}
	fmt.Fprintf(w, "%2s %c %48s %c %c %12.12s %3s %3s %2s %5s %5s %5s %2s %3s %7s\n", "#", 'A',
		"Address/Mask/Broadcast", 'T', 'E', "IF name", "Flg", "TL", "#M", "recv", "sent", "drop", "S", "PC", "uptime")
	fmt.Fprintln(w, strings.Repeat("=", 114))
	for _, it := range r.items {
		v6 := be32(it[48:]) != 0
		addr := func(off int) string { return address(v6, it[off:off+4], it[off:off+16]).String() }
		name := string(it[52:84])
		if i := strings.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) > 12 {
			name = name[:12]
		}
		action := it[131]
		if action < 1 || action > 3 {
			action = 0
		}
		ignore := 'E'
		if it[130] != 0 {
			ignore = 'D'
		}
		flags := be32(it[84:])
		fmt.Fprintf(w, "%2d %c %48s %c %c %12s %03x %3d %2d %5d %5d %5d %2d %3d %7d\n",
			int32(be32(it[120:])), "?.+-"[action], addr(0), 'A', ignore, name, flags,
			be32(it[88:]), be32(it[92:]), be32(it[96:]), be32(it[100:]), be32(it[104:]),
			be32(it[112:]), be32(it[124:]), be32(it[108:]))
		fmt.Fprintf(w, "     %48s %c\n", addr(32), 'M')
		if !v6 && flags&intBcastOpen != 0 {
			fmt.Fprintf(w, "     %48s %c\n", addr(16), 'B')
		}
	}
}
