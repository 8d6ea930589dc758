// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// statsFormats are the statistics lines as classic's documentation (ntpd's monopt.html,
// "statistics" and the file formats) describes them, field by field with the precision of
// classic's printf formats: a parser written from the documentation, not from either
// program's output.
var statsFormats = map[string]*regexp.Regexp{
	// MJD, seconds past midnight, offset (s), frequency (ppm), RMS jitter (s), RMS
	// frequency jitter / wander (ppm), clock discipline loop time constant (log2).
	"loopstats": regexp.MustCompile(`^[0-9]{5} [0-9]{1,5}\.[0-9]{3} -?[0-9]+\.[0-9]{9} -?[0-9]+\.[0-9]{3} [0-9]+\.[0-9]{9} [0-9]+\.[0-9]{6} [0-9]{1,2}$`),
	// MJD, seconds, source address, status word (hex), offset, delay, dispersion, RMS
	// jitter (all s).
	"peerstats": regexp.MustCompile(`^[0-9]{5} [0-9]{1,5}\.[0-9]{3} [0-9.:a-f]+ [0-9a-f]{1,4} -?[0-9]+\.[0-9]{9} -?[0-9]+\.[0-9]{9} [0-9]+\.[0-9]{9} [0-9]+\.[0-9]{9}$`),
	// MJD, seconds, source, destination, t1 t2 t3 t4 (NTP seconds, 9 decimals), leap,
	// version, mode, stratum, poll, precision, root delay, root dispersion (s), refid.
	"rawstats": regexp.MustCompile(`^[0-9]{5} [0-9]{1,5}\.[0-9]{3} [0-9.:a-f]+ [0-9.:a-f]+( [0-9]+\.[0-9]{9}){4} [0-3] [1-4] [0-7] [0-9]{1,2} -?[0-9]{1,2} -?[0-9]{1,3} -?[0-9]+\.[0-9]{6} [0-9]+\.[0-9]{6} \S+$`),
	// MJD, seconds, then the text of the event: address, status word, event code, name.
	"protostats": regexp.MustCompile(`^[0-9]{5} [0-9]{1,5}\.[0-9]{3} [0-9.:a-f]+ [0-9a-f]{4} [0-9a-f]{2} \S+.*$`),
}

// statsConf is the statistics part of both daemons' configuration.
func statsConf(dir string) string {
	return fmt.Sprintf(`statsdir %s/
statistics loopstats peerstats rawstats protostats
filegen loopstats file loopstats type day enable
filegen peerstats file peerstats type day enable
filegen rawstats file rawstats type day link enable
filegen protostats file protostats type day enable
`, dir)
}

// readStats returns the lines of dir/name (the link to the current generation).
func readStats(t *testing.T, dir, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestStatsFilesMatchClassic: classic ntpd 4.2.8p15 and gontp, both synchronised to the same
// chronyd in the private network with the same statistics lines, write loopstats,
// peerstats, rawstats and protostats lines that one parser written from classic's
// documentation accepts, field by field; the base name is a hard link to today's
// generation (file.YYYYMMDD) in both.
func TestStatsFilesMatchClassic(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	testnet.Reference(t, "chronyd", "classic-ntpd")
	ntpd := binary(t, "ntpd")
	tn := testnet.New(t)
	ch, ch2 := tn.Host("chrony"), tn.Host("chrony2")
	ch3 := tn.Host("chrony3")
	ch4 := tn.Host("chrony4")
	ch5 := tn.Host("chrony5")
	cl, gh := tn.Host("classic"), tn.Host("gontp")
	testnet.Chronyd(t, ch, "local stratum 8\nallow\n")
	testnet.Chronyd(t, ch2, "local stratum 8\nallow\n")
	testnet.Chronyd(t, ch3, "local stratum 8\nallow\n")
	testnet.Chronyd(t, ch4, "local stratum 8\nallow\n")
	testnet.Chronyd(t, ch5, "local stratum 8\nallow\n")
	servers := ""
	for _, h := range []*testnet.Host{ch, ch2, ch3, ch4, ch5} {
		servers += fmt.Sprintf("server %s iburst minpoll 4 maxpoll 4\n", h.Addr())
	}
	cdir, gdir := t.TempDir(), t.TempDir()
	testnet.ClassicNTPD(t, cl, servers+statsConf(cdir))
	conf := testnet.WriteFile(t, "ntp.conf", servers+statsConf(gdir))
	// The virtual clock (10 ms ahead) is disciplined, so gontp writes loopstats as classic
	// does; the host clock is never touched.
	glog := filepath.Join(t.TempDir(), "ntpd.log")
	g := gh.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		ntpd, "-n", "-c", conf, "-l", glog, "--virtual-clock", "0.01,0")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(glog)
			ents, _ := os.ReadDir(gdir)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Logf("gontp's statistics directory: %v; its log:\n%s", names, b)
		}
	}()
	deadline := time.Now().Add(90 * time.Second)
	have := func(dir string) bool {
		for _, n := range []string{"loopstats", "peerstats", "rawstats", "protostats"} {
			if st, err := os.Stat(filepath.Join(dir, n)); err != nil || st.Size() == 0 {
				return false
			}
		}
		return true
	}
	for time.Now().Before(deadline) && !(have(cdir) && have(gdir)) {
		time.Sleep(time.Second)
	}
	if !have(gdir) {
		t.Fatalf("gontp wrote no statistics in 90 s (%v)", g.Exited())
	}
	if !have(cdir) {
		t.Fatalf("classic wrote no statistics in 90 s")
	}
	for _, name := range []string{"loopstats", "peerstats", "rawstats", "protostats"} {
		re := statsFormats[name]
		for who, dir := range map[string]string{"classic": cdir, "gontp": gdir} {
			lines := readStats(t, dir, name)
			for _, l := range lines {
				if !re.MatchString(l) {
					t.Errorf("%s %s: line %q does not parse", who, name, l)
				}
			}
			t.Logf("%s %s (%d lines), first: %s", who, name, len(lines), lines[0])
			if os.Getenv("GONTP_STATS_DUMP") != "" {
				t.Logf("%s %s:\n%s", who, name, strings.Join(lines, "\n"))
			}
			day := time.Now().UTC().Format("20060102")
			a, errA := os.Stat(filepath.Join(dir, name))
			b, errB := os.Stat(filepath.Join(dir, name+"."+day))
			if errA != nil || errB != nil || !os.SameFile(a, b) {
				t.Errorf("%s: %s is not a hard link to %s.%s (%v, %v)", who, name, name, day, errA, errB)
			} else if st := b.Sys().(*syscall.Stat_t); st.Nlink != 2 || b.Mode().Perm() != 0o644 {
				t.Errorf("%s: %s.%s has %d links and mode %v, want 2 and 0644", who, name, day, st.Nlink, b.Mode().Perm())
			}
		}
	}
	// The same fields in the same columns: compare the number of fields too.
	for _, name := range []string{"loopstats", "peerstats", "rawstats"} {
		c, gl := readStats(t, cdir, name), readStats(t, gdir, name)
		if len(c) > 0 && len(gl) > 0 && len(strings.Fields(c[0])) != len(strings.Fields(gl[0])) {
			t.Errorf("%s: classic has %d fields, gontp %d:\n%s\n%s", name, len(strings.Fields(c[0])), len(strings.Fields(gl[0])), c[0], gl[0])
		}
	}
}

// ntpvizPath is where scripts/install-test-deps unpacks NTPsec's ntpviz (Debian's
// ntpsec-ntpviz package, without its cron jobs).
const ntpvizPath = "/var/cache/gontp-test/ntpviz/root/usr/bin/ntpviz"

// TestNtpvizPlotsGontpStats: NTPsec's ntpviz reads the loopstats and peerstats gontp wrote
// while synchronised to three chronyd servers in the private network, and renders its plots
// (gnuplot PNG images and the index page) without an error.
func TestNtpvizPlotsGontpStats(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	testnet.Reference(t, "chronyd")
	if _, err := os.Stat(ntpvizPath); err != nil {
		msg := fmt.Sprintf("ntpviz is not installed (scripts/install-test-deps unpacks it): %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	needProgram(t, "gnuplot")
	ntpd := binary(t, "ntpd")
	tn := testnet.New(t)
	var servers string
	for i := range 3 {
		h := tn.Host(fmt.Sprintf("chrony%d", i))
		testnet.Chronyd(t, h, "local stratum 8\nallow\n")
		servers += fmt.Sprintf("server %s iburst minpoll 4 maxpoll 4\n", h.Addr())
	}
	gh := tn.Host("gontp")
	dir := t.TempDir()
	conf := testnet.WriteFile(t, "ntp.conf", servers+fmt.Sprintf("statsdir %s/\nstatistics loopstats peerstats\n", dir))
	gh.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		ntpd, "-n", "-c", conf, "--virtual-clock", "0.002,5")
	// ntpviz wants a few clock updates: iburst gives them within about half a minute.
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if len(readStatsQuiet(dir, "loopstats")) >= 4 && len(readStatsQuiet(dir, "peerstats")) >= 12 {
			break
		}
	}
	if n := len(readStatsQuiet(dir, "loopstats")); n < 2 {
		t.Fatalf("gontp wrote %d loopstats lines in 90 s", n)
	}
	out := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", ntpvizPath, "-d", dir, "-o", out, "-p", "1", "-n", "gontp-test")
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin", "PYTHONPATH=/usr/lib/python3/dist-packages")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ntpviz: %v\n%s", err, b)
	}
	index, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatalf("ntpviz wrote no index.html: %v\n%s", err, b)
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "*.png"))
	var plots []string
	for _, p := range pngs {
		if st, err := os.Stat(p); err == nil && st.Size() > 1000 && !strings.Contains(p, "logo") {
			plots = append(plots, filepath.Base(p))
		}
	}
	for _, want := range []string{"local-offset.png", "local-jitter.png", "local-stability.png", "peer-offsets.png"} {
		found := false
		for _, p := range plots {
			found = found || p == want
		}
		if !found {
			t.Errorf("ntpviz made no %s; it made %v\n%s", want, plots, b)
		}
	}
	if !strings.Contains(string(index), "gontp-test") {
		t.Errorf("index.html does not carry the site name")
	}
	t.Logf("ntpviz rendered %v", plots)
}

// readStatsQuiet returns the lines of dir/name, none if it cannot be read.
func readStatsQuiet(dir, name string) []string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestStatsRotateAtVirtualMidnight: gontp on a virtual clock set 20 s before the next UTC
// midnight (`disable ntp`, so it stays there) writes its rawstats, peerstats and protostats
// lines of the old day into NAME.YYYYMMDD of that day and those after midnight into the next
// day's file, and moves the NAME link to the new generation, as classic's filegen does.
func TestStatsRotateAtVirtualMidnight(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	testnet.Reference(t, "chronyd")
	ntpd := binary(t, "ntpd")
	tn := testnet.New(t)
	ch, gh := tn.Host("chrony"), tn.Host("gontp")
	testnet.Chronyd(t, ch, "local stratum 8\nallow\n")
	dir := t.TempDir()
	conf := testnet.WriteFile(t, "ntp.conf", fmt.Sprintf("server %s iburst minpoll 4 maxpoll 4\ndisable ntp\nstatsdir %s\nstatistics rawstats peerstats protostats\n", ch.Addr(), dir))
	now := time.Now().UTC()
	midnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	offset := midnight.Sub(now).Seconds() - 20
	before, after := midnight.Add(-time.Hour).Format("20060102"), midnight.Format("20060102")
	gh.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		ntpd, "-n", "-c", conf, "--virtual-clock", fmt.Sprintf("%.3f,0", offset))
	mjd := func(d time.Time) string { return fmt.Sprint(d.Unix()/86400 + 40587) }
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if len(readStatsQuiet(dir, "rawstats."+after)) >= 2 && len(readStatsQuiet(dir, "peerstats."+after)) >= 1 {
			break
		}
	}
	for _, name := range []string{"rawstats", "peerstats", "protostats"} {
		old, cur := readStatsQuiet(dir, name+"."+before), readStatsQuiet(dir, name+"."+after)
		if name != "protostats" && (len(old) == 0 || len(cur) == 0) {
			t.Errorf("%s: %d lines on %s, %d on %s; want both days", name, len(old), before, len(cur), after)
			continue
		}
		for _, l := range old {
			if !strings.HasPrefix(l, mjd(midnight.Add(-time.Hour))+" 863") && !strings.HasPrefix(l, mjd(midnight.Add(-time.Hour))+" 864") {
				t.Errorf("%s.%s: line %q is not of the last minute of its day", name, before, l)
			}
		}
		for _, l := range cur {
			if !strings.HasPrefix(l, mjd(midnight)+" ") {
				t.Errorf("%s.%s: line %q is not of the new day (MJD %s)", name, after, l, mjd(midnight))
			}
		}
		if len(cur) > 0 {
			a, _ := os.Stat(filepath.Join(dir, name))
			b, _ := os.Stat(filepath.Join(dir, name+"."+after))
			if a == nil || b == nil || !os.SameFile(a, b) {
				t.Errorf("%s does not link to %s.%s", name, name, after)
			}
		}
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	t.Logf("files: %v", names)
}

// TestStatsFilesBelongToDaemonUser: with `-u nobody` the statistics files are created after
// the privilege drop, by nobody, with mode 0644 whatever the umask, as classic's are.
func TestStatsFilesBelongToDaemonUser(t *testing.T) {
	testnet.Reference(t, "chronyd")
	ntpd := binary(t, "ntpd")
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "gontp-stats-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	tn := testnet.New(t)
	ch, gh := tn.Host("chrony"), tn.Host("gontp")
	testnet.Chronyd(t, ch, "local stratum 8\nallow\n")
	conf := testnet.WriteFile(t, "ntp.conf", fmt.Sprintf("server %s iburst\nstatsdir %s\nstatistics protostats peerstats\n", ch.Addr(), dir))
	gh.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		"sh", "-c", "umask 077; exec \"$0\" \"$@\"", ntpd, "-n", "-c", conf, "-u", "nobody", "--virtual-clock", "0.01,0")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if len(readStatsQuiet(dir, "peerstats")) > 0 {
			break
		}
	}
	for _, name := range []string{"protostats", "peerstats"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sys := st.Sys().(*syscall.Stat_t)
		if int(sys.Uid) != uid || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: owner %d mode %v, want nobody (%d) and 0644", name, sys.Uid, st.Mode().Perm(), uid)
		}
	}
}
