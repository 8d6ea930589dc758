// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
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
	// kcbind is the kernel's answer to PPS_KC_BIND (nil: bound), binds the calls made.
	kcbind error
	binds  []ppsBindArgs
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
	case ppsKCBind:
		a := *(*ppsBindArgs)(arg)
		r.binds = append(r.binds, a)
		// The checks of the kernel's pps_cdev_ioctl before it asks the consumer.
		if a.Edge&^r.params.Mode != 0 || a.TSFormat != ppsTSFmtTSpec || a.Edge&^(ppsCaptureAssert|ppsCaptureClear) != 0 || a.Consumer != ppsKCHardPPS {
			return unix.EINVAL
		}
		return r.kcbind
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

// TestPPSKernelBind: fudge flag3 binds the captured edge to the kernel's hardpps consumer
// (PPS_KC_BIND: PPS_KC_HARDPPS, the edge, PPS_TSFMT_TSPEC; with flag2 the clear edge) after
// PPS_SETPARAMS, tells the core, and unbinds (edge 0) when the driver stops; without flag3
// nothing is bound.
func TestPPSKernelBind(t *testing.T) {
	rec := loadRecording(t, "testdata/pps-assert.txt")
	a := refclock.Address{Type: refclock.TypePPS, Unit: 0}
	for _, tc := range []struct {
		flags [4]bool
		edge  int32
	}{
		{[4]bool{false, false, true}, ppsCaptureAssert},
		{[4]bool{false, true, true}, ppsCaptureClear},
		{[4]bool{}, 0},
	} {
		cfg := refclock.Config{Addr: a, Fudge: refclock.Fudge{Flags: tc.flags}}
		dev := &recordedPPS{caps: ppsCaptureAssert | ppsCaptureClear, fetch: rec}
		var got []refclock.Reading
		lg := &onceLog{log: discard(), name: a.Name(), seen: map[string]bool{}}
		p := newPPS(cfg, Options{Now: time.Now}, lg, func(r refclock.Reading) { got = append(got, r) },
			func(string) (ppsDevice, error) { return dev, nil })
		p.timer()
		p.timer()
		if tc.edge == 0 {
			if len(dev.binds) != 0 || len(got) != 2 || got[0].Kind != refclock.KindPulse {
				t.Fatalf("flag3 0: binds %+v readings %+v", dev.binds, got)
			}
			p.close()
			if len(dev.binds) != 0 {
				t.Fatalf("flag3 0: unbound %+v", dev.binds)
			}
			continue
		}
		want := ppsBindArgs{TSFormat: ppsTSFmtTSpec, Edge: tc.edge, Consumer: ppsKCHardPPS}
		if len(dev.binds) != 1 || dev.binds[0] != want {
			t.Fatalf("flags %v: PPS_KC_BIND calls %+v, want one %+v", tc.flags, dev.binds, want)
		}
		if len(got) != 3 || got[0].Kind != refclock.KindKernelPPS || !got[0].Bound || got[1].Kind != refclock.KindPulse {
			t.Fatalf("flags %v: readings %+v, want the bind then the pulses", tc.flags, got)
		}
		proc, _ := refclock.NewProc(cfg, -20)
		for _, r := range got {
			proc.Add(r, true)
		}
		if !proc.KernelPPS() || proc.Vars().KernelPPSRefused != 0 {
			t.Fatalf("flags %v: core's kernel PPS %v, refused %d", tc.flags, proc.KernelPPS(), proc.Vars().KernelPPSRefused)
		}
		p.close() // what run does when its context ends: shutdown, or a reload restarting it
		unbind := ppsBindArgs{TSFormat: ppsTSFmtTSpec, Edge: 0, Consumer: ppsKCHardPPS}
		if len(dev.binds) != 2 || dev.binds[1] != unbind || !dev.closed {
			t.Fatalf("flags %v: at stop PPS_KC_BIND calls %+v closed %v, want the unbind %+v", tc.flags, dev.binds, dev.closed, unbind)
		}
		// A reload that clears flag3 restarts the driver without it and clears the core's state.
		cfg.Fudge.Flags[2] = false
		proc.SetConfig(cfg)
		if proc.KernelPPS() {
			t.Fatalf("flags %v: kernel PPS still on after flag3 cleared", tc.flags)
		}
	}
}

// TestPPSKernelBindRefused: a kernel without CONFIG_NTP_PPS answers PPS_KC_BIND with
// EOPNOTSUPP. As classic, the refusal is logged (once, with the errno) and the pulses go on
// through the daemon's loop; each refusal (one per open) is counted in the core, which
// then keeps the kernel's PPS status bits off; nothing is unbound at the stop.
func TestPPSKernelBindRefused(t *testing.T) {
	rec := loadRecording(t, "testdata/pps-assert.txt")
	a := refclock.Address{Type: refclock.TypePPS, Unit: 0}
	cfg := refclock.Config{Addr: a, Fudge: refclock.Fudge{Flags: [4]bool{false, false, true}}}
	var logs bytes.Buffer
	lg := &onceLog{log: slog.New(slog.NewTextHandler(&logs, nil)), name: a.Name(), seen: map[string]bool{}}
	var got []refclock.Reading
	var devs []*recordedPPS
	p := newPPS(cfg, Options{Now: time.Now}, lg, func(r refclock.Reading) { got = append(got, r) },
		func(string) (ppsDevice, error) {
			// The second open's device has two edges left: its end is a fetch failure.
			d := &recordedPPS{caps: ppsCaptureAssert | ppsCaptureClear, fetch: rec, kcbind: unix.EOPNOTSUPP}
			if len(devs) > 0 {
				d.fetch = rec[:2]
			}
			devs = append(devs, d)
			return d, nil
		})
	for range len(rec) + 4 {
		p.timer()
	}
	if len(devs) < 2 {
		t.Fatalf("%d opens, want a reopen after the source went away", len(devs))
	}
	pulses, refusals := 0, 0
	for _, r := range got {
		switch {
		case r.Kind == refclock.KindPulse:
			pulses++
		case r.Kind == refclock.KindKernelPPS && !r.Bound:
			refusals++
		case r.Kind == refclock.KindKernelPPS:
			t.Fatalf("a refused bind reported bound: %+v", r)
		}
	}
	if pulses < 8 || refusals != len(devs) {
		t.Fatalf("%d pulses (want the recording's 8 and more), %d refusals (want one per open, %d)", pulses, refusals, len(devs))
	}
	l := logs.String()
	if strings.Count(l, "PPS_KC_BIND") != 1 || !strings.Contains(l, "operation not supported (EOPNOTSUPP, errno 95)") ||
		!strings.Contains(l, "through gontp's loop") {
		t.Fatalf("want the refusal logged once with its errno:\n%s", l)
	}
	proc, _ := refclock.NewProc(cfg, -20)
	for _, r := range got {
		proc.Add(r, true)
	}
	if proc.KernelPPS() || proc.Vars().KernelPPSRefused != uint64(len(devs)) {
		t.Fatalf("core: kernel PPS %v, refused %d, want false and %d", proc.KernelPPS(), proc.Vars().KernelPPSRefused, len(devs))
	}
	p.close()
	for _, d := range devs {
		if len(d.binds) != 1 {
			t.Fatalf("PPS_KC_BIND calls %+v: want the one refused bind and no unbind", d.binds)
		}
	}
}
