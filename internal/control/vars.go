// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"gontp/internal/ntptime"
	"gontp/internal/snapshot"
	"gontp/refclock"
)

// varSet marks requested variables by their table index.
type varSet [2]uint64

func (v *varSet) add(i int)            { v[i>>6] |= 1 << (i & 63) }
func (v *varSet) has(i int) bool       { return v[i>>6]&(1<<(i&63)) != 0 }
func (v *varSet) empty() bool          { return v[0] == 0 && v[1] == 0 }
func (v *varSet) setvar(i int)         { v.add(i) }
func (v *varSet) hasSetvar(i int) bool { return v.has(i) }

// maxValue is the longest value classic reads from a request item; a longer one makes it
// stop parsing the request (ctl_getitem's "possible exploit" case).
const maxValue = 127

// requestNames is parseNames for a read request: an over-long value is counted, and a bad
// list fails the request with its error code (ok false).
func (s *Server) requestNames(r *reply, data []byte, names []string, setvars []SetVar) (set, extra varSet, ok bool) {
	set, extra, code, long := parseNames(data, names, setvars)
	if long {
		s.c.longValue.Add(1)
	}
	if code != 0 {
		r.fail(code)
		return set, extra, false
	}
	return set, extra, true
}

// parseNames reads a comma-separated variable list the way classic ctl_getitem does:
// separators and blanks before a name are skipped, each name must be one of names (a `name=value` item is
// accepted and its value ignored). An unknown name fails the whole request with
// CERR_UNKNOWNVAR. It returns the requested table indexes and, for system variables, the
// requested setvar indexes.
func parseNames(data []byte, names []string, setvars []SetVar) (set, extra varSet, code uint8, long bool) {
	i := 0
	for {
		for i < len(data) && (data[i] == ',' || isSpace(data[i]) || data[i] == 0) {
			i++
		}
		if i >= len(data) {
			return set, extra, 0, false
		}
		// The name runs to the next ',' or '=': classic skips blanks before a name but not
		// after it, so "stratum ,precision" names the unknown "stratum " (observed).
		start := i
		for i < len(data) && data[i] != ',' && data[i] != '=' {
			i++
		}
		name := data[start:i]
		if i < len(data) && data[i] == '=' {
			i++
			vs := i
			for i < len(data) && data[i] != ',' {
				i++
			}
			if i-vs > maxValue {
				return set, extra, 0, true
			}
		}
		found := false
		for k, n := range names {
			if n != "" && n == string(name) {
				set.add(k)
				found = true
				break
			}
		}
		if !found {
			for k := range setvars {
				if k < 128 && setvars[k].Name == string(name) {
					extra.add(k)
					found = true
					break
				}
			}
		}
		if !found {
			return set, extra, ErrUnknownVar, false
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// sysStatus is the system status word (compat.md 1.7, ntpd ctlsysstatus): leap indicator,
// the clock source class of the system peer, and the system event counter and code.
func sysStatus(snap *snapshot.Snapshot) uint16 {
	var src uint16
	if snap.SysPeer != 0 {
		src = 6 // CTL_SST_TS_NTP
		if p := findPeer(snap, snap.SysPeer); p != nil {
			if a, ok := refclock.ParseAddress(p.Vars.Addr.Addr()); ok {
				src = clockSource(a.Type)
			}
		}
	}
	return uint16(snap.Sys.Leap&3)<<14 | src<<8 | uint16(min(snap.SysEventCount, 15))<<4 |
		uint16(snap.SysEvent&15)
}

// clockSource is classic's clock source class for a refclock driver type (clocktypes[] in
// ntp_control.c): local 5, atomic/PPS 1, LF radio 2, HF radio 3, UHF/satellite 4,
// telephone 9.
func clockSource(t uint8) uint16 {
	switch t {
	case 1:
		return 5
	case 13, 22:
		return 1
	case 4, 8, 9, 14, 27, 32, 33, 34, 35, 37, 40:
		return 2
	case 3, 7, 19, 36:
		return 3
	case 18:
		return 9
	case 0, 15, 23, 24, 25:
		return 6
	}
	return 4
}

// rootDisp is the system root dispersion at now: the published value grown by PHI per second
// since it was computed (compat.md 8; classic adds it every second).
func rootDisp(snap *snapshot.Snapshot, now ntptime.Time) float64 {
	d := snap.Sys.RootDisp
	if snap.Sys.RootDispTime != 0 {
		if el := ntptime.Sub(now, snap.Sys.RootDispTime).Seconds(); el > 0 {
			d += snapshot.PHI * el
		}
	}
	return d
}

// textRefID says whether a reference ID at this stratum is text (kiss code, refclock name)
// rather than an address: stratum 0-1 and 16 and above (classic ctl_putsys CS_REFID).
func textRefID(stratum uint8) bool { return stratum <= 1 || stratum >= 16 }
