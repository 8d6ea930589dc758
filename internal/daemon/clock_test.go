// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gontp/clock"
	"gontp/internal/driftfile"
)

// clockFor writes conf to a temporary ntp.conf and builds the daemon's clock from it.
func clockFor(t *testing.T, conf string, o ClockOptions) (*Clock, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	conf = strings.ReplaceAll(conf, "DIR", dir)
	path := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfigFile(path)
	if err != nil {
		t.Fatalf("%s: %v", conf, err)
	}
	var buf bytes.Buffer
	c, err := setupClock(o, cfg, -20, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return c, &buf
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestClockDriftFile(t *testing.T) {
	dir := t.TempDir()
	drift := filepath.Join(dir, "ntp.drift")
	if err := os.WriteFile(drift, []byte("-12.345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, log := clockFor(t, "driftfile "+drift+"\n", ClockOptions{VirtualClock: "0.25,30"})
	if v := c.Discipline.Vars(); v.State != clock.FSET || !near(v.Frequency, -12.345) {
		t.Errorf("with a drift file: state %v frequency %v, want FSET and -12.345", v.State, v.Frequency)
	}
	if !strings.Contains(log.String(), "initial drift restored to -12.345000") {
		t.Errorf("log:\n%s", log)
	}

	// Missing and corrupt files are warnings: the frequency is measured from scratch.
	c, log = clockFor(t, "driftfile DIR/none.drift\n", ClockOptions{VirtualClock: "0,0"})
	if v := c.Discipline.Vars(); v.State != clock.NSET || !strings.Contains(log.String(), "level=WARN") {
		t.Errorf("missing drift file: state %v, log:\n%s", v.State, log)
	}
	bad := filepath.Join(dir, "bad.drift")
	os.WriteFile(bad, []byte("twelve\n"), 0o644)
	c, log = clockFor(t, "driftfile "+bad+"\n", ClockOptions{VirtualClock: "0,0"})
	if v := c.Discipline.Vars(); v.State != clock.NSET || !strings.Contains(log.String(), "format error frequency file") {
		t.Errorf("corrupt drift file: state %v, log:\n%s", v.State, log)
	}

	// -f overrides the directive, tinker freq overrides the file.
	c, _ = clockFor(t, "driftfile DIR/none.drift\n", ClockOptions{VirtualClock: "0,0", DriftFile: drift})
	if f := c.Discipline.Vars().Frequency; !near(f, -12.345) {
		t.Errorf("-f: frequency %v", f)
	}
	c, _ = clockFor(t, "driftfile "+drift+"\ntinker freq 7.5\n", ClockOptions{VirtualClock: "0,0"})
	if f := c.Discipline.Vars().Frequency; !near(f, 7.5) {
		t.Errorf("tinker freq: frequency %v, want 7.5", f)
	}
}

// TestClockSavesDriftOnceMeasured: the drift file is written at exit only once the loop has
// measured the frequency (state SYNC), never with `disable ntp` or before.
func TestClockSavesDriftOnceMeasured(t *testing.T) {
	c, _ := clockFor(t, "driftfile DIR/ntp.drift\n", ClockOptions{VirtualClock: "0.001,20"})
	path := c.drift.Path
	c.Close(time.Now())
	if _, err := os.Stat(path); err == nil {
		t.Fatal("drift file written before any update")
	}
	m := c.Virtual
	for i := 0; c.Discipline.Vars().State != clock.SYNC && i < 100; i++ {
		if _, err := c.Discipline.Process(-m.Error(), 1e-5, m.Now().Add(time.Duration(i)*64*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Discipline.Vars().State != clock.SYNC {
		t.Fatalf("state %v after 100 updates", c.Discipline.Vars().State)
	}
	c.Close(time.Now())
	if _, err := driftfile.Read(path); err != nil {
		t.Fatalf("drift file not written at exit: %v", err)
	}
}

func TestClockOptions(t *testing.T) {
	c, _ := clockFor(t, "", ClockOptions{VirtualClock: "0,0"})
	if !c.Discipline.Vars().Kernel {
		t.Error("kernel mode off by default")
	}
	c, _ = clockFor(t, "", ClockOptions{VirtualClock: "0,0", SlewOnly: true})
	if c.Discipline.Vars().Kernel {
		t.Error("-x: the kernel PLL cannot take offsets up to 600 s; kernel mode must be off")
	}
	c, _ = clockFor(t, "disable kernel\n", ClockOptions{VirtualClock: "0,0"})
	if c.Discipline.Vars().Kernel {
		t.Error("disable kernel ignored")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ntp.conf")
	os.WriteFile(path, nil, 0o644)
	cfg, _ := ParseConfigFile(path)
	if _, err := setupClock(ClockOptions{VirtualClock: "fast"}, cfg, -20, slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), "--virtual-clock") {
		t.Errorf("bad --virtual-clock: %v", err)
	}
	// The virtual clock starts where it was told.
	c, _ = clockFor(t, "", ClockOptions{VirtualClock: "0.25,30"})
	if d := c.Now().Sub(time.Now()).Seconds(); d < 0.24 || d > 0.26 {
		t.Errorf("virtual clock %v s from the host clock, want 0.25", d)
	}
	if d := c.FromHost(time.Now()).Sub(time.Now()).Seconds(); d < 0.24 || d > 0.26 {
		t.Errorf("FromHost: %v s from the host clock, want 0.25", d)
	}
}

// TestClockLeapFile: the leap-seconds file reaches the discipline's leap owner: a leap at
// the end of this month is scheduled, and on its last day armed in the kernel; the file's
// coming expiry is warned about.
func TestClockLeapFile(t *testing.T) {
	const ntpUnix = 2208988800
	now := time.Now().UTC()
	monthEnd := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	list := fmt.Sprintf("#$\t3676924800\n#@\t%d\n3692217600\t37\n%d\t38\n",
		now.Add(10*24*time.Hour).Unix()+ntpUnix, monthEnd.Unix()+ntpUnix)
	dir := t.TempDir()
	lf := filepath.Join(dir, "leap-seconds.list")
	os.WriteFile(lf, []byte(list), 0o644)
	c, log := clockFor(t, "leapfile "+lf+" ignorehash\n", ClockOptions{VirtualClock: "0,0"})
	if !strings.Contains(log.String(), "leapsecond file ('"+lf+"'): loaded") {
		t.Fatalf("log:\n%s", log)
	}
	if _, err := c.Discipline.Process(0, 1e-5, c.Now()); err != nil {
		t.Fatal(err)
	}
	s, err := c.Discipline.Leap(monthEnd.Add(-48*time.Hour), false, false)
	if err != nil || !s.Scheduled || !s.FromFile || !s.Insert || !s.At.Equal(monthEnd) || s.Armed {
		t.Errorf("two days before: %+v %v; want the file's insertion scheduled, not armed", s, err)
	}
	s, err = c.Discipline.Leap(monthEnd.Add(-time.Hour), false, false)
	if err != nil || !s.Armed || s.LeapIndicator() != 1 {
		t.Errorf("on the last day: %+v %v; want armed", s, err)
	}
	var tx clock.Timex
	if _, err := c.Kernel.Adjtimex(&tx); err != nil {
		t.Fatal(err)
	}
	if tx.Status&clock.StaIns == 0 || tx.TAI != 37 {
		t.Errorf("kernel status %#x TAI %d: leap insertion not armed or TAI-UTC not 37", tx.Status, tx.TAI)
	}
	c.Tick(now)
	if !strings.Contains(log.String(), "will expire in less than 10 days") {
		t.Errorf("no expiry warning:\n%s", log)
	}
}
