// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"math/bits"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/system"
)

// RefclockInfo is what a reference clock association advertises in place of a server's
// packet header (ntpd refclock_newpeer: the driver's stratum, refid and precision, after
// fudge).
type RefclockInfo struct {
	Type      uint8 // driver type t of 127.127.t.u
	Stratum   uint8
	RefID     string
	Precision int8
}

// RefclockSample is one reading of a reference clock as ntpd's refclock_receive hands it to
// the peer: the offset and delay for the clock filter, the driver's sample jitter as the
// filter dispersion, the driver's dispersion as the association's root dispersion, and the
// leap indicator the clock reports.
type RefclockSample struct {
	Offset, Delay, Jitter float64
	RootDisp              float64
	Leap                  uint8
	// RefTime is when the newest of the samples was received (classic pp->lastref, the
	// association's reftime); zero means now.
	RefTime time.Time
}

// SetRefclock makes the association a reference clock's: it is then driven by RefclockPoll
// and RefclockSample instead of Poll and Receive, and shows the driver's stratum and refid
// from the start as ntpd does (ntpq -p lists "LOCAL(0) .LOCL. 10 l" before the first sample).
func (a *Assoc) SetRefclock(info RefclockInfo) {
	a.refclock = info.Type
	a.stratum = info.Stratum
	a.refid = wire.RefIDFromString(info.RefID)
	a.precision = info.Precision
	a.pmode = wire.ModeServer
}

// SetPPS marks the association as a pulse-per-second source or not (ntpd FLAG_PPS, which
// the PPS and NMEA drivers set while pulses arrive): the selection then keeps it out of the
// cluster and may make it the system peer when the others agree within 0.4 s.
func (a *Assoc) SetPPS(on bool) { a.pps = on }

// RefclockPoll is the poll process of a reference clock (ntpd refclock_transmit): the reach
// register shifts, a burst counts down, and the next poll is scheduled; the engine then reads
// the driver and calls RefclockSample with what it got. No packet is sent.
//
// gontp honours iburst on reference clocks too (classic ignores it): while the clock has
// never been reached, polls go out at the burst spacing until the filter is full, so that a
// reference clock is usable within seconds instead of after eight poll intervals.
func (a *Assoc) RefclockPoll(now time.Time, sys *system.State, acts []Action) []Action {
	if a.gone {
		return acts
	}
	if now.Before(a.nextdate) {
		return append(acts, Action{Kind: ActRearm, At: a.nextdate})
	}
	a.sent++
	a.xmt = ntptime.FromTime(now)
	if a.burst == 0 {
		oreach := a.reach
		a.reach <<= 1
		if a.reach&0x0f == 0 {
			// Four polls without a sample: the filter takes a worthless one, so that the
			// association's dispersion grows and the selection lets go of it.
			acts = a.clockFilter(0, 0, MaxDisp, now, sys, acts)
		}
		a.outdate = now
		if a.reach == 0 {
			if oreach != 0 {
				a.timereachable = now
				acts = a.report(EvUnreachable, "", acts)
			}
			if a.iburst && oreach == 0 && a.received == 0 {
				a.burst = NStages - 1
				a.refIBurst = true
			}
		} else if a.burstOn {
			a.burst = NStages
		}
	} else {
		a.burst--
		if a.refIBurst {
			// Each poll of the start-up burst counts as a poll for reach, so that ntpq
			// shows 377 once the filter is full rather than 1 until the next interval.
			a.reach <<= 1
			a.refIBurst = a.burst > 0
		}
	}
	return a.pollUpdate(a.hpoll, now, sys, acts)
}

// RefclockSample feeds one reading of the clock to the association (ntpd refclock_receive):
// it sets the leap indicator, marks the clock reachable and runs the clock filter. A clock
// that reports itself unsynchronised (leap 3) is not used.
func (a *Assoc) RefclockSample(s RefclockSample, now time.Time, sys *system.State, acts []Action) []Action {
	if a.gone {
		return acts
	}
	a.leap = s.Leap
	if a.leap == wire.LeapAlarm {
		return acts
	}
	a.received++
	if a.reach == 0 {
		a.timereachable = now
		acts = a.report(EvReachable, "", acts)
	}
	a.reach |= 1
	a.timereceived, a.timelastrec = now, now
	a.rootdisp = s.RootDisp
	a.reftime = ntptime.FromTime(now)
	if !s.RefTime.IsZero() {
		a.reftime = ntptime.FromTime(s.RefTime)
	}
	a.dst = a.reftime
	return a.clockFilter(s.Offset, s.Delay, s.Jitter, now, sys, acts)
}

// refclockMaxDist is classic's MAXDISTANCE (1.5 s): below it the clock filter has settled.
const refclockMaxDist = 1.5

// RefclockCheckBurst is classic 4.2.8p15's refclock_checkburst, called when a reading
// arrives with the number of samples the clock holds: until the reach register is full and
// the filter has settled, the association polls as soon as it has as many samples as it
// has had good polls (3 to 6), instead of waiting for its poll interval. A reference clock
// delivering every second so reaches 377 in under half a minute. It reports whether the
// poll was brought forward.
func (a *Assoc) RefclockCheckBurst(samples int, now time.Time) bool {
	if a.gone || (a.reach == 0xff && a.disp <= refclockMaxDist) {
		return false
	}
	limit := now.Add(time.Second)
	if !a.nextdate.After(limit) {
		return false
	}
	needs := min(max(bits.OnesCount8(a.reach), 3), 6)
	if samples < needs {
		return false
	}
	a.hpoll = a.minpoll
	a.nextdate = limit
	return true
}
