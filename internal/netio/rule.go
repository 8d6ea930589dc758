// SPDX-License-Identifier: BSD-2-Clause

// Package netio owns ntpd's UDP sockets: it enumerates the host's addresses, decides with the
// ntp.conf `interface`/`nic` rules which of them to open, binds one socket per address (plus
// classic's wildcard "drop" sockets), receives datagrams with the kernel's SO_TIMESTAMPNS
// receive time, and sends replies from the socket a request arrived on. It mirrors classic
// ntpd 4.2.8p15's ntp_io.c behaviour, including its log lines ("Listen normally on 2 lo
// 127.0.0.1:123") and interface numbering, because operators and ntpq's ifstats read them.
//
// Binding happens before privileges are dropped; netio itself never changes credentials.
package netio

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// Action says what to do with a local address (ntp.conf `interface listen|ignore|drop`).
type Action int

const (
	// Listen opens a socket for the address and processes what arrives on it.
	Listen Action = iota
	// Ignore does not open the address at all.
	Ignore
	// Drop opens the address but discards every datagram received on it unexamined.
	Drop
)

// String returns the ntp.conf keyword of the action.
func (a Action) String() string {
	switch a {
	case Listen:
		return "listen"
	case Ignore:
		return "ignore"
	case Drop:
		return "drop"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Match is the class of addresses a Rule applies to.
type Match int

const (
	// MatchAll matches every address except loopback and wildcard ones (classic
	// interface_action excludes both from "all"; observed: `interface ignore all` keeps lo).
	MatchAll Match = iota + 1
	// MatchIPv4 matches every IPv4 address, loopback and the 0.0.0.0 wildcard included.
	MatchIPv4
	// MatchIPv6 matches every IPv6 address, loopback and the :: wildcard included.
	MatchIPv6
	// MatchWildcard matches the two wildcard sockets (0.0.0.0 and ::).
	MatchWildcard
	// MatchName matches the interface name (IPv4 label such as "eth0:1" when there is one) as
	// a shell pattern, case-insensitively, like classic's fnmatch(FNM_CASEFOLD). The wildcard
	// sockets have no name and never match ("interface ignore v4wildcard" keeps 0.0.0.0).
	MatchName
	// MatchAddr matches one address exactly, zone included: a link-local rule written without
	// %zone never matches (classic compares sin6_scope_id; observed).
	MatchAddr
	// MatchPrefix matches every address inside Prefix, the wildcard address included
	// (observed: `interface ignore 198.18.0.2/0` removes 0.0.0.0). A link-local address
	// matches whatever its zone unless Zone is set.
	MatchPrefix
)

// String returns the ntp.conf spelling of the class.
func (m Match) String() string {
	switch m {
	case MatchAll:
		return "all"
	case MatchIPv4:
		return "ipv4"
	case MatchIPv6:
		return "ipv6"
	case MatchWildcard:
		return "wildcard"
	case MatchName:
		return "name"
	case MatchAddr:
		return "address"
	case MatchPrefix:
		return "prefix"
	}
	return "Match(" + strconv.Itoa(int(m)) + ")"
}

// Rule is one ntp.conf `interface ACTION TARGET` line (or one -I option).
type Rule struct {
	Action Action
	Match  Match
	Name   string       // MatchName: pattern
	Addr   netip.Addr   // MatchAddr: address, zone significant
	Prefix netip.Prefix // MatchPrefix
	Zone   string       // MatchPrefix: zone the address must have, "" = any
}

// String renders the rule the way ntp.conf writes it.
func (r Rule) String() string {
	target := r.Match.String()
	switch r.Match {
	case MatchName:
		target = r.Name
	case MatchAddr:
		target = r.Addr.String()
	case MatchPrefix:
		a := r.Prefix.Addr()
		if r.Zone != "" {
			a = a.WithZone(r.Zone)
		}
		target = a.String() + "/" + strconv.Itoa(r.Prefix.Bits())
	}
	return "interface " + r.Action.String() + " " + target
}

// ParseRule converts the two words after `interface`/`nic` into a Rule.
//
// The target is one of all, ipv4, ipv6, wildcard, an address (optionally %zone), an address
// with /PREFIXLEN, or else an interface name pattern — classic's order of tests. As in classic,
// a prefix length beyond the address size is clamped to it (/33 on IPv4 means /32). Unlike
// classic, which silently treats "1.2.3.4/x" as the exact address, a prefix that is not a
// number is an error.
func ParseRule(action, target string) (Rule, error) {
	var r Rule
	switch action {
	case "listen":
		r.Action = Listen
	case "ignore":
		r.Action = Ignore
	case "drop":
		r.Action = Drop
	default:
		return Rule{}, fmt.Errorf("interface rule: action %q is not listen, ignore or drop", action)
	}
	switch target {
	case "":
		return Rule{}, fmt.Errorf("interface rule: missing target after %q", action)
	case "all":
		r.Match = MatchAll
		return r, nil
	case "ipv4":
		r.Match = MatchIPv4
		return r, nil
	case "ipv6":
		r.Match = MatchIPv6
		return r, nil
	case "wildcard":
		r.Match = MatchWildcard
		return r, nil
	}
	addrText, bitsText, hasSlash := strings.Cut(target, "/")
	a, err := netip.ParseAddr(addrText)
	if err != nil {
		// Not an address: an interface name (pattern). Classic keeps the whole text.
		r.Match = MatchName
		r.Name = target
		return r, nil
	}
	a = a.Unmap()
	if !hasSlash {
		r.Match = MatchAddr
		r.Addr = a
		return r, nil
	}
	bits, err := strconv.Atoi(bitsText)
	if err != nil || bits < 0 {
		return Rule{}, fmt.Errorf("interface rule: prefix length %q in %q is not a number 0..%d", bitsText, target, a.BitLen())
	}
	bits = min(bits, a.BitLen())
	r.Match = MatchPrefix
	r.Zone = a.Zone()
	p, err := a.WithZone("").Prefix(bits)
	if err != nil {
		return Rule{}, fmt.Errorf("interface rule: %q: %w", target, err)
	}
	r.Prefix = p
	return r, nil
}

// Candidate is one local address as the rules see it.
type Candidate struct {
	Name     string     // interface name or IPv4 label; "" for the wildcard sockets
	Index    int        // interface index (resolves a numeric zone in rules)
	Addr     netip.Addr // link-local IPv6 carries the interface index as its zone
	Loopback bool
	Wildcard bool
}

// Decide returns the action for c under rules, following classic interface_action:
//
//   - the LAST matching rule wins (classic prepends each rule to its list and takes the first
//     hit; observed: "ignore all" then "listen eth0" opens eth0, the reverse order does not);
//   - with no matching rule, loopback addresses listen and wildcard addresses drop;
//   - with noVirtualIPs (ntpd -L), a name with a colon (an alias label such as "eth0:1") is
//     ignored;
//   - otherwise an address listens when there are no rules at all and is ignored as soon as
//     any rule exists (observed: "interface ignore 10.0.0.0/8" also closes 198.18.0.2, because
//     a rule set means "only what the rules allow").
func Decide(rules []Rule, c Candidate, noVirtualIPs bool) Action {
	for i := len(rules) - 1; i >= 0; i-- {
		if rules[i].matches(c) {
			return rules[i].Action
		}
	}
	switch {
	case c.Loopback:
		return Listen
	case c.Wildcard:
		return Drop
	case noVirtualIPs && strings.Contains(c.Name, ":"):
		return Ignore
	case len(rules) == 0:
		return Listen
	}
	return Ignore
}

func (r Rule) matches(c Candidate) bool {
	switch r.Match {
	case MatchAll:
		return !c.Loopback && !c.Wildcard
	case MatchIPv4:
		return c.Addr.Is4()
	case MatchIPv6:
		return c.Addr.Is6()
	case MatchWildcard:
		return c.Wildcard
	case MatchName:
		if c.Wildcard || c.Name == "" {
			return false
		}
		ok, err := path.Match(strings.ToLower(r.Name), strings.ToLower(c.Name))
		return err == nil && ok
	case MatchAddr:
		return r.Addr.WithZone("") == c.Addr.WithZone("") && sameZone(r.Addr.Zone(), c)
	case MatchPrefix:
		if r.Zone != "" && !sameZone(r.Zone, c) {
			return false
		}
		return r.Prefix.Contains(c.Addr.WithZone(""))
	}
	return false
}

// sameZone reports whether a rule's zone (a name like "eth0" or an index like "5") names the
// candidate's interface; "" matches only an address without zone.
func sameZone(zone string, c Candidate) bool {
	if zone == c.Addr.Zone() {
		return true
	}
	if zone == "" || c.Addr.Zone() == "" {
		return false
	}
	if n, err := strconv.Atoi(zone); err == nil {
		return n == c.Index
	}
	// A name zone: compare with the interface name without any alias label.
	base, _, _ := strings.Cut(c.Name, ":")
	return zone == base
}
