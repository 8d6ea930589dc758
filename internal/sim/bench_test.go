// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"gontp/internal/filegen"
	"gontp/internal/stats"
	"gontp/internal/wire"
	"gontp/ntpconf"
)

// BenchmarkLAN24h runs the 24-hour LAN scenario and reports how many simulated hours
// pass per second of real time.
func BenchmarkLAN24h(b *testing.B) {
	sc := load(b, "lan.scn")
	start := time.Now()
	for b.Loop() {
		if _, err := Run(sc, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(sc.Duration.Hours()*float64(b.N)/time.Since(start).Seconds(), "sim-h/s")
}

// BenchmarkStatsCost measures what the statistics files cost against the engine's work:
// the process CPU time (user + system, every goroutine) of the 24-hour LAN scenario without
// them, the lines the same run writes with loopstats, peerstats and protostats (through the
// engine), and with rawstats too (one line per packet sent and received, which the daemon
// records), and the CPU time per line of recording and writing them (queued,
// formatted and written by internal/filegen into a temporary directory, measured over
// 100 000 lines so that the machine's noise averages out). %engine-* is lines × cost per
// line over the run's CPU time; the run includes the simulated world's own work, so the
// engine alone takes less and the true share is somewhat higher, but of the same order.
func BenchmarkStatsCost(b *testing.B) {
	sc := load(b, "lan.scn")
	dir := b.TempDir()
	cfg, _ := filegen.FromConfig(mustParse(b, "statsdir "+dir+"\nstatistics loopstats peerstats protostats rawstats\n"), "")
	// Lines per run: the engine's records, plus the rawstats the daemon writes (one per
	// packet sent and one per packet received, two per peerstats line at most).
	w := filegen.New(cfg, filegen.Options{})
	w.Start()
	if _, err := Run(sc, Options{Stats: w}); err != nil {
		b.Fatal(err)
	}
	w.Close()
	var engineLines uint64
	for k := range stats.NumKinds {
		c := w.Counts(k)
		if c.Dropped+c.Failed > 0 {
			b.Fatalf("%v: %d records dropped or lost", k, c.Dropped+c.Failed)
		}
		engineLines += c.Written
	}
	rawLines := 2 * w.Counts(stats.PeerStats).Written
	var base time.Duration
	for b.Loop() {
		t0 := cpuTime()
		if _, err := Run(sc, Options{}); err != nil {
			b.Fatal(err)
		}
		base += cpuTime() - t0
	}
	perRun := base / time.Duration(b.N)

	// CPU per line, both sides of the queue.
	const n = 100_000
	w = filegen.New(cfg, filegen.Options{})
	w.Start()
	raw := stats.Raw{Src: netip.MustParseAddr("198.18.0.2"), Dst: netip.MustParseAddr("198.18.0.7"),
		Packet: wire.Packet{Version: 4, Mode: 4, Stratum: 2, Org: 1 << 40, Rec: 2 << 40, Xmt: 3 << 40}, Dest: 4 << 40}
	t0 := cpuTime()
	// The engine and the daemon pass the time they already read; a line costs no clock
	// reading of its own.
	at := time.Now()
	for i := range n {
		switch i % 4 {
		case 0:
			w.PeerStats(at, stats.Peer{Source: raw.Src, Status: 0x9614, Offset: 1e-4, Delay: 2e-4, Disp: 3e-4, Jitter: 4e-5})
		case 1:
			w.LoopStats(at, stats.Loop{Offset: 1e-5, Frequency: 12.3, Jitter: 2e-6, Wander: 0.01, Poll: 6})
		default:
			w.RawStats(at, raw)
		}
		if i%2048 == 2047 {
			w.Flush() // keep within the queue, as the one-second writer does at real rates
		}
	}
	w.Close()
	perLine := (cpuTime() - t0) / n
	b.ReportMetric(float64(perLine.Nanoseconds()), "ns/line")
	b.ReportMetric(float64(engineLines), "lines/run")
	b.ReportMetric(float64(perRun.Microseconds())/1e3, "ms-cpu/run")
	// Debian's default set (loopstats, peerstats; clockstats has no clock here) and
	// protostats; then the same with rawstats, the heaviest file, added.
	b.ReportMetric(100*float64(time.Duration(engineLines)*perLine)/float64(perRun), "%engine-default")
	b.ReportMetric(100*float64(time.Duration(engineLines+rawLines)*perLine)/float64(perRun), "%engine-rawstats")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mustParse(b *testing.B, conf string) *ntpconf.Config {
	cfg, err := ntpconf.ParseBytes("ntp.conf", []byte(conf))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}
