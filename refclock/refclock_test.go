// SPDX-License-Identifier: BSD-2-Clause

package refclock

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseAddress(t *testing.T) {
	a, ok := ParseAddress(netip.MustParseAddr("127.127.28.1"))
	if !ok || a.Type != 28 || a.Unit != 1 || a.Name() != "SHM(1)" {
		t.Fatalf("got %+v %v %s", a, ok, a.Name())
	}
	if _, ok := ParseAddress(netip.MustParseAddr("127.0.0.1")); ok {
		t.Fatal("127.0.0.1 is not a refclock")
	}
	if _, ok := ParseAddress(netip.MustParseAddr("::1")); ok {
		t.Fatal("::1 is not a refclock")
	}
	if n := (Address{Type: 99, Unit: 2}).Name(); n != "REFCLK(99,2)" {
		t.Fatal(n)
	}
	if n := (Address{Type: 46, Unit: 0}).Name(); n != "GPSD_JSON(0)" {
		t.Fatal(n)
	}
}

var t0 = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

func TestLocal(t *testing.T) {
	p, err := NewProc(Config{Addr: Address{Type: 1}, Fudge: Fudge{Stratum: 10, StratumSet: true}}, -20)
	if err != nil {
		t.Fatal(err)
	}
	s, ok, _ := p.Poll(t0, false)
	if !ok || s.Offset != 0 || s.Disp != 0.01 || !s.RefTime.Equal(t0) {
		t.Fatalf("poll = %+v %v", s, ok)
	}
	if p.Stratum() != 10 || p.RefID() != "LOCL" || p.Description() != "Undisciplined local clock" {
		t.Fatalf("stratum %d refid %s", p.Stratum(), p.RefID())
	}
	def, _ := NewProc(Config{Addr: Address{Type: 1}}, -20)
	if def.Stratum() != 5 {
		t.Fatalf("default stratum %d, want classic's 5", def.Stratum())
	}
}

func TestUnsupportedDriverNamed(t *testing.T) {
	_, err := NewProc(Config{Addr: Address{Type: 8, Unit: 0}}, -20)
	if err == nil || !strings.Contains(err.Error(), "127.127.8.0") {
		t.Fatalf("err = %v", err)
	}
}

// TestMedianFilter: refclock_sample keeps the 60 % of the samples nearest the median and
// averages them; fudge time1 is added to every sample.
func TestMedianFilter(t *testing.T) {
	a := Address{Type: TypeSHM}
	p, _ := NewProc(Config{Addr: a, Fudge: Fudge{Time1: 0.002, Time1Set: true}}, -20)
	offs := []float64{0.010, 0.011, 0.012, 0.5, -0.4} // two spikes
	for i, o := range offs {
		rx := t0.Add(time.Duration(i) * time.Second)
		p.Add(Reading{Addr: a, Kind: KindSample, Rx: rx, Ref: rx.Add(time.Duration(o * 1e9))}, false)
	}
	s, ok, _ := p.Poll(t0.Add(5*time.Second), false)
	if !ok || math.Abs(s.Offset-0.013) > 1e-9 {
		t.Fatalf("sample %+v %v, want offset 0.013 (mean of 0.010..0.012 plus time1)", s, ok)
	}
	if want := math.Sqrt((1e-6 + 1e-6) / 2); math.Abs(s.Jitter-want) > 1e-12 {
		t.Fatalf("jitter %g, want %g", s.Jitter, want)
	}
	v := p.Vars()
	if v.Polls != 1 || v.NoReply != 0 || v.Status != uint8(EvNominal) {
		t.Fatalf("vars %+v", v)
	}
}

// TestSHMPollReasons: with no sample, shm_poll reports the dominant reason of the second's
// reads, and counts it as classic's refclock_report does.
func TestSHMPollReasons(t *testing.T) {
	a := Address{Type: TypeSHM}
	p, _ := NewProc(Config{Addr: a, Fudge: Fudge{Flags: [4]bool{false, false, false, true}}}, -20)
	for range 3 {
		p.Add(Reading{Addr: a, Kind: KindTally, Tally: TallyNotReady}, false)
	}
	_, ok, stats := p.Poll(t0, false)
	if ok || p.Vars().NoReply != 1 || stats != "  3   0   3   0   0" {
		t.Fatalf("ok %v vars %+v stats %q", ok, p.Vars(), stats)
	}
	for range 2 {
		p.Add(Reading{Addr: a, Kind: KindTally, Tally: TallyBad}, false)
	}
	p.Poll(t0, false)
	if v := p.Vars(); v.BadFormat != 1 || v.Status != uint8(EvBadReply) || v.Events != 2 {
		t.Fatalf("vars %+v", v)
	}
}

// TestPulse: a pulse gives minus its fraction of a second (plus time1) within ±0.5 s; the
// first edge, a repeated one and one beyond the 0.4 s gate are dropped, and nothing counts
// before the system is synchronised.
func TestPulse(t *testing.T) {
	a := Address{Type: TypePPS}
	p, _ := NewProc(Config{Addr: a}, -20)
	edge := func(sec int, ns int, synced bool) {
		p.Add(Reading{Addr: a, Kind: KindPulse, Rx: t0.Add(time.Duration(sec)*time.Second + time.Duration(ns))}, synced)
	}
	edge(0, 1000, false)
	if _, ok, _ := p.Poll(t0, false); ok || p.Vars().Polls != 0 {
		t.Fatal("PPS polled before the system was synchronised")
	}
	edge(1, 1000, true) // first edge: dropped
	edge(2, 2000, true)
	edge(2, 2000, true) // repeat: dropped
	edge(3, 999_999_000, true)
	edge(4, 450_000_000, true) // outside the gate
	if !p.PPS() {
		t.Fatal("no FLAG_PPS after pulses")
	}
	s, ok, _ := p.Poll(t0.Add(5*time.Second), true)
	if !ok || math.Abs(s.Offset-(-2e-6+1e-6)/2) > 1e-12 {
		t.Fatalf("sample %+v %v", s, ok)
	}
	if _, ok, _ := p.Poll(t0.Add(6*time.Second), true); ok || p.PPS() || p.Vars().NoReply != 1 {
		t.Fatalf("empty poll: ok %v pps %v vars %+v", ok, p.PPS(), p.Vars())
	}
}

// TestNMEAWithPulse: with flag1 a sentence is moved to the pulse edge before it and takes
// fudge time1; once the system is synchronised the clock is a PPS source; a poll without
// related pulses turns that off again.
func TestNMEAWithPulse(t *testing.T) {
	a := Address{Type: TypeNMEA}
	p, _ := NewProc(Config{Addr: a, Fudge: Fudge{Flags: [4]bool{true}, Time1: 0.000010, Time1Set: true}}, -20)
	sec := t0.Add(10 * time.Second)
	edge := sec.Add(-30 * time.Microsecond) // the system clock is 30 µs ahead
	p.Add(Reading{Addr: a, Kind: KindPulse, Rx: edge}, true)
	p.Add(Reading{Addr: a, Kind: KindSample, Ref: sec, Rx: sec.Add(180 * time.Millisecond), Fudge: FudgeTime2}, true)
	if !p.PPS() || p.Precision() != -20 {
		t.Fatalf("pps %v precision %d after a related sentence", p.PPS(), p.Precision())
	}
	s, ok, _ := p.Poll(sec.Add(time.Second), true)
	if !ok || math.Abs(s.Offset-40e-6) > 1e-12 {
		t.Fatalf("sample %+v %v, want the edge's 30 µs plus time1's 10", s, ok)
	}
	p.Add(Reading{Addr: a, Kind: KindSample, Ref: sec.Add(5 * time.Second), Rx: sec.Add(5*time.Second + 180*time.Millisecond), Fudge: FudgeTime2}, true)
	p.Poll(sec.Add(6*time.Second), true) // the sentence had no pulse within 1.5 s
	if _, _, _ = p.Poll(sec.Add(7*time.Second), true); p.PPS() || p.Precision() != -9 {
		t.Fatalf("pps %v precision %d after polls without pulses", p.PPS(), p.Precision())
	}
}
