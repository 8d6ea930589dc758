// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"fmt"
	"time"

	"gontp/internal/wire"
)

// Reconfigure gives a running association the options of an edited configuration line
// (gontp's live reload; classic ntpd has none): poll limits, version, key, iburst, burst,
// prefer, noselect, true, preempt and xleave. What it has measured stays: the clock filter, the
// reach register, the on-wire timestamps and the counters, so that editing a line's options
// does not cost the association its samples. The address and the host mode cannot change
// (the caller replaces the association then). A poll interval outside the new limits is
// brought inside them from now, as ntpd's poll_update would at the next packet.
func (a *Assoc) Reconfigure(cfg Config, now time.Time) error {
	if cfg.Addr != a.addr {
		return fmt.Errorf("association %v: cannot take the configuration of %v", a.addr, cfg.Addr)
	}
	if cfg.Mode != a.hmode {
		return fmt.Errorf("association %v: host mode %d cannot become %d", a.addr, a.hmode, cfg.Mode)
	}
	v := cfg.Version
	if v == 0 {
		v = wire.VersionMax
	}
	if v < wire.VersionMin || v > wire.VersionMax {
		return fmt.Errorf("association %v: version %d outside 1..4", cfg.Addr, v)
	}
	minp, maxp := cfg.MinPoll, cfg.MaxPoll
	if minp == 0 {
		minp = DefMinPoll
	}
	if maxp == 0 {
		maxp = DefMaxPoll
	}
	minp, maxp = clampPoll(minp), clampPoll(maxp)
	if minp > maxp {
		minp = maxp
	}
	a.version, a.keyid = v, cfg.KeyID
	a.iburst, a.burstOn = cfg.IBurst, cfg.Burst
	a.prefer, a.noselect, a.trueFlg = cfg.Prefer, cfg.NoSelect, cfg.True
	a.configured, a.preempt = cfg.Configured, cfg.Preempt
	if a.xl.on != cfg.Xleave {
		a.xl = xleaveState{on: cfg.Xleave}
	}
	a.minpoll, a.maxpoll = minp, maxp
	a.ppoll = min(max(a.ppoll, minp), maxp)
	if hp := min(max(a.hpoll, minp), maxp); hp != a.hpoll {
		a.hpoll = hp
		if next := now.Add(time.Duration(1<<hp) * time.Second); a.nextdate.After(next) {
			a.nextdate = next
		}
	}
	return nil
}
