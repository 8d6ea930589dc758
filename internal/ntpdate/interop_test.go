package ntpdate

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// need skips the test, or fails it when CI=true (CI provides root and the reference programs).
func need(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// startDaemon runs argv, stopped by pid at cleanup.
func startDaemon(t *testing.T, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", argv[0], err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(argv[0]), log.String())
		}
	})
}

// TestInteropClassic runs chronyd on 127.0.0.2:123 and classic ntpd on 127.0.0.1:123 / [::1]:123
// (which is where it listens: lo's addresses), then gontp's ntpdate -q and classic
// ntpdate -q against both, and compares the lines field by field.
func TestInteropClassic(t *testing.T) {
	const ref = "/opt/ntp-reference/bin"
	_, err := os.Stat(filepath.Join(ref, "classic-ntpdate"))
	need(t, err == nil, "reference programs missing under "+ref+" (install with ../shared/tools/install-reference-ntp)")
	need(t, os.Geteuid() == 0, "needs root to run chronyd and ntpd on port 123")
	for _, a := range []string{"127.0.0.2:123", "127.0.0.1:123"} {
		c, err := net.ListenPacket("udp", a)
		if err != nil {
			need(t, false, "port 123 busy on "+a+": "+err.Error())
		}
		c.Close()
	}
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	chronyConf := write("chrony.conf", "local stratum 8\nallow 127.0.0.0/8\nport 123\nbindaddress 127.0.0.2\ncmdport 0\n"+
		"pidfile "+dir+"/chronyd.pid\ndriftfile "+dir+"/chrony.drift\n")
	ntpConf := write("ntp.conf", "disable ntp\nserver 127.127.1.0\nfudge 127.127.1.0 stratum 10\n"+
		"interface ignore wildcard\ninterface listen 127.0.0.1\ndriftfile "+dir+"/ntp.drift\n")
	startDaemon(t, ref+"/chronyd", "-x", "-d", "-u", "root", "-f", chronyConf)
	startDaemon(t, ref+"/classic-ntpd", "-n", "-c", ntpConf, "-p", dir+"/ntpd.pid")
	time.Sleep(3 * time.Second)

	servers := []string{"127.0.0.2", "127.0.0.1"}
	classicOut, err := exec.Command(ref+"/classic-ntpdate", append([]string{"-q"}, servers...)...).Output()
	if err != nil {
		t.Fatalf("classic-ntpdate: %v\n%s", err, classicOut)
	}
	o, err := Parse("ntpdate", append([]string{"-q"}, servers...))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cfg := Config{Clock: &fakeClock{}, Resolver: net.DefaultResolver, Stdout: &out, Stderr: &errb,
		Log: &TermLogger{Stdout: &out, Stderr: &errb, PID: os.Getpid(), Now: time.Now}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := Run(ctx, o, cfg); code != ExitOK {
		t.Fatalf("gontp ntpdate exit %d\n%s%s", code, out.String(), errb.String())
	}
	ours := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	theirs := strings.Split(strings.TrimSuffix(string(classicOut), "\n"), "\n")
	if len(ours) != len(theirs) {
		t.Fatalf("line count: ours\n%s\nclassic\n%s", out.String(), classicOut)
	}
	for i := range ours {
		if i == len(ours)-1 {
			a, b := summaryLine.FindStringSubmatch(ours[i]), summaryLine.FindStringSubmatch(theirs[i])
			if a == nil || b == nil || a[4] != b[4] || a[5] != b[5] || len(a[6]) != len(b[6]) {
				t.Errorf("summary: ours %q classic %q", ours[i], theirs[i])
			}
			continue
		}
		a, b := serverLine.FindStringSubmatch(ours[i]), serverLine.FindStringSubmatch(theirs[i])
		if a == nil || b == nil || a[1] != b[1] || a[2] != b[2] || len(a[3]) != len(b[3]) || len(a[4]) != len(b[4]) {
			t.Errorf("line %d: ours %q classic %q", i, ours[i], theirs[i])
			continue
		}
		for _, v := range []string{a[3], b[3]} {
			off, _ := atolfp(v)
			if off > 1<<32/1000 || off < -(1<<32/1000) {
				t.Errorf("offset %s of %s not within 1 ms of zero", v, a[1])
			}
		}
	}
	t.Logf("ours:\n%s\nclassic:\n%s", out.String(), classicOut)
}
