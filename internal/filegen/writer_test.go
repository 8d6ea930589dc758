// SPDX-License-Identifier: BSD-2-Clause

package filegen

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gontp/internal/stats"
	"gontp/ntpconf"
)

// virtualClock is a clock the test moves.
type virtualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *virtualClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *virtualClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func config(t *testing.T, dir, text string) stats.Config {
	t.Helper()
	cfg, err := ntpconf.ParseBytes("ntp.conf", []byte("statsdir "+dir+"\n"+text))
	if err != nil {
		t.Fatal(err)
	}
	c, warns := FromConfig(cfg, "")
	if len(warns) > 0 {
		t.Fatalf("warnings: %v", warns)
	}
	return c
}

func newWriter(t *testing.T, c stats.Config, clk *virtualClock) (*Writer, *bytes.Buffer) {
	var log bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return log.Write(p) }), nil)
	w := New(c, Options{Log: slog.New(h), Now: clk.Now, Start: clk.Now(), PID: 4242})
	w.Start()
	return w, &log
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// flush waits until the writer has written everything queued so far.
func flush(w *Writer) { w.Flush() }

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRotationAtMidnight: with the clock crossing midnight, the records before go to
// loopstats.20261206, those after to loopstats.20261207, and the base name follows the
// new generation as a hard link (classic filegen_setup/filegen_open).
func TestRotationAtMidnight(t *testing.T) {
	dir := t.TempDir()
	clk := &virtualClock{t: time.Date(2026, 12, 6, 23, 59, 58, 0, time.UTC)}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	w, log := newWriter(t, config(t, dir, "statistics loopstats peerstats\nfilegen peerstats type none\n"), clk)
	w.LoopStats(clk.Now(), stats.Loop{Offset: 0.001, Poll: 6})
	flush(w)
	clk.Set(clk.Now().Add(3 * time.Second))
	w.LoopStats(clk.Now(), stats.Loop{Offset: 0.002, Poll: 6})
	w.PeerStats(clk.Now(), stats.Peer{Status: 0x9614})
	w.Close()
	if got, want := read(t, filepath.Join(dir, "loopstats.20261206")), "61380 86398.000 0.001000000 0.000 0.000000000 0.000000 6\n"; got != want {
		t.Errorf("loopstats.20261206 = %q, want %q", got, want)
	}
	if got, want := read(t, filepath.Join(dir, "loopstats.20261207")), "61381 1.000 0.002000000 0.000 0.000000000 0.000000 6\n"; got != want {
		t.Errorf("loopstats.20261207 = %q, want %q", got, want)
	}
	a, _ := os.Stat(filepath.Join(dir, "loopstats"))
	b, _ := os.Stat(filepath.Join(dir, "loopstats.20261207"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Errorf("loopstats is not linked to loopstats.20261207")
	}
	if st, _ := os.Stat(filepath.Join(dir, "loopstats.20261206")); st.Sys().(*syscall.Stat_t).Nlink != 1 || st.Mode().Perm() != 0o644 {
		t.Errorf("loopstats.20261206: %d links, mode %v; want 1 and 0644 (whatever the umask)", st.Sys().(*syscall.Stat_t).Nlink, st.Mode().Perm())
	}
	// type none: the plain name, no generations.
	if got := read(t, filepath.Join(dir, "peerstats")); !strings.HasPrefix(got, "61381 1.000 - 9614 ") {
		t.Errorf("peerstats = %q", got)
	}
	if c := w.Counts(stats.LoopStats); c.Written != 2 || c.Failed != 0 || c.Dropped != 0 {
		t.Errorf("loopstats counts %+v", c)
	}
	if log.Len() != 0 {
		t.Errorf("unexpected log: %s", log)
	}
}

// TestMissingAndVanishedDirectory: a statistics directory that does not exist is named
// once (information: classic is silent there) and the lost lines counted; once it exists
// the lines are written; when it vanishes, the next generation cannot be opened, which is
// logged once as an error and counted, and the daemon goes on.
func TestMissingAndVanishedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ntpstats")
	clk := &virtualClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	w, log := newWriter(t, config(t, dir, "statistics protostats loopstats\n"), clk)
	for range 3 {
		w.ProtoStats("0.0.0.0 c016 06 restart")
		w.LoopStats(clk.Now(), stats.Loop{})
	}
	flush(w)
	if c := w.Counts(stats.ProtoStats); c.Failed != 3 || c.Written != 0 {
		t.Errorf("counts %+v, want 3 failed", c)
	}
	if n := strings.Count(log.String(), "does not exist"); n != 1 || strings.Contains(log.String(), "level=ERROR") {
		t.Errorf("want one line about the missing directory:\n%s", log)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Minute)) // the open is tried again a minute later
	w.ProtoStats("0.0.0.0 c615 05 clock_sync")
	flush(w)
	if got := read(t, filepath.Join(dir, "protostats")); got != "61380 43260.000 0.0.0.0 c615 05 clock_sync\n" {
		t.Errorf("protostats = %q", got)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(24 * time.Hour))
	for range 4 {
		w.ProtoStats("0.0.0.0 c618 08 no_sys_peer")
	}
	w.Close()
	if c := w.Counts(stats.ProtoStats); c.Failed != 7 || c.Written != 1 {
		t.Errorf("counts %+v, want 7 failed, 1 written", c)
	}
	if n := strings.Count(log.String(), "level=ERROR"); n != 1 || !strings.Contains(log.String(), "protostats.20261207: open") {
		t.Errorf("want one error line for the vanished directory:\n%s", log)
	}
}

// TestPlainFileUnderBaseName: a plain file where the link goes is saved as BASE.PIDC0, as
// classic does, and the link made.
func TestPlainFileUnderBaseName(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sysstats"), []byte("old\n"), 0o644)
	clk := &virtualClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	w, _ := newWriter(t, config(t, dir, "statistics sysstats\n"), clk)
	w.SysStats(stats.Sys{Seconds: 3600})
	w.Close()
	if got := read(t, filepath.Join(dir, "sysstats.4242C0")); got != "old\n" {
		t.Errorf("saved file = %q", got)
	}
	if got := read(t, filepath.Join(dir, "sysstats")); got != "61380 43200.000 3600 0 0 0 0 0 0 0 0 0 0\n" {
		t.Errorf("sysstats = %q", got)
	}
}

// TestApplyAndDisable: `disable stats`, a disabled file set and a reload that changes the
// file name take effect at the next record.
func TestApplyAndDisable(t *testing.T) {
	dir := t.TempDir()
	clk := &virtualClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	w, _ := newWriter(t, config(t, dir, "statistics loopstats\ndisable stats\n"), clk)
	w.LoopStats(clk.Now(), stats.Loop{})
	flush(w)
	if _, err := os.Stat(filepath.Join(dir, "loopstats")); err == nil {
		t.Errorf("disable stats: loopstats written")
	}
	w.Apply(config(t, dir, "statistics loopstats\nfilegen loopstats file loops type month nolink\n"))
	w.LoopStats(clk.Now(), stats.Loop{})
	w.ClockStats("127.127.20.0", "not enabled")
	w.Close()
	if _, err := os.Stat(filepath.Join(dir, "loops.202612")); err != nil {
		t.Errorf("after the reload: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "loops")); err == nil {
		t.Errorf("nolink: the base name exists")
	}
	if _, err := os.Stat(filepath.Join(dir, "clockstats")); err == nil {
		t.Errorf("clockstats written although not enabled")
	}
}

// TestFromConfigDebian: Debian's default ntp.conf statistics lines give no warning, and
// `ntpd -s` wins over statsdir.
func TestFromConfigDebian(t *testing.T) {
	cfg, err := ntpconf.ParseBytes("ntp.conf", []byte(`statsdir /var/log/ntpstats/
statistics loopstats peerstats clockstats
filegen loopstats file loopstats type day enable
filegen peerstats file peerstats type day enable
filegen clockstats file clockstats type day enable
`))
	if err != nil {
		t.Fatal(err)
	}
	c, warns := FromConfig(cfg, "")
	if len(warns) != 0 || c.Dir != "/var/log/ntpstats/" || !c.Enabled(stats.LoopStats) || !c.Enabled(stats.ClockStats) || c.Enabled(stats.RawStats) {
		t.Errorf("%+v %v", c, warns)
	}
	if c, _ := FromConfig(cfg, "/srv/stats"); c.Dir != "/srv/stats/" {
		t.Errorf("-s: dir %q", c.Dir)
	}
	cfg, _ = ntpconf.ParseBytes("ntp.conf", []byte("filegen peerstats file ../../etc/passwd\n"))
	if c, warns := FromConfig(cfg, ""); len(warns) != 1 || c.Gens[stats.PeerStats].File != "peerstats" || !strings.Contains(warns[0], "ntp.conf:1:") {
		t.Errorf("a climbing file name: %v, %q", warns, c.Gens[stats.PeerStats].File)
	}
}

// TestFullDisk: writes that fail with ENOSPC (the file set is /dev/full) are logged once,
// counted, and the writer goes on.
func TestFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, "loopstats")); err != nil {
		t.Fatal(err)
	}
	clk := &virtualClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	w, log := newWriter(t, config(t, dir, "statistics loopstats\nfilegen loopstats type none\n"), clk)
	for i := range 3 {
		w.LoopStats(clk.Now(), stats.Loop{Poll: int8(i)})
		flush(w)
	}
	w.Close()
	if c := w.Counts(stats.LoopStats); c.Failed != 3 || c.Written != 0 {
		t.Errorf("counts %+v, want 3 lost", c)
	}
	if n := strings.Count(log.String(), "no space left on device"); n != 1 {
		t.Errorf("%d log lines about the full disk, want 1:\n%s", n, log)
	}
}
