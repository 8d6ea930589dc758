// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// BenchmarkPollReceive measures one poll and the receive of its reply through the tests and
// the clock filter, with a reused action buffer (the engine's steady state).
func BenchmarkPollReceive(b *testing.B) {
	sys := testSys()
	a := mustNew(b, Config{Configured: true, StartDelay: time.Second}, t0, sys)
	srv := goodServer()
	acts := make([]Action, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		now := a.NextPoll()
		acts = a.Poll(now, sys, acts[:0])
		var req *wire.Packet
		for i := range acts {
			if acts[i].Kind == ActSend {
				req = &acts[i].Packet
			}
		}
		rep, back, dst := srv.reply(req, now)
		var err error
		acts, err = a.Receive(&rep, Rx{Dst: dst}, back, sys, acts[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceive measures Receive alone: the tests and the clock filter.
func BenchmarkReceive(b *testing.B) {
	sys := testSys()
	a := mustNew(b, Config{Configured: true, StartDelay: time.Second}, t0, sys)
	rep := wire.Packet{Version: 4, Mode: wire.ModeServer, Stratum: 2, Poll: 6, Precision: -20,
		RefID: 0xc0000201}
	acts := make([]Action, 0, 16)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(64 * time.Second)
		// Pretend we sent at now-10ms: set our origin as the poll would.
		a.aorg = ntptime.FromTime(now.Add(-10 * time.Millisecond))
		rep.Org = a.aorg
		rep.Rec = ntptime.FromTime(now.Add(-5 * time.Millisecond))
		rep.Xmt = rep.Rec + 1000
		var err error
		acts, err = a.Receive(&rep, Rx{Dst: ntptime.FromTime(now)}, now, sys, acts[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}
