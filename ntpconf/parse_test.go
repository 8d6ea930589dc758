// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-multierror"
)

func parseString(t *testing.T, src string) (*Config, []*PosError) {
	t.Helper()
	cfg, err := ParseBytes("/etc/ntp.conf", []byte(src))
	if cfg == nil {
		t.Fatal("nil Config")
	}
	var out []*PosError
	if err != nil {
		var me *multierror.Error
		if !errors.As(err, &me) {
			t.Fatalf("error %T is not a *multierror.Error", err)
		}
		for _, e := range me.Errors {
			var pe *PosError
			if !errors.As(e, &pe) {
				t.Fatalf("error %T is not a *PosError", e)
			}
			out = append(out, pe)
		}
	}
	return cfg, out
}

func saveconfig(t *testing.T, c *Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.WriteSaveconfig(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMessages(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"server 192.0.2.1\npool 0.pool.ntp.org ibrust\n", `/etc/ntp.conf:2:21: unknown option "ibrust" for pool; did you mean "iburst"?`},
		{"server 192.0.2.1 minpoll x\n", `/etc/ntp.conf:1:26: minpoll needs an integer, found "x"`},
		{"Server 192.0.2.1\n", `/etc/ntp.conf:1:1: unknown directive "Server": keywords are lower case; did you mean "server"?`},
		{"restrict default nomodfy\n", `/etc/ntp.conf:1:18: unknown restrict flag "nomodfy"; did you mean "nomodify"?`},
		{"tos maxclock 0x10\n", `/etc/ntp.conf:1:14: maxclock needs a number, found "0x10" (classic ntpd accepts no hexadecimal or integers above 2147483647 here; write a decimal)`},
		{"keys\n", `/etc/ntp.conf:1:5: keys needs a name, found end of line`},
		{"restrict 192.0.2.1 nopeer mask 255.255.255.0\n", `/etc/ntp.conf:1:27: mask must come right after the address`},
		{"frobnicate 1\n", `/etc/ntp.conf:1:1: unknown directive "frobnicate"`},
		{"driftfle /x\n", `/etc/ntp.conf:1:1: unknown directive "driftfle"; did you mean "driftfile"?`},
		{"server 127.0.0.2\n", `/etc/ntp.conf:1:8: 127.0.0.2: classic ntpd refuses loopback addresses other than 127.0.0.1 (and refclocks 127.127.t.u)`},
	}
	for _, tt := range tests {
		_, errs := parseString(t, tt.src)
		if len(errs) != 1 {
			t.Errorf("%q: got %d errors %v, want 1", tt.src, len(errs), errs)
			continue
		}
		if got := errs[0].Error(); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

// TestRecovery checks classic's recovery: a bad line is skipped, or its complete leading
// part kept, and the rest of the file applies; all problems come back in one pass.
func TestRecovery(t *testing.T) {
	src := "server 192.0.2.1 ibrust\nserver 192.0.2.2 minpoll x\nrestrict default kod nopeer bogus\ntinker panic 0\n"
	cfg, errs := parseString(t, src)
	want := "tinker panic 0\nserver 192.0.2.1\nrestrict default ippeerlimit -1 kod nopeer\n"
	if diff := cmp.Diff(want, saveconfig(t, cfg)); diff != "" {
		t.Errorf("saveconfig (-want +got):\n%s", diff)
	}
	var lines []int
	for _, e := range errs {
		if e.Kind != KindSyntax {
			t.Errorf("%v: kind %v, want syntax", e, e.Kind)
		}
		lines = append(lines, e.Pos.Line)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, lines); diff != "" {
		t.Errorf("error lines (-want +got):\n%s", diff)
	}
}

func TestLexerNumbers(t *testing.T) {
	tests := []struct {
		word string
		kind tokKind
		ival int64
		fval float64
		wrap bool
	}{
		{"010", tkInteger, 10, 0, false},
		{"-3", tkInteger, -3, 0, false},
		{"2147483647", tkInteger, 2147483647, 0, false},
		{"2147483648", tkUInt, 2147483648, 0, false},
		{"4294967295", tkUInt, 4294967295, 0, false},
		{"99999999999", tkInteger, 1215752191, 0, true},
		{"0x10", tkUInt, 16, 0, false},
		{"+5", tkDouble, 0, 5, false},
		{"5.", tkDouble, 0, 5, false},
		{".5", tkDouble, 0, 0.5, false},
		{"1e-7", tkDouble, 0, 1e-7, false},
		{"1e", tkDouble, 0, 1, false},
		{"1.2.3", tkString, 0, 0, false},
		{"0x", tkUInt, 0, 0, false},
	}
	for _, tt := range tests {
		tok := token{text: tt.word}
		classifyNumber(&tok)
		if tok.kind != tt.kind || tok.ival != tt.ival || tok.fval != tt.fval || tok.wrap != tt.wrap {
			t.Errorf("%q: got %v %d %g wrap=%v, want %v %d %g wrap=%v", tt.word, tok.kind, tok.ival, tok.fval, tok.wrap, tt.kind, tt.ival, tt.fval, tt.wrap)
		}
	}
}

func TestFormatDouble(t *testing.T) {
	tests := map[float64]string{0.42: "0.42", 1e-7: "1e-7", 1215752191: "1.21575e+09", 1000: "1000", -550: "-550", 123456789: "1.23457e+08", 1e-6: "1e-6", 0.0001: "0.0001"}
	for in, want := range tests {
		if got := formatDouble(in); got != want {
			t.Errorf("formatDouble(%g) = %q, want %q", in, got, want)
		}
	}
}

func TestLexerContext(t *testing.T) {
	// server is followed by a string: a keyword after it is a host name; restrict is not.
	cfg, errs := parseString(t, "server iburst\nrestrict iburst\nsetvar a= b\nsetvar x =minpoll\n")
	if len(cfg.Associations) != 1 || cfg.Associations[0].Address != "iburst" {
		t.Errorf("server iburst: got %+v", cfg.Associations)
	}
	if len(errs) != 2 || errs[0].Pos.Line != 2 || errs[1].Pos.Line != 3 {
		t.Errorf("errors: %v", errs)
	}
	if len(cfg.Setvars) != 1 || cfg.Setvars[0].Value != "minpoll" {
		t.Errorf("setvar after '=' reads a string: %+v", cfg.Setvars)
	}
}

func TestTypedConfig(t *testing.T) {
	cfg, errs := parseString(t, strings.Join([]string{
		"server 127.127.28.0 minpoll 4 prefer",
		"fudge 127.127.28.0 time1 0.42 refid GPS",
		"pool 0.pool.ntp.org iburst",
		"restrict -4 default kod limited nomodify",
		"restrict 192.0.2.0 mask 255.255.255.0 ippeerlimit 3 notrap",
		"tinker panic 0 step 0.5",
		"tinker panic 10",
		"tos orphan 10",
		"disable monitor",
		"trustedkey 1 (10 ... 12)",
		"driftfile /var/lib/ntp/ntp.drift",
		"statsdir /var/log/ntpstats",
	}, "\n"))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	a := cfg.Associations[0]
	if a.Refclock == nil || *a.Refclock != (RefclockID{Type: 28, Unit: 0}) || a.EffectiveMinPoll() != 4 || a.EffectiveMaxPoll() != 10 || !a.Has("prefer") {
		t.Errorf("refclock association: %+v", a)
	}
	if p := cfg.Associations[1]; p.Kind != KindPool || !p.Has("iburst") || p.EffectiveMinPoll() != 6 {
		t.Errorf("pool: %+v", p)
	}
	r := cfg.Restricts[0]
	if !r.Default || r.Family != 4 || r.Flags != RestrictKod|RestrictLimited|RestrictNomodify || r.IPPeerLimit != -1 {
		t.Errorf("restrict default: %+v", r)
	}
	if r := cfg.Restricts[1]; r.Address != "192.0.2.0" || r.Mask != "255.255.255.0" || r.IPPeerLimit != 3 || r.Flags != RestrictNotrap {
		t.Errorf("restrict net: %+v", r)
	}
	tk := cfg.TinkerParams()
	if tk.Panic != 10 || tk.Step != 0.5 || tk.StepBack != 0.5 || tk.Stepout != 300 {
		t.Errorf("tinker: %+v", tk)
	}
	if tos := cfg.TosParams(); tos.Orphan != 10 || tos.MinClock != 3 || tos.MaxClock != 10 {
		t.Errorf("tos: %+v", tos)
	}
	if f := cfg.Flags(); f["monitor"] || !f["ntp"] {
		t.Errorf("flags: %v", f)
	}
	if !cfg.Trusted(11) || cfg.Trusted(2) {
		t.Error("trustedkey ranges")
	}
	if p, ok := cfg.Driftfile(); !ok || p != "/var/lib/ntp/ntp.drift" {
		t.Errorf("driftfile %q %v", p, ok)
	}
	if d := cfg.StatsDir(); d != "/var/log/ntpstats/" {
		t.Errorf("statsdir %q", d)
	}
	if d := cfg.DiscardParams(); d != (DiscardValues{Average: 3, Minimum: 2, Monitor: 3000}) {
		t.Errorf("discard defaults %+v", d)
	}
	if len(cfg.Directives) != 12 || cfg.Directives[1].Keyword != "fudge" || cfg.Directives[1].Pos.Line != 2 {
		t.Errorf("directives: %+v", cfg.Directives)
	}
}

func TestWarnings(t *testing.T) {
	cfg, errs := parseString(t, "server 192.0.2.1 minpoll 10 maxpoll 6\nrestrict default kod\nserver 192.0.2.2 minpoll 2\n")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, w := range cfg.Warnings() {
		got = append(got, w.Error())
	}
	want := []string{
		"/etc/ntp.conf:1:1: warning: minpoll 10 is greater than maxpoll 6",
		"/etc/ntp.conf:2:1: warning: kod does nothing without limited",
		"/etc/ntp.conf:3:18: warning: minpoll 2 is outside 3..17; classic ntpd uses 3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestIncludeDepthAndMissing(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/ntp.conf":  &fstest.MapFile{Data: []byte("includefile /etc/loop.conf\nincludefile /etc/none.conf\nserver 192.0.2.1\n")},
		"etc/loop.conf": &fstest.MapFile{Data: []byte("server 192.0.2.9\nincludefile /etc/loop.conf\n")},
	}
	cfg, err := Parse(fsys, "/etc/ntp.conf")
	if err == nil {
		t.Fatal("want errors for the include loop and the missing file")
	}
	if !strings.Contains(err.Error(), `/etc/ntp.conf:2:1: includefile: cannot open "/etc/none.conf"`) || strings.Contains(err.Error(), "Maximum include") {
		t.Errorf("errors: %v", err)
	}
	// The recursion is classic's message, with the place, as a warning: classic skips the
	// deepest includefile and applies the rest.
	var deep []string
	for _, w := range cfg.Warnings() {
		if strings.Contains(w.Error(), "getconfig: Maximum include file level exceeded") {
			deep = append(deep, w.Error())
		}
	}
	if len(deep) != 1 || !strings.HasPrefix(deep[0], "/etc/loop.conf:2:1: ") {
		t.Errorf("include depth warnings %q, want one at /etc/loop.conf:2:1", deep)
	}
	if n := len(cfg.Associations); n != MaxIncludeDepth+1 {
		t.Errorf("%d associations, want %d (one per include level plus the main file's)", n, MaxIncludeDepth+1)
	}
}

// TestSaveconfigRoundTrip checks that saveconfig output reads back to the same output
// for every corpus file without syntax errors.
func TestSaveconfigRoundTrip(t *testing.T) {
	for _, name := range corpusFiles(t) {
		cfg, err := Parse(os.DirFS(corpusDir), name)
		if err != nil {
			continue
		}
		first := saveconfig(t, cfg)
		cfg2, err := ParseBytes(name, []byte(first))
		if err != nil {
			t.Errorf("%s: saveconfig output does not parse: %v", name, err)
			continue
		}
		if diff := cmp.Diff(first, saveconfig(t, cfg2)); diff != "" {
			t.Errorf("%s: round trip (-first +second):\n%s", name, diff)
		}
	}
}

func TestSaveconfigHeader(t *testing.T) {
	var b bytes.Buffer
	when := time.Date(2026, 11, 28, 17, 16, 59, 0, time.UTC)
	if err := WriteSaveconfigHeader(&b, when, "ntpd 4.2.8p15@1.3728-o"); err != nil {
		t.Fatal(err)
	}
	want := "#NTF:D 20261128@17:16:59\n#NTF:V ntpd 4.2.8p15@1.3728-o\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// TestLargeFileReadWhole: a file over the old 4 MiB cap is read whole, its last lines
// included (issue 15 B4: the daemon used to drop the whole file and run wide open).
func TestLargeFileReadWhole(t *testing.T) {
	var b strings.Builder
	b.WriteString("restrict default ignore\n")
	for b.Len() < 5<<20 {
		b.WriteString("# a comment line that pads the file past the old size limit of four MiB\n")
	}
	b.WriteString("server 192.0.2.1 iburst\nrestrict 192.0.2.1 nomodify\n")
	fsys := fstest.MapFS{"etc/ntp.conf": &fstest.MapFile{Data: []byte(b.String())}}
	cfg, err := Parse(fsys, "/etc/ntp.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Associations) != 1 || len(cfg.Restricts) != 2 {
		t.Errorf("%d associations and %d restrict lines, want 1 and 2", len(cfg.Associations), len(cfg.Restricts))
	}
}

// TestNTPsecRefclockLine: NTPsec's refclock line becomes the classic address, mode word and
// fudge; path and ppspath name the devices; baud sets NMEA's mode bits 4-6; a rate the driver
// cannot run at is an error at its position.
func TestNTPsecRefclockLine(t *testing.T) {
	cfg, errs := parseString(t, "refclock nmea unit 1 mode 1 baud 9600 path /dev/ttyS1 ppspath /dev/pps1 time2 0.2 prefer\n")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	a := cfg.Associations[0]
	if a.Address != "127.127.20.1" || a.TTLMode != 0x11 || a.Path != "/dev/ttyS1" || a.PPSPath != "/dev/pps1" || !a.Has("prefer") {
		t.Errorf("association %+v", a)
	}
	if len(cfg.Fudges) != 1 || cfg.Fudges[0].Options[0].Name != "time2" {
		t.Errorf("fudges %+v", cfg.Fudges)
	}
	_, errs = parseString(t, "refclock nmea baud 1200\n")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "1:15") || !strings.Contains(errs[0].Error(), "baud 1200") {
		t.Errorf("errors %v, want one at 1:15 naming baud 1200", errs)
	}
}
