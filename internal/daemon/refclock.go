// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"gontp/internal/engine"
	"gontp/internal/refclockio"
	"gontp/refclock"
)

// driver is one running reference clock driver: the configuration it was started with and
// how to stop it. Stopping it ends its goroutine, which closes its device (the serial line,
// the PPS device, gpsd's socket) or detaches its SHM segment.
type driver struct {
	clock refclock.Config
	stop  context.CancelFunc
}

// startRefclocks starts the drivers of the configured reference clocks in the I/O layer.
// Their readings come to the engine goroutine through d.readings, as packets come through
// d.toEngine; the engine alone keeps the clocks' state.
func (d *Daemon) startRefclocks(ctx context.Context, clocks []engine.Refclock) {
	d.drivers = map[refclock.Address]*driver{}
	for _, rc := range clocks {
		d.startDriver(ctx, rc.Clock)
	}
}

// startDriver starts one clock's driver under its own context, so that a reload can stop it
// alone.
func (d *Daemon) startDriver(ctx context.Context, clk refclock.Config) {
	dctx, stop := context.WithCancel(ctx)
	err := refclockio.Start(dctx, clk, refclockio.Options{Now: d.now, Host: time.Now, Log: d.log},
		func(r refclock.Reading) {
			select {
			case d.readings <- r:
			case <-dctx.Done():
			}
		})
	if err != nil {
		stop()
		d.log.Error(fmt.Sprintf("reference clock %s: %v", clk.Addr.Name(), err))
		return
	}
	d.drivers[clk.Addr] = &driver{clock: clk, stop: stop}
}

// refclocksDiffer reports whether a reload changes any reference clock: a line added or
// removed, or its mode, device path, poll options or fudge edited. It compares the parsed
// lines, not their text, so that a change saveconfig does not print (NTPsec's path) counts.
func refclocksDiffer(old, cur *runConfig) bool {
	if old == nil {
		return len(cur.engine.Refclocks) > 0
	}
	return !reflect.DeepEqual(old.engine.Refclocks, cur.engine.Refclocks)
}

// applyRefclocks applies the reference clock lines and their fudge at a reload, on the
// engine goroutine (gontp's addition: classic has no reload). A removed line's driver is
// stopped, which closes its device, and its association goes; a new line's association is
// mobilised and its driver started; an edited line (mode, path, poll options, fudge) keeps
// its association and everything it measured, takes the new options and fudge, and its
// driver is restarted with the new configuration when that changed (the driver's device,
// mode and flags are read when it starts).
func (d *Daemon) applyRefclocks(e *engine.Engine, cur *runConfig, now time.Time) {
	want := map[refclock.Address]engine.Refclock{}
	for _, rc := range cur.engine.Refclocks {
		want[rc.Clock.Addr] = rc
	}
	old := map[refclock.Address]engine.Refclock{}
	if d.cur != nil {
		for _, rc := range d.cur.engine.Refclocks {
			old[rc.Clock.Addr] = rc
		}
	}
	for _, rc := range d.cur.engine.Refclocks {
		a := rc.Clock.Addr
		if _, ok := want[a]; ok {
			continue
		}
		d.stopDriver(a)
		if err := e.RemoveRefclock(a, now); err != nil {
			d.log.Error("reload: " + err.Error())
			continue
		}
		d.log.Info(fmt.Sprintf("reload: reference clock %s removed; its driver is stopped", a.Name()))
	}
	for _, rc := range cur.engine.Refclocks {
		a := rc.Clock.Addr
		o, had := old[a]
		switch {
		case !had:
			if _, err := e.AddRefclock(rc, now); err != nil {
				d.log.Error(fmt.Sprintf("reload: reference clock %s: %v", a.Name(), err))
				continue
			}
			d.startDriver(d.ctx, rc.Clock)
			d.log.Info(fmt.Sprintf("reload: reference clock %s added", a.Name()))
		case !reflect.DeepEqual(o, rc):
			if err := e.ReconfigureRefclock(rc, now); err != nil {
				d.log.Error(fmt.Sprintf("reload: reference clock %s: %v", a.Name(), err))
				continue
			}
			if drv := d.drivers[a]; drv == nil || !reflect.DeepEqual(drv.clock, rc.Clock) {
				d.stopDriver(a)
				d.startDriver(d.ctx, rc.Clock)
			}
			d.log.Info(fmt.Sprintf("reload: reference clock %s takes its edited line and fudge; its measurements are kept", a.Name()))
		}
	}
}

// stopDriver stops a clock's driver, if it runs.
func (d *Daemon) stopDriver(a refclock.Address) {
	if drv := d.drivers[a]; drv != nil {
		drv.stop()
		delete(d.drivers, a)
	}
}
