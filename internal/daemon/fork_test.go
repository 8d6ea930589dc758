// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDetachChild is not a test of its own: Detach re-runs the test binary with
// -test.run=TestDetachChild, and this plays the daemon child, doing what $GONTP_TEST_CHILD
// says on the readiness pipe.
func TestDetachChild(t *testing.T) {
	mode, ok := os.LookupEnv("GONTP_TEST_CHILD")
	if !ok {
		t.Skip("helper process for TestDetach")
	}
	r, err := DetachedChild()
	if err != nil || r == nil {
		os.Exit(3)
	}
	if os.Getenv(detachEnv) != "" {
		os.Exit(4) // must be removed from the environment
	}
	switch mode {
	case "run":
		r.Running()
	case "sync":
		r.Running()
		time.Sleep(100 * time.Millisecond)
		r.Synced()
	case "fail":
		r.Fail(errors.New("configuration file: open /etc/nope.conf: no such file or directory"))
	case "die":
	case "nosync":
		r.Running()
		// Outlives the parent's -w 1 a little, then ends by itself (Detach does not
		// give the parent the child's pid to stop, just as classic's parent does not).
		time.Sleep(1500 * time.Millisecond)
	}
	os.Exit(0)
}

func TestDetach(t *testing.T) {
	if os.Getenv("GONTP_TEST_CHILD") != "" {
		t.Skip("in the helper process")
	}
	for _, c := range []struct {
		mode string
		wait time.Duration
		code int
		err  string
	}{
		{"run", 0, 0, ""},
		{"sync", 5 * time.Second, 0, ""},
		{"fail", 0, 1, "ntpd: configuration file: open /etc/nope.conf"},
		{"die", 0, 1, "ended before it was running"},
		{"nosync", time.Second, ETIMEDOUT, "ntpd: -w/--wait-sync 1 timed out."},
	} {
		t.Setenv("GONTP_TEST_CHILD", c.mode)
		var stderr bytes.Buffer
		code := Detach([]string{"ntpd", "-test.run=^TestDetachChild$"}, c.wait, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.err) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.mode, code, stderr.String(), c.code, c.err)
		}
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "WATCHDOG_PID=77", "WATCHDOG_USEC=1000", detachEnv + "=3", "NOTIFY_SOCKET=/run/n"}, 77)
	want := "PATH=/bin WATCHDOG_USEC=1000 NOTIFY_SOCKET=/run/n"
	if strings.Join(got, " ") != want {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
	got = childEnv([]string{"WATCHDOG_PID=5"}, 77)
	if strings.Join(got, " ") != "WATCHDOG_PID=5" {
		t.Errorf("a watchdog for another process was taken: %q", got)
	}
}
