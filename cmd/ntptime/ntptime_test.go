// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gontp/internal/testnet"
)

// recorded is a kernel that answers every call with the same state, recording what was asked.
type recorded struct {
	state int
	tx    unix.Timex
	err   error // returned for calls with modes set
	asked []unix.Timex
}

func (k *recorded) Adjtimex(tx *unix.Timex) (int, error) {
	k.asked = append(k.asked, *tx)
	if tx.Modes != 0 && k.err != nil {
		return -1, k.err
	}
	modes := tx.Modes
	*tx = k.tx
	tx.Modes = modes // Linux hands the modes back as they were asked
	return k.state, nil
}

func TestOutputSynchronisedKernel(t *testing.T) {
	t.Setenv("TZ", "UTC")
	time.Local = time.UTC
	k := &recorded{state: 0, tx: unix.Timex{
		Offset: -12, Freq: -1234567, Maxerror: 1500, Esterror: 7, Status: unix.STA_PLL,
		Constant: 6, Precision: 1, Tolerance: 32768000,
		Time: unix.Timeval{Sec: 1796564239, Usec: 98064}, Tai: 37,
	}}
	var out, errb bytes.Buffer
	if code := run("ntptime", nil, k, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	want := "ntp_gettime() returns code 0 (OK)\n" +
		"  time eebfe38f.191ac000  Sun, Dec  6 2026 13:37:19.098, (.098064),\n" +
		"  maximum error 1500 us, estimated error 7 us, TAI offset 37\n" +
		"ntp_adjtime() returns code 0 (OK)\n" +
		"  modes 0x0 (),\n" +
		"  offset -12.000 us, frequency -18.838 ppm, interval 1 s,\n" +
		"  maximum error 1500 us, estimated error 7 us,\n" +
		"  status 0x1 (PLL),\n" +
		"  time constant 6, precision 1.000 us, tolerance 500 ppm,\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestNanosecondKernelAndPPS(t *testing.T) {
	time.Local = time.UTC
	k := &recorded{state: 1, tx: unix.Timex{
		Offset: 1500, Status: unix.STA_PLL | unix.STA_NANO | unix.STA_INS | unix.STA_PPSSIGNAL,
		Precision: 1000, Tolerance: 32768000, Shift: 2, Jitter: 2500, Ppsfreq: 65536, Stabil: 32768,
		Calcnt: 4, Jitcnt: 1, Stbcnt: 2, Errcnt: 3,
		Time: unix.Timeval{Sec: 1796564239, Usec: 98064123},
	}}
	var out bytes.Buffer
	run("ntptime", []string{"-s", "1"}, k, &out, &out)
	want := "ntp_gettime() returns code 1 (INS)\n" +
		"  time eebfe38f.191ab8e8  Sun, Dec  6 2026 13:37:19.098, (.098064123),\n" +
		"  maximum error 0 us, estimated error 0 us, TAI offset 0\n" +
		"ntp_adjtime() returns code 1 (INS)\n" +
		"  modes 0x10 (STATUS),\n" +
		"  offset 1.500 us, frequency 0.000 ppm, interval 4 s,\n" +
		"  maximum error 0 us, estimated error 0 us,\n" +
		"  status 0x2111 (PLL,INS,PPSSIGNAL,NANO),\n" +
		"  time constant 0, precision 1.000 us, tolerance 500 ppm,\n" +
		"  pps frequency 1.000 ppm, stability 0.500 ppm, jitter 2.500 us,\n" +
		"  intervals 4, jitter exceeded 1, stability exceeded 2, errors 3.\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if got := k.asked[len(k.asked)-1]; got.Modes != unix.ADJ_STATUS || got.Status != 1 {
		t.Errorf("set call: modes %#x status %d, want ADJ_STATUS and 1", got.Modes, got.Status)
	}
}

func TestOptionStringIsClassics(t *testing.T) {
	if optstring != "MNT:cde:f:hm:o:rs:t:" {
		t.Errorf("the option table gives %q, classic's getopt string is MNT:cde:f:hm:o:rs:t:", optstring)
	}
}

func TestOptionsAsClassic(t *testing.T) {
	for _, c := range []struct {
		args  []string
		modes uint32
		check func(tx unix.Timex) bool
	}{
		{[]string{"-f", "12.5"}, unix.ADJ_FREQUENCY, func(tx unix.Timex) bool { return tx.Freq == 819200 }},
		{[]string{"-f-3x"}, unix.ADJ_FREQUENCY, func(tx unix.Timex) bool { return tx.Freq == -3*65536 }},
		{[]string{"-o", "250", "-t3"}, unix.ADJ_OFFSET | unix.ADJ_TIMECONST, func(tx unix.Timex) bool { return tx.Offset == 250 && tx.Constant == 3 }},
		{[]string{"-me", "7", "9"}, 0, nil}, // -m takes "e" (atoi 0), then "7" is left over: usage
		{[]string{"-f", "1", "-T", "37"}, unix.ADJ_TAI, func(tx unix.Timex) bool { return tx.Constant == 37 }},
		{[]string{"-MN"}, unix.ADJ_MICRO | unix.ADJ_NANO, nil},
		{[]string{"-m", "100", "-e", "20"}, unix.ADJ_MAXERROR | unix.ADJ_ESTERROR, func(tx unix.Timex) bool { return tx.Maxerror == 100 && tx.Esterror == 20 }},
	} {
		var errb bytes.Buffer
		o, ok := parse("ntptime", c.args, &errb)
		if c.check == nil && c.modes == 0 {
			if ok {
				t.Errorf("%q: accepted, want usage", c.args)
			}
			continue
		}
		if !ok || o.tx.Modes != c.modes || (c.check != nil && !c.check(o.tx)) {
			t.Errorf("%q: ok %v modes %#x tx %+v; stderr %q", c.args, ok, o.tx.Modes, o.tx, errb.String())
		}
	}
	for _, args := range [][]string{{"-s", "256"}, {"-s", "-1"}, {"-h"}, {"-d"}, {"-z"}, {"-f"}, {"x"}} {
		var errb bytes.Buffer
		if code := run("ntptime", args, &recorded{}, &errb, &errb); code != 2 || !strings.Contains(errb.String(), "usage: ntptime [-MNT:cde:f:hm:o:rs:t:]") {
			t.Errorf("%q: exit %d, output %q; want usage and exit 2", args, code, errb.String())
		}
	}
}

// TestAgainstClassic runs classic ntptime 4.2.8p15 and gontp's on this machine's kernel, read
// only, and in the cases that fail the same way, and compares their output line by line. The
// kernel's state moves between the two runs only in the clock reading, so the time, its hex
// form and -c's call costs are masked; everything else must be identical.
func TestAgainstClassic(t *testing.T) {
	classic := filepath.Join(testnet.Reference(t, "classic-ntptime"), "classic-ntptime")
	bin := filepath.Join(t.TempDir(), "ntptime")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mask := []*regexp.Regexp{
		regexp.MustCompile(`[0-9a-f]{8}\.[0-9a-f]{8}  \w{3}, \w{3} [ 0-9]\d \d{4} [ 0-9]\d:\d\d:\d\d\.\d{3}, \(\.\d+\)`),
		regexp.MustCompile(`ntptime=[0-9a-f]+\.[0-9a-f]+ unixtime=[0-9a-f]+\.\d+ .*`),
		regexp.MustCompile(`\[ us \d+:( -?\d+)+ \]`),
		regexp.MustCompile(`(?m)^(usage: |)\S*ntptime:? `), // the program's own path
	}
	norm := func(b []byte) string {
		s := string(b)
		for _, m := range mask {
			s = m.ReplaceAllString(s, "<masked> ")
		}
		return s
	}
	// Setting needs CAP_SYS_TIME; without it both must fail the same way, and this machine's
	// clock is never touched.
	noTime := []string{"setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time"}
	assertNoSysTime(t, noTime)
	for _, c := range []struct {
		name string
		pre  []string
		args []string
	}{
		{"read", nil, nil},
		{"raw and cost", nil, []string{"-c", "-r"}},
		{"set without privilege", noTime, []string{"-f", "12.5", "-o", "100"}},
		{"status without privilege", noTime, []string{"-s", "1"}},
		{"unknown option", nil, []string{"-z"}},
		{"missing argument", nil, []string{"-f"}},
		{"bad status", nil, []string{"-s", "300"}},
		{"left-over argument", nil, []string{"extra"}},
		{"help", nil, []string{"-h"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			runOne := func(prog string) (string, string, int) {
				argv := append(append([]string{}, c.pre...), prog)
				cmd := exec.Command(argv[0], append(argv[1:], c.args...)...)
				cmd.Env = append(os.Environ(), "TZ=UTC")
				var so, se bytes.Buffer
				cmd.Stdout, cmd.Stderr = &so, &se
				err := cmd.Run()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatalf("%s: %v", prog, err)
				}
				return norm(so.Bytes()), norm(se.Bytes()), code
			}
			co, ce, cc := runOne(classic)
			go_, ge, gc := runOne(bin)
			if cc != gc || co != go_ || ce != ge {
				t.Errorf("classic: exit %d\n%s---stderr\n%s\ngontp: exit %d\n%s---stderr\n%s", cc, co, ce, gc, go_, ge)
			}
		})
	}
}

// assertNoSysTime checks that a program started under pre really runs without CAP_SYS_TIME
// (bit 25 of CapEff), before any test hands it options that would set the clock.
func assertNoSysTime(t *testing.T, pre []string) {
	t.Helper()
	out, err := exec.Command(pre[0], append(pre[1:], "grep", "^CapEff:", "/proc/self/status")...).Output()
	if err != nil {
		t.Fatalf("%v: %v", pre, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("CapEff line %q", out)
	}
	var eff uint64
	if _, err := fmt.Sscanf(f[1], "%x", &eff); err != nil || eff&(1<<25) != 0 {
		t.Fatalf("a program started with %v still has CAP_SYS_TIME (CapEff %s): refusing to run the set cases", pre, f[1])
	}
}
