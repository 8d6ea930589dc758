// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"gontp/internal/snapshot"
)

// Notifier speaks systemd's sd_notify protocol: datagrams of "KEY=value" lines to the
// socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Under
// Type=notify systemd waits for READY=1; under Type=forking it accepts the messages from the
// main PID too (NotifyAccess=main is the default for both), so the same code serves both.
type Notifier struct {
	addr     *net.UnixAddr
	conn     *net.UnixConn
	watchdog time.Duration
}

// NewNotifier reads $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID from env (os.Getenv
// when nil). It returns nil, nil when systemd asked for nothing: every method of a nil
// Notifier does nothing.
func NewNotifier(env func(string) string) (*Notifier, error) {
	if env == nil {
		env = os.Getenv
	}
	path := env("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "@") {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: not a path or an abstract socket name", path)
	}
	n := &Notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
	if strings.HasPrefix(path, "@") {
		n.addr.Name = "\x00" + path[1:]
	}
	if us := env("WATCHDOG_USEC"); us != "" {
		v, err := strconv.ParseUint(us, 10, 63)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("WATCHDOG_USEC=%q: not a positive number of microseconds", us)
		}
		// The watchdog is ours only when WATCHDOG_PID is unset or names this process
		// (sd_watchdog_enabled).
		if p := env("WATCHDOG_PID"); p == "" || p == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(v) * time.Microsecond
		}
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("sd_notify socket: %w", err)
	}
	n.conn = c
	return n, nil
}

// WatchdogInterval is how often WATCHDOG=1 must be sent: half of WATCHDOG_USEC, as
// sd_watchdog_enabled(3) advises; 0 when systemd has no watchdog for this process.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog / 2
}

// Send sends one notification, e.g. "READY=1\nSTATUS=...".
func (n *Notifier) Send(state string) error {
	if n == nil {
		return nil
	}
	if _, err := n.conn.WriteToUnix([]byte(state), n.addr); err != nil {
		return fmt.Errorf("sd_notify %s: %w", strings.ReplaceAll(state, "\n", " "), err)
	}
	return nil
}

// Ready says the daemon has bound its sockets and written its pid file (MAINPID tells
// systemd which process it is, which matters when a wrapper forked it).
func (n *Notifier) Ready(status string) error {
	return n.Send(fmt.Sprintf("READY=1\nMAINPID=%d\nSTATUS=%s", os.Getpid(), status))
}

// Close closes the socket.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	return n.conn.Close()
}

// SyncStatus is the STATUS= text for a snapshot: the sync state in one line, as an
// administrator would read it from `ntpq -c rv`.
func SyncStatus(s *snapshot.Snapshot) string {
	if s == nil || !s.Sys.Synchronised() {
		return "unsynchronised (stratum 16, leap alarm)"
	}
	return fmt.Sprintf("synchronised to %s at stratum %d, offset %+.3f ms", refIDString(s.Sys.RefID, s.Sys.Stratum), s.Sys.Stratum, s.Offset*1e3)
}

// refIDString prints a refid as ntpq does: four characters at stratum 0 and 1, an IPv4
// address (or the hash of an IPv6 one) above.
func refIDString(id uint32, stratum uint8) string {
	if stratum <= 1 {
		b := []byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
		return "." + strings.TrimRight(string(b), "\x00") + "."
	}
	return fmt.Sprintf("%d.%d.%d.%d", byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}
