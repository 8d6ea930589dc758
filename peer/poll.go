// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"fmt"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/system"
)

// Poll runs the poll process (RFC 5905 section 13, ntpd transmit()) when the timer set by
// the last ActRearm fires, appending the resulting actions to acts. A call before NextPoll
// only re-announces the timer.
//
// Outside a burst each poll shifts the reach register and counts unreach. While the
// register is empty, each poll also pushes a maximum-dispersion sample into the clock filter
// (so an unreachable source loses its standing) and, with iburst, arms a burst that starts
// with the first reply. A reachable association polls at the system poll exponent
// (sys.Poll) and, with burst, arms a burst volley; after Unreach polls without a reply the
// poll exponent is raised by one per poll up to maxpoll and an ephemeral association
// (neither configured nor preemptible) is demobilised.
func (a *Assoc) Poll(now time.Time, sys *system.State, acts []Action) []Action {
	if a.gone {
		return acts
	}
	if now.Before(a.nextdate) {
		return append(acts, Action{Kind: ActRearm, At: a.nextdate})
	}
	hpoll := a.hpoll
	if a.hmode == wire.ModeBroadcast {
		// ntpd transmit(), MDF_BCAST/MDF_MCAST: a broadcast association sends the
		// system variables every 2^minpoll s while the system clock is synchronised,
		// and nothing while it is not (clients must not follow an unsynchronised
		// server); there is no reply, no reach register and no burst.
		a.outdate = now
		if sys.Leap != wire.LeapAlarm {
			acts = a.xmit(now, sys, acts)
		}
		return a.pollUpdate(hpoll, now, sys, acts)
	}
	// Nothing heard since the last poll and never reached: forget the peer's poll.
	if a.outdate.After(a.timelastrec) && a.reach == 0 {
		a.ppoll = a.maxpoll
	}
	if a.burst == 0 {
		if a.pool() && a.quiet >= PoolQuiet {
			// gontp: a pool member that stopped answering makes room for another
			// server of its pool (PoolQuiet).
			acts = a.report(EvRestart, "unreachable", acts)
			a.clear("TIME", now, sys)
			return a.demobilize(fmt.Sprintf("no reply to %d polls; the pool will replace it", a.quiet), acts)
		}
		a.quiet++
		oreach := a.reach
		a.outdate = now
		a.unreach++
		a.reach <<= 1
		if a.reach == 0 {
			acts = a.clockFilter(0, 0, MaxDisp, now, sys, acts)
			if oreach != 0 {
				a.unfit(now, sys)
				acts = a.report(EvUnreachable, "", acts)
			}
			if a.iburst && a.retry == 0 {
				a.retry = retries
			}
		} else {
			hpoll = sys.Poll
			if !a.preempt {
				a.unreach = 0
			}
			if a.burstOn && a.retry == 0 && a.unfit(now, sys) == 0 {
				a.retry = retries
			}
		}
		if a.unreach >= Unreach {
			hpoll++
			if !a.configured && !a.preempt {
				acts = a.report(EvRestart, "timeout", acts)
				a.clear("TIME", now, sys)
				return a.demobilize("timeout", acts)
			}
			if a.preempt {
				acts = append(acts, Action{Kind: ActTimeout})
			}
		}
	} else {
		a.burst--
	}
	if a.retry > 0 {
		a.retry--
	}
	if a.hmode != HModeBClient { // a broadcast client only listens (ntpd transmit())
		acts = a.xmit(now, sys, acts)
	}
	return a.pollUpdate(hpoll, now, sys, acts)
}

// effMinPoll is the least poll exponent the association may use now: its minpoll, or
// sys.FastPoll below it while the discipline measures the start-up frequency, for a
// reachable association that has not been kissed off (RATE).
func (a *Assoc) effMinPoll(sys *system.State) int8 {
	if sys == nil || sys.FastPoll <= 0 || a.rated || a.reach == 0 || a.refclock != 0 || a.pool() {
		return a.minpoll
	}
	return min(a.minpoll, sys.FastPoll)
}

// pool reports whether the association is a pool member: preemptible and not from a
// server or peer line.
func (a *Assoc) pool() bool { return a.preempt && !a.configured }

// demobilize marks the association gone and asks the engine to remove it.
func (a *Assoc) demobilize(why string, acts []Action) []Action {
	acts = a.report(EvDemobilize, why, acts)
	a.gone = true
	return append(acts, Action{Kind: ActDemobilize, Detail: why})
}

// xmit builds the next packet (ntpd peer_xmit, basic mode): the system variables, our host
// poll, and as origin and receive timestamps the peer's last transmit timestamp and our
// receive time of it (RFC 5905 section 9.2), so that symmetric peers can compute offset and
// delay from our packets too. The transmit timestamp is remembered (aorg) for the origin
// test of the reply.
func (a *Assoc) xmit(now time.Time, sys *system.State, acts []Action) []Action {
	stratum := sys.Stratum
	if stratum >= wire.StratumUnsynched {
		stratum = wire.StratumUnspec
	}
	p := wire.Packet{
		Leap:      sys.Leap,
		Version:   a.version,
		Mode:      a.hmode,
		Stratum:   stratum,
		Poll:      a.hpoll,
		Precision: sys.Precision,
		RootDelay: ntptime.ShortFromSeconds(sys.RootDelay),
		RootDisp:  ntptime.ShortFromSeconds(sys.RootDisp),
		RefID:     sys.RefID,
		RefTime:   sys.RefTime,
		Org:       a.rec,
		Rec:       a.dst,
		Xmt:       ntptime.FromTime(now),
	}
	keep := a.symXleaveXmit(&p)
	if !keep {
		a.xleaveRequest(&p)
		a.aorg = p.Xmt
		a.xl.reqT1 = p.Xmt
	}
	a.sent++
	a.headway(now)
	a.throttle += 1<<a.effMinPoll(sys) - minPkt
	return append(acts, Action{Kind: ActSend, Packet: p, KeepXmt: keep})
}

// Transmitted replaces the transmit timestamp of the last packet sent, planned, with the
// one it actually carried: the daemon stamps it just before the send. The origin test of
// the reply then checks against what went out.
func (a *Assoc) Transmitted(planned, actual ntptime.Time) {
	if planned != 0 && a.aorg == planned {
		a.aorg = actual
		a.xl.reqT1 = actual
	}
}

// pollUpdate clamps the host poll to [minpoll, maxpoll] and schedules the next poll (ntpd
// poll_update). Inside a burst the next packet goes after the minimum spacing. Otherwise
// the interval is 2^minpoll while waiting for a burst to start, 2^hpoll while unreachable,
// and the smaller of host and peer poll when reachable ("oversampling is okay but
// undersampling is evil"), counted from the last poll and stretched by a random 0..6.2%
// (RFC 5905 section 13: the jitter keeps clients of one server from synchronising their
// polls). The headway (throttle) delays it further after a RATE kiss.
//
// While the discipline measures the start-up frequency (sys.FastPoll), a reachable
// association that was never kissed off polls at most every 2^FastPoll s; each of those
// packets adds to the headway what a packet at that rate costs (xmit), so that they stay
// within the budget of minpoll.
func (a *Assoc) pollUpdate(mpoll int8, now time.Time, sys *system.State, acts []Action) []Action {
	hpoll := mpoll
	if hpoll > a.maxpoll {
		hpoll = a.maxpoll
	}
	if hpoll < a.minpoll {
		hpoll = a.minpoll
	}
	a.hpoll = hpoll
	throttle := a.headway(now)
	minpoll := a.effMinPoll(sys)
	early := throttle - (NStages-1)*(1<<a.minpoll)
	if early < minPkt {
		early = minPkt
	}
	utemp := now.Add(time.Duration(early) * time.Second)
	if a.burst > 0 {
		if a.nextdate.After(now) {
			return acts // a reply during a burst: the next burst packet is already due
		}
		a.nextdate = utemp
	} else {
		var hp int8
		switch {
		case a.retry > 0:
			hp = a.minpoll
		case a.reach == 0:
			hp = a.hpoll
		default:
			hp = min(a.ppoll, a.hpoll)
			if minpoll < a.minpoll {
				hp = min(hp, minpoll)
			}
		}
		// ntpd: ((0x1000 | (random & 0xff)) << hp) >> 12, in whole seconds.
		secs := (int64(0x1000|a.rng.IntN(256)) << uint(hp)) >> 12
		next := a.outdate.Add(time.Duration(secs) * time.Second)
		if a.pool() && a.reach != 0 && !a.timelastrec.After(a.outdate) {
			// gontp: a pool member whose last poll is still unanswered is polled
			// again after minpoll rather than hpoll, so that a server gone dark is
			// found out (PoolQuiet) in minutes, not in hours at a long poll. A reply
			// comes back through pollUpdate and restores the regular poll.
			if check := a.outdate.Add(time.Duration(1<<a.minpoll) * time.Second); check.Before(next) {
				next = check
			}
		}
		if next.After(utemp) {
			a.nextdate = next
		} else {
			a.nextdate = utemp
		}
		if throttle > 1<<a.minpoll {
			a.nextdate = a.nextdate.Add(minPkt * time.Second)
		}
	}
	return append(acts, Action{Kind: ActRearm, At: a.nextdate})
}
