// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// LineHandler is a slog.Handler that writes records the way classic ntpd writes its log file
// (`-l FILE` or `logfile`): "28 Nov 17:17:04 ntpd[8145]: message". Attributes follow the
// message as key=value pairs, so that administrators' greps for ntpd's words keep working
// while gontp can still say more.
type LineHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	ident string
	pid   int
	level slog.Leveler
	attrs []slog.Attr
	now   func() time.Time
}

// NewLineHandler writes to w with the program name ident and process id pid; records below
// level are dropped. now supplies the time stamp of each line.
func NewLineHandler(w io.Writer, ident string, pid int, level slog.Leveler, now func() time.Time) *LineHandler {
	return &LineHandler{mu: new(sync.Mutex), w: w, ident: ident, pid: pid, level: level, now: now}
}

func (h *LineHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *LineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	// classic humanlogtime(): "%2d %s %02d:%02d:%02d" in local time, the day padded with a space.
	b.WriteString(h.now().Format("_2 Jan 15:04:05"))
	fmt.Fprintf(&b, " %s[%d]: %s", h.ident, h.pid, r.Message)
	write := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *LineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

// WithGroup is accepted but groups are flattened: ntpd's log has no structure to nest into.
func (h *LineHandler) WithGroup(string) slog.Handler { return h }
