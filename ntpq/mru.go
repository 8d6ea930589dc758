// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"gontp/internal/ntptime"
)

// Classic ntpd's restriction bits that mrulist shows as K and L and sends for the `kod` and
// `limited` keywords (compat.md 1.9).
const (
	resLimited = 0x0040
	resKoD     = 0x0800
)

// mruEntry is one remote address of the daemon's MRU list.
type mruEntry struct {
	addr        netip.AddrPort
	last, first ntptime.Time
	count       int
	mode, ver   int
	rs          uint16
}

var mruSortKeys = []string{"lstint", "-lstint", "avgint", "-avgint", "addr", "-addr", "count", "-count"}

// mrulist implements classic's mrulist command: a nonce, then READ_MRU rounds until the daemon
// says the list is complete, then a table sorted as asked (compat.md 1.9, 3.7).
func (r *Runner) mrulist(args []string) {
	fmt.Fprintln(r.Err, "Ctrl-C will stop MRU retrieval and display partial results.")
	order := 0
	var parms strings.Builder
	for _, arg := range args {
		switch {
		case strings.HasPrefix(arg, "resall=") || strings.HasPrefix(arg, "resany=") ||
			strings.HasPrefix(arg, "mincount=") || strings.HasPrefix(arg, "laddr=") ||
			strings.HasPrefix(arg, "maxlst"):
			if parms.Len()+len(arg)+3 <= 128 {
				parms.WriteString(", " + arg)
			}
		case strings.HasPrefix(arg, "sort="):
			for i, k := range mruSortKeys {
				if k == arg[5:] {
					order = i
				}
			}
		case arg == "limited" || arg == "kod":
			bit := resLimited
			if arg == "kod" {
				bit = resKoD
			}
			parms.WriteString(fmt.Sprintf(", resany=0x%x", bit))
		default:
			fmt.Fprintf(r.Err, "ignoring unrecognized mrulist parameter: %s\n", arg)
		}
	}
	list, now, ok := r.collectMRU(parms.String())
	if !ok || r.Raw {
		return
	}
	// list is newest first (classic's default order).
	sorted := append([]*mruEntry(nil), list...)
	avg := func(e *mruEntry) float64 { return lfpSeconds(int64(e.last-e.first)) / float64(e.count) }
	switch mruSortKeys[order] {
	case "-lstint":
		for i, j := 0, len(sorted)-1; i < j; i, j = i+1, j-1 {
			sorted[i], sorted[j] = sorted[j], sorted[i]
		}
	case "avgint", "-avgint":
		sign := 1
		if order == 3 {
			sign = -1
		}
		sort.SliceStable(sorted, func(i, j int) bool {
			a, b := avg(sorted[i]), avg(sorted[j])
			c := 0
			switch {
			case a < b:
				c = -1
			case a > b:
				c = 1
			case sorted[i].last == sorted[j].last:
			case sorted[i].last > sorted[j].last:
				c = -1
			default:
				c = 1
			}
			return c*sign < 0
		})
	case "addr", "-addr":
		sign := 1
		if order == 5 {
			sign = -1
		}
		sort.SliceStable(sorted, func(i, j int) bool {
			return compareAddr(sorted[i].addr.Addr(), sorted[j].addr.Addr())*sign < 0
		})
	case "count", "-count":
		sign := 1
		if order == 7 {
			sign = -1
		}
		sort.SliceStable(sorted, func(i, j int) bool {
			c := 0
			if sorted[i].count < sorted[j].count {
				c = -1
			} else if sorted[i].count > sorted[j].count {
				c = 1
			}
			return c*sign < 0
		})
	}
	fmt.Fprintln(r.Out, "lstint avgint rstr r m v  count rport remote address")
	fmt.Fprintln(r.Out, strings.Repeat("=", 78))
	for _, e := range sorted {
		lstint := int(lfpSeconds(int64(now-e.last)) + 0.5)
		avgint := int(avg(e) + 0.5)
		rc := byte('.')
		if e.rs&resKoD != 0 {
			rc = 'K'
		} else if e.rs&resLimited != 0 {
			rc = 'L'
		}
		fmt.Fprintf(r.Out, "%6d %6d %4x %c %d %d %6d %5d %s\n", lstint, avgint, e.rs, rc,
			e.mode, e.ver, e.count, e.addr.Port(), r.nntohost(e.addr.Addr()))
	}
}

func lfpSeconds(x int64) float64 { return float64(x) / (1 << 32) }

func compareAddr(a, b netip.Addr) int {
	if a.Is4() != b.Is4() {
		if a.Is4() {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.AsSlice(), b.AsSlice())
}

// fetchNonce asks the daemon for a nonce (REQ_NONCE); its reply is "nonce=<hex>".
func (r *Runner) fetchNonce() (string, bool) {
	resp, ok := r.query(OpReqNonce, 0, nil, false)
	if !ok {
		fmt.Fprintln(r.Err, "nonce request failed")
		return "", false
	}
	s := string(resp.Data)
	if len(s) <= 6 || !strings.HasPrefix(s, "nonce=") {
		fmt.Fprintf(r.Err, "unexpected nonce response format: %s\n", s)
		return "", false
	}
	return strings.TrimRight(s[6:], "\r\n"), true
}

// collectMRU retrieves the whole MRU list: newest entry first, and the daemon's "now".
func (r *Runner) collectMRU(parms string) ([]*mruEntry, ntptime.Time, bool) {
	if r.session == nil {
		fmt.Fprintf(r.Err, "***No host open, use `host' command\n")
		return nil, 0, false
	}
	nonce, ok := r.fetchNonce()
	if !ok {
		return nil, 0, false
	}
	var (
		list     []*mruEntry // newest first
		dupes    int
		now      ntptime.Time
		haveNow  bool
		frags    = 32
		limit    = 96
		capFrags = true
		rowLimit = 256
		restarts = 0
		uses     = 1
		ri       = 0
		failures = 0
	)
	req := fmt.Sprintf("nonce=%s, frags=%d%s", nonce, frags, parms)
	for {
		resp, err := r.session.Query(OpReadMRU, 0, []byte(req), false)
		var se *ServerError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Code == 5 && ri > 0:
			// None of the entries we sent match: toss them and retry.
			list = list[min(ri, len(list)):]
			if len(list) == 0 {
				restarts++
				if restarts > 8 {
					fmt.Fprint(r.Err, "Giving up after 8 restarts from the beginning.\n"+
						"With high-traffic NTP servers, this can occur if the\n"+
						"MRU list is limited to less than about 16 seconds' of\n"+
						"entries.  See the 'mru' ntp.conf directive to adjust.\n")
					return nil, 0, false
				}
			}
		case errors.As(err, &se) && se.Code == 5:
			fmt.Fprintln(r.Err, "CERR_UNKNOWNVAR from ntpd but no priors given.")
			return nil, 0, false
		case errors.As(err, &se) && se.Code == 6:
			if capFrags {
				capFrags = false
			} else {
				rowLimit--
				limit = min(limit, rowLimit)
			}
		case errors.Is(err, ErrIncomplete) || errors.Is(err, ErrTimedOut):
			if capFrags {
				frags = max(2, frags/2)
			} else {
				limit = max(2, limit/2)
			}
		default:
			r.showError(err, 0)
			return nil, 0, false
		}
		if err != nil {
			failures++
			if failures > 16 {
				fmt.Fprintln(r.Err, "***mrulist: giving up after 16 failed requests")
				return nil, 0, false
			}
		} else {
			failures = 0
		}
		complete := false
		if err == nil {
			if r.Raw {
				r.printVars(r.Out, resp.Data, resp.Status, StatusSys, true)
			}
			var ok, progress bool
			var newNonce string
			list, dupes, now, haveNow, complete, newNonce, progress, ok = r.parseMRU(resp.Data, list, dupes, now)
			if !ok {
				return nil, 0, false
			}
			if !haveNow && !complete && !progress {
				// Neither entries nor the end of the list: asking again would loop forever.
				fmt.Fprintln(r.Err, "***mrulist: the server's reply holds no new entries and no end of list")
				return nil, 0, false
			}
			if newNonce != "" {
				nonce, uses = newNonce, 0
			}
		}
		if haveNow {
			complete = true
		}
		if complete {
			fmt.Fprintf(r.Err, "\rRetrieved %d unique MRU entries and %d updates.\n", len(list), dupes)
			return list, now, true
		}
		// Classic pauses 5 ms between rounds to let ntpd catch up with other duties.
		if r.pause != nil {
			r.pause(5 * time.Millisecond)
		} else {
			time.Sleep(5 * time.Millisecond)
		}
		if err == nil {
			if capFrags {
				frags = min(32, frags+1)
			} else {
				limit = min(96, rowLimit, max(limit+1, limit*33/32))
			}
		}
		var b strings.Builder
		if capFrags {
			fmt.Fprintf(&b, "nonce=%s, frags=%d%s", nonce, frags, parms)
		} else {
			fmt.Fprintf(&b, "nonce=%s, limit=%d%s", nonce, limit, parms)
		}
		uses++
		if uses >= 4 {
			n, ok := r.fetchNonce()
			if !ok {
				return nil, 0, false
			}
			nonce, uses = n, 0
		}
		for ri = 0; ri < len(list); ri++ {
			e := list[ri]
			s := fmt.Sprintf(", addr.%d=%s, last.%d=0x%08x.%08x", ri, sptoa(e.addr.Addr(), e.addr.Port()),
				ri, e.last.Seconds(), e.last.Fraction())
			if 468-b.Len() <= len(s) {
				break
			}
			b.WriteString(s)
		}
		req = b.String()
	}
}

// parseMRU reads one READ_MRU reply into list (newest first), as classic's collect_mru_list
// does: an entry is added once all six of its fields arrived; a newer sighting of a known
// address replaces the older one.
func (r *Runner) parseMRU(data []byte, list []*mruEntry, dupes int, now ntptime.Time) (
	_ []*mruEntry, _ int, _ ntptime.Time, haveNow, complete bool, nonce string, progress, ok bool) {
	const all = 0x3f
	got := 0
	ci := 0
	mon := &mruEntry{}
	add := func() {
		fresh := true
		for i, e := range list {
			if e.addr == mon.addr {
				fresh = int64(mon.last-e.last) > 0
				list = append(list[:i], list[i+1:]...)
				dupes++
				break
			}
		}
		progress = progress || fresh
		list = append([]*mruEntry{mon}, list...)
		mon = &mruEntry{}
		got = 0
		ci++
	}
	mark := func(bit int) {
		got |= bit
		if got == all {
			add()
		}
	}
	idx := func(tag, prefix string) bool {
		n, err := strconv.Atoi(strings.TrimPrefix(tag, prefix))
		return strings.HasPrefix(tag, prefix) && err == nil && n == ci
	}
	for _, v := range ParseVars(data) {
		tag, val := v.Name, v.Value
		switch {
		case tag == "nonce":
			nonce = val
		case tag == "now":
			ts, ok := hexTS(val)
			if ok {
				now, haveNow = ts, true
			}
		case tag == "last.older", tag == "addr.older":
			// Continuation markers: our list already holds that entry.
		case tag == "last.newest":
			if got != 0 {
				fmt.Fprintf(r.Err, "last.newest %s before complete row, got = 0x%x\n", val, got)
				return nil, 0, 0, false, false, "", false, false
			}
			if !haveNow {
				fmt.Fprintf(r.Err, "last.newest %s before now=\n", val)
				return nil, 0, 0, false, false, "", false, false
			}
			complete = true
		case idx(tag, "addr."):
			if a, p, ok := decodeNetnum(val); ok {
				mon.addr = netip.AddrPortFrom(a, p)
				mark(0x20)
			}
		case idx(tag, "last."):
			if ts, ok := hexTS(val); ok {
				mon.last = ts
				mark(0x2)
			}
		case idx(tag, "first."):
			if ts, ok := hexTS(val); ok {
				mon.first = ts
				mark(0x4)
			}
		case idx(tag, "ct."):
			if n, err := strconv.Atoi(val); err == nil && n >= 1 {
				mon.count = n
				mark(0x1)
			}
		case idx(tag, "mv."):
			if n, err := strconv.Atoi(val); err == nil {
				mon.mode, mon.ver = n&7, n>>3&7
				mark(0x8)
			}
		case idx(tag, "rs."):
			if n, err := strconv.ParseUint(strings.TrimPrefix(val, "0x"), 16, 16); err == nil && strings.HasPrefix(val, "0x") {
				mon.rs = uint16(n)
				mark(0x10)
			}
		}
	}
	return list, dupes, now, haveNow, complete, nonce, progress, true
}

// hexTS reads "0x<8 hex>.<8 hex>".
func hexTS(s string) (ntptime.Time, bool) {
	if !strings.HasPrefix(s, "0x") {
		return 0, false
	}
	return decodeTS(s)
}

// ifstats prints the daemon's interface list (READ_ORDLIST_A, authenticated; compat.md 3.8).
func (r *Runner) ifstats() {
	resp, ok := r.query(OpReadOrdlistA, 0, nil, true)
	if !ok {
		return
	}
	w := r.Out
	fmt.Fprint(w, "    interface name                                        send\n"+
		" #  address/broadcast     drop flag ttl mc received sent failed peers   uptime\n"+
		strings.Repeat("=", 78)+"\n")
	type row struct {
		ifnum                       uint64
		addr, bcast                 netip.AddrPort
		enabled                     int64
		flags, mc, pc, rx, tx, terr uint64
		ttl, up                     uint64
		name                        string
	}
	var rw row
	fields := 0
	for _, v := range ParseVars(resp.Data) {
		tag, val := v.Name, v.Value
		base, idxs, found := strings.Cut(tag, ".")
		if !found {
			continue
		}
		ui, err := strconv.ParseUint(idxs, 10, 32)
		if err != nil {
			continue
		}
		ok := false
		u := func(dst *uint64) {
			if n, err := strconv.ParseUint(val, 10, 32); err == nil {
				*dst, ok = n, true
			}
		}
		switch base {
		case "addr":
			if a, p, good := decodeNetnum(val); good {
				rw.addr, ok = netip.AddrPortFrom(a, p), true
			}
		case "bcast":
			if val == "" {
				ok = true
			} else if a, p, good := decodeNetnum(val); good {
				rw.bcast, ok = netip.AddrPortFrom(a, p), true
			}
		case "en":
			if n, err := strconv.ParseInt(val, 10, 32); err == nil {
				rw.enabled, ok = n, true
			}
		case "flags":
			if strings.HasPrefix(val, "0x") {
				if n, err := strconv.ParseUint(val[2:], 16, 32); err == nil {
					rw.flags, ok = n, true
				}
			}
		case "mc":
			u(&rw.mc)
		case "name":
			if len(val) >= 2 && len(val)-2 < 32 {
				rw.name, ok = val[1:len(val)-1], true
			}
		case "pc":
			u(&rw.pc)
		case "rx":
			u(&rw.rx)
		case "tl":
			u(&rw.ttl)
		case "tx":
			u(&rw.tx)
		case "txerr":
			u(&rw.terr)
		case "up":
			u(&rw.up)
		}
		if !ok {
			continue
		}
		if rw.ifnum != ui {
			if rw.ifnum+1 > ui {
				fmt.Fprintf(r.Err, "received if index %d, have %d of %d fields for index %d, aborting.\n",
					ui, fields, 12, rw.ifnum)
				return
			}
			if fields < 12 {
				fmt.Fprintf(w, "Warning: incomplete row with %d (of %d) fields\n", fields, 12)
			}
			fields = 0
			rw.ifnum = ui
		}
		fields++
		if fields < 12 {
			continue
		}
		en := byte('D')
		if rw.enabled != 0 {
			en = '.'
		}
		fmt.Fprintf(w, "%3d %-24.24s %c %4x %3d %2d %6d %6d %6d %5d %8d\n    %s\n",
			rw.ifnum, rw.name, en, rw.flags, rw.ttl, rw.mc, rw.rx, rw.tx, rw.terr, rw.pc,
			int32(uint32(rw.up)), sptoa(rw.addr.Addr(), rw.addr.Port()))
		if !isUnspec(rw.bcast.Addr()) {
			fmt.Fprintf(w, "    %s\n", sptoa(rw.bcast.Addr(), rw.bcast.Port()))
		}
		rw = row{ifnum: rw.ifnum}
	}
	if fields != 12 {
		fmt.Fprintf(w, "Warning: incomplete row with %d (of %d) fields\n", fields, 12)
	}
}

// reslist prints the daemon's restriction list (READ_ORDLIST_A "addr_restrictions").
func (r *Runner) reslist() {
	resp, ok := r.query(OpReadOrdlistA, 0, []byte("addr_restrictions"), true)
	if !ok {
		return
	}
	w := r.Out
	fmt.Fprint(w, "   hits    addr/prefix or addr mask\n           restrictions\n"+strings.Repeat("=", 78)+"\n")
	var (
		idx        uint64
		addr, mask netip.Addr
		hits       uint64
		flags      string
		fields     int
	)
	for _, v := range ParseVars(resp.Data) {
		base, idxs, found := strings.Cut(v.Name, ".")
		if !found {
			continue
		}
		ui, err := strconv.ParseUint(idxs, 10, 32)
		if err != nil {
			continue
		}
		ok := false
		switch base {
		case "addr":
			if a, _, good := decodeNetnum(v.Value); good {
				addr, ok = a, true
			}
		case "mask":
			if a, _, good := decodeNetnum(v.Value); good {
				mask, ok = a, true
			}
		case "hits":
			if n, err := strconv.ParseUint(v.Value, 10, 64); err == nil {
				hits, ok = n, true
			}
		case "flags":
			if len(v.Value) < 128 {
				flags, ok = v.Value, true
			} else {
				flags = ""
			}
		}
		if !ok {
			continue
		}
		if idx != ui {
			if idx+1 != ui {
				fmt.Fprintf(r.Err, "received reslist index %d, have %d of %d fields for index %d, aborting.\n",
					ui, fields, 4, idx)
				return
			}
			if fields < 4 {
				fmt.Fprintf(w, "Warning: incomplete row with %d (of %d) fields", fields, 4)
			}
			fields = 0
			idx = ui
		}
		fields++
		if fields < 4 {
			continue
		}
		am := stoa(addr) + " " + stoa(mask)
		if p := prefixLen(mask); p >= 0 {
			am = fmt.Sprintf("%s/%d", stoa(addr), p)
		}
		fmt.Fprintf(w, "%10d %s\n           %s\n", hits, am, flags)
		addr, mask, hits, flags = netip.Addr{}, netip.Addr{}, 0, ""
	}
	if fields != 4 {
		fmt.Fprintf(w, "Warning: incomplete row with %d (of %d) fields", fields, 4)
	}
}

// prefixLen returns the prefix length of a contiguous mask, or -1.
func prefixLen(mask netip.Addr) int {
	b := mask.AsSlice()
	n := 0
	seenZero := false
	for _, c := range b {
		for i := 7; i >= 0; i-- {
			if c>>i&1 == 1 {
				if seenZero {
					return -1
				}
				n++
			} else {
				seenZero = true
			}
		}
	}
	return n
}
