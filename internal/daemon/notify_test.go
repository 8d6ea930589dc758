// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gontp/internal/snapshot"
)

func TestNotifierMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	sink, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	env := map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"}
	n, err := NewNotifier(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.WatchdogInterval(); got != 1500*time.Millisecond {
		t.Errorf("WatchdogInterval = %v, want 1.5s", got)
	}
	if err := n.Ready("unsynchronised"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	sink.SetReadDeadline(time.Now().Add(time.Second))
	k, err := sink.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := "READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()) + "\nSTATUS=unsynchronised"
	if string(buf[:k]) != want {
		t.Errorf("got %q, want %q", buf[:k], want)
	}
}

func TestNotifierEnvironment(t *testing.T) {
	none, err := NewNotifier(func(string) string { return "" })
	if none != nil || err != nil {
		t.Fatalf("no NOTIFY_SOCKET: %v, %v", none, err)
	}
	// A nil Notifier does nothing, so callers need no checks.
	if err := none.Send("READY=1"); err != nil || none.WatchdogInterval() != 0 || none.Close() != nil {
		t.Error("nil Notifier is not inert")
	}
	for _, env := range []map[string]string{
		{"NOTIFY_SOCKET": "relative/path"},
		{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "soon"},
		{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "0"},
	} {
		if _, err := NewNotifier(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v: no error", env)
		}
	}
	other := map[string]string{"NOTIFY_SOCKET": "@gontp-test", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
	n, err := NewNotifier(func(k string) string { return other[k] })
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.WatchdogInterval() != 0 {
		t.Error("the watchdog of another process (WATCHDOG_PID) was taken as ours")
	}
}

func TestSyncStatus(t *testing.T) {
	if got := SyncStatus(&snapshot.Snapshot{Sys: snapshot.SysVars{Leap: 3, Stratum: 16}}); !strings.HasPrefix(got, "unsynchronised") {
		t.Errorf("unsynchronised: %q", got)
	}
	s := &snapshot.Snapshot{Sys: snapshot.SysVars{Leap: 0, Stratum: 2, RefID: 198<<24 | 18<<16 | 2}, Offset: 0.0012}
	if got, want := SyncStatus(s), "synchronised to 198.18.0.2 at stratum 2, offset +1.200 ms"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	s = &snapshot.Snapshot{Sys: snapshot.SysVars{Leap: 0, Stratum: 1, RefID: 'G'<<24 | 'P'<<16 | 'S'<<8}}
	if got := SyncStatus(s); !strings.HasPrefix(got, "synchronised to .GPS. at stratum 1") {
		t.Errorf("stratum 1: %q", got)
	}
}

func TestDebugLevels(t *testing.T) {
	for n := 0; n < 5; n++ {
		if got := DebugLevel(LevelFor(n)); got != n {
			t.Errorf("DebugLevel(LevelFor(%d)) = %d", n, got)
		}
	}
	if LevelFor(1) != slog.LevelDebug || LevelFor(0) != slog.LevelInfo || DebugLevel(slog.LevelError) != 0 {
		t.Error("level 1 must be slog debug and 0 info")
	}
}

// TestSignalsMoveDebugLevel sends SIGUSR1 twice and SIGUSR2 once to this process, and SIGHUP,
// which must arrive on the reload channel.
func TestSignalsMoveDebugLevel(t *testing.T) {
	ctx := t.Context()
	var level slog.LevelVar
	log := slog.New(slog.DiscardHandler)
	reload := HandleSignals(ctx, &level, log)
	send := func(s syscall.Signal, want int) {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), s); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for DebugLevel(level.Level()) != want {
			if time.Now().After(deadline) {
				t.Fatalf("after %v the debug level is %d, want %d", s, DebugLevel(level.Level()), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	send(syscall.SIGUSR1, 1)
	send(syscall.SIGUSR1, 2)
	send(syscall.SIGUSR2, 1)
	send(syscall.SIGUSR2, 0)
	send(syscall.SIGUSR2, 0)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	select {
	case <-reload:
	case <-time.After(2 * time.Second):
		t.Fatal("SIGHUP did not ask for a reload")
	}
}

func TestReadinessPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	r := &Readiness{f: pw, wait: true}
	r.Running()
	r.Synced()
	r.Synced() // closed: nothing more
	r.Fail(os.ErrNotExist)
	b := make([]byte, 64)
	n, _ := pr.Read(b)
	if string(b[:n]) != "R\nS\n" {
		t.Errorf("pipe carried %q", b[:n])
	}
	var none *Readiness
	none.Running() // not detached: nothing happens
	if none.Detached() {
		t.Error("nil Readiness is detached")
	}
}

func TestGroupTextsSeparateReloadableGroups(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.conf")
	b := filepath.Join(dir, "b.conf")
	os.WriteFile(a, []byte("server 198.18.0.2 iburst\nserver 127.127.1.0\nrestrict default nomodify\nlogfile /tmp/x\ntinker panic 0\n"), 0o644)
	os.WriteFile(b, []byte("server 198.18.0.3\npeer 198.18.0.4\nserver 127.127.1.1\nrestrict default nomodify noquery\ntinker panic 0 freq 12\ndisable monitor\n"), 0o644)
	ca, _ := ParseConfigFile(a)
	cb, _ := ParseConfigFile(b)
	ga, gb := groupTexts(ca), groupTexts(cb)
	var changed []string
	for _, k := range []string{"restrict", "refclock", "tinker", "tinker freq", "flag monitor", "server", "peer", "flag ntp"} {
		if ga[k] != gb[k] {
			changed = append(changed, k)
		}
	}
	if got := strings.Join(changed, ","); got != "restrict,refclock,tinker freq,flag monitor" {
		t.Errorf("changed groups %q, want restrict,refclock,tinker freq,flag monitor", got)
	}
}
