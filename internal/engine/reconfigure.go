// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"fmt"
	"time"

	"gontp/internal/wire"

	"gontp/peer"
	"gontp/system"
)

// ReconfigureServer gives the configured network association with pc.Addr the options of
// its edited server or peer line (gontp's live reload): poll limits, version, key and
// flags change in place, and everything it has measured (clock filter, reach, counters) and
// its association ID stay. The host mode cannot change this way: the caller removes the
// association and adds a new one. The next selection (at the next sample) sees the new
// prefer, noselect and true.
func (e *Engine) ReconfigureServer(pc peer.Config, now time.Time) error {
	as := e.byAddr[pc.Addr]
	if as == nil || as.clock != nil || as.removed {
		return fmt.Errorf("no network association for %s", pc.Addr)
	}
	pc.Configured = true
	if err := as.a.Reconfigure(pc, now); err != nil {
		return err
	}
	e.publish(now)
	return nil
}

// AddPool adds a `pool` line after start (gontp's live reload): its prototype solicits at
// its first poll, a second from now, as at start.
func (e *Engine) AddPool(pl Pool, now time.Time) error {
	for _, p := range e.pools {
		if p.name == pl.Name && p.family == pl.Family {
			return fmt.Errorf("pool %s: already configured", pl.Name)
		}
	}
	pl.Peer.StartDelay = time.Second
	p, err := newPool(pl, e.newID(), e.newSeq(), now)
	if err != nil {
		return err
	}
	e.pools = append(e.pools, p)
	e.publish(now)
	return nil
}

// RemovePool removes a `pool` line's prototype and the servers it spawned, as a restart
// without the line would have none of them.
func (e *Engine) RemovePool(name string, family int, now time.Time) error {
	p := e.findPool(name, family)
	if p == nil {
		return fmt.Errorf("no pool %s", name)
	}
	kept := e.pools[:0]
	for _, q := range e.pools {
		if q != p {
			kept = append(kept, q)
		}
	}
	clear(e.pools[len(kept):])
	e.pools = kept
	lost := false
	for _, as := range e.assocs {
		if as.pool == p.id && !as.removed {
			as.removed = true
			lost = lost || e.sysPeer == as
			e.log.Info(fmt.Sprintf("%s demobilized: pool %s removed from the configuration", e.name(as), name))
		}
	}
	e.reap()
	if lost {
		e.selectClock(now)
	}
	e.publish(now)
	return nil
}

// ReconfigurePool gives a `pool` line's prototype and the servers it spawned the options of
// the edited line (poll limits, version, iburst, noselect: what classic passes on); the
// servers keep their measurements.
func (e *Engine) ReconfigurePool(pl Pool, now time.Time) error {
	p := e.findPool(pl.Name, pl.Family)
	if p == nil {
		return fmt.Errorf("no pool %s", pl.Name)
	}
	np, err := newPool(pl, p.id, p.seq, now)
	if err != nil {
		return err
	}
	p.cfg, p.minpoll, p.maxpoll, p.version = np.cfg, np.minpoll, np.maxpoll, np.version
	for _, as := range e.assocs {
		if as.pool != p.id || as.removed {
			continue
		}
		v := as.a.Vars(now)
		pc := peer.Config{Addr: v.Addr, Mode: v.HMode, MinPoll: p.minpoll, MaxPoll: p.maxpoll,
			Version: v.Version, IBurst: p.cfg.IBurst, NoSelect: p.cfg.NoSelect, Preempt: true}
		if err := as.a.Reconfigure(pc, now); err != nil {
			return err
		}
	}
	e.publish(now)
	return nil
}

func (e *Engine) findPool(name string, family int) *pool {
	for _, p := range e.pools {
		if p.name == name && p.family == family {
			return p
		}
	}
	return nil
}

// SetTos applies a reloaded `tos` configuration (selection and orphan parameters). The
// next selection (at the next sample) uses it; the associations and the discipline are
// not touched.
func (e *Engine) SetTos(t system.Tos, now time.Time) error {
	if err := t.Validate(); err != nil {
		return err
	}
	e.sys.Tos = t
	e.publish(now)
	return nil
}

// Tos returns the selection parameters in use.
func (e *Engine) Tos() system.Tos { return e.sys.Tos }

// SetNTP applies a reloaded `enable ntp` or `disable ntp` (classic can switch it at run time
// too, through ntpq's :config). Disabled, the engine measures and selects but never adjusts
// the clock and keeps the leap indicator at alarm, as after a start with `disable ntp`;
// enabled, the next system peer update goes to the clock loop again.
func (e *Engine) SetNTP(on bool, now time.Time) {
	if e.ntp == on {
		return
	}
	e.ntp = on
	switch {
	case !on:
		e.sys.Settling = true
		e.sys.Leap = wire.LeapAlarm
	case e.loop != nil:
		e.sys.Settling = e.loop.Settling()
	default:
		e.sys.Settling = false
	}
	e.publish(now)
}

// NTP reports whether the clock is disciplined (`enable ntp`).
func (e *Engine) NTP() bool { return e.ntp }
