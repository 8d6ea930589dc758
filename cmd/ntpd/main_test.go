// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSaveconfigquitMatchesClassicGolden runs the command as an administrator would,
// `ntpd --saveconfigquit OUT -c FILE`, over the ntp.conf corpus and compares the file written
// with what classic ntpd 4.2.8p15 wrote for the same input (ntpconf/testdata/golden, produced
// by ntpconf's differential test), ignoring the two #NTF header lines (date and version).
func TestSaveconfigquitMatchesClassicGolden(t *testing.T) {
	corpus, _ := filepath.Glob("../../ntpconf/testdata/corpus/*.conf")
	if len(corpus) < 40 {
		t.Fatalf("corpus has %d files", len(corpus))
	}
	n := 0
	for _, conf := range corpus {
		// NAME.gontp holds gontp's output where it reads a file differently from classic on
		// purpose (NTPsec forms); NAME.saveconfig is classic's.
		base := filepath.Join("../../ntpconf/testdata/golden", filepath.Base(conf))
		want, err := os.ReadFile(base + ".gontp")
		if err != nil {
			want, err = os.ReadFile(base + ".saveconfig")
		}
		if err != nil {
			t.Fatalf("%s: no golden output: %v", conf, err)
		}
		src, _ := os.ReadFile(conf)
		if bytes.Contains(src, []byte("includefile")) {
			continue // relative includes resolve against "/" in the daemon; ntpconf's test covers them
		}
		out := filepath.Join(t.TempDir(), "saved.conf")
		var stdout, stderr bytes.Buffer
		if code := run([]string{"ntpd", "--saveconfigquit", out, "-c", conf}, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d: %s", conf, code, stderr.String())
			continue
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(got), "#NTF:D ") || !strings.Contains(string(got), "\n#NTF:V ntpd ") {
			t.Errorf("%s: missing the #NTF header lines:\n%s", conf, got)
		}
		if g, w := stripNTF(string(got)), stripNTF(string(want)); g != w {
			t.Errorf("%s: saveconfig differs from classic's\n--- gontp\n%s--- classic\n%s", conf, g, w)
		}
		if !strings.Contains(stderr.String(), "configuration saved to "+out) {
			t.Errorf("%s: stderr %q lacks classic's \"configuration saved to\" line", conf, stderr.String())
		}
		n++
	}
	if n < 30 {
		t.Fatalf("only %d corpus files compared", n)
	}
}

func stripNTF(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "#NTF:") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func TestConfigtest(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(good, []byte("server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n"), 0o644)
	os.WriteFile(bad, []byte("driftfile /var/lib/ntp/ntp.drift\npool 0.debian.pool.ntp.org ibrust\nfrobnicate 3\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"ntpd", "--configtest", "-c", good}, &out, &errb); code != 0 {
		t.Fatalf("good file: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"ntpd", "--configtest", "-c", bad}, &out, &errb); code != 1 {
		t.Fatalf("bad file: exit %d, want 1", code)
	}
	msg := errb.String()
	for _, want := range []string{
		bad + `:2:28: unknown option "ibrust" for pool; did you mean "iburst"?`,
		bad + ":3:",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("configtest output lacks %q:\n%s", want, msg)
		}
	}
	if code := run([]string{"ntpd", "--configtest", "-c", filepath.Join(dir, "missing.conf")}, &out, &errb); code != 1 {
		t.Fatalf("missing file: exit %d, want 1", code)
	}
}

// TestConfigtestSaysWhatStartupDoes is issue 15 B3/B4: --configtest reports what start-up
// would, with file:line: the duplicate association and the include recursion as warnings
// (start-up skips them and runs, as classic does), and a file over 4 MiB is read whole.
func TestConfigtestSaysWhatStartupDoes(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ntp.conf")
	self := filepath.Join(dir, "self.conf")
	os.WriteFile(self, []byte("includefile "+self+"\n"), 0o644)
	pad := strings.Repeat("# padding past the old size limit of four MiB, which dropped the whole file\n", 5<<20/75)
	os.WriteFile(conf, []byte("server 198.18.0.2 iburst\nserver 198.18.0.2 maxpoll 8\nincludefile "+self+"\nenable calibrate\n"+pad+"restrict default ignore\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"ntpd", "--configtest", "-c", conf}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, want 0 (warnings only):\n%s", code, errb.String())
	}
	msg := errb.String()
	for _, want := range []string{
		"warning: " + conf + ":2:1: server 198.18.0.2: duplicate association for 198.18.0.2 (first at " + conf + ":1:1); this line is skipped",
		"warning: " + self + ":1:1: warning: includefile \"" + self + "\": getconfig: Maximum include file level exceeded",
		"warning: " + conf + ":4:8: enable calibrate is read but gontp does not act on it",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("configtest output lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "too large") || !strings.Contains(out.String(), "configuration OK") {
		t.Errorf("stdout %q stderr:\n%s", out.String(), msg)
	}
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--version"}, 0, ""},
		{[]string{"-?"}, 0, ""},
		{[]string{"-z"}, 1, "illegal option -- z"},
		{[]string{"--bogus"}, 1, "illegal option -- bogus"},
		{[]string{"-c"}, 1, "option 'configfile' requires an argument"},
		{[]string{"-4", "-6"}, 1, "the 'ipv4' option conflicts with the 'ipv6' option"},
		{[]string{"-q", "--saveconfigquit", "x"}, 1, "the 'quit' option conflicts with the 'saveconfigquit' option"},
		{[]string{"-n", "-w", "5"}, 1, "the 'nofork' option conflicts with the 'wait-sync' option"},
		{[]string{"-q", "-w", "5"}, 1, "the 'quit' option conflicts with the 'wait-sync' option"},
		{[]string{"--saveconfigquit", "x", "--wait-sync=5"}, 1, "the 'saveconfigquit' option conflicts with the 'wait-sync' option"},
		{[]string{"-w", "soon"}, 1, `option 'wait-sync': "soon" is not a number`},
		{[]string{"-w"}, 1, "option 'wait-sync' requires an argument"},
		{[]string{"-c", "a", "-c", "b"}, 1, "option 'configfile' may not appear more than once"},
		{[]string{"-D", "x"}, 1, `option 'set-debug-level': "x" is not a number`},
		{[]string{"-n", "-c", "/nonexistent/ntp.conf", "192.0.2.1"}, 1, "/nonexistent/ntp.conf"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(append([]string{"ntpd"}, c.args...), &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.err) {
			t.Errorf("ntpd %v: exit %d, stderr %q; want exit %d and %q", c.args, code, errb.String(), c.code, c.err)
		}
	}
	p, err := command.Parse([]string{"-gnc/etc/x.conf", "--pidfile=/run/ntpd.pid", "-I", "eth0", "-Ilo"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Has("panicgate") || !p.Has("nofork") || p.Last("configfile") != "/etc/x.conf" ||
		p.Last("pidfile") != "/run/ntpd.pid" || strings.Join(p.All("interface"), ",") != "eth0,lo" {
		t.Fatalf("clustered and long options parsed as %+v", p.Items)
	}
}

// TestClassicOptionTable: every option letter and long name of classic ntpd 4.2.8p15's
// `ntpd --help` is known, and Debian's command line parses.
func TestClassicOptionTable(t *testing.T) {
	for _, c := range []byte("46aAbcdDfgGiIklLnNpPqrstuUwx?") {
		if command.Lookup(c) == nil {
			t.Errorf("-%c is not in the option table", c)
		}
	}
	for _, l := range []string{"ipv4", "ipv6", "authreq", "authnoreq", "bcastsync", "configfile", "debug-level",
		"set-debug-level", "driftfile", "panicgate", "force-step-once", "jaildir", "interface", "keyfile", "logfile",
		"novirtualips", "nofork", "nice", "pidfile", "priority", "quit", "propagationdelay", "saveconfigquit",
		"statsdir", "trustedkey", "user", "updateinterval", "var", "dvar", "wait-sync", "slew", "version", "help"} {
		if command.LookupLong(l) == nil {
			t.Errorf("--%s is not in the option table", l)
		}
	}
	p, err := command.Parse([]string{"-p", "/var/run/ntpd.pid", "-g", "-u", "105:112"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Last("pidfile") != "/var/run/ntpd.pid" || p.Last("user") != "105:112" || p.Has("nofork") {
		t.Errorf("Debian's command line parsed as %+v", p.Items)
	}
	p, err = command.Parse([]string{"-w", "30", "-ddd", "-D", "2"})
	if err != nil || p.Last("wait-sync") != "30" || debugLevel(p) != 2 {
		t.Errorf("-w 30 -ddd -D 2: %+v, %v, debug %d", p, err, debugLevel(p))
	}
	if p, _ := command.Parse([]string{"-d", "-d"}); debugLevel(p) != 2 {
		t.Errorf("-d -d: debug level %d, want 2", debugLevel(p))
	}
}

func TestTrustedKeysOption(t *testing.T) {
	ids, err := trustedKeys([]string{"1", "65535"})
	if err != nil || len(ids) != 2 || ids[1] != 65535 {
		t.Fatalf("%v %v", ids, err)
	}
	for _, bad := range []string{"0", "65536", "x", "-1"} {
		if _, err := trustedKeys([]string{bad}); err == nil || !strings.Contains(err.Error(), "-t "+bad) {
			t.Errorf("-t %s: %v", bad, err)
		}
	}
	p, err := command.Parse([]string{"-k", "/etc/ntp.keys", "-t", "3", "-t", "4", "-a"})
	if err != nil || p.Last("keyfile") != "/etc/ntp.keys" || len(p.All("trustedkey")) != 2 || !p.Has("authreq") {
		t.Fatalf("%+v %v", p, err)
	}
}

// helpRows reads the option rows of a libopts --help: name -> the row's flag and argument
// columns followed by the rule lines under it ("- prohibits ...", "- may appear ...").
func helpRows(help string) map[string]string {
	rows := map[string]string{}
	name := ""
	for _, l := range strings.Split(help, "\n") {
		if strings.HasPrefix(l, "\t\t\t\t") && name != "" {
			rows[name] += "|" + strings.TrimSpace(l)
			continue
		}
		f := regexp.MustCompile(`^   (-.|  ) (no |Str|Num|KWd|opt) (\S+)`).FindStringSubmatch(l)
		if f == nil {
			name = ""
			continue
		}
		name = f[3]
		rows[name] = f[1] + " " + f[2]
	}
	return rows
}

// TestHelpMatchesClassic: `ntpd --help` has every row of classic ntpd 4.2.8p15's with the same
// letter, argument type (-D -P -U -w are numbers) and rules, and a description for each.
func TestHelpMatchesClassic(t *testing.T) {
	const classic = "/opt/ntp-reference/bin/classic-ntpd"
	if _, err := os.Stat(classic); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (CI=true, so this is a failure): scripts/install-reference-ntp", classic)
		}
		t.Skipf("%s is missing: scripts/install-reference-ntp installs it", classic)
	}
	out, _ := exec.Command(classic, "--help").CombinedOutput() // classic exits 0; output is what counts
	want := helpRows(string(out))
	if len(want) < 30 {
		t.Fatalf("read only %d rows from classic's --help:\n%s", len(want), out)
	}
	var b bytes.Buffer
	if code := run([]string{"ntpd", "--help"}, &b, &b); code != 0 {
		t.Fatalf("ntpd --help: exit %d", code)
	}
	got := helpRows(b.String())
	for name, w := range want {
		if name == "more-help" { // classic's pager variant of --help; gontp has none
			continue
		}
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("--%s: gontp's row %q, classic's %q", name, g, w)
		}
	}
	for _, o := range command.Options {
		if strings.TrimSpace(o.Desc) == "" {
			t.Errorf("--%s has no description", o.Long)
		}
	}
}
