// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"crypto/sha1"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"gontp/internal/leap"
	"gontp/internal/uml"
	"gontp/internal/uml/plan"
)

// ntpEra0 is the NTP epoch's offset from the Unix epoch, s.
const ntpEra0 = 2208988800

// leapFile is a leap-seconds.list (the IERS/NIST format classic ntpd reads with `leapfile`)
// that lists the real last leap (1 January 2017, TAI-UTC 37) and one more at leapAt (TAI-UTC
// 38), updated at updated and expiring a year after leapAt, with a correct "#h" SHA-1 over the
// digits of the "#$", "#@" and data lines.
func leapFile(updated, leapAt time.Time) string {
	ntp := func(t time.Time) string { return fmt.Sprint(t.Unix() + ntpEra0) }
	data := [][2]string{
		{ntp(time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)), "37"},
		{ntp(leapAt), "38"},
	}
	upd, exp := ntp(updated), ntp(leapAt.AddDate(1, 0, 0))
	h := sha1.New()
	digits := func(s string) {
		for _, c := range []byte(s) {
			if c >= '0' && c <= '9' {
				h.Write([]byte{c})
			}
		}
	}
	digits(upd)
	digits(exp)
	var b strings.Builder
	fmt.Fprintf(&b, "# leap-seconds.list written by gontp's kernel tests: one invented leap second\n#$\t%s\n#@\t%s\n", upd, exp)
	for _, d := range data {
		digits(d[0] + d[1])
		fmt.Fprintf(&b, "%s\t%s\n", d[0], d[1])
	}
	sum := h.Sum(nil)
	fmt.Fprintf(&b, "#h\t%x %x %x %x %x\n", sum[0:4], sum[4:8], sum[8:12], sum[12:16], sum[16:20])
	return b.String()
}

func TestLeapFileHash(t *testing.T) {
	now := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tab, err := leap.Parse(strings.NewReader(leapFile(now, at)), true)
	if err != nil {
		t.Fatal(err)
	}
	if !tab.Hashed || tab.Last().At != at || tab.Last().TAI != 38 {
		t.Errorf("parsed %+v", tab)
	}
}

// TestLeapInsert: a leap second inserted by the guest's kernel. Both guests' clocks are put at
// 23:59:00 of the last day of the host's current month; the leap file the daemon reads lists a
// leap second at the end of that month. The server is a second guest running chronyd -x on its
// own kernel clock at the same date (the host's clock cannot be moved there), which knows of no
// leap second and inserts nothing. gontp must arm the kernel (STA_INS) on that last day and keep
// it armed: the guest's adjtimex then reports TIME_INS before midnight and TIME_OOP during the
// inserted second, and afterwards the guest's clock is exactly one second behind the host's
// (measured against the host clock through the counter, so relative to where it started).
func TestLeapInsert(t *testing.T) {
	t.Parallel()
	l := newLab(t, "")
	b := uml.Build(t)
	now := time.Now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	midnight := first.AddDate(0, 1, 0) // the leap: end of the current month
	target := midnight.Add(-60 * time.Second)
	// The boot takes a few seconds; the guests come up near 23:59:00 + boot.
	d := target.Sub(now)
	const run = 100

	sdir := t.TempDir()
	sconf := write(t, sdir, "chrony.conf", fmt.Sprintf("local stratum 3\nallow\nport 123\ncmdport 0\npidfile %s/chronyd.pid\n", sdir))
	server := uml.Boot(t, l.net, uml.Config{Name: "chrony-server", Dir: sdir, Timeout: secs(run + 90), Plan: plan.Plan{
		Offset: d.Nanoseconds(), Mkdirs: []string{"/run/chrony", "/var/lib/chrony"},
		Steps: []plan.Step{
			{Name: "chronyd", Argv: []string{"/opt/ntp-reference/chrony/usr/sbin/chronyd", "-x", "-d", "-u", "root", "-f", sconf}, Background: true},
			{At: run + 5, Stop: "chronyd"},
		},
	}})

	dir := t.TempDir()
	lf := write(t, dir, "leap-seconds.list", leapFile(now, midnight))
	conf := write(t, dir, "ntp.conf", ntpdConf(server.Addr.String(), "driftfile "+dir+"/ntp.drift", "leapfile "+lf))
	g := uml.Boot(t, l.net, uml.Config{Name: "gontp-leap", Dir: dir, Timeout: secs(run + 90), Plan: plan.Plan{
		Offset: d.Nanoseconds(), SampleMs: 250,
		Steps: []plan.Step{
			{Name: "ntpd", Argv: []string{b.NTPD, "-n", "-g", "-c", conf}, Background: true},
			{At: run, Stop: "ntpd"},
		},
	}})
	g.Wait()
	server.Wait()
	log := g.ReadFile("ntpd.log")

	h := uml.Host()
	leapHost := midnight.Add(-d) // host time at which the guest's clock reaches midnight
	var before, after []float64
	sawIns, sawOOP := false, false
	var insAt, lastArmed, disarmed time.Time // guest times
	for _, s := range g.Samples() {
		ht := time.Unix(0, h.Ns(s.TSC))
		e := h.Error(s) - d.Seconds()
		switch {
		case ht.Before(leapHost.Add(-time.Second)) && ht.After(leapHost.Add(-20*time.Second)):
			before = append(before, e)
		case ht.After(leapHost.Add(3*time.Second)) && ht.Before(leapHost.Add(20*time.Second)):
			after = append(after, e)
		}
		if ht.Before(leapHost) {
			if s.Kernel.Status&staIns != 0 {
				lastArmed, disarmed = time.Unix(0, s.Ns).UTC(), time.Time{}
			} else if !lastArmed.IsZero() && disarmed.IsZero() {
				disarmed = time.Unix(0, s.Ns).UTC()
			}
		}
		if s.Kernel.State == timeIns && ht.Before(leapHost) {
			if !sawIns {
				insAt = time.Unix(0, s.Ns).UTC()
			}
			sawIns = true
		}
		if s.Kernel.State == timeOOP && ht.After(leapHost.Add(-100*time.Millisecond)) && ht.Before(leapHost.Add(1100*time.Millisecond)) {
			sawOOP = true
		}
	}
	if testing.Verbose() || t.Failed() {
		trace(t, points(g), 5)
	}
	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("no samples around the guest's midnight (%d before, %d after); the guest ran from %v", len(before), len(after), target)
	}
	if !sawIns {
		t.Errorf("adjtimex never reported TIME_INS before the guest's midnight: the kernel was not armed (or was disarmed) for the leap second\n%s", log)
	} else {
		t.Logf("TIME_INS from guest time %s", insAt.Format(time.TimeOnly))
	}
	if !sawOOP {
		t.Errorf("adjtimex did not report TIME_OOP during the inserted second")
	}
	if !disarmed.IsZero() {
		t.Errorf("STA_INS was set until guest time %s and cleared by %s, before midnight: the daemon disarmed the kernel",
			lastArmed.Format("15:04:05.000"), disarmed.Format("15:04:05.000"))
	}
	jump := median(after) - median(before)
	if math.Abs(jump+1) > 2e-3 {
		t.Errorf("across the guest's midnight its clock moved %+.6f s against the host's, want -1 s (one inserted second) within 2 ms", jump)
	}
	// The server's kernel inserted nothing: its clock stayed where it was put.
	var serr []float64
	for _, s := range server.Samples() {
		serr = append(serr, h.Error(s)-d.Seconds())
	}
	if m := median(serr); math.Abs(m) > 1e-3 {
		t.Errorf("the server guest's clock ended %+.6f s from where it was put", m)
	}
}
