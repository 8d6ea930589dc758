// SPDX-License-Identifier: BSD-2-Clause

package server

import "net/netip"

// Restrict is the set of access-control flags that apply to a packet's source address, in
// the words of ntp.conf's `restrict` command (compat.md 4.2). Matching the address against
// the restrict list and running the rate-limit monitor (MRU list, `discard`) are the caller's
// job (a later issue); Respond only acts on the result, at the point of classic ntpd's
// receive() where each flag takes effect.
//
// Flags Respond deliberately does not have: `nomodify`, `notrap`, `nomrulist` concern mode 6,
// `ntpport` only affects matching, `flake` and `mssntp` are not supported. `nopeer` and
// `noepeer` only decide whether a symmetric-active packet from a stranger mobilises a
// passive association (NewPassive); classic ntpd 4.2.8p15 still answers such a peer with a
// mode-2 packet under `nopeer`.
type Restrict uint32

const (
	// RestrictIgnore (`ignore`) drops every packet from the source, mode 6 included, counted
	// in ss_restricted.
	RestrictIgnore Restrict = 1 << iota
	// RestrictNoServe (`noserve`) drops time packets; mode 6 is still handed on.
	RestrictNoServe
	// RestrictNoQuery (`noquery`) drops mode 6 (and mode 7, answered only after `enable mode7`).
	RestrictNoQuery
	// RestrictNoTrust (`notrust`) drops time packets that carry no MAC.
	RestrictNoTrust
	// RestrictVersion (`version`) drops time packets whose version is not 4.
	RestrictVersion
	// RestrictLimited is the rate-limit monitor's verdict for this very packet: the source
	// has `limited` and has exceeded the `discard` limits (classic ntp_monitor leaves
	// RES_LIMITED set only then). Counted in ss_limited; the packet is dropped unless
	// RestrictKoD is also set.
	RestrictLimited
	// RestrictKoD (with RestrictLimited) answers the rate-limited packet with a RATE
	// kiss-o'-death instead of dropping it. The monitor decides whether a KoD is due (classic
	// sends at most one per limit interval), so the caller sets it only then.
	RestrictKoD
	// RestrictNoPeer (`nopeer`): an unauthenticated symmetric-active packet from a stranger
	// gets a mode-2 reply but mobilises no association (classic's AUTH(RES_NOPEER, ...)).
	RestrictNoPeer
	// RestrictNoEPeer (`noepeer`): no ephemeral symmetric passive association at all, even
	// for an authenticated packet; the packet is declined.
	RestrictNoEPeer
)

// Source is what the caller knows about a datagram's sender before Respond looks at it.
// It is passed by value; the zero value means "no restrictions, no association".
type Source struct {
	// Restrict holds the restrict flags for the source address and the monitor's rate
	// verdict for this packet.
	Restrict Restrict
	// AssocMode is the host mode (wire.ModeSymActive, ModeSymPassive, ModeClient, or 6 for a
	// broadcast client) of the association whose remote address and port are the packet's
	// source, or 0 when there is none. Respond applies classic's association matching table
	// (ntp_peer.c, MATCH_ASSOC) to it: packets that belong to the association are handed on
	// (ToAssociation), the rest are treated as coming from a stranger.
	AssocMode uint8
	// Addr is the source address, for the address lists of keys (Seal, authenticate).
	Addr netip.Addr
	// BogusPort says that the source port is 0, which classic ntpd counts as bad format and
	// drops before anything else.
	BogusPort bool
	// Mode7 says that `enable mode7` is in effect: a mode-7 request is handed on (ToPrivate)
	// instead of dropped.
	Mode7 bool
	// Manycast says that the request arrived on a multicast group's socket (a manycast
	// client's solicitation, classic INT_MCASTOPEN); ManycastLocal is our unicast address
	// towards the sender, from which the answer goes.
	Manycast      bool
	ManycastLocal netip.Addr
}

// HostModeBroadcastClient is the host mode of a broadcast-client association (classic
// MODE_BCLIENT), which has no wire mode of its own.
const HostModeBroadcastClient = 6
