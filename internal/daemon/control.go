// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"crypto/rand"
	"iter"
	"log/slog"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/snapshot"

	"golang.org/x/sys/unix"

	"gontp/clock"
	"gontp/internal/control"
	"gontp/internal/keys"
	"gontp/internal/netio"
	"gontp/internal/server"
)

// newControl builds the mode-6 server over the daemon's state: the engine snapshot, the time
// server's counters, the key counters, the sockets and the kernel clock. Sources gontp does
// not have yet (timer counters) are left out, so their variables are absent rather than made
// up.
func newControl(snap func() *snapshot.Snapshot, kernel clock.Kernel, srv *server.Server, gate func() *server.Gate, socks func() *netio.Set, rc *runConfig, start time.Time, writer control.Writer, keysNow func() *keys.Set, log *slog.Logger) *control.Server {
	cfg := control.Config{
		Version: VersionString(),
		MinPoll: server.DefaultMinPoll,
		// classic's default broadcastdelay is 4 ms but its variable shows the configured
		// broadcast delay, -50 ms until one is measured (observed: bcastdelay=-50.000).
		BroadcastDelay: -0.05,
		SetVars:        rc.setvars,
		Log:            log,
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		cfg.Processor = unix.ByteSliceToString(u.Machine[:])
		cfg.System = unix.ByteSliceToString(u.Sysname[:]) + "/" + unix.ByteSliceToString(u.Release[:])
	}
	rand.Read(cfg.NonceSecret[:])
	src := control.Sources{
		NTS:         rc.ntsInfo,
		Snapshot:    snap,
		ServerStats: func(now ntptime.Time) control.ServerStats { return controlServerStats(srv.Stats(now)) },
		IO: func(now time.Time) control.IOStats {
			var io control.IOStats
			io.SinceReset = uint64(now.Sub(start) / time.Second)
			for _, s := range socks().Sockets() {
				st := s.Stats()
				io.Received += st.Received
				io.Sent += st.Sent
				io.SendFailed += st.SendErrors
				io.Dropped += st.Dropped + st.Truncated
			}
			return io
		},
		Monitor: func() control.MonitorStats {
			m := gate().Monitor.Stats()
			return control.MonitorStats{Enabled: m.Enabled, Depth: uint64(m.Entries),
				Deepest: uint64(m.Peak), MinDepth: uint64(m.MinDepth), MaxDepth: uint64(m.MaxDepth),
				MaxAge: int64(m.MaxAge), MemKiB: uint64(m.MemKB), MaxMemKiB: uint64(m.MaxMemKB)}
		},
		MRU: func() iter.Seq[control.MRUEntry] {
			entries := gate().Monitor.MRU(nil)
			return func(yield func(control.MRUEntry) bool) {
				for _, e := range entries {
					if !yield(control.MRUEntry{Addr: e.Addr, First: e.First, Last: e.Last,
						Count: uint64(e.Count), Mode: e.Mode, Version: e.Version, Restrict: uint16(e.Flags)}) {
						return
					}
				}
			}
		},
		Restrictions: func() []control.Restriction {
			var out []control.Restriction
			for _, e := range gate().List.Entries() {
				out = append(out, control.Restriction{Addr: e.Addr, Mask: e.Mask, Hits: e.Hits,
					Flags: server.ReslistFlags(e.Flags, e.Match)})
			}
			return out
		},
		Kernel: func() (control.KernelState, bool) {
			// Read (modes 0) the clock the daemon disciplines: the kernel's, or the model
			// behind --virtual-clock.
			var tx clock.Timex
			if _, err := kernel.Adjtimex(&tx); err != nil {
				return control.KernelState{}, false
			}
			unit := time.Microsecond
			if tx.Status&clock.StaNano != 0 {
				unit = time.Nanosecond
			}
			return control.KernelState{Offset: time.Duration(tx.Offset) * unit,
				Freq: float64(tx.Freq) / 65536, MaxError: time.Duration(tx.MaxError) * time.Microsecond,
				EstError: time.Duration(tx.EstError) * time.Microsecond, Status: tx.Status,
				Constant: tx.Constant, Precision: time.Duration(tx.Precision) * time.Microsecond,
				Tolerance: float64(tx.Tolerance) / 65536}, true
		},
		Interfaces: func(now time.Time) []control.Interface {
			var out []control.Interface
			for _, s := range socks().Sockets() {
				st := s.Stats()
				out = append(out, control.Interface{
					Name: s.Name, Addr: s.Local, Enabled: s.Action() != netio.Drop,
					Flags: s.Flags, Received: st.Received, Sent: st.Sent, SendFailed: st.SendErrors,
					Uptime: uint64(now.Sub(st.Opened) / time.Second),
				})
			}
			return out
		},
	}
	if rc.keys != nil {
		src.Keys = rc.keys
		src.ControlKey = rc.controlKey
	}
	// The writes still need the controlkey; a reload may bring one.
	src.Writer = writer
	// authinfo: classic's key counters. gontp keeps no free list of key slots, so
	// authfreek is 0, and no key has a lifetime (that is Autokey), so authkexpired is 0.
	src.Auth = func(now time.Time) control.AuthStats {
		st := keysNow().Stats()
		return control.AuthStats{SinceReset: uint64(now.Sub(start) / time.Second), Keys: st.Keys,
			Lookups: st.Lookups, NotFound: st.NotFound, Uncached: st.Uncached,
			Encrypts: st.Encrypts, Decrypts: st.Decrypts}
	}
	return control.New(cfg, src)
}

// controlServerStats are the time server's counters that the control server shows.
func controlServerStats(st server.Stats) control.ServerStats {
	return control.ServerStats{Uptime: st.Uptime, SinceReset: st.SinceReset,
		Received: st.Received, ThisVer: st.ThisVer, OldVer: st.OldVer, BadFormat: st.BadFormat,
		BadAuth: st.BadAuth, Declined: st.Declined, Restricted: st.Restricted,
		Limited: st.Limited, KoDSent: st.KoDSent, Processed: st.Processed}
}

// controlRestrict is what the control server needs of a source's restrict flags.
func controlRestrict(r server.Restrict) control.Restrict {
	var c control.Restrict
	if r&server.RestrictIgnore != 0 {
		c |= control.RestrictIgnore
	}
	if r&server.RestrictNoQuery != 0 {
		c |= control.RestrictNoQuery
	}
	return c
}
