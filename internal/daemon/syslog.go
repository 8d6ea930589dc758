// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultSyslogPath is the local syslog socket ntpd's syslog(3) writes to.
const DefaultSyslogPath = "/dev/log"

// syslogFacilityDaemon is LOG_DAEMON, the facility classic ntpd opens syslog with.
const syslogFacilityDaemon = 3

// LogSettings say where a LogOutput writes at start.
type LogSettings struct {
	// File is -l FILE: log to this file instead of syslog. Empty: syslog.
	File string
	// SyslogPath is the syslog socket (DefaultSyslogPath when empty).
	SyslogPath string
	// Stdout and Stderr, when set, also receive every line, errors on Stderr, as classic
	// ntpd prints its messages on the terminal when it does not fork (-n) and logs to
	// syslog. They are ignored while logging to a file, as classic does.
	Stdout, Stderr io.Writer
	Ident          string // "ntpd"
	PID            int
	Now            func() time.Time
	// Level is the least level written; SIGUSR1/SIGUSR2 move it. Nil: info.
	Level *slog.LevelVar
}

// LogOutput is where the daemon's messages go: syslog by default (facility daemon, ident
// "ntpd[PID]"), or a log file (-l, `logfile`), switchable while running: SIGHUP reopens the
// file (for logrotate) and a reloaded `logfile` line moves it. It filters records by the
// `logconfig` classes and limits repeated messages, so that input from the network can never
// flood the log. It is safe for concurrent use.
type LogOutput struct {
	mu       sync.Mutex
	set      LogSettings
	file     string
	f        *os.File
	sys      *syslogConn
	mask     logMask
	maskSet  bool // a logconfig line set the mask
	started  bool // start-up is over: the default mask applies
	limit    limiter
	lastWarn time.Time // last "cannot write to syslog" complaint on stderr
}

// NewLogOutput opens the log destination: the file when settings.File is set (an error if it
// cannot be opened), else the syslog socket (which may come and go: a missing socket is
// retried at each message, as syslog(3) does).
func NewLogOutput(s LogSettings) (*LogOutput, error) {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Level == nil {
		s.Level = new(slog.LevelVar)
	}
	if s.SyslogPath == "" {
		s.SyslogPath = DefaultSyslogPath
	}
	if s.Ident == "" {
		s.Ident = "ntpd"
	}
	o := &LogOutput{set: s, mask: maskAll}
	o.limit.init()
	if s.File != "" {
		if err := o.SetFile(s.File); err != nil {
			return nil, err
		}
	} else {
		o.sys = &syslogConn{path: s.SyslogPath}
	}
	return o, nil
}

// Level is the level variable SIGUSR1 and SIGUSR2 move.
func (o *LogOutput) Level() *slog.LevelVar { return o.set.Level }

// Handler returns the slog.Handler that writes to o.
func (o *LogOutput) Handler() slog.Handler { return &logHandler{out: o} }

// SetFile logs to the file path from now on (appending, created 0644 as classic does); an
// empty path returns to syslog. On error the previous destination stays.
func (o *LogOutput) SetFile(path string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if path == "" {
		if o.f != nil {
			o.f.Close()
			o.f, o.file = nil, ""
		}
		if o.sys == nil {
			o.sys = &syslogConn{path: o.set.SyslogPath}
		}
		return nil
	}
	if path == o.file && o.f != nil {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("logfile %s: %w", path, err)
	}
	if o.f != nil {
		o.f.Close()
	}
	if o.sys != nil {
		o.sys.close()
		o.sys = nil
	}
	o.f, o.file = f, path
	return nil
}

// Reopen closes and reopens the log file under its name (SIGHUP after logrotate moved it),
// or reconnects to syslog.
func (o *LogOutput) Reopen() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		if o.sys != nil {
			o.sys.close()
		}
		return nil
	}
	f, err := os.OpenFile(o.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("reopening logfile %s: %w", o.file, err)
	}
	o.f.Close()
	o.f = f
	return nil
}

// File is the log file in use, "" for syslog.
func (o *LogOutput) File() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.file
}

// SetLogconfig applies `logconfig` items in order ('=' sets, '+' adds, '-' removes), as
// classic does; no items restores the default. Unknown names are an error naming them; the
// known ones still apply.
func (o *LogOutput) SetLogconfig(items []LogconfigItem) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(items) == 0 {
		o.maskSet = false
		o.mask = maskAll
		return nil
	}
	var errs []error
	mask := maskAll
	for _, it := range items {
		m, err := parseLogClass(it.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", it.Pos, err))
			continue
		}
		switch it.Op {
		case '=':
			mask = m
		case '-':
			mask &^= m
		default:
			mask |= m
		}
	}
	o.mask, o.maskSet = mask, true
	return errors.Join(errs...)
}

// LogconfigItem is one logconfig word with its position for messages.
type LogconfigItem struct {
	Pos  string
	Op   byte
	Name string
}

// StartupDone ends start-up: from now on, without a logconfig line, only the sync class is
// logged (classic logs everything while it starts, then as if `logconfig =syncall`).
func (o *LogOutput) StartupDone() {
	o.mu.Lock()
	o.started = true
	o.mu.Unlock()
}

// Close closes the file or the syslog socket.
func (o *LogOutput) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sys != nil {
		o.sys.close()
	}
	if o.f != nil {
		return o.f.Close()
	}
	return nil
}

// write sends one record to the destination, after the class filter and the rate limit.
func (o *LogOutput) write(level slog.Level, msg, attrs string) error {
	class := classify(msg)
	o.mu.Lock()
	defer o.mu.Unlock()
	mask := o.mask
	if !o.maskSet && o.started {
		mask = maskDefault
	}
	if class != 0 && mask&class == 0 {
		return nil
	}
	now := o.set.Now()
	ok, suppressed := true, 0
	if o.started {
		// Start-up lines (one "Listen normally on" per address) are bounded by the
		// host; only what comes later can be driven from the network.
		ok, suppressed = o.limit.allow(msg, now)
	}
	if !ok {
		return nil
	}
	if suppressed > 0 {
		if err := o.emit(slog.LevelWarn, fmt.Sprintf("%d messages like the next one were suppressed in the last %v", suppressed, limitWindow), now); err != nil {
			return err
		}
	}
	return o.emit(level, msg+attrs, now)
}

func (o *LogOutput) emit(level slog.Level, text string, now time.Time) error {
	if o.f != nil {
		// classic humanlogtime(): "%2d %s %02d:%02d:%02d".
		_, err := fmt.Fprintf(o.f, "%s %s[%d]: %s\n", now.Format("_2 Jan 15:04:05"), o.set.Ident, o.set.PID, text)
		return err
	}
	line := fmt.Sprintf("%s %s[%d]: %s\n", now.Format("_2 Jan 15:04:05"), o.set.Ident, o.set.PID, text)
	if level >= slog.LevelError && o.set.Stderr != nil {
		io.WriteString(o.set.Stderr, line)
	} else if o.set.Stdout != nil {
		io.WriteString(o.set.Stdout, line)
	}
	// RFC 3164 local form, as glibc's syslog(3) sends it: "<PRI>Mmm dd hh:mm:ss ident[pid]: msg".
	pri := syslogFacilityDaemon*8 + severity(level)
	err := o.sys.send(fmt.Sprintf("<%d>%s %s[%d]: %s", pri, now.Format(time.Stamp), o.set.Ident, o.set.PID, text))
	if err != nil && o.set.Stdout == nil && o.set.Stderr != nil && now.Sub(o.lastWarn) > time.Minute {
		// Nowhere else to say it; the detached daemon's stderr is /dev/null, so this only
		// reaches a terminal when there is one.
		o.lastWarn = now
		fmt.Fprintf(o.set.Stderr, "%s: cannot log to syslog: %v\n", o.set.Ident, err)
	}
	return nil
}

// severity maps slog levels onto syslog(3) priorities: debug 7, info 6, warning 4, error 3.
func severity(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

// syslogConn is a datagram connection to the local syslog socket, redialled after a failure
// (syslog restarted, socket not there yet at boot).
type syslogConn struct {
	path string
	conn net.Conn
}

func (s *syslogConn) send(msg string) error {
	if s.conn == nil {
		c, err := net.Dial("unixgram", s.path)
		if err != nil {
			return fmt.Errorf("syslog socket %s: %w", s.path, err)
		}
		s.conn = c
	}
	if _, err := s.conn.Write([]byte(msg)); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog socket %s: %w", s.path, err)
	}
	return nil
}

func (s *syslogConn) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// logHandler is the slog.Handler of a LogOutput.
type logHandler struct {
	out   *LogOutput
	attrs []slog.Attr
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.out.set.Level.Level()
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	write := func(a slog.Attr) bool {
		if !a.Equal(slog.Attr{}) {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	return h.out.write(r.Level, r.Message, b.String())
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{out: h.out, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

// WithGroup is accepted but groups are flattened, as in LineHandler.
func (h *logHandler) WithGroup(string) slog.Handler { return h }

// limitWindow, limitBurst: at most limitBurst messages of one kind per window. A kind is the
// message with every word that holds a digit blanked, so "packet rejected from 198.18.0.7"
// and "... from 2001:db8::9" are one kind: a stream of bad packets costs a few lines a minute, never a flood.
const (
	limitWindow = time.Minute
	limitBurst  = 10
	limitKinds  = 1024 // beyond this many kinds the table starts again
)

type limiter struct {
	kinds map[string]*kindCount
}

type kindCount struct {
	start      time.Time
	n          int
	suppressed int
}

func (l *limiter) init() { l.kinds = map[string]*kindCount{} }

// allow says whether msg may be written at now, and how many of its kind were suppressed
// since the last one written.
func (l *limiter) allow(msg string, now time.Time) (bool, int) {
	key := kindOf(msg)
	k := l.kinds[key]
	if k == nil {
		if len(l.kinds) >= limitKinds {
			clear(l.kinds)
		}
		k = &kindCount{start: now}
		l.kinds[key] = k
	}
	if now.Sub(k.start) >= limitWindow || now.Before(k.start) {
		k.start, k.n = now, 0
	}
	if k.n >= limitBurst {
		k.suppressed++
		return false, 0
	}
	k.n++
	s := k.suppressed
	k.suppressed = 0
	return true, s
}

func kindOf(msg string) string {
	f := strings.Fields(msg)
	if len(f) > 12 {
		f = f[:12]
	}
	for i, w := range f {
		if strings.ContainsAny(w, "0123456789") {
			f[i] = "#" // addresses, ports, counts: the variable part
		}
	}
	return strings.Join(f, " ")
}
