// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"gontp/internal/engine"
	"gontp/internal/wire"
	"gontp/ntpconf"
	"gontp/peer"
)

// broadcastLine completes pc for a `broadcast ADDR [key N] [ttl N] [minpoll N] [version N]`
// line as classic's config_peers does for MODE_BROADCAST, or warns with the line's
// position and reports false when the line cannot make a broadcast association.
//
// The address must be a literal IPv4 broadcast address or an IPv4/IPv6 multicast group:
// whether a given IPv4 address is an interface's broadcast address is decided when the
// packets go out (netio CastSockets), as the interfaces may change. The association sends
// every 2^minpoll s (64 s by default); maxpoll has no use in this mode. ttl is the
// multicast TTL (hop limit), 1..255.
func broadcastLine(a *ntpconf.Association, pc *peer.Config, log *slog.Logger) bool {
	pc.Mode = wire.ModeBroadcast
	ad, err := netip.ParseAddr(a.Address)
	if err != nil {
		log.Warn(fmt.Sprintf("%s: broadcast %s: not an IP address (a broadcast address or a multicast group); this line has no effect", a.Pos, a.Address))
		return false
	}
	ad = ad.Unmap()
	if ad.Is6() && !ad.IsMulticast() {
		log.Warn(fmt.Sprintf("%s: broadcast %s: IPv6 has no broadcast; give a multicast group (ff02::101); this line has no effect", a.Pos, a.Address))
		return false
	}
	if ad.IsUnspecified() || ad.IsLoopback() {
		log.Warn(fmt.Sprintf("%s: broadcast %s: not a broadcast address or a multicast group; this line has no effect", a.Pos, a.Address))
		return false
	}
	if a.TTLMode < 0 || a.TTLMode > 255 {
		log.Warn(fmt.Sprintf("%s: broadcast %s: ttl %d outside 1..255; this line has no effect", a.Pos, a.Address, a.TTLMode))
		return false
	}
	if a.TTLMode != 0 && !ad.IsMulticast() {
		log.Warn(fmt.Sprintf("%s: broadcast %s: ttl applies only to a multicast group; it has no effect", a.Pos, a.Address))
	}
	for _, f := range []string{"iburst", "burst", "prefer", "noselect", "true", "preempt"} {
		if a.Has(f) {
			log.Warn(fmt.Sprintf("%s: broadcast %s: option %s has no effect on a broadcast server (classic ignores it too)", a.Pos, a.Address, f))
		}
	}
	pc.IBurst, pc.Burst, pc.Prefer, pc.NoSelect, pc.True, pc.Preempt = false, false, false, false, false, false
	pc.TTL = uint8(a.TTLMode)
	return true
}

// castErr logs that a broadcast association's packet could not go out, once for each
// destination and reason (the association keeps trying at every poll: an interface may
// come up).
func (d *Daemon) castErr(to netip.AddrPort, err error) {
	if d.castWarned[to.Addr()] == err.Error() {
		return
	}
	if d.castWarned == nil {
		d.castWarned = map[netip.Addr]string{}
	}
	d.castWarned[to.Addr()] = err.Error()
	d.log.Warn(fmt.Sprintf("broadcast %s: %v; nothing sent", to.Addr(), err))
}

// castListen is what a broadcast client receives on (netio ListenCast).
type castListen struct {
	broadcast bool         // `broadcastclient`
	groups    []netip.Addr // `multicastclient` groups
	manycast  []netip.Addr // `manycastserver` groups
}

// allGroups are the groups to join: the multicast client's and the manycast server's,
// each once.
func (c castListen) allGroups() []netip.Addr {
	var out []netip.Addr
	for _, g := range append(append([]netip.Addr(nil), c.groups...), c.manycast...) {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// serves reports whether the sockets bound for c (at start) serve the configuration next
// without new ones: next turns the broadcast client and the manycast server each off, or
// keeps exactly c's.
func (c castListen) serves(next castListen) bool {
	client := !next.on() || next.broadcast == c.broadcast && slices.Equal(next.groups, c.groups)
	manycast := len(next.manycast) == 0 || slices.Equal(next.manycast, c.manycast)
	return client && manycast
}

// on reports whether the daemon is a broadcast client at all (classic sys_bclient).
func (c castListen) on() bool { return c.broadcast || len(c.groups) > 0 }

// bclientFromConfig reads `broadcastclient` (classic 4.2.8p15 has no novolley: it is a
// syntax error there and here), `multicastclient [ADDR ...]` (no
// address: classic's 224.0.1.1, INADDR_NTP) and `broadcastdelay S`.
func bclientFromConfig(cfg *ntpconf.Config, rc *runConfig, log *slog.Logger) {
	rc.cast.broadcast = cfg.BroadcastClient != nil
	for _, a := range cfg.MulticastClient {
		g, err := netip.ParseAddr(a.Address)
		if err != nil || !g.Unmap().IsMulticast() {
			log.Warn(fmt.Sprintf("%s: multicastclient %s: not a multicast group address; ignored", a.Pos, a.Address))
			continue
		}
		rc.cast.groups = append(rc.cast.groups, g.Unmap())
	}
	for _, a := range cfg.ManycastServer {
		g, err := netip.ParseAddr(a.Address)
		if err != nil || !g.Unmap().IsMulticast() {
			log.Warn(fmt.Sprintf("%s: manycastserver %s: not a multicast group address; ignored (classic answers manycast requests only on groups)", a.Pos, a.Address))
			continue
		}
		rc.cast.manycast = append(rc.cast.manycast, g.Unmap())
	}
	for _, d := range cfg.Directives {
		if d.Keyword == "multicastclient" && len(cfg.MulticastClient) == 0 {
			rc.cast.groups = append(rc.cast.groups, netip.MustParseAddr("224.0.1.1"))
			break
		}
	}
	for _, s := range cfg.Settings {
		if s.Keyword != "broadcastdelay" {
			continue
		}
		if s.Value.Dbl <= 0 || s.Value.Dbl >= 1 {
			log.Warn(fmt.Sprintf("%s: broadcastdelay %g: not between 0 and 1 s; classic's limit %g s stays", s.Pos, s.Value.Dbl, engine.DefaultVolleyLimit))
			continue
		}
		rc.engine.BClient.Delay = s.Value.Dbl
	}
}

// manycastLine makes the engine's pool prototype for a `manycastclient GROUP [key N] [ttl N]
// [minpoll N] [maxpoll N] [version N] [iburst] ...` line, or warns with its position.
func manycastLine(a *ntpconf.Association, pc peer.Config, log *slog.Logger) (engine.Pool, bool) {
	g, err := netip.ParseAddr(a.Address)
	if err != nil || !g.Unmap().IsMulticast() {
		log.Warn(fmt.Sprintf("%s: manycastclient %s: not a multicast group address; this line has no effect", a.Pos, a.Address))
		return engine.Pool{}, false
	}
	if a.TTLMode < 0 || a.TTLMode > 255 {
		log.Warn(fmt.Sprintf("%s: manycastclient %s: ttl %d outside 1..255; this line has no effect", a.Pos, a.Address, a.TTLMode))
		return engine.Pool{}, false
	}
	// `key N`: the solicitations are signed with it, and only servers whose replies are
	// signed with it get an association, which keeps the key (engine manycast.go).
	pc.Prefer, pc.Burst, pc.True, pc.Preempt = false, false, false, false
	return engine.Pool{Name: g.Unmap().String(), Group: g.Unmap(), MaxTTL: uint8(a.TTLMode), Peer: pc}, true
}

// manycastClient reports whether a manycastclient line is in force (server.Config).
func (rc *runConfig) manycastClient() bool {
	for _, p := range rc.engine.Pools {
		if p.Group.IsValid() {
			return true
		}
	}
	return false
}
