// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"fmt"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// DefaultManycastTTL is the largest TTL of a manycast client's expanding ring when its line
// gives none: gontp's choice, a site's routers rarely span more hops.
const DefaultManycastTTL = 8

// manycastXmit sends a manycast client's solicitation (ntpd peer_xmit for MDF_ACAST): a
// client request to the group, answered by the manycast servers that hear it (server
// replies from their unicast addresses, taken by poolReply). The expanding ring search:
// the first solicitation goes out with TTL 1 (the link), and each further one, sent while
// the engine still wants servers (poolWants: fewer than `tos maxclock` associations or
// fewer than `tos minclock` survivors), one hop further, up to the line's ttl. Once enough
// servers are found the prototype stays quiet, and the ring starts again from the link
// when it must solicit anew. With `key N` on the line the solicitations are signed with
// that key and only replies signed with it are taken (poolReply).
func (e *Engine) manycastXmit(p *pool, now time.Time, out []Send) []Send {
	switch {
	case p.ttl == 0:
		p.ttl = 1
	case p.ttl < p.maxTTL:
		p.ttl++
	}
	stratum := e.sys.Stratum
	if stratum >= wire.StratumUnsynched {
		stratum = wire.StratumUnspec
	}
	pkt := wire.Packet{Leap: e.sys.Leap, Version: p.version, Mode: wire.ModeClient,
		Stratum: stratum, Poll: p.minpoll, Precision: e.sys.Precision,
		RootDelay: ntptime.ShortFromSeconds(e.sys.RootDelay),
		RootDisp:  ntptime.ShortFromSeconds(e.sys.RootDisp),
		RefID:     e.sys.RefID, RefTime: e.sys.RefTime, Xmt: ntptime.FromTime(now)}
	id := p.cfg.KeyID
	if id != 0 && (e.keys == nil || !e.keys.Trusted(id)) {
		// Classic peer_xmit: "no key", nothing sent.
		e.warnOnce("manycast-key-"+p.name, fmt.Sprintf("manycastclient %s key %d: not a trusted key of the key file; no solicitation is sent", p.name, id))
		return out
	}
	p.aorg = pkt.Xmt
	p.sent++
	e.log.Debug(fmt.Sprintf("manycast solicitation to %s, ttl %d", p.group.Addr(), p.ttl))
	return append(out, Send{To: p.group, Packet: pkt, Cast: true, TTL: p.ttl, KeyID: id})
}
