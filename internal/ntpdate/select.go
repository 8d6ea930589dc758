// SPDX-License-Identifier: BSD-2-Clause

package ntpdate

import (
	"net/netip"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// server is one address being polled, with the fields classic ntpdate keeps per server.
type server struct {
	name string // as given on the command line, for debug output
	addr netip.AddrPort

	eventTime int // tick of the next transmit; 0 once complete
	xmtcnt    int
	done      bool
	xmt       ntptime.Time // transmit timestamp of the outstanding request; 0 when none

	// Filter registers, one slot per sample; a zero delay marks a sample that timed out.
	nextpt  int
	fDelay  [maxSamples]sfp
	fOffset [maxSamples]lfp
	fSoff   [maxSamples]sfp

	// From the last accepted reply. stratum stays 0 until a reply is accepted.
	leap      uint8
	stratum   int
	precision int8
	rootdelay sfp
	rootdisp  uint32
	refid     uint32
	reftime   ntptime.Time
	org       ntptime.Time // the server's transmit timestamp (T3) of the last reply
	trust     uint8

	// Clock filter results.
	delay      sfp
	offset     lfp
	soffset    sfp
	dispersion uint32
}

// rejectReason says why a reply is dropped; the strings are classic ntpdate's debug messages.
type rejectReason string

// process applies classic ntpdate's receive checks to a reply from s and, when it passes,
// shifts its offset and delay into the filter. rx is the local receive time (T4). It returns
// "" when the sample was taken.
func (s *server) process(p *wire.Packet, rx ntptime.Time) rejectReason {
	if p.Version < 1 || p.Version > 4 {
		return "receive: bad version"
	}
	if (p.Mode != wire.ModeServer && p.Mode != wire.ModeSymPassive) || p.Stratum >= wire.StratumUnsynched {
		return rejectReason("receive: mode " + itoa(int(p.Mode)) + " stratum " + itoa(int(p.Stratum)))
	}
	// Anti-spoofing: the reply must echo our outstanding request's transmit timestamp. Clearing
	// it afterwards makes duplicates and replays fail the same test.
	if s.xmt == 0 || p.Org != s.xmt {
		return "receive: pkt.org and peer.xmt differ"
	}
	t1 := s.xmt
	s.xmt = 0
	s.leap = p.Leap
	s.stratum = int(p.Stratum)
	if s.stratum == wire.StratumUnspec {
		s.stratum = wire.StratumUnsynched // PKT_TO_STRATUM
	}
	s.precision = p.Precision
	s.rootdelay = sfp(p.RootDelay)
	s.rootdisp = uint32(p.RootDisp)
	s.refid = p.RefID
	s.reftime = p.RefTime
	s.org = p.Xmt
	if p.Rec == 0 || diff(p.Xmt, p.Rec) < 0 {
		return "receive: pkt insane"
	}
	t10 := diff(p.Xmt, rx) // T3 - T4
	t23 := diff(p.Rec, t1) // T2 - T1
	ci := half(t10, t23)
	di := toSfp(t23 - t10)
	di += precisionFP(ourPrecision) + precisionFP(s.precision) + ntpMaxSkew
	if di <= 0 {
		ci, di = 0, 0
	} else {
		di = max(di, ntpMinDist)
	}
	s.shift(di, ci)
	return ""
}

// shift puts one sample into the filter (server_data); a timed-out request shifts in zeros.
func (s *server) shift(d sfp, c lfp) {
	if s.nextpt < maxSamples {
		s.fDelay[s.nextpt] = d
		s.fOffset[s.nextpt] = c
		s.fSoff[s.nextpt] = toSfp(c)
		s.nextpt++
	}
}

// filter is classic ntpdate's clock_filter: the sample with the lowest non-zero delay wins, and
// the dispersion is the sum of the other samples' offset differences weighted by 1/2^i in delay
// order (missing samples count as PEER_MAXDISP).
func (s *server) filter(samples int) {
	var ord [maxSamples]int
	for i := range samples {
		ord[i] = i
	}
	for i := 0; i < samples-1; i++ {
		for j := i + 1; j < samples; j++ {
			if s.fDelay[ord[j]] == 0 {
				continue
			}
			if s.fDelay[ord[i]] == 0 || s.fDelay[ord[i]] > s.fDelay[ord[j]] {
				ord[i], ord[j] = ord[j], ord[i]
			}
		}
	}
	if s.fDelay[ord[0]] == 0 {
		s.delay, s.offset, s.soffset, s.dispersion = 0, 0, 0, uint32(peerMaxDisp)
		return
	}
	s.delay = s.fDelay[ord[0]]
	s.offset = s.fOffset[ord[0]]
	s.soffset = toSfp(s.offset)
	s.dispersion = 0
	for i := 1; i < samples; i++ {
		d := peerMaxDisp
		if s.fDelay[ord[i]] != 0 {
			d = s.fSoff[ord[i]] - s.fSoff[ord[0]]
			if d < 0 {
				d = -d
			}
			if d > peerMaxDisp || d < 0 {
				d = peerMaxDisp
			}
		}
		s.dispersion += uint32(d) >> uint(i)
	}
}

// dropReason returns why classic ntpdate's clock_select refuses s, or "" when s is a candidate.
// The strings are classic's debug messages after "<address>: Server dropped: ".
func (s *server) dropReason() string {
	switch {
	case s.delay == 0:
		return "no data"
	case s.stratum > wire.StratumMaxNTP:
		return "strata too high"
	case s.delay > ntpMaxWeight:
		return "server too far away"
	case s.leap == wire.LeapAlarm:
		return "leap not in sync"
	case s.reftime != 0 && diff(s.org, s.reftime) < 0:
		return "server is very broken"
	case s.org.Seconds()-s.reftime.Seconds() >= maxAge:
		return "server has gone too long without sync"
	case s.trust != 0:
		return "Server is untrusted"
	}
	return ""
}

const (
	maxList = 5 // NTP_MAXLIST
)

// selectServer is classic ntpdate's clock_select: keep at most five sane servers ordered by
// stratum and then by doubled dispersion, cut the list after the second stratum step, re-sort
// by stratum and delay, and drop the worst by offset spread (weighted by 3/4 per rank) until
// the spread is within the precision threshold; the first of what remains wins. debugf, when
// not nil, receives classic's "Server dropped" messages.
func selectServer(servers []*server, debugf func(format string, args ...any)) *server {
	var list []*server
	var badness []uint32
	for _, s := range servers {
		if why := s.dropReason(); why != "" {
			if debugf != nil {
				debugf("%s: Server dropped: %s\n", s.addr.Addr(), why)
			}
			continue
		}
		d := s.dispersion + s.dispersion
		i := 0
		for i < len(list) && s.stratum > list[i].stratum {
			i++
		}
		for ; i < len(list); i++ {
			if s.stratum < list[i].stratum || int32(d) < int32(badness[i]) {
				break
			}
		}
		if i >= maxList {
			continue
		}
		list = append(list[:i], append([]*server{s}, list[i:]...)...)
		badness = append(badness[:i], append([]uint32{d}, badness[i:]...)...)
		if len(list) > maxList {
			list, badness = list[:maxList], badness[:maxList]
		}
	}
	count := 0
	for i := 1; i < len(list); i++ {
		if list[i].stratum > list[i-1].stratum {
			count++
			if count == 2 {
				list = list[:i]
				break
			}
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	for i := 0; i < len(list)-1; i++ {
		for j := i + 1; j < len(list); j++ {
			if list[i].stratum < list[j].stratum {
				break
			}
			if list[i].delay < list[j].delay {
				continue
			}
			list[i], list[j] = list[j], list[i]
		}
	}
	threshold := precisionFP(ourPrecision) + ntpMaxSkew
	bad := make([]sfp, len(list))
	for len(list) > 1 {
		for k := range list {
			bad[k] = 0
			for j := range list {
				if j == k {
					continue
				}
				d := list[j].soffset - list[k].soffset
				if d < 0 {
					d = -d
				}
				for range j {
					d = d>>1 + d>>2
				}
				bad[k] += d
			}
		}
		worst := 0
		n := list[0].precision
		for j := 1; j < len(list); j++ {
			if uint32(bad[j]) >= uint32(bad[worst]) {
				worst = j
			}
			n = min(n, list[j].precision)
		}
		if uint32(bad[worst]) < uint32(threshold+precisionFP(n)) {
			break
		}
		list = append(list[:worst], list[worst+1:]...)
	}
	return list[0]
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
