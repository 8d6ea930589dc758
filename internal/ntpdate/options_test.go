// SPDX-License-Identifier: BSD-2-Clause

package ntpdate

import (
	"errors"
	"gontp/internal/cli"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	def := func(f func(o *Options)) *Options {
		o := &Options{KeyFile: "/etc/ntp.keys", Version: 4, TimeoutTicks: 10, Samples: 4}
		f(o)
		return o
	}
	tests := []struct {
		args []string
		want *Options
		msgs []string // usage error messages; nil when parsing succeeds
	}{
		{[]string{"a"}, def(func(o *Options) { o.Servers = []string{"a"} }), nil},
		{[]string{"-q", "a", "b"}, def(func(o *Options) {
			o.Query, o.Unprivileged, o.Samples, o.Servers = true, true, 1, []string{"a", "b"}
		}), nil},
		{[]string{"-qu", "-p2", "a"}, def(func(o *Options) {
			o.Query, o.Unprivileged, o.Samples, o.Servers = true, true, 2, []string{"a"}
		}), nil},
		{[]string{"-d", "-b", "-B", "-4", "-6", "a"}, def(func(o *Options) {
			o.Debug, o.Unprivileged, o.NeverStep, o.Family, o.Servers = 1, true, true, 6, []string{"a"}
		}), nil},
		{[]string{"-B", "-b", "-s", "-v", "a"}, def(func(o *Options) {
			o.AlwaysStep, o.Syslog, o.Verbose, o.Servers = true, true, true, []string{"a"}
		}), nil},
		// -t rounds to 0.2 s ticks with a 1 s floor (observed: 1.5 -> 1.6 s, 0 -> 1 s).
		{[]string{"-t", "1.5", "a"}, def(func(o *Options) { o.TimeoutTicks, o.Servers = 8, []string{"a"} }), nil},
		{[]string{"-t", "0", "a"}, def(func(o *Options) { o.TimeoutTicks, o.Servers = 5, []string{"a"} }), nil},
		{[]string{"-t", "2.9", "a"}, def(func(o *Options) { o.TimeoutTicks, o.Servers = 14, []string{"a"} }), nil},
		// -o is atoi and unchecked; -p is atoi ("3x" is 3).
		{[]string{"-o", "x", "-p", "3x", "a"}, def(func(o *Options) { o.Version, o.Samples, o.Servers = 0, 3, []string{"a"} }), nil},
		{[]string{"-e", "0.999", "-k", "/k", "-a", "7", "a"}, def(func(o *Options) {
			o.AuthDelay, o.KeyFile, o.AuthKey, o.AuthKeySet, o.Servers = lfp(4290672329).seconds(), "/k", "7", true, []string{"a"}
		}), nil},
		// Option processing stops at the first server name, as classic's getopt does.
		{[]string{"a", "-p", "2"}, def(func(o *Options) { o.Servers = []string{"a", "-p", "2"} }), nil},
		{[]string{"--", "-a"}, def(func(o *Options) { o.Servers = []string{"-a"} }), nil},
		{[]string{"-q"}, def(func(o *Options) { o.Query, o.Unprivileged, o.Samples = true, true, 1 }), nil},

		{[]string{"-h"}, nil, []string{"ntpdate: unknown option -h"}},
		{[]string{"-x", "-y", "a"}, nil, []string{"ntpdate: unknown option -x", "ntpdate: unknown option -y"}},
		{[]string{"-p", "0", "a"}, nil, []string{"ntpdate: number of samples (0) is invalid"}},
		{[]string{"-p", "9", "a"}, nil, []string{"ntpdate: number of samples (9) is invalid"}},
		{[]string{"-p", "x", "a"}, nil, []string{"ntpdate: number of samples (0) is invalid"}},
		{[]string{"-p", "-1", "a"}, nil, []string{"ntpdate: number of samples (-1) is invalid"}},
		{[]string{"-p"}, nil, []string{"ntpdate: option requires argument -p"}},
		{[]string{"-t", "1x", "a"}, nil, []string{"ntpdate: timeout 1x is undecodeable"}},
		{[]string{"-t", "-1", "a"}, nil, []string{"ntpdate: timeout -1 is negative"}},
		{[]string{"-e", "1", "a"}, nil, []string{"ntpdate: encryption delay 1 is unlikely"}},
		{[]string{"-e", "-0.1", "a"}, nil, []string{"ntpdate: encryption delay -0.1 is unlikely"}},
		{[]string{"-e", "0.5x", "a"}, nil, []string{"ntpdate: encryption delay 0.5x is unlikely"}},
		{[]string{}, nil, []string{}},
	}
	for _, tc := range tests {
		got, err := Parse("ntpdate", tc.args)
		if tc.msgs != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Errorf("Parse(%q) = %v, %v; want a usage error", tc.args, got, err)
				continue
			}
			if diff := cmp.Diff(tc.msgs, ue.Messages, cmp.Comparer(func(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") })); diff != "" {
				t.Errorf("Parse(%q) messages (-want +got):\n%s", tc.args, diff)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tc.args, diff)
		}
	}
}

// TestUsageGolden compares the usage error text with classic's stderr captured in testdata.
func TestUsageGolden(t *testing.T) {
	const classicProg = "/opt/ntp-reference/classic/usr/sbin/ntpdate"
	for _, c := range []struct {
		file string
		args []string
	}{
		{"usage-unknown.txt", []string{"-h"}},
		{"usage-samples.txt", []string{"-p", "9", "127.0.0.2"}},
		{"usage-timeout.txt", []string{"-t", "1x", "127.0.0.2"}},
		{"usage-authdelay.txt", []string{"-e", "1", "127.0.0.2"}},
		{"usage-missing-arg.txt", []string{"-p"}},
		{"usage-none.txt", nil},
	} {
		cap := readCapture(t, c.file)
		_, err := Parse(classicProg, c.args)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("%s: no usage error", c.file)
		}
		if cap.exit != ExitUsage {
			t.Errorf("%s: classic exit %d, ours %d", c.file, cap.exit, ExitUsage)
		}
		if diff := cmp.Diff(cap.stderr, ue.Error()); diff != "" {
			t.Errorf("%s (-classic +ours):\n%s", c.file, diff)
		}
	}
}

type capture struct {
	command        string
	exit           int
	stdout, stderr string
}

// readCapture reads one testdata capture (format described in testdata/README.md).
func readCapture(t *testing.T, name string) capture {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var c capture
	var cur *string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "# command: "):
			c.command = strings.TrimSpace(strings.TrimPrefix(line, "# command: "))
		case strings.HasPrefix(line, "# exit: "):
			c.exit = cli.Atoi(strings.TrimPrefix(line, "# exit: "))
		case line == "-- stdout\n":
			cur = &c.stdout
		case line == "-- stderr\n":
			cur = &c.stderr
		case cur != nil:
			*cur += line
		}
	}
	return c
}
