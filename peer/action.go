// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"time"

	"gontp/internal/wire"
)

// ActionKind says what the engine must do for an Action.
type ActionKind uint8

// Action kinds.
const (
	// ActSend: send Packet to the association's address. Its Xmt is the transmit
	// timestamp the association remembers for the origin test, so send it unchanged.
	ActSend ActionKind = iota + 1
	// ActRearm: fire the poll timer (call Poll) at At, replacing any earlier setting.
	ActRearm
	// ActSample: the clock filter produced a new sample (Sample); record it (peerstats).
	ActSample
	// ActSelect: run the selection (system.Select) now, as ntpd calls clock_select from the
	// clock filter.
	ActSelect
	// ActEvent: a peer event was recorded in the status word; log it (protostats, syslog).
	ActEvent
	// ActTimeout: a preemptible association has gone Unreach polls without a reply.
	// ntpd demobilises it when there are more than `tos maxclock` associations and its
	// Score is the lowest of the preemptible ones; the engine decides, and if it removes
	// the association it ignores the actions that follow.
	ActTimeout
	// ActDemobilize: remove the association (Detail says why). It ignores further calls.
	ActDemobilize
)

var actionNames = [...]string{"", "send", "rearm", "sample", "select", "event", "timeout", "demobilize"}

func (k ActionKind) String() string {
	if int(k) < len(actionNames) && k != 0 {
		return actionNames[k]
	}
	return "unknown"
}

// Action is one thing the association asks its driver to do. Only the fields of its Kind
// are set.
type Action struct {
	Kind   ActionKind
	Event  Event       // ActEvent
	Detail string      // ActEvent, ActDemobilize: a short reason ("timeout", "DENY")
	At     time.Time   // ActRearm
	Packet wire.Packet // ActSend
	// KeepXmt (ActSend): an interleaved symmetric packet, whose transmit field is already
	// the departure time of our previous packet: send it unstamped, and give the real
	// departure time of this one to SentAt (symxleave.go).
	KeepXmt bool
	Sample  Sample // ActSample
}

// Sample is the output of the clock filter (RFC 5905 section 10): the association's new
// offset, delay, dispersion and jitter, in seconds, and the time of the sample they come
// from. This is the one contract between measurement and selection (docs/architecture.md).
type Sample struct {
	Offset, Delay, Disp, Jitter float64
	Epoch                       time.Time
}
