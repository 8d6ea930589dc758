// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"sort"
	"time"

	"gontp/clock"
	"gontp/internal/control"
	"gontp/internal/engine"
	"gontp/internal/server"
	"gontp/system"
)

// ConfigState is the configuration a running daemon has in effect, read from the parts that
// act on it (the engine's associations and selection parameters, the gate, the clock
// discipline), not from the file: two daemons with equal ConfigStates behave alike. The
// reload corpus test compares a reloaded daemon's with a freshly started one's.
type ConfigState struct {
	// Associations are the configured network associations, by address, with their options.
	Associations []AssocState
	// Pools are the pool lines' names; Refclocks the reference clocks' names.
	Pools, Refclocks []string
	Restrict         []server.RestrictEntry // hit counts zeroed
	Monitor          server.MonitorStats    // limits and enable bits only
	Tos              system.Tos
	Tinker           clock.Tinker
	NTP              bool // enable ntp
	DriftFile        string
	SetVars          []control.SetVar
	// Sockets are the open sockets as "NAME FAMILY ACTION" (v4, v6, v6 link-local), sorted:
	// the addresses themselves differ between hosts.
	Sockets []string
}

// AssocState is one association's configuration.
type AssocState struct {
	Addr                                  string
	Mode, Version                         uint8
	MinPoll, MaxPoll                      int8
	KeyID                                 uint32
	IBurst, Burst, Prefer, NoSelect, True bool
	Preempt, Configured                   bool
}

// configState reads the ConfigState on the engine goroutine (safe from any goroutine; it
// waits for the engine, and returns the zero ConfigState once the daemon is stopping).
func (d *Daemon) configState() ConfigState {
	out := make(chan ConfigState, 1)
	d.post(func(e *engine.Engine, now time.Time) []engine.Send {
		var st ConfigState
		for _, p := range e.Snapshot().Peers {
			v := p.Vars
			switch {
			case p.Hostname != "":
				st.Pools = append(st.Pools, fmt.Sprintf("%s minpoll %d maxpoll %d version %d iburst %v noselect %v",
					p.Hostname, v.MinPoll, v.MaxPoll, v.Version, v.IBurst, v.NoSelect))
			case p.Refclock != "":
				st.Refclocks = append(st.Refclocks, p.Refclock)
			case v.Configured:
				st.Associations = append(st.Associations, AssocState{Addr: v.Addr.String(), Mode: v.HMode,
					Version: v.Version, MinPoll: v.MinPoll, MaxPoll: v.MaxPoll, KeyID: v.KeyID,
					IBurst: v.IBurst, Burst: v.Burst, Prefer: v.Prefer, NoSelect: v.NoSelect, True: v.True,
					Preempt: v.Preempt, Configured: v.Configured})
			}
		}
		sort.Strings(st.Pools)
		sort.Slice(st.Associations, func(i, j int) bool { return st.Associations[i].Addr < st.Associations[j].Addr })
		g := d.gate.Load()
		for _, r := range g.List.Entries() {
			r.Hits = 0
			st.Restrict = append(st.Restrict, r)
		}
		m := g.Monitor.Stats()
		st.Monitor = server.MonitorStats{Enabled: m.Enabled, MinDepth: m.MinDepth, MaxDepth: m.MaxDepth,
			MaxAge: m.MaxAge, MaxMemKB: m.MaxMemKB, MinPoll: m.MinPoll}
		st.Tos = e.Tos()
		st.NTP = e.NTP()
		st.Tinker = d.clock.Discipline.Tinker()
		st.DriftFile = d.clock.driftPath()
		st.SetVars = d.ctl.SetVars()
		for _, sock := range d.socks.Sockets() {
			a := sock.Local.Addr()
			fam := "v4"
			switch {
			case a.Is6() && a.IsLinkLocalUnicast():
				fam = "v6 link-local"
			case a.Is6() && !a.Is4In6():
				fam = "v6"
			}
			if sock.Wildcard {
				fam += " wildcard"
			}
			st.Sockets = append(st.Sockets, fmt.Sprintf("%s %s %v", sock.Name, fam, sock.Action()))
		}
		sort.Strings(st.Sockets)
		out <- st
		return nil
	})
	select {
	case st := <-out:
		return st
	case <-d.stopping:
		return ConfigState{}
	}
}
