// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

func TestLineHandlerClassicFormat(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 28, 17, 17, 4, 0, time.UTC)
	log := slog.New(NewLineHandler(&buf, "ntpd", 8145, slog.LevelInfo, func() time.Time { return at }))
	log.Info("Listen normally on 2 lo 127.0.0.1:123")
	log.Debug("hidden")
	log.Warn("bad packet", "from", "198.18.0.3:123")
	want := "28 Nov 17:17:04 ntpd[8145]: Listen normally on 2 lo 127.0.0.1:123\n" +
		"28 Nov 17:17:04 ntpd[8145]: bad packet from=198.18.0.3:123\n"
	if buf.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", buf.String(), want)
	}
	buf.Reset()
	day1 := time.Date(2026, 12, 1, 1, 2, 3, 0, time.UTC)
	slog.New(NewLineHandler(&buf, "ntpd", 1, slog.LevelInfo, func() time.Time { return day1 })).Info("x")
	if got := buf.String(); got != " 1 Dec 01:02:03 ntpd[1]: x\n" {
		t.Fatalf("got %q", got)
	}
}

func TestMeasurePrecision(t *testing.T) {
	// A clock that ticks in 1 µs steps, read twice per tick.
	var n int64
	read := func() int64 { n++; return (n / 2) * 1000 }
	exp, tick := measurePrecision(read)
	if tick != time.Microsecond || exp != -20 {
		t.Fatalf("exp %d tick %v, want -20 and 1µs", exp, tick)
	}
}
