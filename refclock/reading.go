// SPDX-License-Identifier: BSD-2-Clause

package refclock

import "time"

// Event is a clock event code of classic ntp_refclock.h (CEVNT_*): the clock status that
// `ntpq -c cv` shows in the status word, and the counter a report increments.
type Event uint8

// Classic's clock event codes and what refclock_report counts for each.
const (
	EvNominal  Event = 0 // CEVNT_NOMINAL
	EvTimeout  Event = 1 // CEVNT_TIMEOUT: noreply
	EvBadReply Event = 2 // CEVNT_BADREPLY: badformat
	EvFault    Event = 3 // CEVNT_FAULT: hardware or device failure
	EvProp     Event = 4 // CEVNT_PROP: propagation failure (SHM access clashes)
	EvBadDate  Event = 5 // CEVNT_BADDATE: baddata
	EvBadTime  Event = 6 // CEVNT_BADTIME: baddata
)

// Kind says what a Reading carries.
type Kind uint8

const (
	// KindSample is a time code: the clock said Ref when the system clock read Rx.
	KindSample Kind = iota
	// KindPulse is a pulse-per-second edge the system clock stamped at Rx (the atom driver:
	// only the phase counts, the second is taken from the system clock).
	KindPulse
	// KindReport is a clock event (Event) without a sample: a bad sentence, a bad date, a
	// device fault. It is counted at once, as classic refclock_report does.
	KindReport
	// KindTally is one of SHM's per-second outcomes that classic only judges at the poll
	// (shm_poll's dominant reason when no sample came): Tally says which.
	KindTally
	// KindTimecode only updates the last time code ntpq shows.
	KindTimecode
	// KindCounts adds GPSD_JSON's per-poll tallies (Counts), which its clockstats line
	// reports under fudge flag4.
	KindCounts
	// KindKernelPPS is the outcome of a PPS driver's request (fudge flag3) to bind its
	// pulses to the kernel's own PPS discipline (PPS_KC_BIND; classic refclock_params):
	// Bound says whether the kernel took them. A refusal (a kernel built without
	// CONFIG_NTP_PPS answers EOPNOTSUPP) is counted; the pulses still discipline the clock
	// through the daemon's loop.
	KindKernelPPS
)

// GPSDCounts are refclock_gpsdjson.c's tallies of one poll interval, in the order of its
// clockstats line: records of a known class, bad replies, TPVs without a fix, serial time
// records received and used, PPS records received and used.
type GPSDCounts struct {
	Recv, BadReply, NoSync, STIRecv, STIUsed, PPSRecv, PPSUsed uint32
}

func (c *GPSDCounts) add(d GPSDCounts) {
	c.Recv += d.Recv
	c.BadReply += d.BadReply
	c.NoSync += d.NoSync
	c.STIRecv += d.STIRecv
	c.STIUsed += d.STIUsed
	c.PPSRecv += d.PPSRecv
	c.PPSUsed += d.PPSUsed
}

// Tally is an SHM segment read that gave no sample (refclock_shm.c shm_timer).
type Tally uint8

const (
	TallyNotReady Tally = iota // valid flag not set
	TallyBad                   // bad mode, stale receive time, difference limit
	TallyClash                 // count changed while reading (mode 1)
)

// FudgeSel says which fudge time a sample takes: classic's drivers pass fudgetime1 for
// their primary time code or pulse and fudgetime2 for a secondary one (NMEA's serial
// sentence delay, GPSD_JSON's TPV and TOFF).
type FudgeSel uint8

const (
	FudgeTime1 FudgeSel = iota
	FudgeTime2
	FudgeNone
)

// Reading is what a driver hands the engine, as an event (DESIGN.md: drivers run in the
// I/O layer). Times are the daemon's clock (the virtual clock under --virtual-clock).
type Reading struct {
	Addr Address
	Kind Kind
	// Ref is the reference time the clock gave (KindSample).
	Ref time.Time
	// Rx is the local time the time code or pulse was received.
	Rx time.Time
	// Fudge says which fudge time the sample takes.
	Fudge FudgeSel
	// Leap is the leap indicator the clock reported with the sample (3: not in sync).
	Leap uint8
	// Event is the report of a KindReport reading.
	Event Event
	// Tally is the outcome of a KindTally reading.
	Tally Tally
	// Timecode, when not "", replaces the last time code (classic a_lastcode).
	Timecode string
	// Precision, when not 0, is the precision the clock announced (SHM's precision word).
	Precision int8
	// Counts are the tallies a KindCounts reading adds.
	Counts GPSDCounts
	// PPS marks a sample taken on a pulse-per-second edge (NMEA and GPSD_JSON with PPS):
	// the association is then a PPS source for the selection (classic FLAG_PPS).
	PPS bool
	// Bound is the outcome of a KindKernelPPS reading.
	Bound bool
}
