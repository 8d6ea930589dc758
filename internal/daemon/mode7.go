// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"time"

	"gontp/clock"
	"gontp/internal/mode7"
	"gontp/internal/ntptime"
	"gontp/internal/server"
	"gontp/internal/snapshot"
)

// newMode7 builds the read-only mode-7 (ntpdc) server over the daemon's state: the engine
// snapshot, the time server's counters, the enable/disable flags in effect and the kernel
// clock. The daemon only hands it requests after `enable mode7` (handle).
func newMode7(snap func() *snapshot.Snapshot, kernel clock.Kernel, srv *server.Server, flags func() map[string]bool) *mode7.Server {
	return mode7.New(mode7.Sources{
		Snapshot: snap,
		Stats: func(now time.Time) mode7.SysStats {
			st := controlServerStats(srv.Stats(ntptime.FromTime(now)))
			return mode7.SysStats{Uptime: st.Uptime, SinceReset: st.SinceReset, Denied: st.Restricted,
				OldVersion: st.OldVer, NewVersion: st.ThisVer, Declined: st.Declined, BadLength: st.BadFormat,
				Processed: st.Processed, BadAuth: st.BadAuth, Received: st.Received, Limited: st.Limited}
		},
		Flags: func() mode7.Flags {
			f := flags()
			return mode7.Flags{BClient: f["bclient"], Auth: f["auth"], NTP: f["ntp"], Kernel: f["kernel"],
				Monitor: f["monitor"], Stats: f["stats"], Calibrate: f["calibrate"], PPS: f["pps"]}
		},
		Kernel: func() (clock.Timex, bool) {
			var tx clock.Timex
			if _, err := kernel.Adjtimex(&tx); err != nil {
				return tx, false
			}
			return tx, true
		},
	})
}
