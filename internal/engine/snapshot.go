// Package engine owns the associations, the system variables and the discipline. It consumes
// events, emits effects and publishes an immutable Snapshot that the time server and the
// control server read without locks (see DESIGN.md, "Data flow").
package engine

import (
	"net/netip"

	"gontp/internal/ntptime"
	"gontp/peer"
)

// System is the system variables of RFC 5905 section 11.2 as the time server and ntpq see
// them. A System inside a published Snapshot is never modified.
type System struct {
	Leap      uint8 // wire.LeapAlarm (3) while unsynchronised
	Stratum   uint8 // wire.StratumUnsynched (16) while unsynchronised; the server sends 0 for it
	Precision int8  // log2 s, measured at start
	Poll      int8  // sys_poll, log2 s
	RefID     uint32
	RefTime   ntptime.Time // when the clock was last updated; 0 before the first update
	RootDelay float64      // seconds, to the primary reference
	RootDisp  float64      // seconds, at RootDispTime; grows by PHI per second after it (RootDispAt)
	// RootDispTime is when RootDisp was computed: the last clock update or, before the first
	// one, the daemon's start. Classic ntpd adds PHI to its root dispersion every second from
	// then on (ntp_loopfilter.c adj_host_clock), synchronised or not, so what a server reply
	// or ntpq shows keeps growing between updates (observed: about 15 µs a second from start
	// while unsynchronised). Zero means "no growth" (RootDisp is taken as is).
	RootDispTime ntptime.Time
}

// PHI is the frequency tolerance of RFC 5905 (15 ppm) by which dispersion grows each second.
const PHI = 15e-6

// Synchronised reports whether the system clock is synchronised (leap indicator not alarm).
func (s *System) Synchronised() bool { return s.Leap != 3 }

// Snapshot is what observers see of the engine. It is published through an atomic pointer
// after every change and never modified afterwards.
type Snapshot struct {
	Sys System
	// Offset and Jitter are the last system offset and system jitter (s).
	Offset, Jitter float64
	// SysPeer is the association ID of the system peer, 0 when there is none.
	SysPeer uint16
	// Peers are the associations in the order they were made.
	Peers []Peer
	// AssocModes maps the remote address of each network association to its host mode, for
	// the time server's association matching (server.Source.AssocMode).
	AssocModes map[netip.AddrPort]uint8
}

// Peer is one association as observers see it.
type Peer struct {
	ID uint16
	// Refclock is the driver's name (LOCAL(0)) for a reference clock, "" otherwise.
	Refclock string
	Vars     peer.Vars
}
