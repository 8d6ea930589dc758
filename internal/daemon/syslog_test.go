// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syslogSink is a fake /dev/log: a unixgram socket collecting datagrams.
func syslogSink(t *testing.T) (string, func() []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	read := func() []string {
		var out []string
		buf := make([]byte, 4096)
		for {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := c.Read(buf)
			if err != nil {
				return out
			}
			out = append(out, string(buf[:n]))
		}
	}
	return path, read
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 8, 17, 4, 5, 0, time.Local) }

func TestSyslogFormatAndPriority(t *testing.T) {
	path, read := syslogSink(t)
	out, err := NewLogOutput(LogSettings{SyslogPath: path, PID: 4242, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	log := slog.New(out.Handler())
	log.Info("Listen normally on 2 lo 127.0.0.1:123")
	log.Warn("careful", "addr", "198.18.0.2")
	log.Error("no servers can be used, system clock unsynchronized")
	log.Debug("not shown at info")
	got := read()
	want := []string{
		"<30>Nov  8 17:04:05 ntpd[4242]: Listen normally on 2 lo 127.0.0.1:123",
		"<28>Nov  8 17:04:05 ntpd[4242]: careful addr=198.18.0.2",
		"<27>Nov  8 17:04:05 ntpd[4242]: no servers can be used, system clock unsynchronized",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("syslog got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	out.Level().Set(slog.LevelDebug)
	log.Debug("now shown")
	if got := read(); len(got) != 1 || !strings.HasPrefix(got[0], "<31>") {
		t.Fatalf("debug after raising the level: %q", got)
	}
}

func TestSyslogAbsentThenBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	out, err := NewLogOutput(LogSettings{SyslogPath: path, PID: 1, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	log := slog.New(out.Handler())
	log.Info("lost: no syslog yet") // must not fail or block
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	log.Info("syslog is up")
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(time.Second))
	n, err := c.Read(buf)
	if err != nil || !strings.HasSuffix(string(buf[:n]), "ntpd[1]: syslog is up") {
		t.Fatalf("after syslog came up: %q, %v", buf[:n], err)
	}
}

func TestLogFileReopenAndSwitch(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ntp.log")
	out, err := NewLogOutput(LogSettings{File: f, PID: 7, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	log := slog.New(out.Handler())
	log.Info("one")
	// logrotate moves the file, then SIGHUP reopens it.
	if err := os.Rename(f, f+".1"); err != nil {
		t.Fatal(err)
	}
	log.Info("two")
	if err := out.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("three")
	old, _ := os.ReadFile(f + ".1")
	cur, _ := os.ReadFile(f)
	if string(old) != " 8 Nov 17:04:05 ntpd[7]: one\n 8 Nov 17:04:05 ntpd[7]: two\n" {
		t.Errorf("rotated file: %q", old)
	}
	if string(cur) != " 8 Nov 17:04:05 ntpd[7]: three\n" {
		t.Errorf("reopened file: %q", cur)
	}
	if err := out.SetFile(filepath.Join(dir, "missing", "x.log")); err == nil {
		t.Error("SetFile into a missing directory: no error")
	}
	log.Info("four")
	if cur, _ := os.ReadFile(f); !strings.HasSuffix(string(cur), "four\n") {
		t.Errorf("a failed SetFile must keep the old file: %q", cur)
	}
}

func TestLogconfigClasses(t *testing.T) {
	for _, c := range []struct {
		name string
		want logMask
		bad  bool
	}{
		{"syncall", 0xf000, false}, {"sysevents", 0x2, false}, {"clockall", 0x0f00, false},
		{"peerinfo", 0x10, false}, {"allinfo", 0x1111, false}, {"all", 0xffff, false},
		{"syncstatus", 0x4000, false}, {"allstatistics", 0x8888, false},
		{"sync", 0, true}, {"everything", 0, true}, {"sysall2", 0, true},
	} {
		got, err := parseLogClass(c.name)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseLogClass(%q) = %#x, %v; want %#x, error %v", c.name, got, err, c.want, c.bad)
		}
	}
	for msg, want := range map[string]logMask{
		"synchronized to 198.18.0.2, stratum 2":                 0x4000,
		"0.0.0.0 c016 06 restart":                               0x0002,
		"198.18.0.3 961a 8a sys_peer":                           0x0020,
		"127.127.1.0 901a 8a sys_peer":                          0x0200,
		"kernel reports TIME_ERROR: 0x41: Clock Unsynchronized": 0x2000,
		"Listen normally on 2 lo 127.0.0.1:123":                 0,
		"ntpd gontp-0.1.0: Starting":                            0,
	} {
		if got := classify(msg); got != want {
			t.Errorf("classify(%q) = %#x, want %#x", msg, got, want)
		}
	}
}

func TestLogconfigFilter(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ntp.log")
	out, err := NewLogOutput(LogSettings{File: f, PID: 7, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	log := slog.New(out.Handler())
	emit := func() {
		log.Info("0.0.0.0 c016 06 restart")
		log.Info("synchronized to 198.18.0.2, stratum 2")
		log.Info("198.18.0.3 961a 8a sys_peer")
		log.Error("an error is never filtered")
	}
	emit() // start-up: everything
	out.StartupDone()
	emit() // classic's default after start-up: the sync class only
	if err := out.SetLogconfig([]LogconfigItem{{Op: '=', Name: "syncall"}, {Op: '+', Name: "sysevents"}}); err != nil {
		t.Fatal(err)
	}
	emit()
	if err := out.SetLogconfig([]LogconfigItem{{Op: '=', Name: "all"}, {Op: '-', Name: "syncall"}, {Pos: "ntp.conf:3:11", Op: '+', Name: "bogus"}}); err == nil || !strings.Contains(err.Error(), "ntp.conf:3:11") {
		t.Errorf("unknown class: error %v", err)
	}
	emit()
	b, _ := os.ReadFile(f)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		got = append(got, strings.SplitN(l, ": ", 2)[1])
	}
	want := []string{
		"0.0.0.0 c016 06 restart", "synchronized to 198.18.0.2, stratum 2", "198.18.0.3 961a 8a sys_peer", "an error is never filtered",
		"synchronized to 198.18.0.2, stratum 2", "an error is never filtered",
		"0.0.0.0 c016 06 restart", "synchronized to 198.18.0.2, stratum 2", "an error is never filtered",
		"0.0.0.0 c016 06 restart", "198.18.0.3 961a 8a sys_peer", "an error is never filtered",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLogRateLimit: a stream of messages of one kind from the network (a different source
// address each time) costs limitBurst lines a minute, then one line saying how many were
// suppressed, never a flood.
func TestLogRateLimit(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ntp.log")
	now := fixedNow()
	out, err := NewLogOutput(LogSettings{File: f, PID: 7, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	out.StartupDone()
	log := slog.New(out.Handler())
	for i := range 10000 {
		log.Error(fmt.Sprintf("bad packet from 198.18.%d.%d", i/250, i%250))
		if i%10 == 0 {
			log.Error("some other error")
		}
	}
	now = now.Add(limitWindow)
	log.Error("bad packet from 198.18.0.1")
	b, _ := os.ReadFile(f)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2*limitBurst+2 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 2*limitBurst+2, b)
	}
	if !strings.Contains(lines[len(lines)-2], fmt.Sprintf("%d messages like the next one were suppressed", 10000-limitBurst)) {
		t.Errorf("summary line: %q", lines[len(lines)-2])
	}
}

func BenchmarkLogSuppressed(b *testing.B) {
	out, err := NewLogOutput(LogSettings{File: filepath.Join(b.TempDir(), "ntp.log"), PID: 7})
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	out.StartupDone()
	log := slog.New(out.Handler())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		log.Error("bad packet from 198.18.0.7", "n", i)
	}
}

// TestApplyLogging: `logfile` moves the log to the file unless -l named one; `logconfig`
// applies.
func TestApplyLogging(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ntp.conf")
	logf := filepath.Join(dir, "from-conf.log")
	os.WriteFile(conf, []byte("logfile "+logf+"\nlogconfig =syncall +sysevents\n"), 0o644)
	cfg, err := ParseConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	path, read := syslogSink(t)
	out, err := NewLogOutput(LogSettings{SyslogPath: path, PID: 9, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	log := slog.New(out.Handler())
	applyLogging(Options{LogOutput: out}, cfg, log)
	out.StartupDone()
	log.Info("0.0.0.0 c016 06 restart")
	log.Info("198.18.0.3 961a 8a sys_peer")
	if got := read(); len(got) != 0 {
		t.Errorf("syslog still used after logfile: %q", got)
	}
	b, _ := os.ReadFile(logf)
	if string(b) != " 8 Nov 17:04:05 ntpd[9]: 0.0.0.0 c016 06 restart\n" {
		t.Errorf("logfile holds %q", b)
	}

	cmdline := filepath.Join(dir, "cmdline.log")
	out2, err := NewLogOutput(LogSettings{File: cmdline, PID: 9, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer out2.Close()
	applyLogging(Options{LogOutput: out2, LogFileFromCommandLine: true}, cfg, log)
	if out2.File() != cmdline {
		t.Errorf("with -l, logfile moved the log to %q", out2.File())
	}
}
