// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"gontp/internal/server"
	"gontp/ntpconf"
)

// This file translates the configuration (ntpconf) into the time server's own settings, so
// that internal/server never needs to know ntp.conf: the restrict lines, `discard`, `mru` and
// `enable/disable monitor`.

// gateConfig is the server.GateConfig of a parsed configuration.
func gateConfig(cfg *ntpconf.Config) server.GateConfig {
	return server.GateConfig{
		Restricts:     restrictLines(cfg.Restricts),
		Monitor:       cfg.Flags()["monitor"],
		MonitorConfig: monitorConfig(cfg.DiscardParams(), cfg.MRUParams()),
	}
}

// restrictLines are the restrict and unrestrict lines in file order. Lines ntpconf marked
// Invalid are left out: it already reported them.
func restrictLines(rs []*ntpconf.Restrict) []server.RestrictLine {
	out := make([]server.RestrictLine, 0, len(rs))
	for _, r := range rs {
		if r == nil || r.Invalid {
			continue
		}
		flags, match := restrictFlags(r.Flags)
		out = append(out, server.RestrictLine{
			Pos: r.Pos.String(), Default: r.Default, Source: r.Source, Family: r.Family,
			Address: r.Address, Mask: r.Mask, Prefix: r.Prefix, IPPeerLimit: r.IPPeerLimit,
			Flags: flags, Match: match, Remove: r.Remove,
		})
	}
	return out
}

// restrictFlags splits ntpconf's flags into classic's access bits and match modifiers.
func restrictFlags(f ntpconf.RestrictFlags) (server.AccessFlags, server.MatchFlags) {
	pairs := []struct {
		from ntpconf.RestrictFlags
		to   server.AccessFlags
	}{
		{ntpconf.RestrictIgnore, server.AccessIgnore}, {ntpconf.RestrictNoserve, server.AccessNoServe},
		{ntpconf.RestrictNoquery, server.AccessNoQuery}, {ntpconf.RestrictNomodify, server.AccessNoModify},
		{ntpconf.RestrictNopeer, server.AccessNoPeer}, {ntpconf.RestrictNoepeer, server.AccessNoEPeer},
		{ntpconf.RestrictNotrust, server.AccessNoTrust}, {ntpconf.RestrictLimited, server.AccessLimited},
		{ntpconf.RestrictKod, server.AccessKoD}, {ntpconf.RestrictNotrap, server.AccessNoTrap},
		{ntpconf.RestrictLowpriotrap, server.AccessLowPrioTrap}, {ntpconf.RestrictNomrulist, server.AccessNoMRUList},
		{ntpconf.RestrictVersion, server.AccessVersion}, {ntpconf.RestrictMssntp, server.AccessMSSNTP},
		{ntpconf.RestrictFlake, server.AccessFlake}, {ntpconf.RestrictServerResponseFuzz, server.AccessFuzz},
	}
	var a server.AccessFlags
	for _, p := range pairs {
		if f&p.from != 0 {
			a |= p.to
		}
	}
	var m server.MatchFlags
	if f&ntpconf.RestrictNtpport != 0 {
		m |= server.MatchNTPPort
	}
	return a, m
}

// monitorConfig applies classic's rules to ntpconf's discard and mru values: kilobyte forms
// become entries of server.ClassicEntrySize octets (the later of maxdepth/maxmem wins, which
// ntpconf has already decided).
func monitorConfig(d ntpconf.DiscardValues, m ntpconf.MRUValues) server.MonitorConfig {
	c := server.MonitorConfig{Average: d.Average, Minimum: d.Minimum, Monitor: d.Monitor,
		MinDepth: m.MinDepth, MaxAge: m.MaxAge, MaxDepth: m.MaxDepth,
		InitAlloc: m.InitAlloc, IncAlloc: m.IncAlloc}
	if m.MaxMemKB != 0 {
		c.MaxDepth = server.MonitorEntries(m.MaxMemKB)
	}
	if m.InitMemKB != 0 {
		c.InitAlloc = server.MonitorEntries(m.InitMemKB)
	}
	if m.IncMemKB != 0 {
		c.IncAlloc = server.MonitorEntries(m.IncMemKB)
	}
	return c
}
