// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"gontp/internal/ntptime"
)

// Peers table flavours: peers/lpeers (refid), apeers (hex refid + association ID), opeers
// (local address instead of refid, dispersion instead of jitter).
const (
	peersN = iota
	peersA
	peersO
)

// peers prints the peer spreadsheet (compat.md 3.2): READSTAT, then one READVAR with no names
// per association that is configured or reachable (all with showAll).
func (r *Runner) peers(args []string, flavour int, showAll bool) {
	af := 0
	if len(args) == 1 {
		switch args[0] {
		case "-4":
			af = 4
		case "-6":
			af = 6
		default:
			fmt.Fprintf(r.Err, "***Version must be either 4 or 6\n")
			return
		}
	}
	if !r.getAssocs() {
		return
	}
	w := r.Out
	if r.NumHosts > 1 {
		label := "server (local)"
		if flavour == peersO {
			label = "server"
		}
		fmt.Fprintf(w, "%-*.*s ", r.MaxHostLen, r.MaxHostLen, label)
	}
	switch flavour {
	case peersA:
		fmt.Fprintln(w, "     remote       refid   assid  st t when poll reach   delay   offset  jitter")
	case peersO:
		fmt.Fprintln(w, "     remote           local      st t when poll reach   delay   offset    disp")
	default:
		fmt.Fprintln(w, "     remote           refid      st t when poll reach   delay   offset  jitter")
	}
	if r.NumHosts > 1 {
		fmt.Fprint(w, strings.Repeat("=", r.MaxHostLen+1))
	}
	fmt.Fprintln(w, strings.Repeat("=", 78))
	for _, a := range r.assocs {
		if !showAll && (a.status>>8)&(0x80|0x10) == 0 {
			continue
		}
		resp, ok := r.query(OpReadVar, a.id, nil, false)
		if !ok {
			return
		}
		if len(resp.Data) == 0 {
			fmt.Fprintf(r.Err, "%s***No information returned for association %d\n", r.serverPrefix(), a.id)
			return
		}
		io.WriteString(w, r.PeerLine(ParseVars(resp.Data), a.id, resp.Status, flavour, af))
	}
}

// peerVars are the variables of one association as the peers table reads them (classic
// ntpq's doprintpeers): decoded, with the `t` column already worked out. The table and
// --json both read them.
type peerVars struct {
	srcadr, dstadr  netip.Addr
	haveSrchost     bool
	clockName       string
	haveDstadr      bool
	haveRefid       bool
	refid           string
	haveJitter      bool
	hmode           int64
	stratum         uint64
	hpoll, ppoll    int64
	reach           uint64
	delay, offset   lfp
	jitter, disp    lfp
	rec, reftime    ntptime.Time
	flash           uint64
	typ             byte
	stderrMalformed []string
}

// decodePeerVars decodes an association's default variables for the peers table.
func decodePeerVars(vars []Var, flavour int) peerVars {
	var (
		srcadr, dstadr  netip.Addr
		haveSrchost     bool
		clockName       string
		haveDstadr      bool
		haveRefid       bool
		refid           = "0.0.0.0"
		haveJitter      bool
		hmode           int64
		stratum         uint64
		hpoll, ppoll    int64
		reach           uint64
		delay, offset   lfp
		jitter, disp    lfp
		rec, reftime    ntptime.Time
		flash           uint64
		typ             byte = '?'
		stderrMalformed []string
	)
	for _, v := range vars {
		value := v.Value
		switch v.Name {
		case "srcadr", "peeradr":
			a, _, ok := decodeNetnum(value)
			if !ok {
				stderrMalformed = append(stderrMalformed, v.Name+"="+value)
			} else {
				srcadr = a
			}
		case "srchost":
			if flavour != peersO && len(value) > 2 && len(value) < 256 {
				clockName = value[1 : len(value)-1]
				haveSrchost = true
			}
		case "dstadr":
			if a, _, ok := decodeNetnum(value); ok {
				typ = addrType(a)
				haveDstadr = true
				dstadr = a
				if flavour == peersO {
					haveRefid = true
					refid = trunc(stoa(a), 15)
				}
			}
		case "hmode":
			if x, ok := decodeInt(value); ok {
				hmode = x
			}
		case "refid":
			if flavour == peersO {
				break
			}
			haveRefid = true
			switch {
			case value == "":
				refid = ""
			case len(value) <= 4:
				refid = "." + strings.TrimRight(value, "\x00") + "."
			default:
				a, _, ok := decodeNetnum(value)
				switch {
				case !ok:
					haveRefid = false
				case isUnspec(a):
					refid = "0.0.0.0"
				case isRefclock(a):
					refid = refnumtoa(a)
				case flavour == peersA && a.Is4():
					b := a.As4()
					refid = fmt.Sprintf("%x", uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))
				default:
					refid = stoa(a)
				}
			}
		case "stratum":
			stratum, _ = decodeUint(value)
		case "hpoll":
			if x, ok := decodeInt(value); ok {
				hpoll = x
				if x < 0 {
					hpoll = 3
				}
			}
		case "ppoll":
			if x, ok := decodeInt(value); ok {
				ppoll = x
				if x < 0 {
					ppoll = 3
				}
			}
		case "reach":
			reach, _ = decodeUint(value)
		case "delay":
			delay, _ = decodeTime(value)
		case "offset":
			offset, _ = decodeTime(value)
		case "jitter":
			if flavour != peersO {
				if x, ok := decodeTime(value); ok {
					jitter = x
					haveJitter = true
				}
			}
		case "rootdisp", "dispersion":
			disp, _ = decodeTime(value)
		case "rec":
			rec, _ = decodeTS(value)
		case "reftime":
			if t, ok := decodeTS(value); ok {
				reftime = t
			} else {
				reftime = 0
			}
		case "flash":
			flash, _ = decodeUint(value)
		}
	}
	switch hmode {
	case 6:
		typ = 'b'
	case 5:
		if isMulticast(srcadr) {
			typ = 'M'
		} else {
			typ = 'B'
		}
	case 3:
		switch {
		case isRefclock(srcadr):
			typ = 'l'
		case isUnspec(srcadr):
			typ = 'p'
		case isMulticast(srcadr):
			typ = 'a'
		default:
			typ = 'u'
		}
	case 1:
		typ = 's'
	case 2:
		typ = 'S'
	}
	return peerVars{srcadr: srcadr, dstadr: dstadr, haveSrchost: haveSrchost, clockName: clockName, haveDstadr: haveDstadr, haveRefid: haveRefid, refid: refid, haveJitter: haveJitter, hmode: hmode, stratum: stratum, hpoll: hpoll, ppoll: ppoll, reach: reach, delay: delay, offset: offset, jitter: jitter, disp: disp, rec: rec, reftime: reftime, flash: flash, typ: typ, stderrMalformed: stderrMalformed}
}

// PeerLine formats one row of the peers table from an association's default variables and
// the status word of that READVAR reply, byte for byte as classic ntpq 4.2.8p15 does.
// af (0, 4 or 6) drops rows of the other address family (the row is then empty).
func (r *Runner) PeerLine(vars []Var, assoc uint16, status uint16, flavour int, af int) string {
	pv := decodePeerVars(vars, flavour)
	var b strings.Builder
	for _, m := range pv.stderrMalformed {
		fmt.Fprintf(r.Err, "malformed %s\n", m)
	}
	p := min(pv.ppoll, pv.hpoll)
	var pollSec int64
	if p >= 0 && p < 62 {
		pollSec = 1 << p
	}
	c := tally[(status>>8)&7]
	if r.NumHosts > 1 {
		var local string
		if flavour != peersO && pv.haveDstadr {
			local = trunc(r.nntohost(pv.dstadr), r.MaxHostLen)
		} else {
			local = r.currentHost
		}
		fmt.Fprintf(&b, "%-*s ", r.MaxHostLen, local)
	}
	if af != 0 && (pv.srcadr.Is4() && af != 4 || !pv.srcadr.Is4() && af != 6) {
		return b.String()
	}
	if !pv.haveSrchost {
		pv.clockName = r.nntohost(pv.srcadr)
	}
	if r.Wide && len(pv.clockName) > 15 {
		pad := 1 + 15 + 1
		if r.NumHosts > 1 {
			pad += r.MaxHostLen + 1
		}
		fmt.Fprintf(&b, "%c%s\n%*s", c, pv.clockName, pad, "")
	} else {
		fmt.Fprintf(&b, "%c%-15.15s ", c, pv.clockName)
	}
	drlen := 0
	if pv.flash&0x0800 != 0 && flavour != peersO {
		b.WriteString("(loop)")
		drlen = 6
	} else if pv.haveRefid {
		drlen = len(pv.refid)
		b.WriteString(makeASCII(pv.refid))
	}
	if flavour == peersA {
		for ; drlen < 9; drlen++ {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%-6d", assoc)
	} else {
		for ; drlen < 15; drlen++ {
			b.WriteByte(' ')
		}
	}
	now := ntptime.FromTime(r.now())
	jd := pv.disp
	if pv.haveJitter {
		jd = pv.jitter
	}
	fmt.Fprintf(&b, " %2d %c %4.4s %4.4s  %3o  %7.7s %8.7s %7.7s\n",
		pv.stratum, pv.typ, prettyInterval(when(now, pv.rec, pv.reftime)), prettyInterval(pollSec),
		pv.reach, msString(pv.delay, 3, false), msString(pv.offset, 3, true), msString(jd, 3, false))
	return b.String()
}

// when is the `when` column: whole seconds from the last packet (or the reference time) to
// now, -1 when that lies in the future, 0 when unknown.
func when(now, rec, reftime ntptime.Time) int64 {
	last := rec
	if rec.Seconds() == 0 {
		last = reftime
		if reftime.Seconds() == 0 {
			return 0
		}
	}
	if now.Seconds() < last.Seconds() {
		return -1
	}
	return int64(now.Seconds() - last.Seconds())
}

// addrType is classic's decodeaddrtype: the `t` column guess from the local address when the
// reply has no hmode.
func addrType(a netip.Addr) byte {
	if a.Is4() {
		b := a.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		switch {
		case v&0xf0000000 == 0xe0000000:
			return 'm'
		case v&0xff == 0xff:
			return 'b'
		case v == 0x7f000001:
			return 'l'
		case v&0xffffffe0 == 0:
			return '-'
		}
		return 'u'
	}
	if a.Is6() {
		if a.IsMulticast() {
			return 'm'
		}
		return 'u'
	}
	return '-'
}

func isMulticast(a netip.Addr) bool { return a.IsValid() && a.IsMulticast() }

// printAssocs prints the association table (compat.md 3.4).
func (r *Runner) printAssocs(showAll bool) {
	w := r.Out
	if len(r.assocs) == 0 {
		fmt.Fprintln(w, "No association ID's in list")
		return
	}
	fmt.Fprintln(w, "ind assid status  conf reach auth condition  last_event cnt")
	fmt.Fprintln(w, "===========================================================")
	for i, a := range r.assocs {
		st := uint8(a.status >> 8)
		if !showAll && st&(0x80|0x10) == 0 {
			continue
		}
		conf := "no"
		if st&0x80 != 0 {
			conf = "yes"
		}
		var reach, auth string
		if st&0x08 != 0 {
			reach = "none"
			auth = "none"
			if st&0x40 != 0 {
				auth = "yes"
			}
		} else {
			reach = "no"
			if st&0x10 != 0 {
				reach = "yes"
			}
			auth = "none"
			if st&0x40 != 0 {
				auth = "bad"
				if st&0x20 != 0 {
					auth = "ok "
				}
			}
		}
		condition := []string{"reject", "falsetick", "excess", "outlier", "candidate", "backup",
			"sys.peer", "pps.peer"}[st&7]
		event := ""
		switch ev := a.status & 0xf; ev {
		case 1, 2, 3, 4, 5, 6, 7, 8, 9, 10:
			event = peerEvents[ev]
		case 11:
			event = "clock_alarm"
		}
		line := fmt.Sprintf("%3d %5d  %04x   %3.3s  %4s  %4.4s %9.9s %11s %2d",
			i+1, a.id, a.status, conf, reach, auth, condition, event, (a.status>>4)&0xf)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

// vdc kinds: how a labelled display shows a value.
const (
	vdcStr  = iota // as sent, surrounding quotes removed
	vdcAdp         // address:port in one variable
	vdcAdd         // address in <tag>adr, port in <tag>port
	vdcLfp         // timestamp, pretty-printed
	vdcMode        // association mode as a word
	vdc2Bit        // leap indicator as two bits
)

type vdcEntry struct {
	tag, label string
	kind       int
}

var (
	sysstatsTable = []vdcEntry{
		{"ss_uptime", "uptime:               ", vdcStr},
		{"ss_reset", "sysstats reset:       ", vdcStr},
		{"ss_received", "packets received:     ", vdcStr},
		{"ss_thisver", "current version:      ", vdcStr},
		{"ss_oldver", "older version:        ", vdcStr},
		{"ss_badformat", "bad length or format: ", vdcStr},
		{"ss_badauth", "authentication failed:", vdcStr},
		{"ss_declined", "declined:             ", vdcStr},
		{"ss_restricted", "restricted:           ", vdcStr},
		{"ss_limited", "rate limited:         ", vdcStr},
		{"ss_kodsent", "KoD responses:        ", vdcStr},
		{"ss_processed", "processed for time:   ", vdcStr},
	}
	sysinfoTable = []vdcEntry{
		{"peeradr", "system peer:      ", vdcAdp},
		{"peermode", "system peer mode: ", vdcMode},
		{"leap", "leap indicator:   ", vdc2Bit},
		{"stratum", "stratum:          ", vdcStr},
		{"precision", "log2 precision:   ", vdcStr},
		{"rootdelay", "root delay:       ", vdcStr},
		{"rootdisp", "root dispersion:  ", vdcStr},
		{"refid", "reference ID:     ", vdcStr},
		{"reftime", "reference time:   ", vdcLfp},
		{"sys_jitter", "system jitter:    ", vdcStr},
		{"clk_jitter", "clock jitter:     ", vdcStr},
		{"clk_wander", "clock wander:     ", vdcStr},
		{"bcastdelay", "broadcast delay:  ", vdcStr},
		{"authdelay", "symm. auth. delay:", vdcStr},
	}
	kerninfoTable = []vdcEntry{
		{"koffset", "pll offset:          ", vdcStr},
		{"kfreq", "pll frequency:       ", vdcStr},
		{"kmaxerr", "maximum error:       ", vdcStr},
		{"kesterr", "estimated error:     ", vdcStr},
		{"kstflags", "kernel status:       ", vdcStr},
		{"ktimeconst", "pll time constant:   ", vdcStr},
		{"kprecis", "precision:           ", vdcStr},
		{"kfreqtol", "frequency tolerance: ", vdcStr},
		{"kppsfreq", "pps frequency:       ", vdcStr},
		{"kppsstab", "pps stability:       ", vdcStr},
		{"kppsjitter", "pps jitter:          ", vdcStr},
		{"kppscalibdur", "calibration interval ", vdcStr},
		{"kppscalibs", "calibration cycles:  ", vdcStr},
		{"kppsjitexc", "jitter exceeded:     ", vdcStr},
		{"kppsstbexc", "stability exceeded:  ", vdcStr},
		{"kppscaliberrs", "calibration errors:  ", vdcStr},
	}
	monstatsTable = []vdcEntry{
		{"mru_enabled", "enabled:            ", vdcStr},
		{"mru_depth", "addresses:          ", vdcStr},
		{"mru_deepest", "peak addresses:     ", vdcStr},
		{"mru_maxdepth", "maximum addresses:  ", vdcStr},
		{"mru_mindepth", "reclaim above count:", vdcStr},
		{"mru_maxage", "reclaim older than: ", vdcStr},
		{"mru_mem", "kilobytes:          ", vdcStr},
		{"mru_maxmem", "maximum kilobytes:  ", vdcStr},
	}
	iostatsTable = []vdcEntry{
		{"iostats_reset", "time since reset:     ", vdcStr},
		{"total_rbuf", "receive buffers:      ", vdcStr},
		{"free_rbuf", "free receive buffers: ", vdcStr},
		{"used_rbuf", "used receive buffers: ", vdcStr},
		{"rbuf_lowater", "low water refills:    ", vdcStr},
		{"io_dropped", "dropped packets:      ", vdcStr},
		{"io_ignored", "ignored packets:      ", vdcStr},
		{"io_received", "received packets:     ", vdcStr},
		{"io_sent", "packets sent:         ", vdcStr},
		{"io_sendfailed", "packet send failures: ", vdcStr},
		{"io_wakeups", "input wakeups:        ", vdcStr},
		{"io_goodwakeups", "useful input wakeups: ", vdcStr},
	}
	timerstatsTable = []vdcEntry{
		{"timerstats_reset", "time since reset:  ", vdcStr},
		{"timer_overruns", "timer overruns:    ", vdcStr},
		{"timer_xmts", "calls to transmit: ", vdcStr},
	}
	authinfoTable = []vdcEntry{
		{"authreset", "time since reset:", vdcStr},
		{"authkeys", "stored keys:     ", vdcStr},
		{"authfreek", "free keys:       ", vdcStr},
		{"authklookups", "key lookups:     ", vdcStr},
		{"authknotfound", "keys not found:  ", vdcStr},
		{"authkuncached", "uncached keys:   ", vdcStr},
		{"authkexpired", "expired keys:    ", vdcStr},
		{"authencrypts", "encryptions:     ", vdcStr},
		{"authdecrypts", "decryptions:     ", vdcStr},
	}
	pstatsTable = []vdcEntry{
		{"src", "remote host:         ", vdcAdd},
		{"dst", "local address:       ", vdcAdd},
		{"timerec", "time last received:  ", vdcStr},
		{"timer", "time until next send:", vdcStr},
		{"timereach", "reachability change: ", vdcStr},
		{"sent", "packets sent:        ", vdcStr},
		{"received", "packets received:    ", vdcStr},
		{"badauth", "bad authentication:  ", vdcStr},
		{"bogusorg", "bogus origin:        ", vdcStr},
		{"oldpkt", "duplicate:           ", vdcStr},
		{"seldisp", "bad dispersion:      ", vdcStr},
		{"selbroken", "bad reference time:  ", vdcStr},
		{"candidate", "candidate order:     ", vdcStr},
	}
)

// vdc requests the table's variables and prints one labelled line per variable (classic's
// collect_display_vdc): label, two spaces, value.
func (r *Runner) vdc(assoc uint16, table []vdcEntry, decodeStatus bool) {
	var names []Var
	for _, e := range table {
		if e.kind == vdcAdd {
			names = append(names, Var{Name: e.tag + "adr"}, Var{Name: e.tag + "port"})
		} else {
			names = append(names, Var{Name: e.tag})
		}
	}
	resp, ok := r.query(OpReadVar, assoc, makeQueryData(names), false)
	if !ok {
		return
	}
	type val struct {
		set  bool
		str  string
		addr netip.Addr
		port uint16
		ts   ntptime.Time
	}
	vals := make([]val, len(table))
	for _, v := range ParseVars(resp.Data) {
		for i, e := range table {
			if !strings.HasPrefix(v.Name, e.tag) {
				continue
			}
			suffix := v.Name[len(e.tag):]
			if e.kind != vdcAdd && suffix != "" || e.kind == vdcAdd && suffix != "adr" && suffix != "port" {
				continue
			}
			x := &vals[i]
			switch e.kind {
			case vdcStr:
				s := v.Value
				if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
					s = s[1 : len(s)-1]
				}
				x.str, x.set = s, true
			case vdcMode, vdc2Bit:
				x.str, x.set = v.Value, true
			case vdcLfp:
				x.ts, _ = decodeTS(v.Value)
			case vdcAdp:
				a, p, ok := decodeNetnum(v.Value)
				if !ok {
					fmt.Fprintf(r.Err, "malformed %s=%s\n", e.tag, v.Value)
				} else {
					x.addr, x.port = a, p
				}
			case vdcAdd:
				if suffix == "adr" {
					a, _, ok := decodeNetnum(v.Value)
					if !ok {
						fmt.Fprintf(r.Err, "malformed %s=%s\n", e.tag, v.Value)
					} else {
						x.addr = a
					}
				} else if u, err := strconv.ParseUint(v.Value, 10, 16); err == nil {
					x.port = uint16(u)
				}
			}
			break
		}
	}
	w := r.Out
	if decodeStatus {
		kind := StatusSys
		if assoc != 0 {
			kind = StatusPeer
		}
		fmt.Fprintf(w, "associd=%d status=%04x %s,\n", assoc, resp.Status, StatusString(kind, resp.Status))
	}
	for i, e := range table {
		x := vals[i]
		switch e.kind {
		case vdcStr:
			if x.set {
				fmt.Fprintf(w, "%s  %s\n", e.label, x.str)
			}
		case vdcAdd, vdcAdp:
			fmt.Fprintf(w, "%s  %s\n", e.label, r.nntohostp(x.addr, x.port))
		case vdcLfp:
			fmt.Fprintf(w, "%s  %s\n", e.label, prettyDate(x.ts, r.loc()))
		case vdcMode:
			u, _ := strconv.ParseUint(x.str, 10, 32)
			fmt.Fprintf(w, "%s  %s\n", e.label, modeString(u))
		case vdc2Bit:
			u, _ := strconv.ParseUint(x.str, 10, 32)
			fmt.Fprintf(w, "%s  %s\n", e.label, []string{"00", "01", "10", "11"}[u&3])
		}
	}
}
