// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"time"

	"gontp/internal/engine"
)

// statusEvery is how often the sync state is checked for STATUS= and -w.
const statusEvery = time.Second

// started runs once the sockets are bound, the pid file is written and privileges are
// dropped: it ends start-up logging (the default logconfig applies from now on), tells the
// forking parent and systemd that the daemon runs, and starts the loop that reports the sync
// state and feeds systemd's watchdog. SIGHUP reloads from here on.
func (d *Daemon) started(ctx context.Context) {
	if d.opts.LogOutput != nil {
		d.opts.LogOutput.StartupDone()
	}
	snap := d.eng.Snapshot()
	if err := d.opts.Notifier.Ready(SyncStatus(snap)); err != nil {
		d.log.Warn(err.Error())
	}
	// After READY=1: the parent's hand-over to this process must come last (fork.go).
	d.opts.Readiness.Running()
	go d.supervise(ctx)
}

// supervise reports the sync state (STATUS=, the -w parent) and pets systemd's watchdog. The
// watchdog is fed only after the engine goroutine has answered a probe, so a daemon whose
// engine hangs is restarted by systemd instead of being kept alive by this goroutine.
func (d *Daemon) supervise(ctx context.Context) {
	every := statusEvery
	if w := d.opts.Notifier.WatchdogInterval(); w > 0 && w < every {
		every = w
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastStatus := SyncStatus(d.eng.Snapshot())
	for {
		select {
		case <-ctx.Done():
			d.opts.Notifier.Send("STOPPING=1")
			return
		case <-d.opts.Reload:
			d.reload(ctx)
		case <-tick.C:
			alive := make(chan struct{})
			d.post(func(*engine.Engine, time.Time) []engine.Send { close(alive); return nil })
			select {
			case <-alive:
			case <-ctx.Done():
				continue
			case <-time.After(every):
				d.log.Warn("the engine did not answer within " + every.String() + "; not feeding the watchdog")
				continue
			}
			snap := d.eng.Snapshot()
			if snap.Sys.Synchronised() {
				d.opts.Readiness.Synced()
			}
			msg := ""
			if s := SyncStatus(snap); s != lastStatus {
				lastStatus = s
				msg = "STATUS=" + s
			}
			if d.opts.Notifier.WatchdogInterval() > 0 {
				if msg != "" {
					msg += "\n"
				}
				msg += "WATCHDOG=1"
			}
			if msg != "" {
				if err := d.opts.Notifier.Send(msg); err != nil {
					d.log.Debug(err.Error())
				}
			}
		}
	}
}
