// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"gontp/internal/control"
	"gontp/internal/filegen"
	"gontp/internal/metrics"
	"gontp/internal/ntptime"
	"gontp/internal/stats"
	"gontp/ntpconf"
)

// startMetrics makes the metrics endpoint over the daemon's state and listens on the
// configuration's `metrics` addresses (none: off).
func (d *Daemon) startMetrics(cfg *ntpconf.Config) {
	src := metrics.Sources{
		Snapshot:      d.eng.Snapshot,
		Now:           func() ntptime.Time { return ntptime.FromTime(d.now()) },
		ServerStats:   d.srv.Stats,
		MRUEntries:    func() int { return d.gate.Load().Monitor.Stats().Entries },
		Stats:         func(k stats.Kind) filegen.Counts { return d.stats.Counts(k) },
		EngineDropped: d.dropped.Load,
		Version:       VersionString(),
	}
	src.Control = func() control.Stats {
		if c := d.ctlReady.Load(); c != nil {
			return c.Stats()
		}
		return control.Stats{}
	}
	d.metrics = metrics.NewEndpoint(src, d.log)
	d.ApplyMetrics(cfg)
}

// ApplyMetrics makes the metrics endpoint listen on the `metrics` lines of cfg (at start and
// at a reload). Safe from any goroutine.
func (d *Daemon) ApplyMetrics(cfg *ntpconf.Config) {
	var ls []metrics.Listen
	for _, m := range cfg.Metrics {
		ls = append(ls, metrics.Listen{Addr: m.Addr, Pos: m.Pos.String()})
	}
	d.metrics.Apply(ls)
}
