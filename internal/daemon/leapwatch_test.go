// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// leapList is a leap-seconds file (ignorehash) that expires at expires, with TAI-UTC 37
// since 2017.
func leapList(expires time.Time) string {
	const ntpUnix = 2208988800
	return fmt.Sprintf("#$\t3676924800\n#@\t%d\n3692217600\t37\n", expires.Unix()+ntpUnix)
}

// TestClockWatchLeap: the leap file is read again when its size or modification time
// change on disk, not otherwise; a vanished or broken file keeps the table in use.
func TestClockWatchLeap(t *testing.T) {
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 100)
	lf := filepath.Join(t.TempDir(), "leap-seconds.list")
	if err := os.WriteFile(lf, []byte(leapList(day)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, log := clockFor(t, "leapfile "+lf+" ignorehash\n", ClockOptions{VirtualClock: "0,0"})
	first := "expire=" + day.Format("2006-01-02")
	if !strings.Contains(log.String(), first) {
		t.Fatalf("log:\n%s", log)
	}
	if c.WatchLeap() {
		t.Errorf("WatchLeap read the unchanged file again:\n%s", log)
	}

	// tzdata's update: a new file put in place by a rename, with a later expiry.
	later := day.AddDate(0, 0, 180)
	tmp := lf + ".new"
	if err := os.WriteFile(tmp, []byte(leapList(later)+"# updated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, lf); err != nil {
		t.Fatal(err)
	}
	if !c.WatchLeap() {
		t.Fatalf("WatchLeap did not notice the new file:\n%s", log)
	}
	if c.leapTab == nil || !c.leapTab.Expires.Equal(later) {
		t.Errorf("table after the change expires %v, want %v", c.leapTab.Expires, later)
	}
	if !strings.Contains(log.String(), "changed on disk") || !strings.Contains(log.String(), "expire="+later.Format("2006-01-02")) {
		t.Errorf("log:\n%s", log)
	}
	if c.WatchLeap() {
		t.Error("WatchLeap read the file again without a change")
	}

	// Same size, another modification time: read again.
	if err := os.Chtimes(lf, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !c.WatchLeap() {
		t.Error("WatchLeap did not notice the new modification time")
	}

	// Gone: reported once, the table stays.
	if err := os.Remove(lf); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	c.WatchLeap()
	c.WatchLeap()
	if n := strings.Count(log.String(), "keeping the leap second information in use"); n != 1 {
		t.Errorf("vanished file reported %d times:\n%s", n, log)
	}
	if c.leapTab == nil || !c.leapTab.Expires.Equal(later) {
		t.Error("the table in use was dropped with the file")
	}

	// Back, but broken: reported, the table stays, and it is not read again until it changes.
	if err := os.WriteFile(lf, []byte("3692217600\tnot a number\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	if !c.WatchLeap() || !strings.Contains(log.String(), "running without leap second information") {
		t.Errorf("broken file: log:\n%s", log)
	}
	if c.leapTab == nil || !c.leapTab.Expires.Equal(later) {
		t.Error("a broken new file replaced the table in use")
	}
	if c.WatchLeap() {
		t.Error("the broken file was read again without a change")
	}
}

// syncBuffer is a log destination safe for the daemon's goroutines and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDaemonRereadsChangedLeapFile: a running daemon picks up a leap file that tzdata
// replaced, without a SIGHUP or a restart. The daemon listens on loopback only, on a free
// port, on its virtual clock, with no association.
func TestDaemonRereadsChangedLeapFile(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()

	dir := t.TempDir()
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 100)
	lf := filepath.Join(dir, "leap-seconds.list")
	if err := os.WriteFile(lf, []byte(leapList(day)), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(conf, []byte("leapfile "+lf+" ignorehash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigFile: conf, Port: port, Interfaces: []string{"127.0.0.1"},
			Clock: ClockOptions{VirtualClock: "0,0"}, LeapCheckInterval: 20 * time.Millisecond},
			slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitLog := func(what string) {
		t.Helper()
		for range 1000 { // up to 20 s; the check runs every 20 ms
			if strings.Contains(logs.String(), what) {
				return
			}
			select {
			case err := <-done:
				done <- err
				t.Fatalf("the daemon stopped (%v) before logging %q:\n%s", err, what, logs.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
		t.Fatalf("no %q in the log:\n%s", what, logs.String())
	}
	waitLog("expire=" + day.Format("2006-01-02"))

	later := day.AddDate(0, 0, 180)
	tmp := lf + ".new"
	if err := os.WriteFile(tmp, []byte(leapList(later)+"# updated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, lf); err != nil {
		t.Fatal(err)
	}
	waitLog("expire=" + later.Format("2006-01-02"))
	if n := strings.Count(logs.String(), "changed on disk"); n != 1 {
		t.Errorf("the file was read again %d times after one change:\n%s", n, logs.String())
	}
}
