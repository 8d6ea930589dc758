// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/system"
)

// Pool is one `pool` line: a prototype association that resolves Name and spawns client
// associations with the addresses it finds (compat.md 4.1).
type Pool struct {
	// Name is the DNS name of the pool, shown as srchost of the prototype.
	Name string
	// Family restricts the addresses used: 0 for any, 4 or 6 (`pool -4`, `ntpd -4`).
	Family int
	// Peer carries the options of the line. Spawned associations take MinPoll, MaxPoll,
	// IBurst and NoSelect from it (classic passes on nothing else: not prefer, burst, true
	// or key); Version is what the solicitations are sent with. Addr and Mode are ignored.
	Peer peer.Config
	// Group makes the prototype a manycast client (`manycastclient GROUP [ttl N]`, ntpd
	// MDF_ACAST): it solicits the multicast group itself, no name is resolved, and every
	// server that answers a solicitation may get an association (manycast.go). MaxTTL is
	// the expanding ring's largest TTL (the line's ttl; 0: DefaultManycastTTL).
	Group  netip.Addr
	MaxTTL uint8
}

// ResolveRequest asks the daemon to resolve a pool's name. The answer goes back to the
// engine through PoolResolved, on the engine's goroutine.
type ResolveRequest struct {
	ID     uint16 // the pool prototype's association ID
	Name   string
	Family int // 0, 4 or 6
}

// poolSolicitSpacing is how soon a pool solicits its next server after one answered:
// classic ntpd 4.2.8p15 moves the prototype's next poll to one second after a reply that
// spawned an association, so a pool fills up at one server a second (observed: eight
// "Soliciting pool server" lines one second apart for a name with eight addresses).
const poolSolicitSpacing = time.Second

// pool is a pool prototype association (ntpd: a peer with MDF_POOL). It never measures
// anything: each time it polls it may send one client request ("solicitation") to the next
// address of its name that has no association yet, and a good reply mobilises a
// preemptible client association for that address (ntpd pool_xmit and receive AM_MANYCAST).
type pool struct {
	id       uint16
	seq      uint64
	name     string
	family   int
	cfg      peer.Config
	minpoll  int8
	maxpoll  int8
	version  uint8
	nextdate time.Time

	addrs     []netip.Addr // the resolved addresses not yet tried; nil: resolve at the next poll
	resolving bool
	// solicit is the address of the outstanding solicitation and aorg its transmit
	// timestamp; only a server reply from there with that origin is taken.
	solicit netip.AddrPort
	aorg    ntptime.Time
	sent    uint64
	// group, ttl, maxTTL: a manycast client's group and expanding ring (manycast.go).
	group       netip.AddrPort
	ttl, maxTTL uint8
}

func newPool(p Pool, id uint16, seq uint64, start time.Time) (*pool, error) {
	if p.Name == "" {
		return nil, errors.New("pool: empty name")
	}
	if p.Family != 0 && p.Family != 4 && p.Family != 6 {
		return nil, fmt.Errorf("pool %s: address family %d (want 0, 4 or 6)", p.Name, p.Family)
	}
	minp, maxp := p.Peer.MinPoll, p.Peer.MaxPoll
	if minp == 0 {
		minp = peer.DefMinPoll
	}
	if maxp == 0 {
		maxp = peer.DefMaxPoll
	}
	minp = min(max(minp, peer.MinPoll), peer.MaxPoll)
	maxp = min(max(maxp, peer.MinPoll), peer.MaxPoll)
	if minp > maxp {
		minp = maxp
	}
	v := p.Peer.Version
	if v == 0 {
		v = wire.VersionMax
	}
	if v < wire.VersionMin || v > wire.VersionMax {
		return nil, fmt.Errorf("pool %s: version %d outside 1..4", p.Name, v)
	}
	delay := p.Peer.StartDelay
	if delay <= 0 {
		delay = time.Second
	}
	pl := &pool{id: id, seq: seq, name: p.Name, family: p.Family, cfg: p.Peer,
		minpoll: minp, maxpoll: maxp, version: v, nextdate: start.Add(delay)}
	if p.Group.IsValid() {
		if !p.Group.IsMulticast() {
			return nil, fmt.Errorf("manycastclient %s: not a multicast group", p.Group)
		}
		pl.group = netip.AddrPortFrom(p.Group.Unmap(), 123)
		pl.maxTTL = p.MaxTTL
		if pl.maxTTL == 0 {
			pl.maxTTL = DefaultManycastTTL
		}
	}
	return pl, nil
}

// wants reports whether a pool may solicit another server (ntpd transmit() for MDF_POOL):
// while there are fewer than `tos maxclock` associations, or fewer than `tos minclock`
// survivors of the last selection, up to a hard limit of twice maxclock associations. The
// counts include every association, the prototypes and reference clocks too, as ntpd's
// peer_associations does; so with maxclock 10 one pool fills up to nine servers before the
// first selection and, while fewer than minclock of them survive, up to twenty.
func (e *Engine) poolWants() bool {
	n := e.count()
	return n <= 2*e.sys.Tos.MaxClock && (n < e.sys.Tos.MaxClock || e.survivors < e.sys.Tos.MinClock)
}

// count is ntpd's peer_associations: every association, including pool prototypes.
func (e *Engine) count() int { return len(e.assocs) + len(e.pools) }

// pollPool runs a pool prototype's poll: maybe a solicitation, then the next poll one
// minpoll later (with ntpd's random stretch; the prototype is never reachable).
func (e *Engine) pollPool(p *pool, now time.Time, out []Send) []Send {
	if e.poolWants() {
		out = e.poolXmit(p, now, out)
	} else {
		p.ttl = 0 // a manycast client's ring starts from the link next time
	}
	secs := (int64(0x1000|e.rng.IntN(256)) << uint(p.minpoll)) >> 12
	p.nextdate = now.Add(time.Duration(secs) * time.Second)
	return out
}

// poolXmit sends a solicitation to the next resolved address that has no association yet,
// or asks for the name to be resolved when none is left (ntpd pool_xmit: "out of
// addresses, re-query DNS next poll").
func (e *Engine) poolXmit(p *pool, now time.Time, out []Send) []Send {
	if p.group.IsValid() {
		return e.manycastXmit(p, now, out)
	}
	if p.addrs == nil {
		if !p.resolving {
			p.resolving = true
			e.log.Debug(fmt.Sprintf("pool DNS lookup %s started", p.name))
			e.resolve(ResolveRequest{ID: p.id, Name: p.name, Family: p.family})
		}
		return out
	}
	for len(p.addrs) > 0 {
		a := p.addrs[0]
		p.addrs = p.addrs[1:]
		to := netip.AddrPortFrom(a, 123)
		if _, used := e.byAddr[to]; used {
			continue
		}
		if len(p.addrs) == 0 {
			p.addrs = nil
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
		p.solicit, p.aorg = to, pkt.Xmt
		p.sent++
		e.log.Info("Soliciting pool server " + a.String())
		return append(out, Send{To: to, Packet: pkt})
	}
	p.addrs = nil
	return out
}

// PoolResolved delivers the answer to a ResolveRequest. Addresses of the wrong family are
// dropped; the first usable one is solicited at once, as ntpd's pool_name_resolved does.
// A failed lookup is logged and tried again at the pool's next poll.
func (e *Engine) PoolResolved(id uint16, addrs []netip.Addr, err error, now time.Time) []Send {
	var p *pool
	for _, q := range e.pools {
		if q.id == id {
			p = q
		}
	}
	if p == nil {
		return nil
	}
	p.resolving = false
	if err != nil {
		e.log.Error(fmt.Sprintf("error resolving pool %s: %v", p.name, err))
		return nil
	}
	p.addrs = p.addrs[:0]
	for _, a := range addrs {
		a = a.Unmap()
		if (p.family == 4 && !a.Is4()) || (p.family == 6 && !a.Is6()) || !a.IsValid() {
			continue
		}
		p.addrs = append(p.addrs, a)
	}
	if len(p.addrs) == 0 {
		p.addrs = nil
		e.log.Error(fmt.Sprintf("error resolving pool %s: no usable address", p.name))
		return nil
	}
	out := e.poolXmit(p, now, nil)
	e.publish(now)
	return out
}

// poolReply takes a server reply to a pool solicitation (ntpd receive, AM_MANYCAST): a
// reply from an unsynchronised server or one outside `tos floor`..`ceiling` is declined;
// otherwise a preemptible client association is mobilised for the server and the pool
// solicits its next server a second later. It reports whether the packet was a pool reply.
func (e *Engine) poolReply(pkt *wire.Packet, data []byte, tr *wire.Trailer, src netip.AddrPort, now time.Time) bool {
	var p *pool
	for _, q := range e.pools {
		if q.solicit == src && q.aorg != 0 || q.group.IsValid() && q.aorg != 0 && pkt.Org == q.aorg {
			p = q
		}
	}
	if p == nil || pkt.Mode != wire.ModeServer || pkt.Org != p.aorg {
		return false
	}
	if p.group.IsValid() {
		// A manycast solicitation may be answered by many servers: each may get an
		// association, so the origin stays valid until the next solicitation.
		if _, known := e.byAddr[src]; known {
			return true
		}
		// A manycast client with a key (`manycastclient GROUP key N`) takes only replies
		// signed with that key, trusted for the server's address, as classic's
		// association with the key does (receive(), AUTH(peer->keyid, ...)).
		if id := p.cfg.KeyID; id != 0 && (e.keys == nil || !tr.HasMAC || tr.KeyID != id ||
			!e.keys.TrustedFrom(id, src.Addr().Unmap()) || !e.keys.Verify(id, data[:tr.AuthLen], tr.Digest)) {
			e.log.Debug(fmt.Sprintf("manycast %s: reply from %s not authenticated with key %d; declined", p.name, src.Addr(), id))
			return true
		}
	} else {
		p.solicit, p.aorg = netip.AddrPort{}, 0
	}
	stratum := pkt.Stratum
	if stratum == wire.StratumUnspec || stratum > wire.StratumUnsynched {
		stratum = wire.StratumUnsynched
	}
	if pkt.Leap == wire.LeapAlarm || stratum < e.sys.Tos.Floor || stratum >= e.sys.Tos.Ceiling {
		e.log.Debug(fmt.Sprintf("pool %s: declined %s (leap %d, stratum %d)", p.name, src.Addr(), pkt.Leap, pkt.Stratum))
		return true
	}
	v := pkt.Version
	if v < wire.VersionMin || v > wire.VersionMax {
		v = p.version
	}
	pc := peer.Config{Addr: src, Mode: wire.ModeClient, MinPoll: p.minpoll, MaxPoll: p.maxpoll,
		Version: v, IBurst: p.cfg.IBurst, NoSelect: p.cfg.NoSelect, Preempt: true, KeyID: p.cfg.KeyID}
	as, err := e.add(pc, nil, now)
	if err != nil {
		e.log.Error(fmt.Sprintf("pool %s: %v", p.name, err))
		return true
	}
	as.pool = p.id
	p.nextdate = now.Add(poolSolicitSpacing)
	return true
}

// poolVars are the variables classic shows for a pool prototype (compat.md trap 5):
// address 0.0.0.0 (or ::) port 0, leap 3, stratum 16, refid POOL, hmode 3, hpoll minpoll,
// ppoll maxpoll, reach 0, flash 0x1600, status 0x8811 (conf and bcst, reject, one mobilize
// event), maximum dispersion everywhere.
func (e *Engine) poolVars(p *pool, now time.Time) peer.Vars {
	any := netip.IPv4Unspecified()
	if p.family == 6 {
		any = netip.IPv6Unspecified()
	}
	v := peer.Vars{
		Addr:   netip.AddrPortFrom(any, 0),
		Status: peer.StatusConf | peer.StatusBcast | 1<<4 | uint16(peer.EvMobilize),
		Leap:   wire.LeapAlarm, Stratum: wire.StratumUnsynched, Precision: e.sys.Precision,
		RefID: wire.RefIDFromString("POOL"), HMode: wire.ModeClient, HPoll: p.minpoll,
		PPoll: p.maxpoll, MinPoll: p.minpoll, MaxPoll: p.maxpoll, Version: p.version,
		Flash: peer.FlashPeerStratum | peer.FlashPeerDist | peer.FlashPeerUnreach,
		Disp:  peer.MaxDisp, Timer: max(p.nextdate.Sub(now), 0), Selection: system.SelReject,
		Configured: true, IBurst: p.cfg.IBurst, NoSelect: p.cfg.NoSelect, Sent: p.sent,
	}
	if p.group.IsValid() {
		// A manycast client shows its group and refid MCST, as classic's.
		v.Addr, v.RefID = p.group, wire.RefIDFromString("MCST")
	}
	for i := range v.FiltDisp {
		v.FiltDisp[i] = peer.MaxDisp
	}
	return v
}
