// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gontp/clock"
	"gontp/internal/snapshot"
	"gontp/internal/stats"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/refclock"
	"gontp/system"
)

// recorded keeps what the engine recorded.
type recorded struct {
	peers []stats.Peer
	loops []stats.Loop
	proto []string
}

func (r *recorded) PeerStats(_ time.Time, p stats.Peer) { r.peers = append(r.peers, p) }
func (r *recorded) LoopStats(_ time.Time, l stats.Loop) { r.loops = append(r.loops, l) }
func (r *recorded) ProtoStats(s string)                 { r.proto = append(r.proto, s) }
func (r *recorded) ClockStats(_, _ string)              {}

// TestStatsRecords: the engine records, where classic calls its record_*_stats, the
// mobilize and restart events at start, a peerstats record per clock filter sample (the refclock named by its
// 127.127.t.u address, with its status word), a loopstats record per clock update with the
// loop's variables, and the peer and system events.
func TestStatsRecords(t *testing.T) {
	drv, err := refclock.New(refclock.Address{Type: 1}, refclock.Fudge{Stratum: 10, StratumSet: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorded{}
	p := &scripted{answer: func(int, float64) (clock.Result, error) {
		return clock.Result{Synchronised: true, Poll: 6}, nil
	}}
	tos := system.DefaultTos()
	tos.OrphanWait = 0
	e, err := New(Config{
		Refclocks: []Refclock{{Addr: refclock.Address{Type: 1}, Driver: drv,
			Peer: peer.Config{IBurst: true, MinPoll: 4, MaxPoll: 7}}},
		NTP: true, Tos: &tos,
	}, Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(1, 2)), Loop: p, Stats: rec})
	if err != nil {
		t.Fatal(err)
	}
	run(e, 10*time.Minute, func(s *snapshot.Snapshot) bool { return s.Sys.Leap != wire.LeapAlarm })
	// As classic: the association's mobilize event (its status word 8011), then restart.
	if len(rec.proto) < 2 || !strings.HasPrefix(rec.proto[0], "127.127.1.0 8011 81 mobilize assoc ") ||
		rec.proto[1] != "0.0.0.0 c016 06 restart" {
		t.Errorf("protostats %q, want mobilize then restart", rec.proto)
	}
	if len(rec.peers) == 0 || rec.peers[0].Source.String() != "127.127.1.0" || rec.peers[0].Status == 0 {
		t.Errorf("peerstats %+v", rec.peers)
	}
	if len(rec.loops) == 0 || rec.loops[0] != (stats.Loop{Offset: 0.001, Frequency: 12.5, Jitter: 0.0002, Wander: 0.01, Poll: 6}) {
		t.Errorf("loopstats %+v", rec.loops)
	}
}
