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
	clock []string
}

func (r *recorded) PeerStats(_ time.Time, p stats.Peer) { r.peers = append(r.peers, p) }
func (r *recorded) LoopStats(_ time.Time, l stats.Loop) { r.loops = append(r.loops, l) }
func (r *recorded) ProtoStats(s string)                 { r.proto = append(r.proto, s) }
func (r *recorded) ClockStats(src, text string)         { r.clock = append(r.clock, src+" "+text) }

// TestStatsRecords: the engine records, where classic calls its record_*_stats, the
// mobilize and restart events at start, a peerstats record per clock filter sample (the refclock named by its
// 127.127.t.u address, with its status word), a loopstats record per clock update with the
// loop's variables, and the peer and system events.
func TestStatsRecords(t *testing.T) {
	rec := &recorded{}
	p := &scripted{answer: func(int, float64) (clock.Result, error) {
		return clock.Result{Synchronised: true, Poll: 6}, nil
	}}
	tos := system.DefaultTos()
	tos.OrphanWait = 0
	e, err := New(Config{
		Refclocks: []Refclock{{Clock: refclock.Config{Addr: refclock.Address{Type: 1}, Fudge: refclock.Fudge{Stratum: 10, StratumSet: true}},
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

// TestClockStatsRecords: the drivers' clockstats lines reach the recorder with the clock's
// address, as classic's record_clock_stats: an NMEA receiver's last sentence at each poll,
// SHM's tallies with fudge flag4.
func TestClockStatsRecords(t *testing.T) {
	nmea := refclock.Address{Type: refclock.TypeNMEA}
	shm := refclock.Address{Type: refclock.TypeSHM, Unit: 1}
	rec := &recorded{}
	tos := system.DefaultTos()
	e, err := New(Config{
		Refclocks: []Refclock{
			{Clock: refclock.Config{Addr: nmea}, Peer: peer.Config{MinPoll: 4, MaxPoll: 4}},
			{Clock: refclock.Config{Addr: shm, Fudge: refclock.Fudge{Flags: [4]bool{false, false, false, true}}}, Peer: peer.Config{MinPoll: 4, MaxPoll: 4}},
		},
		Tos: &tos,
	}, Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(1, 2)), Stats: rec})
	if err != nil {
		t.Fatal(err)
	}
	for now := t0; now.Before(t0.Add(20 * time.Second)); now = now.Add(time.Second) {
		e.RefclockReading(refclock.Reading{Addr: nmea, Kind: refclock.KindSample, Ref: now, Rx: now.Add(100 * time.Millisecond),
			Timecode: "$GPRMC,120000.00,A,4807.038,N,01131.000,E,0,0,061226,,,A*73"}, now)
		e.RefclockReading(refclock.Reading{Addr: shm, Kind: refclock.KindTally, Tally: refclock.TallyNotReady}, now)
		if !e.Next().After(now) {
			e.Timer(now)
		}
	}
	var sawNMEA, sawSHM bool
	for _, l := range rec.clock {
		sawNMEA = sawNMEA || l == "127.127.20.0 $GPRMC,120000.00,A,4807.038,N,01131.000,E,0,0,061226,,,A*73"
		sawSHM = sawSHM || strings.HasPrefix(l, "127.127.28.1 ") && len(strings.Fields(l)) == 6
	}
	if !sawNMEA || !sawSHM {
		t.Fatalf("clockstats %q", rec.clock)
	}
}
