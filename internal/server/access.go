// SPDX-License-Identifier: BSD-2-Clause

package server

import "strings"

// AccessFlags are classic ntpd 4.2.8p15's RES_* restriction bits (ntp.h), with classic's
// values, because they travel on the wire: ntpq's mrulist shows them as the `rstr` column
// (`rs.N=0x...`) and sends them back in `resall=`/`resany=` (compat.md 1.9). The restrict
// list stores them per entry and the monitor records them per source.
type AccessFlags uint16

// Classic's RES_* bits (compat.md 1.9).
const (
	AccessIgnore      AccessFlags = 0x0001 // ignore
	AccessNoServe     AccessFlags = 0x0002 // noserve (RES_DONTSERVE)
	AccessNoTrust     AccessFlags = 0x0004 // notrust (RES_DONTTRUST)
	AccessVersion     AccessFlags = 0x0008 // version
	AccessNoPeer      AccessFlags = 0x0010 // nopeer
	AccessNoEPeer     AccessFlags = 0x0020 // noepeer
	AccessLimited     AccessFlags = 0x0040 // limited
	AccessNoQuery     AccessFlags = 0x0080 // noquery
	AccessNoModify    AccessFlags = 0x0100 // nomodify
	AccessNoTrap      AccessFlags = 0x0200 // notrap
	AccessLowPrioTrap AccessFlags = 0x0400 // lowpriotrap (RES_LPTRAP)
	AccessKoD         AccessFlags = 0x0800 // kod
	AccessMSSNTP      AccessFlags = 0x1000 // mssntp
	AccessFlake       AccessFlags = 0x2000 // flake
	AccessNoMRUList   AccessFlags = 0x4000 // nomrulist
	AccessFuzz        AccessFlags = 0x8000 // serverresponse fuzz (RES_SRVRSPFUZ)
)

// MatchFlags are classic's RESM_* match modifiers: they decide which packets an entry applies
// to and how entries sort, and show in ntpq's reslist.
type MatchFlags uint16

// Classic's RESM_* bits.
const (
	// MatchInterface marks the hidden entry ntpd adds for each of its own addresses
	// (`ignore interface ntpport`), so that it never answers itself.
	MatchInterface MatchFlags = 0x1000
	// MatchNTPPort (`ntpport`) makes the entry apply only to packets from source port 123.
	MatchNTPPort MatchFlags = 0x2000
	// MatchSource marks an entry made from the `restrict source` template for an
	// association's address.
	MatchSource MatchFlags = 0x4000
)

// Restrict converts the access bits to the flags Respond acts on. Limited and KoD are NOT
// carried over: for Respond they mean the monitor's verdict for this packet, which only
// Monitor.Observe gives (Gate.Source does both).
func (a AccessFlags) Restrict() Restrict {
	var r Restrict
	if a&AccessIgnore != 0 {
		r |= RestrictIgnore
	}
	if a&AccessNoServe != 0 {
		r |= RestrictNoServe
	}
	if a&AccessNoQuery != 0 {
		r |= RestrictNoQuery
	}
	if a&AccessNoTrust != 0 {
		r |= RestrictNoTrust
	}
	if a&AccessVersion != 0 {
		r |= RestrictVersion
	}
	if a&AccessNoPeer != 0 {
		r |= RestrictNoPeer
	}
	if a&AccessNoEPeer != 0 {
		r |= RestrictNoEPeer
	}
	return r
}

// accessNames are the words of ntpq's reslist, in the order classic prints the set flags.
var accessNames = []struct {
	bit  AccessFlags
	name string
}{
	{AccessIgnore, "ignore"}, {AccessNoServe, "noserve"}, {AccessNoTrust, "notrust"},
	{AccessVersion, "version"}, {AccessNoPeer, "nopeer"}, {AccessNoEPeer, "noepeer"},
	{AccessLimited, "limited"}, {AccessNoQuery, "noquery"}, {AccessNoModify, "nomodify"},
	{AccessNoTrap, "notrap"}, {AccessLowPrioTrap, "lowpriotrap"}, {AccessKoD, "kod"},
	{AccessMSSNTP, "mssntp"}, {AccessFlake, "flake"}, {AccessNoMRUList, "nomrulist"},
	{AccessFuzz, "serverresponse fuzz"},
}

// String lists the set flags in ntp.conf's words ("noquery nomodify limited kod"), or
// "none".
func (a AccessFlags) String() string {
	var b strings.Builder
	for _, n := range accessNames {
		if a&n.bit != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(n.name)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// String lists the match modifiers ("ntpport interface"), or "".
func (m MatchFlags) String() string {
	var parts []string
	if m&MatchNTPPort != 0 {
		parts = append(parts, "ntpport")
	}
	if m&MatchInterface != 0 {
		parts = append(parts, "interface")
	}
	if m&MatchSource != 0 {
		parts = append(parts, "source")
	}
	return strings.Join(parts, " ")
}

// reslistWords are the words of classic's reslist `flags.N` text (compat.md 1.6), in its
// order; a clear bit prints the positive word when there is one.
var reslistWords = []struct {
	bit      AccessFlags
	set, clr string
}{
	{AccessIgnore, "ignore", ""}, {AccessNoServe, "noserve", "serve"},
	{AccessNoTrust, "notrust", "trust"}, {AccessVersion, "version", ""},
	{AccessNoPeer, "nopeer", "peer"}, {AccessNoEPeer, "noepeer", "epeer"},
	{AccessLimited, "limited", ""}, {AccessNoQuery, "noquery", "query"},
	{AccessNoModify, "nomodify", ""}, {AccessNoTrap, "notrap", "trap"},
	{AccessLowPrioTrap, "lptrap", ""}, {AccessKoD, "kod", ""}, {AccessMSSNTP, "mssntp", ""},
	{AccessFlake, "flake", ""}, {AccessNoMRUList, "nomrulist", ""},
	{AccessFuzz, "serverresponse fuzz", ""},
}

// ReslistFlags is the `flags.N` text classic's daemon sends for a restrict entry in ntpq's
// reslist: the match modifiers, then every access word, e.g. "ntpport interface ignore
// serve trust peer epeer query trap" or "serve trust nopeer epeer limited noquery nomodify
// notrap kod".
func ReslistFlags(a AccessFlags, m MatchFlags) string {
	var parts []string
	if s := m.String(); s != "" {
		parts = append(parts, s)
	}
	for _, w := range reslistWords {
		switch {
		case a&w.bit != 0:
			parts = append(parts, w.set)
		case w.clr != "":
			parts = append(parts, w.clr)
		}
	}
	return strings.Join(parts, " ")
}
