// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"fmt"
	"time"

	"gontp/internal/engine"
	"gontp/internal/refclockio"
	"gontp/refclock"
)

// startRefclocks starts the drivers of the configured reference clocks in the I/O layer.
// Their readings come to the engine goroutine through d.readings, as packets come through
// d.toEngine; the engine alone keeps the clocks' state.
func (d *Daemon) startRefclocks(ctx context.Context, clocks []engine.Refclock) {
	for _, rc := range clocks {
		err := refclockio.Start(ctx, rc.Clock, refclockio.Options{Now: d.now, Host: time.Now, Log: d.log},
			func(r refclock.Reading) {
				select {
				case d.readings <- r:
				case <-ctx.Done():
				}
			})
		if err != nil {
			d.log.Error(fmt.Sprintf("reference clock %s: %v", rc.Clock.Addr.Name(), err))
		}
	}
}

// clockStats takes a clockstats line of a reference clock (engine.Options.ClockStats). The
// statistics files are written by the stats writer once `statistics clockstats` and its
// filegen are configured; until that writer is wired in, the line goes to the debug log.
func (d *Daemon) clockStats(a refclock.Address, text string, now time.Time) {
	if d.writeClockStats != nil {
		d.writeClockStats(a.String(), text)
		return
	}
	d.log.Debug("clockstats " + refclock.ClockStatsLine(now, a, text))
}
