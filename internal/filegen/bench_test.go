// SPDX-License-Identifier: BSD-2-Clause

package filegen

import (
	"net/netip"
	"testing"
	"time"

	"gontp/internal/stats"
	"gontp/internal/wire"
	"gontp/ntpconf"
)

// BenchmarkLine is the cost of one statistics line, queueing, formatting and writing, in a
// mix of peerstats, loopstats and rawstats lines.
func BenchmarkLine(b *testing.B) {
	cfg, _ := ntpconf.ParseBytes("ntp.conf", []byte("statsdir "+b.TempDir()+"\nstatistics loopstats peerstats rawstats\n"))
	c, _ := FromConfig(cfg, "")
	w := New(c, Options{})
	w.Start()
	raw := stats.Raw{Src: netip.MustParseAddr("198.18.0.2"), Dst: netip.MustParseAddr("198.18.0.7"),
		Packet: wire.Packet{Version: 4, Mode: 4, Stratum: 2, Org: 1 << 40, Rec: 2 << 40, Xmt: 3 << 40}, Dest: 4 << 40}
	i := 0
	at := time.Now()
	for b.Loop() {
		switch i % 4 {
		case 0:
			w.PeerStats(at, stats.Peer{Source: raw.Src, Status: 0x9614, Offset: 1e-4, Delay: 2e-4, Disp: 3e-4, Jitter: 4e-5})
		case 1:
			w.LoopStats(at, stats.Loop{Offset: 1e-5, Frequency: 12.3, Jitter: 2e-6, Wander: 0.01, Poll: 6})
		default:
			w.RawStats(at, raw)
		}
		i++
		if i%2048 == 0 {
			w.Flush()
		}
	}
	w.Close()
}
