// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"encoding/binary"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gontp/refclock"
)

// segment lays out a struct shmTime as a writer fills it.
func segment(mode, valid int32, clock, recv time.Time, leap int32) []byte {
	b := make([]byte, shmSize)
	le := binary.LittleEndian
	le.PutUint32(b[shmMode:], uint32(mode))
	le.PutUint32(b[shmCount:], 2)
	le.PutUint64(b[shmClockSec:], uint64(clock.Unix()))
	le.PutUint32(b[shmClockUSec:], uint32(clock.Nanosecond()/1000))
	le.PutUint64(b[shmRecvSec:], uint64(recv.Unix()))
	le.PutUint32(b[shmRecvUSec:], uint32(recv.Nanosecond()/1000))
	le.PutUint32(b[shmLeap:], uint32(leap))
	le.PutUint32(b[shmPrecision:], uint32(0xffffffec)) // -20
	le.PutUint32(b[shmValid:], uint32(valid))
	le.PutUint32(b[shmClockNSec:], uint32(clock.Nanosecond()))
	le.PutUint32(b[shmRecvNSec:], uint32(recv.Nanosecond()))
	return b
}

// TestSHMQuery: shm_query and shm_timer's checks on a segment: a valid sample (nanosecond
// stamps used when the microseconds are their truncation), then the flag is cleared; not
// ready, a bad mode, a stale receive time and the 4 h difference limit are each refused with
// the tally classic keeps.
func TestSHMQuery(t *testing.T) {
	now := time.Unix(1796560000, 500e6)
	recv := now.Add(-400 * time.Millisecond)
	clock := recv.Add(-250*time.Millisecond + 7)
	a := refclock.Address{Type: refclock.TypeSHM}
	var sunk []refclock.Reading
	s := newSHM(refclock.Config{Addr: a}, Options{Now: func() time.Time { return now }, Host: func() time.Time { return now }},
		&onceLog{log: discard(), seen: map[string]bool{}}, func(r refclock.Reading) { sunk = append(sunk, r) })
	s.seg = segment(1, 1, clock, recv, 0)
	r, tally, _ := s.query(now)
	if tally != nil || r.Kind != refclock.KindSample || !r.Ref.Equal(clock) || !r.Rx.Equal(recv) || r.Precision != -20 {
		t.Fatalf("sample %+v tally %v", r, tally)
	}
	if r.Timecode != "2026-12-06T12:26:39.850000007Z" {
		t.Errorf("timecode %q", r.Timecode)
	}
	if _, tally, _ = s.query(now); tally == nil || *tally != refclock.TallyNotReady {
		t.Fatalf("second read: tally %v, want not ready (valid was cleared)", tally)
	}
	for name, c := range map[string]struct {
		seg  []byte
		want refclock.Tally
	}{
		"bad mode":   {segment(5, 1, clock, recv, 0), refclock.TallyBad},
		"stale":      {segment(1, 1, clock.Add(-time.Minute), recv.Add(-time.Minute), 0), refclock.TallyBad},
		"future":     {segment(0, 1, clock.Add(time.Minute), recv.Add(time.Minute), 0), refclock.TallyBad},
		"difference": {segment(0, 1, clock.Add(-5*time.Hour), recv, 0), refclock.TallyBad},
		"leap 7":     {segment(0, 1, clock, recv, 7), refclock.TallyBad},
	} {
		s.seg = c.seg
		if _, tally, why := s.query(now); tally == nil || *tally != c.want || why == "" {
			t.Errorf("%s: tally %v (%q), want %d", name, tally, why, c.want)
		}
	}
	// fudge flag1 lifts the difference limit; time2 sets it in seconds.
	s1 := newSHM(refclock.Config{Addr: a, Fudge: refclock.Fudge{Flags: [4]bool{true}}}, s.o, s.log, s.sink)
	s1.seg = segment(0, 1, clock.Add(-5*time.Hour), recv, 0)
	if _, tally, _ := s1.query(now); tally != nil {
		t.Errorf("flag1: tally %v, want a sample", *tally)
	}
	s2 := newSHM(refclock.Config{Addr: a, Fudge: refclock.Fudge{Time2: 60}}, s.o, s.log, s.sink)
	s2.seg = segment(0, 1, clock.Add(-2*time.Minute), recv, 0)
	if _, tally, _ := s2.query(now); tally == nil {
		t.Errorf("time2 60: a 2 min difference was used")
	}
}

// TestSHMPermissions: units 0 and 1 are owner-only; 2 and up world-writable unless mode 1.
func TestSHMPermissions(t *testing.T) {
	for _, c := range []struct {
		unit uint8
		mode uint32
		want int
	}{{0, 0, 0o600}, {1, 0, 0o600}, {2, 0, 0o666}, {3, 1, 0o600}} {
		s := newSHM(refclock.Config{Addr: refclock.Address{Type: refclock.TypeSHM, Unit: c.unit}, Mode: c.mode}, Options{}, nil, nil)
		if got := s.perm(); got != c.want {
			t.Errorf("unit %d mode %d: %#o, want %#o", c.unit, c.mode, got, c.want)
		}
	}
}

// TestSHMWrongSizeSegment: a segment under the unit's key with another size than struct
// shmTime (a writer built for another layout) is refused, named in the log once, and counted
// as a bad read each second; no sample comes from it.
func TestSHMWrongSizeSegment(t *testing.T) {
	const unit = 213 // a key no time source uses
	key := shmKeyBase + unit
	if id, err := unix.SysvShmGet(key, 0, 0); err == nil {
		t.Skipf("a segment with key %#x exists already (id %d)", key, id)
	}
	id, err := unix.SysvShmGet(key, 64, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		t.Skipf("System V shared memory is not available here: %v", err)
	}
	t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	var got []refclock.Reading
	var logged strings.Builder
	lg := &onceLog{log: slog.New(slog.NewTextHandler(&logged, nil)), name: "SHM(213)", seen: map[string]bool{}}
	s := newSHM(refclock.Config{Addr: refclock.Address{Type: refclock.TypeSHM, Unit: unit}}, Options{Now: time.Now, Host: time.Now},
		lg, func(r refclock.Reading) { got = append(got, r) })
	s.timer()
	s.timer()
	if len(got) != 2 || got[0].Kind != refclock.KindTally || got[0].Tally != refclock.TallyBad || s.seg != nil {
		t.Fatalf("readings %+v, attached %v", got, s.seg != nil)
	}
	if n := strings.Count(logged.String(), "another size"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logged.String())
	}
}
