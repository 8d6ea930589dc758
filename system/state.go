// SPDX-License-Identifier: BSD-2-Clause

package system

import (
	"fmt"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Tos is the selection tuning of the `tos` command (compat.md 4.5) that the packet tests,
// the peer tests and Select use. The zero value is not useful; start from DefaultTos.
type Tos struct {
	MinClock int     // clustering stops at this many survivors (3)
	MaxClock int     // outliers dropped while more remain are marked backup '#' (10)
	MinSane  int     // fewer survivors than this leave the clock unsynchronised (1)
	MinDist  float64 // floor of the root distance, and the clock-hop threshold, s (0.001)
	MaxDist  float64 // root distance above which a source is unfit, s (1.5)
	// Floor and Ceiling bound the accepted server stratum: a packet or an association with
	// stratum < Floor or >= Ceiling fails TEST6 / TEST10. Classic's defaults are 0 and 15
	// (ntp_proto.c sys_floor = 0, sys_ceiling = STRATUM_UNSPEC - 1; the man page's "1" for
	// the floor is wrong: a stratum-0 reference clock would be unusable), so a stratum-15
	// server is refused (observed with classic ntpd 4.2.8p15 against a `local stratum 15`
	// chronyd: flash=1620 pkt_stratum).
	Floor, Ceiling uint8
	// Orphan is the orphan-mode stratum; 16 (the default) turns orphan mode off.
	Orphan uint8
	// OrphanWait is `tos orphanwait`, s (300): how long after start, or after losing the
	// system peer, the engine waits before LOCAL/ACTS refclocks or orphan mode may take
	// over (SelectParams.OrphanWaitOver), so that real servers get a chance first.
	OrphanWait float64
}

// DefaultTos returns classic ntpd's defaults.
func DefaultTos() Tos {
	return Tos{MinClock: 3, MaxClock: 10, MinSane: 1, MinDist: 0.001, MaxDist: 1.5,
		Floor: 0, Ceiling: 15, Orphan: 16, OrphanWait: 300}
}

// Validate reports values that ntpd would refuse or that make the algorithms meaningless.
func (t *Tos) Validate() error {
	switch {
	case t.MinClock < 1:
		return fmt.Errorf("tos minclock %d: must be at least 1", t.MinClock)
	case t.MaxClock < 1:
		return fmt.Errorf("tos maxclock %d: must be at least 1", t.MaxClock)
	case t.MinSane < 0:
		return fmt.Errorf("tos minsane %d: must not be negative", t.MinSane)
	case !(t.MinDist > 0):
		return fmt.Errorf("tos mindist %g: must be positive", t.MinDist)
	case !(t.MaxDist > 0):
		return fmt.Errorf("tos maxdist %g: must be positive", t.MaxDist)
	case t.Ceiling > 16 || t.Floor > t.Ceiling:
		return fmt.Errorf("tos floor %d ceiling %d: need floor <= ceiling <= 16", t.Floor, t.Ceiling)
	case t.OrphanWait < 0:
		return fmt.Errorf("tos orphanwait %g: must not be negative", t.OrphanWait)
	case t.Orphan < 1 || t.Orphan > 16:
		return fmt.Errorf("tos orphan %d: must be 1..16", t.Orphan)
	}
	return nil
}

// State is the live system state of RFC 5905 section 11.2: the system variables an
// association copies into its packets (section 9.1, peer_xmit) and the tuning its tests use.
// The engine owns the one State and passes a pointer on each association call; the
// association only reads it. Observers never see it: they read snapshot.SysVars, the copy the
// engine publishes.
type State struct {
	Leap      uint8        // wire.LeapAlarm while unsynchronised
	Stratum   uint8        // 16 while unsynchronised (sent as 0)
	Precision int8         // log2 s
	Poll      int8         // sys_poll: a reachable association polls at this exponent
	RootDelay float64      // s
	RootDisp  float64      // s
	RefID     uint32       // sys_refid
	RefTime   ntptime.Time // sys_reftime

	Tos Tos
	// Allan is the Allan intercept, log2 s (tinker allan; DefAllan).
	Allan int8
	// Settling is true while the discipline measures the initial frequency (ntpd's
	// freq_cnt > 0); the clock filter then uses the newest sample instead of the one with
	// the least delay.
	Settling bool
	// FastPoll, when not 0, is the poll exponent reachable associations poll at (at
	// most) while the discipline measures the start-up frequency (clock.Discipline's
	// training); their headway is counted at that rate (gontp; classic polls at minpoll).
	FastPoll int8
	// LocalRefIDs are the RefIDs of this host's own addresses: a server whose refid is one
	// of them is synchronised to us and fails TEST12 (ntpd local_refid).
	LocalRefIDs []uint32
}

// DefaultState returns the system state of a daemon that has just started: unsynchronised,
// precision 2^-20 s, polling at 2^6 s, classic tos defaults.
func DefaultState() State {
	// Classic ntpd starts with refid INIT, which its replies carry until the first clock
	// update (observed on 4.2.8p15).
	return State{Leap: 3, Stratum: 16, Precision: -20, Poll: StartPoll, Tos: DefaultTos(),
		Allan: DefAllan, RefID: wire.RefIDFromString("INIT")}
}

// System constants of classic ntpd 4.2.8p15 (include/ntp.h).
const (
	// DefAllan is the default Allan intercept, log2 s (tinker allan, 2048 s): samples older
	// than this are ranked by delay plus dispersion instead of delay alone.
	DefAllan = 11
	// StartPoll is sys_poll at start, log2 s: classic's init_loopfilter sets it to
	// ntp_minpoll (NTP_MINPOLL, 8 s; ntpq rv shows tc=3 at start), so that an association
	// with minpoll below 6 polls at its minpoll until the discipline raises sys_poll.
	StartPoll = 3
)
