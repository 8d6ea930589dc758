// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"fmt"
	"testing"
	"time"

	"gontp/refclock"
)

// TestGPSDMessages: TOFF after a TPV with a fix is a sample (receiver time against the
// system time the data arrived); without a fix nothing; PPS only for unit 128+; garbage and
// incomplete or wrong-century reports are counted.
func TestGPSDMessages(t *testing.T) {
	var got []refclock.Reading
	sink := func(r refclock.Reading) { got = append(got, r) }
	fixed := func() time.Time { return time.Unix(1796560000, 0) }
	o := Options{Now: fixed, Host: fixed}
	lg := &onceLog{log: discard(), seen: map[string]bool{}}
	g := newGPSD(refclock.Config{Addr: refclock.Address{Type: refclock.TypeGPSDJSON}, Path: "/dev/ttyS0"}, o, lg, sink)
	toff := `{"class":"TOFF","device":"/dev/ttyS0","real_sec":1796560001,"real_nsec":0,"clock_sec":1796560001,"clock_nsec":100000000}`
	g.message([]byte(`{"class":"TPV","device":"/dev/ttyS0","mode":1}`))
	g.message([]byte(toff))
	if len(got) != 1 || got[0].Kind != refclock.KindReport {
		t.Fatalf("TOFF without a fix: %+v", got)
	}
	got = nil
	g.message([]byte(`{"class":"TPV","device":"/dev/ttyS0","mode":3,"time":"2026-12-06T12:26:41.000Z"}`))
	g.message([]byte(toff))
	if len(got) != 1 || got[0].Kind != refclock.KindSample || got[0].Ref.Sub(got[0].Rx) != -100*time.Millisecond ||
		got[0].Fudge != refclock.FudgeTime2 || got[0].Timecode != "eebfd301.00000000  Sun, Dec  6 2026 12:26:41.000" {
		t.Fatalf("sample %+v", got)
	}
	got = nil
	g.message([]byte(`{"class":"PPS","device":"/dev/ttyS0","real_sec":1796560001,"real_nsec":0,"clock_sec":1796560001,"clock_nsec":20}`))
	g.message([]byte(`{"class":"TOFF","device":"/dev/other","real_sec":1,"real_nsec":0,"clock_sec":1,"clock_nsec":0}`))
	if len(got) != 0 {
		t.Fatalf("PPS on the serial unit or another device's report used: %+v", got)
	}
	g.message([]byte(`not json`))
	g.message([]byte(`{"class":"TOFF","device":"/dev/ttyS0","real_sec":1796560001}`))
	g.message([]byte(`{"class":"TOFF","device":"/dev/ttyS0","real_sec":-1500000000,"real_nsec":0,"clock_sec":1796560001,"clock_nsec":0}`))
	g.message([]byte(`{"class":"TPV","device":"/dev/ttyS0","mode":1}`))
	want := []refclock.Event{refclock.EvBadReply, refclock.EvBadTime, refclock.EvBadDate, refclock.EvBadReply}
	if len(got) != len(want) {
		t.Fatalf("reports %+v", got)
	}
	for i, r := range got {
		if r.Kind != refclock.KindReport || r.Event != want[i] {
			t.Errorf("report %d: %+v, want event %d", i, r, want[i])
		}
	}
	got = nil
	p := newGPSD(refclock.Config{Addr: refclock.Address{Type: refclock.TypeGPSDJSON, Unit: 128}, Path: "/dev/ttyS0"}, o, lg, sink)
	p.message([]byte(`{"class":"PPS","device":"/dev/ttyS0","real_sec":1796560001,"real_nsec":0,"clock_sec":1796560000,"clock_nsec":999999980}`))
	if len(got) != 1 || !got[0].PPS || got[0].Fudge != refclock.FudgeTime1 || got[0].Ref.Sub(got[0].Rx) != 20 {
		t.Fatalf("PPS unit: %+v", got)
	}
}

// gpsdFeed runs a GPSD_JSON driver of the given unit and mode on a clock the test moves.
type gpsdFeed struct {
	g   *gpsd
	now time.Time
	got []refclock.Reading
}

func newGPSDFeed(unit uint8, mode uint32, fudge refclock.Fudge) *gpsdFeed {
	f := &gpsdFeed{now: time.Unix(1796560000, 0)}
	clk := func() time.Time { return f.now }
	f.g = newGPSD(refclock.Config{Addr: refclock.Address{Type: refclock.TypeGPSDJSON, Unit: unit}, Mode: mode,
		Fudge: fudge, Path: "/dev/ttyS0"}, Options{Now: clk, Host: clk}, &onceLog{log: discard(), seen: map[string]bool{}},
		func(r refclock.Reading) { f.got = append(f.got, r) })
	return f
}

// second feeds gpsd's reports of second s: the pulse (unless nopulse) at s + 20 ns, then
// the TOFF 100 ms later.
func (f *gpsdFeed) second(s int64, pulse bool) {
	f.now = time.Unix(s, 10)
	if pulse {
		f.g.message(fmt.Appendf(nil, `{"class":"PPS","device":"/dev/ttyS0","real_sec":%d,"real_nsec":0,"clock_sec":%d,"clock_nsec":20,"precision":-18}`, s, s))
	}
	f.now = time.Unix(s, 110e6)
	f.g.message(fmt.Appendf(nil, `{"class":"TOFF","device":"/dev/ttyS0","real_sec":%d,"real_nsec":0,"clock_sec":%d,"clock_nsec":100000000}`, s, s))
}

func (f *gpsdFeed) samples() []refclock.Reading {
	var s []refclock.Reading
	for _, r := range f.got {
		if r.Kind == refclock.KindSample {
			s = append(s, r)
		}
	}
	f.got = nil
	return s
}

// TestGPSDStrict: mode 1 (refclock_gpsdjson.c MODE_OP_STRICT) makes a sample only from a
// serial time and the pulse that began its second: the receiver's second against the
// pulse's system time, with fudge time1 and the pulse's precision; a serial time without
// its pulse, or older than the pulse, makes none; fudge flag2 ignores the pulses.
func TestGPSDStrict(t *testing.T) {
	f := newGPSDFeed(0, 1, refclock.Fudge{})
	f.g.message([]byte(`{"class":"TPV","device":"/dev/ttyS0","mode":3,"time":"2026-12-06T12:26:41.000Z"}`))
	f.second(1796560001, true)
	s := f.samples()
	if len(s) != 1 || s[0].Ref.Sub(s[0].Rx) != -20 || s[0].Fudge != refclock.FudgeTime1 || s[0].Precision != -18 {
		t.Fatalf("STI+PPS: %+v", s)
	}
	f.second(1796560002, false)
	if s := f.samples(); len(s) != 0 {
		t.Fatalf("serial time without a pulse used in STRICT: %+v", s)
	}
	// A pulse after the serial time: the serial time is older, dropped; the pulse waits
	// for the next serial time.
	f.now = time.Unix(1796560003, 200e6)
	f.g.message([]byte(`{"class":"PPS","device":"/dev/ttyS0","real_sec":1796560003,"real_nsec":0,"clock_sec":1796560003,"clock_nsec":20}`))
	if s := f.samples(); len(s) != 0 {
		t.Fatalf("stale serial time paired: %+v", s)
	}
	// A pulse and no fix: nothing.
	f.g.message([]byte(`{"class":"TPV","device":"/dev/ttyS0","mode":1}`))
	f.second(1796560004, true)
	if s := f.samples(); len(s) != 0 {
		t.Fatalf("used without a fix: %+v", s)
	}
	g := newGPSDFeed(0, 1, refclock.Fudge{Flags: [4]bool{false, true}})
	g.second(1796560001, true)
	if s := g.samples(); len(s) != 0 {
		t.Fatalf("flag2 set, pulses still used: %+v", s)
	}
}

// TestGPSDAuto: mode 2 (MODE_OP_AUTO) starts with pulses; every serial time without its
// pulse costs one of the account's 30 points, so the 30th in a row switches to serial time
// alone (fudge time2); every pair earns 3, and at 60 pulses are used again.
func TestGPSDAuto(t *testing.T) {
	f := newGPSDFeed(0, 2, refclock.Fudge{})
	sec := int64(1796560001)
	f.second(sec, true)
	if s := f.samples(); len(s) != 1 || s[0].Fudge != refclock.FudgeTime1 {
		t.Fatalf("AUTO with pulses: %+v", s)
	}
	// account now 33: 32 serial times without a pulse give nothing, the 33rd switches.
	for i := 1; i <= 33; i++ {
		sec++
		f.second(sec, false)
		s := f.samples()
		if i < 33 && len(s) != 0 {
			t.Fatalf("serial time %d without a pulse used before the account ran out: %+v", i, s)
		}
		if i == 33 && (len(s) != 1 || s[0].Fudge != refclock.FudgeTime2 || s[0].Ref.Sub(s[0].Rx) != -100*time.Millisecond) {
			t.Fatalf("AUTO did not fall back to serial time: %+v", s)
		}
	}
	// Pulses again: serial samples until the account is full (20 pairs), then pulses.
	for i := 1; i <= 20; i++ {
		sec++
		f.second(sec, true)
		s := f.samples()
		want := refclock.FudgeTime2
		if i == 20 {
			want = refclock.FudgeTime1
		}
		if len(s) != 1 || s[0].Fudge != want {
			t.Fatalf("pair %d: %+v, want a sample with fudge %d", i, s, want)
		}
	}
}

// TestGPSDClockstats: with fudge flag4 the serial unit's poll writes classic's line of the
// interval's tallies (poll_primary: known records, bad replies, no-fix TPVs, serial time
// records received and used, PPS records received and used); without flag4, or on the PPS
// unit, nothing.
func TestGPSDClockstats(t *testing.T) {
	fudge := refclock.Fudge{Flags: [4]bool{false, false, false, true}}
	f := newGPSDFeed(0, 0, fudge)
	f.g.message([]byte(`{"class":"VERSION","release":"3.22","proto_major":3,"proto_minor":14}`))
	f.g.message([]byte(`{"class":"TPV","device":"/dev/ttyS0","mode":3,"time":"2026-12-06T12:26:41.000Z"}`))
	f.second(1796560001, true)
	f.g.message([]byte(`{"class":"TPV","device":"/dev/ttyS0","mode":1}`))
	f.g.message([]byte(`garbage`))
	f.g.message([]byte(`{"class":"SKY","device":"/dev/ttyS0"}`))
	proc, err := refclock.NewProc(f.g.cfg, -20)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.got {
		proc.Add(r, true)
	}
	now := time.Unix(1796560010, 0)
	// VERSION, TPV, PPS, TOFF, TPV known; garbage a bad reply; SKY unknown. The first TPV
	// counts as serial time (no TOFF seen yet), the second does not and has no fix.
	if _, _, stats := proc.Poll(now, true); stats != "5 1 1 2 1 1 0" {
		t.Errorf("clockstats %q, want \"5 1 1 2 1 1 0\"", stats)
	}
	if _, _, stats := proc.Poll(now.Add(16*time.Second), true); stats != "0 0 0 0 0 0 0" {
		t.Errorf("clockstats after an empty interval %q, want zeros", stats)
	}
	for _, u := range []struct {
		unit  uint8
		fudge refclock.Fudge
	}{{0, refclock.Fudge{}}, {128, fudge}} {
		g := newGPSDFeed(u.unit, 0, u.fudge)
		g.second(1796560001, true)
		p, _ := refclock.NewProc(g.g.cfg, -20)
		for _, r := range g.got {
			p.Add(r, true)
		}
		if _, _, stats := p.Poll(now, true); stats != "" {
			t.Errorf("unit %d flag4 %v: clockstats %q, want none", u.unit, u.fudge.Flags[3], stats)
		}
	}
}
