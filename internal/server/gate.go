// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"math/rand/v2"
	"net/netip"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Gate is the access control in front of Respond: the restrict list and the MRU monitor,
// applied to each datagram at the points of classic ntpd's receive() where they act, so that
// Respond gets the Source (restrict flags and this packet's rate-limit verdict) classic would
// have computed. It is safe for concurrent use by every receive loop and does not allocate.
type Gate struct {
	List    *RestrictList
	Monitor *Monitor
}

// GateConfig is the configuration of a Gate (internal/daemon translates it from ntp.conf).
type GateConfig struct {
	// Restricts are the restrict and unrestrict lines in file order.
	Restricts []RestrictLine
	// Monitor is `enable monitor` (classic's default) or `disable monitor`.
	Monitor bool
	// MonitorConfig holds the `discard` and `mru` values.
	MonitorConfig MonitorConfig
}

// NewGate builds the restrict list and the monitor from the configuration: its restrict
// lines, `discard` and `mru` values, and `enable/disable monitor`. The monitor runs when
// `monitor` is enabled (classic's default) or any entry has `limited`, as classic's. rng
// seeds the monitor's preemption lottery. The Gate is usable even when err (a
// *multierror.Error naming each bad restrict line) is not nil; warnings name restrict flags
// gontp records but does not act on.
func NewGate(cfg GateConfig, resolve Resolver, rng *rand.Rand) (g *Gate, warnings []string, err error) {
	list, warnings, err := NewRestrictList(cfg.Restricts, resolve)
	var bits uint32
	if cfg.Monitor {
		bits |= MonitorOn
	}
	if list.HasLimited() {
		bits |= MonitorRestricted
	}
	mon := NewMonitor(cfg.MonitorConfig, bits, rng)
	return &Gate{List: list, Monitor: mon}, warnings, err
}

// AddSource applies `restrict source` to an association's address (call it when the
// association is mobilised) and starts the monitor if the template has `limited`.
func (g *Gate) AddSource(a netip.Addr) {
	g.List.AddSource(a)
	if g.List.HasLimited() {
		g.Monitor.Start(MonitorRestricted)
	}
}

// RemoveSource drops the `restrict source` entry of an association that went away.
func (g *Gate) RemoveSource(a netip.Addr) {
	g.List.RemoveSource(a)
	if !g.List.HasLimited() {
		g.Monitor.Stop(MonitorRestricted)
	}
}

// Source matches src against the restrict list and, for packets that get as far as classic's
// ntp_monitor() call, records them in the MRU list and applies the rate limit. req is the
// datagram, local the address it arrived on (for mrulist's laddr), rx its receive timestamp,
// assocMode the host mode of the association with src's address and port (0 for none).
// Pass the result to Respond with the same req and rx.
func (g *Gate) Source(req []byte, src netip.AddrPort, local netip.Addr, rx ntptime.Time, assocMode uint8) Source {
	s, _ := g.Check(req, src, local, rx, assocMode)
	return s
}

// Check is Source that also returns the access flags of src's restrict entry (classic's
// RES_* bits, with Limited and KoD only if this packet triggered them). The control server
// needs them for a mode-6 packet (ToControl): nomodify, notrap, lowpriotrap and nomrulist are
// not among Respond's flags.
func (g *Gate) Check(req []byte, src netip.AddrPort, local netip.Addr, rx ntptime.Time, assocMode uint8) (Source, AccessFlags) {
	s := Source{AssocMode: assocMode, BogusPort: src.Port() == 0}
	if s.BogusPort {
		return s, 0 // classic drops these before looking at the restrict list
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	s.Addr = src.Addr()
	acc, _ := g.List.Match(src)
	s.Restrict = acc.Restrict()
	mode, version, ok := reachesMonitor(req, s.Restrict)
	if !ok {
		return s, acc &^ (AccessLimited | AccessKoD)
	}
	acc = g.Monitor.Observe(src, local, mode, version, acc, rx)
	if acc&AccessLimited != 0 {
		s.Restrict |= RestrictLimited
		if acc&AccessKoD != 0 {
			s.Restrict |= RestrictKoD
		}
	}
	return s, acc
}

// reachesMonitor reports whether Respond would get as far as the rate-limit check (step 11
// of its documentation) with these restrict flags, i.e. whether classic's receive() would
// call ntp_monitor() for the packet: not ignored, not a mode 6 or 7 query, served, at least a
// header long, an acceptable version, mode 0 only as version 1, a well-formed trailer, and
// authenticated (a MAC, or an NTS authenticator) if `notrust`. It returns the header's own mode and version, which the MRU
// list records.
func reachesMonitor(req []byte, r Restrict) (mode, version uint8, ok bool) {
	if len(req) < wire.HeaderLen || r&(RestrictIgnore|RestrictNoServe) != 0 {
		return 0, 0, false
	}
	version = req[0] >> 3 & 7
	mode = req[0] & 7
	if mode == wire.ModeControl || mode == wire.ModePrivate {
		return 0, 0, false
	}
	switch {
	case version == wire.VersionMax:
	case version >= wire.VersionMin && version < wire.VersionMax && r&RestrictVersion == 0:
	default:
		return 0, 0, false
	}
	if mode == wire.ModeReserved && version != 1 {
		return 0, 0, false
	}
	var p wire.Packet
	tr, err := wire.Decode(req, &p)
	if err != nil {
		return 0, 0, false
	}
	if r&RestrictNoTrust != 0 && !tr.HasMAC && !tr.HasNTSAuthenticator() {
		return 0, 0, false
	}
	return mode, version, true
}
