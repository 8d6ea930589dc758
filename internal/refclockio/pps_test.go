// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"bufio"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gontp/refclock"
)

// recordedPPS is a PPS device that answers the PPS API's ioctls as the kernel does, with
// the edges of a recorded sequence: the seam at the ioctl, below which only the kernel is
// replaced.
type recordedPPS struct {
	caps   int32
	params unix.PPSKParams
	fetch  []unix.PPSKInfo
	next   int
	closed bool
}

func loadRecording(t *testing.T, path string) []unix.PPSKInfo {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []unix.PPSKInfo
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		var v [6]int64
		for i, s := range strings.Fields(l) {
			v[i], _ = strconv.ParseInt(s, 10, 64)
		}
		out = append(out, unix.PPSKInfo{
			Assert_sequence: uint32(v[0]), Assert_tu: unix.PPSKTime{Sec: v[1], Nsec: int32(v[2])},
			Clear_sequence: uint32(v[3]), Clear_tu: unix.PPSKTime{Sec: v[4], Nsec: int32(v[5])},
			Current_mode: ppsCaptureAssert | ppsCaptureClear,
		})
	}
	return out
}

func (r *recordedPPS) ioctl(req uint, arg unsafe.Pointer) error {
	switch req {
	case unix.PPS_GETPARAMS:
		*(*unix.PPSKParams)(arg) = r.params
	case unix.PPS_SETPARAMS:
		p := *(*unix.PPSKParams)(arg)
		if p.Mode&^(ppsCaptureAssert|ppsCaptureClear|ppsTSFmtTSpec) != 0 {
			return unix.EINVAL
		}
		r.params = p
	case unix.PPS_GETCAP:
		*(*int32)(arg) = r.caps
	case unix.PPS_FETCH:
		if r.params.Mode&(ppsCaptureAssert|ppsCaptureClear) == 0 {
			return unix.EINVAL
		}
		if r.next >= len(r.fetch) {
			return unix.ENODEV // the source went away
		}
		fd := (*unix.PPSFData)(arg)
		fd.Info = r.fetch[r.next]
		r.next++
	default:
		return unix.ENOTTY
	}
	return nil
}

func (r *recordedPPS) Close() error { r.closed = true; return nil }

// TestPPSRecordedSequence runs the PPS driver's own code (parameters, capability check,
// fetch, sequence numbers, time stamps) against a recorded sequence of the kernel's answers
// and feeds what it hands on to the core: with the system synchronised, each second's edge
// becomes the offset -(its fraction) and a poll averages them; the repeated edge is not
// used twice.
func TestPPSRecordedSequence(t *testing.T) {
	rec := loadRecording(t, "testdata/pps-assert.txt")
	dev := &recordedPPS{caps: ppsCaptureAssert | ppsCaptureClear | ppsTSFmtTSpec, fetch: rec}
	a := refclock.Address{Type: refclock.TypePPS, Unit: 0}
	var got []refclock.Reading
	fixed := func() time.Time { return time.Unix(1796560010, 0) }
	o := Options{Now: fixed, Host: fixed}
	lg := &onceLog{log: discard(), name: a.Name(), seen: map[string]bool{}}
	p := newPPS(refclock.Config{Addr: a}, o, lg, func(r refclock.Reading) { got = append(got, r) },
		func(path string) (ppsDevice, error) {
			if path != "/dev/pps0" {
				t.Errorf("opened %s, want /dev/pps0", path)
			}
			return dev, nil
		})
	for range len(rec) + 1 {
		p.timer()
	}
	if dev.params.Mode != ppsCaptureAssert|ppsTSFmtTSpec || dev.params.Api_version != 1 {
		t.Errorf("PPS_SETPARAMS mode %#x api %d, want assert|tspec and 1", dev.params.Mode, dev.params.Api_version)
	}
	var pulses []refclock.Reading
	faults := 0
	for _, r := range got {
		switch r.Kind {
		case refclock.KindPulse:
			pulses = append(pulses, r)
		case refclock.KindReport:
			if r.Event == refclock.EvFault {
				faults++
			}
		}
	}
	if len(pulses) != 7 || faults != 1 || !dev.closed {
		t.Fatalf("%d pulses (want 7: the repeat is dropped), %d faults (want 1, the source went away), closed %v", len(pulses), faults, dev.closed)
	}
	proc, _ := refclock.NewProc(refclock.Config{Addr: a}, -20)
	for _, r := range pulses {
		proc.Add(r, true)
	}
	s, ok, _ := proc.Poll(time.Now(), true)
	// The first edge is dropped (it may be stale); of the other six (24.870 .. 31.442 us
	// late) the median filter keeps the four nearest the median.
	want := -(24870 + 25002 + 26001 + 27313) / 4.0 * 1e-9
	if !ok || math.Abs(s.Offset-want) > 1e-12 || !proc.PPS() {
		t.Fatalf("sample %+v %v, want offset %.9f", s, ok, want)
	}
}

// TestPPSClearEdgeAndMissingDevice: fudge flag2 captures the clear edge; a device that
// cannot capture it, or that does not exist, is a fault counted and logged once, retried.
func TestPPSClearEdgeAndMissingDevice(t *testing.T) {
	rec := loadRecording(t, "testdata/pps-assert.txt")
	a := refclock.Address{Type: refclock.TypePPS, Unit: 1}
	var got []refclock.Reading
	sink := func(r refclock.Reading) { got = append(got, r) }
	lg := &onceLog{log: discard(), name: a.Name(), seen: map[string]bool{}}
	cfg := refclock.Config{Addr: a, Fudge: refclock.Fudge{Flags: [4]bool{false, true}}}
	dev := &recordedPPS{caps: ppsCaptureAssert | ppsCaptureClear, fetch: rec}
	p := newPPS(cfg, Options{Now: time.Now}, lg, sink, func(string) (ppsDevice, error) { return dev, nil })
	p.timer()
	p.timer()
	if len(got) != 2 || got[1].Rx.Nanosecond() != 100024870 || dev.params.Mode != ppsCaptureClear|ppsTSFmtTSpec {
		t.Fatalf("readings %+v mode %#x", got, dev.params.Mode)
	}
	got = nil
	assertOnly := &recordedPPS{caps: ppsCaptureAssert, fetch: rec}
	p = newPPS(cfg, Options{Now: time.Now}, lg, sink, func(string) (ppsDevice, error) { return assertOnly, nil })
	p.timer()
	if len(got) != 1 || got[0].Kind != refclock.KindReport || got[0].Event != refclock.EvFault || !assertOnly.closed {
		t.Fatalf("assert-only device with flag2: %+v", got)
	}
	got = nil
	p = newPPS(refclock.Config{Addr: a}, Options{Now: time.Now}, lg, sink, func(string) (ppsDevice, error) { return nil, errors.New("no such file") })
	p.timer()
	p.timer()
	if len(got) != 2 || got[0].Event != refclock.EvFault {
		t.Fatalf("missing device: %+v", got)
	}
}
