// SPDX-License-Identifier: BSD-2-Clause

// Package snapshot is what the engine publishes and its observers read: the system variables,
// the loop variables and every association, as one immutable Snapshot. The engine
// (internal/engine) makes a new one after every change and publishes it through an atomic
// pointer; the time server (internal/server) and the control server (internal/control) read
// it without locks and without knowing the engine (see docs/architecture.md, "Data flow").
package snapshot

import (
	"net/netip"

	"gontp/internal/ntptime"
	"gontp/peer"
)

// SysVars are the system variables of RFC 5905 section 11.2 as the time server and ntpq see
// them: the engine's system.State as it was when the Snapshot was made, with the time from
// which the root dispersion grows. The SysVars inside a published Snapshot are never
// modified.
type SysVars struct {
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
func (s *SysVars) Synchronised() bool { return s.Leap != 3 }

// Snapshot is what observers see of the engine. It is published through an atomic pointer
// after every change and never modified afterwards.
type Snapshot struct {
	Sys SysVars
	// Offset and Jitter are the last system offset and system jitter (s).
	Offset, Jitter float64
	// SysPeer is the association ID of the system peer, 0 when there is none.
	SysPeer uint16
	// Peers are the associations in the order they were made.
	Peers []Peer
	// AssocModes maps the remote address of each network association to its host mode, for
	// the time server's association matching (server.Source.AssocMode).
	AssocModes map[netip.AddrPort]uint8

	// SysEvent is the last system event code and SysEventCount how many times it has been
	// reported since the code last changed (saturating at 15): the low byte of the system
	// status word that ntpq decodes (compat.md 1.7, ntpd ctl_sys_last_event and
	// ctl_sys_num_events). Classic starts with event 6 (restart) counted once.
	SysEvent, SysEventCount uint8
	// Frequency is the clock discipline's frequency correction (ppm), ClkJitter the clock
	// jitter (s) and ClkWander the frequency wander (ppm): ntpq's frequency, clk_jitter and
	// clk_wander.
	Frequency, ClkJitter, ClkWander float64
	// ClockState is the discipline's state as classic numbers it (clock.State: 1 NSET,
	// 2 FSET, 3 SPIK, 4 FREQ, 5 SYNC); 0 when the engine has no clock discipline.
	ClockState uint8
}

// ClockVars are a reference clock's variables as `ntpq -c cv` shows them (compat.md 2.3,
// classic struct refclockstat).
type ClockVars struct {
	// Type is the driver number (the t of 127.127.t.u).
	Type uint8
	// Description is the driver's device description (device="...").
	Description string
	// Timecode is the last timecode the driver received, "" if none.
	Timecode string
	// Polls, NoReply, BadFormat and BadData are the driver's counters.
	Polls, NoReply, BadFormat, BadData uint64
	// Status is the current clock status (0 nominal .. 6 bad time) and Events how many
	// status changes were counted (saturating at 15): the clock status word.
	Status, Events uint8
	// Time1, Time2 (seconds) are the fudge times, with whether each was configured.
	Time1, Time2       float64
	Time1Set, Time2Set bool
	// MinJitter (seconds) is the fudge minjitter, shown when set.
	MinJitter    float64
	MinJitterSet bool
	// Stratum and RefID are the stratum and reference ID the clock advertises.
	Stratum uint8
	RefID   string
	// Flags are the fudge flags flag1..flag4 as bits 1, 2, 4, 8.
	Flags uint8
	// KernelPPS is set while the driver has the kernel's PPS discipline bound to its pulses
	// (fudge flag3); KernelPPSRefused counts the kernel's refusals of that bind.
	KernelPPS        bool
	KernelPPSRefused uint64
}

// Peer is one association as observers see it.
type Peer struct {
	ID uint16
	// Refclock is the driver's name (LOCAL(0)) for a reference clock, "" otherwise.
	Refclock string
	Vars     peer.Vars
	// Local is the local address and port the association sends from (ntpq's dstadr and
	// dstport); the zero value is shown as 0.0.0.0 and 0.
	Local netip.AddrPort
	// Hostname is the configured name of a pool prototype association (classic sends it as
	// srchost only for those; compat.md 2.2 and 8.5), "" otherwise.
	Hostname string
	// Clock holds the reference clock variables of a refclock association, nil otherwise.
	Clock *ClockVars
}
