// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"net/netip"
	"strings"
	"time"

	"gontp/internal/snapshot"

	"gontp/refclock"
)

// peerNames is classic's peer variable table (peer_var[]), indexed by variable code; it
// fixes the order of replies to named requests. "xleave" is classic's name for CP_XMT.
var peerNames = []string{
	"", "config", "authenable", "authentic", "srcadr", "srcport", "dstadr", "dstport", "leap",
	"hmode", "stratum", "ppoll", "hpoll", "precision", "rootdelay", "rootdisp", "refid",
	"reftime", "org", "rec", "xleave", "reach", "unreach", "timer", "delay", "offset",
	"jitter", "dispersion", "keyid", "filtdelay", "filtoffset", "pmode", "received", "sent",
	"filtdisp", "flash", "ttl", "peer_var_list", "in", "out", "headway", "bias", "srchost",
	"timerec", "timereach", "badauth", "bogusorg", "oldpkt", "seldisp", "selbroken",
	"candidate",
}

// peerDefault is classic's default peer list (def_peer_var) by name.
var peerDefault = codes(peerNames, "srcadr", "srcport", "srchost", "dstadr", "dstport", "out",
	"in", "leap", "stratum", "precision", "rootdelay", "rootdisp", "refid", "reftime", "rec",
	"reach", "unreach", "hmode", "pmode", "hpoll", "ppoll", "headway", "flash", "keyid", "ttl",
	"offset", "delay", "dispersion", "jitter", "xleave", "bias", "filtdelay", "filtoffset",
	"filtdisp")

func codes(table []string, names ...string) []int {
	out := make([]int, len(names))
	for i, n := range names {
		for k, t := range table {
			if t == n {
				out[i] = k
			}
		}
	}
	return out
}

func (s *Server) readPeerVars(r *reply, id uint16, data []byte) {
	p := findPeer(r.snap, id)
	if p == nil {
		r.fail(ErrBadAssoc)
		return
	}
	set, _, ok := s.requestNames(r, data, peerNames, nil)
	if !ok {
		return
	}
	r.hdr.Status = p.Vars.Status
	if set.empty() {
		for _, c := range peerDefault {
			s.putPeer(r, p, c)
		}
	} else {
		for c := 1; c < len(peerNames); c++ {
			if set.has(c) {
				s.putPeer(r, p, c)
			}
		}
	}
	r.flush(false)
}

// peerVarList is the value of peer_var_list.
var peerVarList = strings.Join(peerNames[1:], ",")

// putPeer writes one peer variable (classic ctl_putpeer); not-applicable ones are skipped.
func (s *Server) putPeer(r *reply, p *snapshot.Peer, c int) {
	v := &p.Vars
	b := r.scratch[:0]
	name := peerNames[c]
	_, isClock := refclock.ParseAddress(v.Addr.Addr())
	switch name {
	case "config":
		b = appendBool(b, name, v.Configured)
	case "authenable":
		b = appendBool(b, name, v.KeyID != 0)
	case "authentic":
		b = appendBool(b, name, v.Authentic)
	case "srcadr":
		b = appendAddr(b, name, v.Addr.Addr())
	case "srcport":
		b = appendUint(b, name, uint64(v.Addr.Port()))
	case "dstadr", "dstport":
		l := p.Local
		if !l.IsValid() && isClock {
			// Classic binds refclock associations to the loopback interface.
			l = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 123)
		}
		if name == "dstadr" {
			b = appendAddr(b, name, l.Addr())
		} else {
			b = appendUint(b, name, uint64(l.Port()))
		}
	case "leap":
		b = appendUint(b, name, uint64(v.Leap))
	case "hmode":
		b = appendUint(b, name, uint64(v.HMode))
	case "stratum":
		b = appendUint(b, name, uint64(v.Stratum))
	case "ppoll":
		b = appendInt(b, name, int64(v.PPoll))
	case "hpoll":
		b = appendInt(b, name, int64(v.HPoll))
	case "precision":
		b = appendInt(b, name, int64(v.Precision))
	case "rootdelay":
		b = appendFixed(b, name, v.RootDelay*1e3, 3)
	case "rootdisp":
		b = appendFixed(b, name, v.RootDisp*1e3, 3)
	case "refid":
		b = appendRefID(b, name, v.RefID, isClock || textRefID(v.Stratum))
	case "reftime":
		b = appendTS(b, name, v.RefTime)
	case "org":
		b = appendTS(b, name, v.Org)
	case "rec":
		b = appendTS(b, name, v.Rec)
	case "xleave":
		// Classic shows it, in ms, when not zero; gontp keeps it for `xleave`
		// associations (peer.Vars.Xleave).
		if v.Xleave == 0 {
			return
		}
		b = appendFixed(b, name, v.Xleave*1e3, 3)
	case "in", "out", "bias":
		return // interface rates and bias: gontp has none of them
	case "reach":
		b = appendHex(b, name, uint64(v.Reach))
	case "unreach":
		b = appendInt(b, name, int64(v.Unreach))
	case "timer":
		b = appendInt(b, name, int64(v.Timer.Seconds()))
	case "delay":
		b = appendFixed(b, name, v.Delay*1e3, 3)
	case "offset":
		b = appendFixed(b, name, v.Offset*1e3, 3)
	case "jitter":
		b = appendFixed(b, name, v.Jitter*1e3, 3)
	case "dispersion":
		b = appendFixed(b, name, v.Disp*1e3, 3)
	case "keyid":
		if v.KeyID > 0xffff {
			b = appendHex(b, name, uint64(v.KeyID))
		} else {
			b = appendUint(b, name, uint64(v.KeyID))
		}
	case "filtdelay":
		b = appendFilter(b, name, &v.FiltDelay)
	case "filtoffset":
		b = appendFilter(b, name, &v.FiltOffset)
	case "filtdisp":
		b = appendFilter(b, name, &v.FiltDisp)
	case "pmode":
		b = appendUint(b, name, uint64(v.PMode))
	case "received":
		b = appendUint(b, name, v.Received)
	case "sent":
		b = appendUint(b, name, v.Sent)
	case "flash":
		b = appendHex(b, name, uint64(v.Flash))
	case "ttl":
		if !isClock {
			return // only refclocks (their mode) and manycast/broadcast associations
		}
		b = appendUint(b, name, 0)
	case "peer_var_list":
		b = appendQuoted(b, name, peerVarList)
	case "headway":
		b = appendInt(b, name, int64(v.Headway))
	case "srchost":
		if p.Hostname == "" {
			return
		}
		b = appendQuoted(b, name, p.Hostname)
	case "timerec":
		b = appendInt(b, name, sinceTime(r, v.TimeReceived))
	case "timereach":
		b = appendInt(b, name, sinceTime(r, v.TimeReachable))
	case "badauth":
		b = appendUint(b, name, v.BadAuth)
	case "bogusorg":
		b = appendUint(b, name, v.BogusOrg)
	case "oldpkt":
		b = appendUint(b, name, v.OldPkt)
	case "seldisp":
		b = appendUint(b, name, v.SelDisp)
	case "selbroken":
		b = appendUint(b, name, v.SelBroken)
	case "candidate":
		b = appendUint(b, name, uint64(v.Selection))
	default:
		return
	}
	r.put(b)
}

func appendBool(b []byte, name string, v bool) []byte {
	if v {
		return appendUint(b, name, 1)
	}
	return appendUint(b, name, 0)
}

// sinceTime is the whole seconds since t, 0 when it never happened.
func sinceTime(r *reply, t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(int64(r.now.Sub(t).Seconds()), 0)
}

// clockNames is classic's clock variable table (clock_var[]), indexed by code, with
// 4.2.8p15's minjitter at the end.
var clockNames = []string{"", "type", "timecode", "poll", "noreply", "badformat", "baddata",
	"fudgetime1", "fudgetime2", "stratum", "refid", "flags", "device", "clock_var_list",
	"minjitter"}

var clockDefault = codes(clockNames, "device", "type", "timecode", "poll", "noreply",
	"badformat", "baddata", "fudgetime1", "fudgetime2", "minjitter", "stratum", "refid", "flags")

var clockVarList = strings.Join(clockNames[1:], ",")

// readClock answers opcode 4 (classic read_clockstatus): association 0 means the system
// peer if it is a reference clock, else the first reference clock; the reply status is the
// clock status word.
func (s *Server) readClock(r *reply, id uint16, data []byte) {
	var p *snapshot.Peer
	if id == 0 {
		if sp := findPeer(r.snap, r.snap.SysPeer); sp != nil && sp.Clock != nil {
			p = sp
		} else {
			for i := range r.snap.Peers {
				if r.snap.Peers[i].Clock != nil {
					p = &r.snap.Peers[i]
					break
				}
			}
		}
	} else {
		p = findPeer(r.snap, id)
	}
	if p == nil || p.Clock == nil {
		r.fail(ErrBadAssoc)
		return
	}
	set, _, ok := s.requestNames(r, data, clockNames, nil)
	if !ok {
		return
	}
	cv := p.Clock
	r.hdr.Status = uint16(min(cv.Events, 15))<<4 | uint16(cv.Status&15)
	if set.empty() {
		for _, c := range clockDefault {
			s.putClock(r, cv, c, false)
		}
	} else {
		for c := 1; c < len(clockNames); c++ {
			if set.has(c) {
				s.putClock(r, cv, c, true)
			}
		}
	}
	r.flush(false)
}

func (s *Server) putClock(r *reply, cv *snapshot.ClockVars, c int, must bool) {
	b := r.scratch[:0]
	name := clockNames[c]
	switch name {
	case "type":
		if !must && cv.Description != "" {
			return
		}
		b = appendUint(b, name, uint64(cv.Type))
	case "timecode":
		b = appendQuoted(b, name, cv.Timecode)
	case "poll":
		b = appendUint(b, name, cv.Polls)
	case "noreply":
		b = appendUint(b, name, cv.NoReply)
	case "badformat":
		b = appendUint(b, name, cv.BadFormat)
	case "baddata":
		b = appendUint(b, name, cv.BadData)
	case "fudgetime1":
		if !must && !cv.Time1Set {
			return
		}
		b = appendFixed(b, name, cv.Time1*1e3, 3)
	case "fudgetime2":
		if !must && !cv.Time2Set {
			return
		}
		b = appendFixed(b, name, cv.Time2*1e3, 3)
	case "minjitter":
		if !must && !cv.MinJitterSet {
			return
		}
		b = appendFixed(b, name, cv.MinJitter*1e3, 3)
	case "stratum":
		b = appendUint(b, name, uint64(cv.Stratum))
	case "refid":
		b = appendRefID(b, name, refIDFromText(cv.RefID), true)
	case "flags":
		b = appendUint(b, name, uint64(cv.Flags))
	case "device":
		b = appendQuoted(b, name, cv.Description)
	case "clock_var_list":
		b = appendQuoted(b, name, clockVarList)
	}
	r.put(b)
}
