// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
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
