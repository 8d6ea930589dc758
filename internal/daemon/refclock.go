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
