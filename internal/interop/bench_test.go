// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// benchReport is the part of ntpbench's JSON report the comparison uses.
type benchReport struct {
	Mode           string  `json:"mode"`
	InFlight       int     `json:"inflight"`
	Rate           float64 `json:"offered_rate"`
	Sent           uint64  `json:"requests"`
	Replies        uint64  `json:"replies"`
	KoD            uint64  `json:"kod"`
	Invalid        uint64  `json:"invalid"`
	Lost           uint64  `json:"lost"`
	RepliesPerSec  float64 `json:"replies_per_s"`
	RequestsPerSec float64 `json:"requests_per_s"`
	LossPercent    float64 `json:"loss_percent"`
	Latency        struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency_us"`
	Servers []struct {
		CPUSeconds       float64 `json:"cpu_s"`
		CPUPerReplyUS    float64 `json:"cpu_per_reply_us"`
		UserPerReplyUS   float64 `json:"user_per_reply_us"`
		SystemPerReplyUS float64 `json:"system_per_reply_us"`
		RSSKiB           int64   `json:"rss_kib"`
		PeakRSSKiB       int64   `json:"peak_rss_kib"`
	} `json:"server_processes"`
}

// TestServerBenchmark measures gontp's ntpd, chronyd and classic ntpd under the same load in
// the same run, and the kernel floor (ntpbench -floor: what the kernel alone costs per reply):
// each server in its own network namespace, ntpbench beside it sending to
// 127.0.0.1:123 there, closed loop at several concurrencies and open loop at fixed offered
// rates. It reports replies/s, loss, latency, the server's CPU time per reply (from
// /proc/PID/stat) and resident memory; it fails only on invalid replies, never on timing.
//
// It takes about two minutes, so it runs only with GONTP_BENCH=1;
// GONTP_BENCH_SECONDS sets the length of each run (default 5) and GONTP_BENCH_OUT names a
// file for the Markdown table.
func TestServerBenchmark(t *testing.T) {
	if os.Getenv("GONTP_BENCH") != "1" {
		t.Skip("server benchmark: set GONTP_BENCH=1 to run it (about two minutes)")
	}
	testnet.Reference(t, "classic-ntpd", "chronyd")
	secs := 5
	if s := os.Getenv("GONTP_BENCH_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("GONTP_BENCH_SECONDS=%q", s)
		}
		secs = n
	}
	bench := binary(t, "ntpbench")
	tn := testnet.New(t)
	type server struct {
		name string
		host *testnet.Host
		proc *testnet.Proc
	}
	var servers []server
	h := tn.Host("gontp")
	servers = append(servers, server{"gontp", h, startGontp(t, h, gontpLocalConf)})
	if !h.WaitUDP(123, 10*time.Second) {
		t.Fatal("gontp ntpd did not bind UDP port 123")
	}
	h = tn.Host("chronyd")
	servers = append(servers, server{"chronyd", h, testnet.Chronyd(t, h, "local stratum 8\nallow\n")})
	h = tn.Host("classic")
	servers = append(servers, server{"classic ntpd", h, testnet.ClassicNTPD(t, h,
		"server 127.127.1.0\nfudge 127.127.1.0 stratum 10\ndisable ntp\n")})
	// The yardstick: ntpbench -floor, the least a server can spend per reply here (one
	// thread blocked in recvmmsg, kernel timestamps, replies built in place, no checks).
	h = tn.Host("floor")
	servers = append(servers, server{"kernel floor", h, h.Start(t, bench, "-floor", "-server", "127.0.0.1:123")})
	if !h.WaitUDP(123, 10*time.Second) {
		t.Fatal("ntpbench -floor did not bind UDP port 123")
	}
	if _, err := servers[0].host.WaitSynced(netip.MustParseAddr("127.0.0.1"), 30*time.Second); err != nil {
		t.Logf("gontp not synchronised yet (%v); measuring anyway", err)
	}

	loads := [][]string{
		{"-inflight", "16"}, {"-inflight", "64"}, {"-inflight", "256"},
		{"-rate", "50000"}, {"-rate", "100000"},
	}
	var md strings.Builder
	md.WriteString("| load | server | replies/s | loss | p50 µs | p99 µs | server CPU µs/reply | user + system | server CPU s | RSS MiB (peak) |\n")
	md.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, load := range loads {
		for _, s := range servers {
			args := append([]string{bench, "-json", "-duration", strconv.Itoa(secs) + "s",
				"-pid", strconv.Itoa(s.proc.Pid()), "-label", s.name}, load...)
			out, err := s.host.Run(t, time.Duration(secs+30)*time.Second, args...)
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", s.name, load, err, out)
			}
			var r benchReport
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("%s %v: ntpbench output: %v\n%s", s.name, load, err, out)
			}
			if r.Invalid != 0 {
				t.Errorf("%s %v: %d invalid replies", s.name, load, r.Invalid)
			}
			if s.proc.Exited() {
				t.Fatalf("%s exited under load: %v\n%s", s.name, s.proc.ExitErr(), s.proc.Log())
			}
			ps := r.Servers[0]
			line := fmt.Sprintf("| %s %s | %s | %.0f | %.3f %% | %.0f | %.0f | %.2f | %.2f + %.2f | %.2f | %.1f (%.1f) |",
				strings.TrimPrefix(load[0], "-"), load[1], s.name, r.RepliesPerSec, r.LossPercent,
				r.Latency.P50, r.Latency.P99, ps.CPUPerReplyUS, ps.UserPerReplyUS, ps.SystemPerReplyUS, ps.CPUSeconds,
				float64(ps.RSSKiB)/1024, float64(ps.PeakRSSKiB)/1024)
			t.Log(line)
			md.WriteString(line + "\n")
		}
	}
	t.Log("\n" + md.String())
	if p := os.Getenv("GONTP_BENCH_OUT"); p != "" {
		if err := os.WriteFile(p, []byte(md.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}
