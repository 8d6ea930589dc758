// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"gontp/internal/engine"
	"gontp/internal/filegen"
	"gontp/internal/ntptime"
	"gontp/internal/server"
	"gontp/internal/stats"
	"gontp/internal/wire"
	"gontp/ntpconf"
)

// sysStatsInterval is classic's hourly statistics timer (ntp_timer.c: stats_timer), which
// writes the sysstats line.
const sysStatsInterval = time.Hour

// newStatsWriter makes the statistics writer from the configuration and `ntpd -s`; it
// writes once started (after the privilege drop).
func newStatsWriter(cfg *ntpconf.Config, opts Options, now func() time.Time, start time.Time, log *slog.Logger) *filegen.Writer {
	sc, warns := filegen.FromConfig(cfg, opts.StatsDir)
	for _, w := range warns {
		log.Warn(w)
	}
	return filegen.New(sc, filegen.Options{Log: log, Now: now, Start: start})
}

// ApplyStats applies a reloaded configuration's statistics settings (statsdir, statistics,
// filegen, enable/disable stats; `ntpd -s` keeps its directory). Safe from any goroutine;
// the writer closes the files whose settings changed and opens the new ones at their next
// record.
func (d *Daemon) ApplyStats(cfg *ntpconf.Config) {
	sc, warns := filegen.FromConfig(cfg, d.opts.StatsDir)
	for _, w := range warns {
		d.log.Warn(w)
	}
	d.stats.Apply(sc)
}

// recordInput writes the rawstats and timingstats records of a packet on its way to the
// engine: the packet with our receive timestamp (classic record_raw_stats in
// process_packet), and the time it waited between the kernel's receive timestamp and the
// engine (classic's DEBUG_TIMING "input processing delay").
func (d *Daemon) recordInput(in inbound, now time.Time) {
	if d.stats.Enabled(stats.RawStats) {
		r := stats.Raw{Src: in.src.Addr(), Dest: ntptime.FromTime(in.rx)}
		if in.socket != nil {
			r.Dst = in.socket.Local.Addr()
		}
		if err := wire.DecodeHeader(in.data, &r.Packet); err == nil {
			d.stats.RawStats(now, r)
		}
	}
	if d.stats.Enabled(stats.TimingStats) {
		d.stats.TimingStats(stats.Timing{Source: in.src.Addr(), Count: 1, Delay: now.Sub(in.rx), Tag: "input processing delay"})
	}
}

// recordOutput writes the rawstats record of a packet an association sent (classic 4.2.8p15
// records its own transmissions too, from peer_xmit: source is the local address, the
// destination timestamp 0).
func (d *Daemon) recordOutput(local netip.Addr, s engine.Send, xmt ntptime.Time) {
	if !d.stats.Enabled(stats.RawStats) {
		return
	}
	r := stats.Raw{Src: local, Dst: s.To.Addr(), Packet: s.Packet}
	if xmt != 0 {
		r.Packet.Xmt = xmt
	}
	d.stats.RawStats(d.now(), r)
}

// runSysStats writes the sysstats line every hour: the server counters of the past hour.
// Classic clears its counters after each line (so ntpq's sysstats restart hourly with
// sysstats on); gontp keeps ntpq's counters running and writes the differences.
func (d *Daemon) runSysStats(ctx context.Context, srv *server.Server) {
	t := time.NewTicker(sysStatsInterval)
	defer t.Stop()
	prev := srv.Stats(ntptime.FromTime(d.now()))
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cur := srv.Stats(ntptime.FromTime(d.now()))
			d.stats.SysStats(sysStatsLine(prev, cur))
			prev = cur
		}
	}
}

// sysStatsLine is the sysstats record for the period between two counter readings.
func sysStatsLine(prev, cur server.Stats) stats.Sys {
	sub := func(a, b uint64) uint64 {
		if a < b {
			return a // the counters were reset (ntpdc reset sys): count from zero
		}
		return a - b
	}
	return stats.Sys{
		Seconds:    sub(cur.Uptime, prev.Uptime),
		Received:   sub(cur.Received, prev.Received),
		Processed:  sub(cur.Processed, prev.Processed),
		NewVersion: sub(cur.ThisVer, prev.ThisVer),
		OldVersion: sub(cur.OldVer, prev.OldVer),
		Restricted: sub(cur.Restricted, prev.Restricted),
		BadLength:  sub(cur.BadFormat, prev.BadFormat),
		BadAuth:    sub(cur.BadAuth, prev.BadAuth),
		Declined:   sub(cur.Declined, prev.Declined),
		Limited:    sub(cur.Limited, prev.Limited),
		KoDSent:    sub(cur.KoDSent, prev.KoDSent),
	}
}
