// SPDX-License-Identifier: BSD-2-Clause

// Package metrics serves gontp's state as Prometheus/OpenMetrics metrics over HTTP
// (/metrics), on the addresses of ntp.conf's `metrics ADDRESS:PORT` lines; without such a
// line nothing listens. Every value is read when the endpoint is scraped, from the same
// sources ntpq reads (the engine snapshot and the counters of the time and control
// servers), so a scrape costs the engine nothing. Names follow Prometheus conventions:
// the ntp_ prefix, base units (seconds; frequencies as ratios, not ppm), _total for counters.
package metrics

import (
	"math"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"gontp/internal/control"
	"gontp/internal/filegen"
	"gontp/internal/ntptime"
	"gontp/internal/server"
	"gontp/internal/snapshot"
	"gontp/internal/stats"
	"gontp/internal/wire"
)

// Sources are the readers the collector takes its values from. A nil reader leaves its
// metrics out.
type Sources struct {
	Snapshot    func() *snapshot.Snapshot
	Now         func() ntptime.Time // the daemon's clock, for root dispersion and uptime
	ServerStats func(now ntptime.Time) server.Stats
	MRUEntries  func() int
	Control     func() control.Stats
	Stats       func(stats.Kind) filegen.Counts
	// EngineDropped counts association packets dropped because the engine queue was full.
	EngineDropped func() uint64
	Version       string
}

// collector is the prometheus.Collector over Sources.
type collector struct {
	src Sources
	d   descs
}

type descs struct {
	build, stratum, offset, sysJitter, freq, clkJitter, wander, rootDelay, rootDisp, leap,
	state, synced, poll, precision, syncSource *prometheus.Desc

	peerInfo, reach, pOffset, pDelay, pJitter, pDisp, pPoll, pStratum, pSent, pReceived *prometheus.Desc
	kernelPPS, kernelPPSRefused                                                         *prometheus.Desc

	uptime, received, processed, sent, dropped, restricted, limited, kod, mru, engineDropped *prometheus.Desc

	ctlRequests, ctlResponses, ctlErrors *prometheus.Desc

	statsWritten, statsDropped, statsFailed *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	peer := []string{"assoc_id", "address"}
	return descs{
		build:      d("ntp_build_info", "gontp's version; the value is 1.", "version"),
		stratum:    d("ntp_system_stratum", "System stratum (16 while unsynchronised)."),
		offset:     d("ntp_system_offset_seconds", "Last clock offset the discipline took (ntpq rv offset)."),
		sysJitter:  d("ntp_system_jitter_seconds", "System jitter of the selected sources (ntpq rv sys_jitter)."),
		freq:       d("ntp_system_frequency_ratio", "Frequency correction of the clock as a ratio (ntpq rv frequency is this times 1e6, in ppm)."),
		clkJitter:  d("ntp_system_clock_jitter_seconds", "Clock jitter (ntpq rv clk_jitter)."),
		wander:     d("ntp_system_clock_wander_ratio", "Frequency wander as a ratio (ntpq rv clk_wander in ppm is this times 1e6)."),
		rootDelay:  d("ntp_system_root_delay_seconds", "Round-trip delay to the primary reference (ntpq rv rootdelay)."),
		rootDisp:   d("ntp_system_root_dispersion_seconds", "Dispersion to the primary reference, now (ntpq rv rootdisp)."),
		leap:       d("ntp_system_leap_indicator", "Leap indicator: 0 none, 1 insert, 2 delete, 3 unsynchronised."),
		state:      d("ntp_system_clock_state", "Clock discipline state as classic numbers it: 0 none, 1 NSET, 2 FSET, 3 SPIK, 4 FREQ, 5 SYNC."),
		synced:     d("ntp_system_synchronized", "1 when the system clock is synchronised (leap indicator not 3)."),
		poll:       d("ntp_system_poll_interval_seconds", "System poll interval (2^tc)."),
		precision:  d("ntp_system_precision_seconds", "Precision of the system clock (2^precision)."),
		syncSource: d("ntp_system_sync_source_info", "The system peer and reference ID; the value is 1 (no series while there is none).", "assoc_id", "address", "refid"),

		peerInfo:  d("ntp_peer_info", "One series per association; the value is 1. selection is the selection status ntpq -p shows as tally code.", "assoc_id", "address", "refid", "selection", "mode"),
		reach:     d("ntp_peer_reach", "Reach register of the association (0-255, octal in ntpq).", peer...),
		pOffset:   d("ntp_peer_offset_seconds", "Offset of the association's clock filter.", peer...),
		pDelay:    d("ntp_peer_delay_seconds", "Round-trip delay of the association's clock filter.", peer...),
		pJitter:   d("ntp_peer_jitter_seconds", "Jitter of the association's clock filter.", peer...),
		pDisp:     d("ntp_peer_dispersion_seconds", "Dispersion of the association's clock filter.", peer...),
		pPoll:     d("ntp_peer_poll_interval_seconds", "Poll interval of the association (2^hpoll).", peer...),
		pStratum:  d("ntp_peer_stratum", "Stratum the association's server announces (16: unsynchronised).", peer...),
		pSent:     d("ntp_peer_packets_sent_total", "Packets sent to the association's server.", peer...),
		pReceived: d("ntp_peer_packets_received_total", "Packets received from the association's server.", peer...),

		kernelPPS:        d("ntp_refclock_kernel_pps_bound", "1 while a PPS clock with fudge flag3 has the kernel's PPS discipline bound to its pulses (PPS_KC_BIND).", peer...),
		kernelPPSRefused: d("ntp_refclock_kernel_pps_refused_total", "Times the kernel refused a PPS clock's fudge flag3 bind (a kernel without CONFIG_NTP_PPS: EOPNOTSUPP).", peer...),

		uptime:        d("ntp_server_uptime_seconds", "Seconds since the daemon started (ntpq sysstats uptime)."),
		received:      d("ntp_server_packets_received_total", "NTP packets received, any mode (ntpq sysstats received)."),
		processed:     d("ntp_server_packets_processed_total", "Packets the associations accepted for time (ntpq sysstats processed)."),
		sent:          d("ntp_server_packets_sent_total", "Packets the time server sent, by kind.", "kind"),
		dropped:       d("ntp_server_packets_dropped_total", "Packets the time server dropped or refused, by reason.", "reason"),
		restricted:    d("ntp_server_restricted_total", "Packets refused by restrict flags (ntpq sysstats restricted)."),
		limited:       d("ntp_server_rate_limited_total", "Packets over the discard rate limits (ntpq sysstats limited)."),
		kod:           d("ntp_server_kod_sent_total", "Kiss-o'-Death RATE packets sent (ntpq sysstats KoD responses)."),
		mru:           d("ntp_server_mru_entries", "Entries in the MRU list (ntpq monstats addresses)."),
		engineDropped: d("ntp_engine_packets_dropped_total", "Association packets dropped because the engine was behind."),

		ctlRequests:  d("ntp_control_requests_total", "Mode-6 (ntpq) requests received."),
		ctlResponses: d("ntp_control_responses_total", "Mode-6 responses sent (error responses included)."),
		ctlErrors:    d("ntp_control_errors_total", "Mode-6 requests refused or failed, by reason.", "reason"),

		statsWritten: d("ntp_stats_lines_written_total", "Lines written to a statistics file set.", "file"),
		statsDropped: d("ntp_stats_dropped_total", "Statistics records dropped because the writer was behind.", "file"),
		statsFailed:  d("ntp_stats_failed_total", "Statistics lines lost to a failing open or write (full disk, missing directory).", "file"),
	}
}

// NewCollector returns the collector of gontp's metrics over src.
func NewCollector(src Sources) prometheus.Collector {
	return &collector{src: src, d: newDescs()}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

var selectionNames = [...]string{"reject", "falseticker", "excess", "outlier", "candidate", "backup", "sys_peer", "pps_peer"}

var modeNames = [...]string{"unspecified", "symmetric_active", "symmetric_passive", "client", "server", "broadcast", "control", "private"}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	d := &c.d
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(d.build, 1, c.src.Version)
	var now ntptime.Time
	if c.src.Now != nil {
		now = c.src.Now()
	}
	if c.src.Snapshot != nil {
		if s := c.src.Snapshot(); s != nil {
			c.collectSystem(ch, s, now, gauge)
			c.collectPeers(s, gauge, counter)
		}
	}
	if c.src.ServerStats != nil {
		st := c.src.ServerStats(now)
		gauge(d.uptime, float64(st.Uptime))
		counter(d.received, st.Received)
		counter(d.processed, st.Processed)
		counter(d.sent, st.Replies, "reply")
		counter(d.sent, st.PassiveReplies, "passive_reply")
		counter(d.sent, st.KoDSent, "kod")
		counter(d.sent, st.CryptoNAKs, "crypto_nak")
		for _, r := range []struct {
			name string
			v    uint64
		}{
			{"short", st.Short}, {"bogus_port", st.BogusPort}, {"bad_version", st.BadVersion},
			{"bad_mode", st.BadMode}, {"bad_trailer", st.BadTrailer}, {"bad_extension_length", st.BadExtLength},
			{"bad_extension_overrun", st.BadExtOverrun}, {"invalid_nak", st.InvalidNAK},
			{"bad_auth", st.BadAuth}, {"declined", st.Declined}, {"restricted", st.Restricted},
			{"rate_limited", st.Limited}, {"empty", st.Empty}, {"no_snapshot", st.NoSnapshot},
			{"reply_buffer", st.OutShort},
		} {
			counter(d.dropped, r.v, r.name)
		}
		counter(d.restricted, st.Restricted)
		counter(d.limited, st.Limited)
		counter(d.kod, st.KoDSent)
	}
	if c.src.MRUEntries != nil {
		gauge(d.mru, float64(c.src.MRUEntries()))
	}
	if c.src.EngineDropped != nil {
		counter(d.engineDropped, c.src.EngineDropped())
	}
	if c.src.Control != nil {
		cs := c.src.Control()
		counter(d.ctlRequests, cs.Requests)
		counter(d.ctlResponses, cs.Responses)
		for _, r := range []struct {
			name string
			v    uint64
		}{
			{"restricted", cs.Restricted}, {"short", cs.Short}, {"not_control", cs.NotControl},
			{"bad_version", cs.BadVersion}, {"bad_header", cs.BadHeader}, {"bad_format", cs.BadFormat},
			{"bad_opcode", cs.BadOp}, {"permission", cs.Permission}, {"bad_association", cs.BadAssoc},
			{"unknown_variable", cs.UnknownVar}, {"bad_value", cs.BadValue}, {"long_value", cs.LongValue},
			{"bad_nonce", cs.BadNonce}, {"bad_auth", cs.BadAuth},
		} {
			counter(d.ctlErrors, r.v, r.name)
		}
	}
	if c.src.Stats != nil {
		for k := range stats.NumKinds {
			n := c.src.Stats(k)
			counter(d.statsWritten, n.Written, k.String())
			counter(d.statsDropped, n.Dropped, k.String())
			counter(d.statsFailed, n.Failed, k.String())
		}
	}
}

func (c *collector) collectSystem(ch chan<- prometheus.Metric, s *snapshot.Snapshot, now ntptime.Time,
	gauge func(*prometheus.Desc, float64, ...string)) {
	d := &c.d
	sys := &s.Sys
	gauge(d.stratum, float64(sys.Stratum))
	gauge(d.offset, s.Offset)
	gauge(d.sysJitter, s.Jitter)
	gauge(d.freq, s.Frequency/1e6)
	gauge(d.clkJitter, s.ClkJitter)
	gauge(d.wander, s.ClkWander/1e6)
	gauge(d.rootDelay, sys.RootDelay)
	rd := sys.RootDisp
	if now != 0 && sys.RootDispTime != 0 {
		// Root dispersion grows by PHI (15 ppm) per second after the last update, as ntpq
		// reads it.
		rd += 15e-6 * max(ntptime.Sub(now, sys.RootDispTime).Seconds(), 0)
	}
	gauge(d.rootDisp, rd)
	gauge(d.leap, float64(sys.Leap))
	gauge(d.state, float64(s.ClockState))
	synced := 0.0
	if sys.Leap != wire.LeapAlarm {
		synced = 1
	}
	gauge(d.synced, synced)
	gauge(d.poll, math.Ldexp(1, int(sys.Poll)))
	gauge(d.precision, math.Ldexp(1, int(sys.Precision)))
	for i := range s.Peers {
		p := &s.Peers[i]
		if p.ID == s.SysPeer && s.SysPeer != 0 {
			gauge(d.syncSource, 1, strconv.Itoa(int(p.ID)), peerAddress(p), refID(sys.RefID, sys.Stratum))
		}
	}
}

// peerAddress names an association as ntpq -pn does: its address, or 127.127.t.u for a
// reference clock, or the pool's name for a pool prototype.
func peerAddress(p *snapshot.Peer) string {
	if p.Hostname != "" && !p.Vars.Addr.IsValid() {
		return p.Hostname
	}
	return stats.Addr(p.Vars.Addr.Addr())
}

func (c *collector) collectPeers(s *snapshot.Snapshot, gauge func(*prometheus.Desc, float64, ...string),
	counter func(*prometheus.Desc, uint64, ...string)) {
	d := &c.d
	for i := range s.Peers {
		p := &s.Peers[i]
		v := &p.Vars
		id, addr := strconv.Itoa(int(p.ID)), peerAddress(p)
		gauge(d.peerInfo, 1, id, addr, refID(v.RefID, v.Stratum), selectionNames[v.Selection&7], modeNames[v.HMode&7])
		gauge(d.reach, float64(v.Reach), id, addr)
		gauge(d.pOffset, v.Offset, id, addr)
		gauge(d.pDelay, v.Delay, id, addr)
		gauge(d.pJitter, v.Jitter, id, addr)
		gauge(d.pDisp, v.Disp, id, addr)
		gauge(d.pPoll, math.Ldexp(1, int(v.HPoll)), id, addr)
		gauge(d.pStratum, float64(v.Stratum), id, addr)
		counter(d.pSent, v.Sent, id, addr)
		counter(d.pReceived, v.Received, id, addr)
		if c := p.Clock; c != nil && c.Flags&4 != 0 && (c.Type == 20 || c.Type == 22) {
			b := 0.0
			if c.KernelPPS {
				b = 1
			}
			gauge(d.kernelPPS, b, id, addr)
			counter(d.kernelPPSRefused, c.KernelPPSRefused, id, addr)
		}
	}
}

// refID shows a reference ID as ntpq -p does: text for stratum 0, 1 and 16 (".INIT."),
// else the address.
func refID(id uint32, stratum uint8) string {
	if stratum == 0 || stratum >= wire.StratumUnsynched {
		return stats.RefID(id, 0)
	}
	return stats.RefID(id, stratum)
}
