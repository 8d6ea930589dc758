// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gontp/clock"
	"gontp/internal/snapshot"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/refclock"
	"gontp/system"
)

// scripted is a Loop whose answers the test dictates, recording what the engine asked.
type scripted struct {
	answer func(n int, offset float64) (clock.Result, error)
	calls  int
	limits [2]int8
	root   [2]float64
	pps    []bool // SetKernelPPS before each ProcessAt
}

func (s *scripted) ProcessAt(offset, _ float64, _, _ time.Time) (clock.Result, error) {
	s.calls++
	return s.answer(s.calls, offset)
}
func (s *scripted) Vars() clock.Vars {
	return clock.Vars{State: clock.SYNC, Offset: 0.001, Frequency: 12.5, ClkJitter: 0.0002, ClkWander: 0.01}
}
func (s *scripted) Project(offset float64, _, _ time.Time) float64 { return offset }
func (s *scripted) SetPollLimits(minPoll, maxPoll int8)            { s.limits = [2]int8{minPoll, maxPoll} }
func (s *scripted) SetRootDistance(delay, disp float64)            { s.root = [2]float64{delay, disp} }
func (s *scripted) SetKernelPPS(on bool) error                     { s.pps = append(s.pps, on); return nil }
func (s *scripted) Settling() bool                                 { return false }
func (s *scripted) FastPoll() int8                                 { return 0 }
func (s *scripted) Leap(time.Time, bool, bool) (clock.LeapState, error) {
	return clock.LeapState{}, nil
}

func processorEngine(t *testing.T, p *scripted, ntp bool, log *slog.Logger) *Engine {
	t.Helper()
	tos := system.DefaultTos()
	tos.OrphanWait = 0
	e, err := New(Config{
		Refclocks: []Refclock{{Clock: refclock.Config{Addr: refclock.Address{Type: 1}, Fudge: refclock.Fudge{Stratum: 10, StratumSet: true}},
			Peer: peer.Config{IBurst: true, MinPoll: 4, MaxPoll: 7}}},
		NTP: ntp, Tos: &tos,
	}, Options{Precision: -20, Start: t0, Rand: rand.New(rand.NewPCG(1, 2)), Loop: p, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestProcessorDrivesSystemVariables: the loop's poll, settling flag and variables reach the
// system and the snapshot, and its poll is bounded by the system peer's minpoll/maxpoll.
func TestProcessorDrivesSystemVariables(t *testing.T) {
	p := &scripted{answer: func(int, float64) (clock.Result, error) {
		return clock.Result{Synchronised: true, Poll: 5, Settling: true}, nil
	}}
	e := processorEngine(t, p, true, nil)
	run(e, 10*time.Minute, func(s *snapshot.Snapshot) bool { return s.Sys.Leap != wire.LeapAlarm })
	s := e.Snapshot()
	if p.calls == 0 {
		t.Fatal("ProcessAt never called")
	}
	if s.Sys.Leap != wire.LeapNone || s.Sys.Poll != 5 || !e.sys.Settling {
		t.Fatalf("leap %d poll %d settling %v, want 0, 5 (the loop's), true", s.Sys.Leap, s.Sys.Poll, e.sys.Settling)
	}
	if p.limits != [2]int8{4, 7} {
		t.Errorf("poll limits %v, want the system peer's [4 7]", p.limits)
	}
	// The discipline gets the root delay and dispersion the system then shows (the
	// kernel's maximum error is made of them).
	if p.root[1] < minDisp || p.root != [2]float64{s.Sys.RootDelay, s.Sys.RootDisp} {
		t.Errorf("root distance given to the discipline %v, system %v %v", p.root, s.Sys.RootDelay, s.Sys.RootDisp)
	}
	if s.Frequency != 12.5 || s.ClkJitter != 0.0002 || s.ClkWander != 0.01 || s.Offset != 0.001 ||
		s.ClockState != uint8(clock.SYNC) {
		t.Errorf("snapshot loop variables %+v", s)
	}
}

// TestProcessorStepResetsAssociations: a step clears the associations (refid STEP) and
// leaves the system unsynchronised, as classic clear_all after local_clock returned 2.
func TestProcessorStepResetsAssociations(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	p := &scripted{answer: func(n int, _ float64) (clock.Result, error) {
		if n == 1 {
			return clock.Result{Stepped: true, Step: 0.3, Event: "clock_step", Detail: "+0.300000 s", Poll: 6}, nil
		}
		return clock.Result{Poll: 6, Ignored: true}, nil
	}}
	e := processorEngine(t, p, true, log)
	run(e, 10*time.Minute, func(*snapshot.Snapshot) bool { return p.calls >= 1 })
	s := e.Snapshot()
	if s.Sys.Leap != wire.LeapAlarm || s.Sys.Stratum != wire.StratumUnsynched || s.Sys.RefID != wire.RefIDFromString("STEP") {
		t.Fatalf("after a step: %+v, want leap 3, stratum 16, refid STEP", s.Sys)
	}
	if s.SysPeer != 0 || s.Peers[0].Vars.Reach != 0 {
		t.Errorf("after a step: sys peer %d, reach %o; want none and 0", s.SysPeer, s.Peers[0].Vars.Reach)
	}
	if !strings.Contains(buf.String(), "0c clock_step +0.300000 s") {
		t.Errorf("no clock_step event logged:\n%s", buf.String())
	}
}

// TestProcessorPanicStops: an offset beyond the panic threshold is reported as panic_stop,
// kept for Err, and the discipline is not called again.
func TestProcessorPanicStops(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	p := &scripted{answer: func(int, float64) (clock.Result, error) {
		return clock.Result{Ignored: true}, &clock.PanicError{Offset: 2000, Threshold: 1000}
	}}
	e := processorEngine(t, p, true, log)
	run(e, 10*time.Minute, func(*snapshot.Snapshot) bool { return false })
	if !errors.Is(e.Err(), clock.ErrPanic) {
		t.Fatalf("Err() = %v, want one wrapping clock.ErrPanic", e.Err())
	}
	if p.calls != 1 {
		t.Errorf("discipline called %d times, want 1: nothing after the panic", p.calls)
	}
	if !strings.Contains(buf.String(), "07 panic_stop +2000 s; set clock manually within 1000 s.") {
		t.Errorf("no panic_stop event logged:\n%s", buf.String())
	}
	if e.Snapshot().Sys.Leap != wire.LeapAlarm {
		t.Error("synchronised after a panic")
	}
}

// TestProcessorDisableNTP: with `disable ntp` the discipline is never called and the leap
// stays at alarm, while ntpq still sees the loop's frequency.
func TestProcessorDisableNTP(t *testing.T) {
	p := &scripted{answer: func(int, float64) (clock.Result, error) {
		return clock.Result{Synchronised: true}, nil
	}}
	e := processorEngine(t, p, false, nil)
	run(e, 10*time.Minute, func(*snapshot.Snapshot) bool { return false })
	s := e.Snapshot()
	if p.calls != 0 || s.Sys.Leap != wire.LeapAlarm || s.SysPeer == 0 {
		t.Fatalf("disable ntp: %d discipline calls, leap %d, sys peer %d; want 0, 3, set", p.calls, s.Sys.Leap, s.SysPeer)
	}
	if s.Frequency != 12.5 {
		t.Errorf("frequency %v, want the loop's 12.5 ppm", s.Frequency)
	}
}

// TestProcessorKernelFailureCarriesOn: a failing clock call (no CAP_SYS_TIME) is logged
// once and the system still synchronises, as classic ntpd carries on after one.
func TestProcessorKernelFailureCarriesOn(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	p := &scripted{answer: func(int, float64) (clock.Result, error) {
		return clock.Result{}, errors.New("clock: adjtimex(start): operation not permitted")
	}}
	e := processorEngine(t, p, true, log)
	run(e, 10*time.Minute, func(s *snapshot.Snapshot) bool { return s.Sys.Leap != wire.LeapAlarm })
	if s := e.Snapshot(); s.Sys.Leap != wire.LeapNone || e.Err() != nil {
		t.Fatalf("leap %d err %v after failing clock calls, want synchronised", s.Sys.Leap, e.Err())
	}
	if n := strings.Count(buf.String(), "operation not permitted"); n != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", n, buf.String())
	}
}
