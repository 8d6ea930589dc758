// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"net/netip"
	"strconv"
	"time"
)

// readOrdList answers opcode 11 for an authenticated requester (classic read_ordlist):
// empty data or "ifstats" gives the interface list, "addr_restrictions" the restrict list,
// anything else CERR_UNKNOWNVAR. Rows use indexed tags; classic shuffles the tags of a row
// and adds a noise tag, which ntpq ignores, so gontp sends them in a fixed order.
func (s *Server) readOrdList(r *reply, data []byte, now time.Time) {
	for len(data) > 0 && (data[len(data)-1] == 0 || isSpace(data[len(data)-1])) {
		data = data[:len(data)-1]
	}
	switch string(data) {
	case "", "ifstats":
		var ifs []Interface
		if s.src.Interfaces != nil {
			ifs = s.src.Interfaces(now)
		}
		for i := range ifs {
			s.putInterface(r, i, &ifs[i])
		}
	case "addr_restrictions":
		var rs []Restriction
		if s.src.Restrictions != nil {
			rs = s.src.Restrictions()
		}
		for i := range rs {
			s.putRestriction(r, i, &rs[i])
		}
	default:
		r.fail(ErrUnknownVar)
		return
	}
	r.flush(false)
}

func (r *reply) tag(name string, n int) []byte {
	b := append(r.scratch[:0], name...)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '=')
}

func (s *Server) putInterface(r *reply, n int, f *Interface) {
	r.put(appendHostPort(r.tag("addr", n), f.Addr))
	b := r.tag("bcast", n)
	if f.Broadcast.IsValid() {
		b = appendHostPort(b, f.Broadcast)
	}
	r.put(b)
	en := uint64(0)
	if f.Enabled {
		en = 1
	}
	r.put(strconv.AppendUint(r.tag("en", n), en, 10))
	b = append(r.tag("name", n), '"')
	b = append(b, f.Name...)
	r.put(append(b, '"'))
	b = append(r.tag("flags", n), "0x"...)
	r.put(strconv.AppendUint(b, uint64(f.Flags), 16))
	r.put(strconv.AppendUint(r.tag("tl", n), uint64(f.TTL), 10))
	r.put(strconv.AppendUint(r.tag("mc", n), uint64(f.Multicast), 10))
	r.put(strconv.AppendUint(r.tag("rx", n), f.Received, 10))
	r.put(strconv.AppendUint(r.tag("tx", n), f.Sent, 10))
	r.put(strconv.AppendUint(r.tag("txerr", n), f.SendFailed, 10))
	r.put(strconv.AppendUint(r.tag("pc", n), f.Peers, 10))
	r.put(strconv.AppendUint(r.tag("up", n), f.Uptime, 10))
}

func (s *Server) putRestriction(r *reply, n int, e *Restriction) {
	r.put(unmapped(r.tag("addr", n), e.Addr))
	r.put(unmapped(r.tag("mask", n), e.Mask))
	r.put(strconv.AppendUint(r.tag("hits", n), e.Hits, 10))
	r.put(append(r.tag("flags", n), e.Flags...))
}

func unmapped(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, "0.0.0.0"...)
	}
	return a.Unmap().AppendTo(b)
}
