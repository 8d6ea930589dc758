// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gontp/refclock"
)

func sentence(body string) string {
	var c byte
	for i := 0; i < len(body); i++ {
		c ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X", body, c)
}

func TestNMEACheck(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{sentence("GPRMC,120000.00,A,,,,,,,061226,,,A"), checkCSValid},
		{"$GPRMC,120000.00,A,,,,,,,061226,,,A", checkValid},
		{"$GPRMC,120000.00,A,,,,,,,061226,,,A*00", checkInvalid},
		{"$GPRMC,120000.00,A,,,,,,,061226,,,A*zz", checkInvalid},
		{"GPRMC,120000", checkInvalid},
		{"$GP,1", checkInvalid},
		{"$gprmc,1", checkInvalid},
	} {
		if got := nmeaCheck(c.s); got != c.want {
			t.Errorf("nmeaCheck(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

// TestNMEASentences: each sentence kind gives the time of its second, stamped at rx, with
// fudge time2; bad ones are reported with classic's event and never become a sample.
func TestNMEASentences(t *testing.T) {
	rx := time.Date(2026, 12, 6, 12, 0, 0, 100e6, time.UTC)
	cases := []struct {
		name, line string
		mode       uint32
		kind       refclock.Kind
		ev         refclock.Event
		ref        time.Time
	}{
		{"RMC", sentence("GPRMC,120000.00,A,4807.038,N,01131.000,E,0,0,061226,,,A"), 0, refclock.KindSample, 0, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		{"GGA fraction", sentence("GNGGA,120000.250,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), 0, refclock.KindSample, 0, time.Date(2026, 12, 6, 12, 0, 0, 250e6, time.UTC)},
		{"GLL", sentence("GPGLL,4807.038,N,01131.000,E,120000,A"), 0, refclock.KindSample, 0, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		{"ZDA", sentence("GPZDA,120000.00,06,12,2026,00,00"), 0, refclock.KindSample, 0, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		{"GGA day unfolded", sentence("GPGGA,000000.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), 0, refclock.KindSample, 0, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{"bad checksum", "$GPRMC,120000.00,A,4807.038,N,01131.000,E,0,0,061226,,,A*11", 0, refclock.KindReport, refclock.EvBadReply, time.Time{}},
		{"RMC without checksum", "$GPRMC,120000.00,A,4807.038,N,01131.000,E,0,0,061226,,,A", 0, refclock.KindReport, refclock.EvBadReply, time.Time{}},
		{"no fix", sentence("GPRMC,120000.00,V,,,,,,,061226,,,N"), 0, refclock.KindReport, refclock.EvBadReply, time.Time{}},
		{"bad time", sentence("GPRMC,126000.00,A,,,,,,,061226,,,A"), 0, refclock.KindReport, refclock.EvBadTime, time.Time{}},
		{"bad date", sentence("GPRMC,120000.00,A,,,,,,,321326,,,A"), 0, refclock.KindReport, refclock.EvBadDate, time.Time{}},
		{"wrong century", sentence("GPZDA,120000.00,06,12,1926,00,00"), 0, refclock.KindReport, refclock.EvBadDate, time.Time{}},
		{"31 February", sentence("GPZDA,120000.00,31,02,2026,00,00"), 0, refclock.KindReport, refclock.EvBadDate, time.Time{}},
		{"garbage", "\x01\xffgarbage", 0, refclock.KindReport, refclock.EvBadReply, time.Time{}},
		{"not selected", sentence("GPGGA,120000.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), nmeaUseRMC, 255, 0, time.Time{}},
		{"other sentence", sentence("GPGSV,3,1,11,03,03,111,00"), 0, 255, 0, time.Time{}},
		// $GPZDG names the second that follows, in GPS time (refclock_nmea.c tofs -1).
		{"ZDG", sentence("GPZDG,120001.00,06,12,2026,00.00,,"), 0, refclock.KindSample, 0, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		{"ZDG selected by the ZDA bit", sentence("GPZDG,120001.00,06,12,2026,00.00,,"), nmeaUseZDA, refclock.KindSample, 0, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		{"ZDG not selected", sentence("GPZDG,120001.00,06,12,2026,00.00,,"), nmeaUseRMC, 255, 0, time.Time{}},
		// $PGRMF: GPS week 2448 of 2026-12-06 is 400 modulo 1024; 18 leap seconds; fix 2.
		{"PGRMF", sentence("PGRMF,400,43218,061226,120000,18,4807.038,N,01131.000,E,A,2,0,0,1,1"), 0, refclock.KindSample, 0, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		{"PGRMF selected", sentence("PGRMF,400,43218,061226,120000,18,4807.038,N,01131.000,E,A,2,0,0,1,1"), nmeaUsePGRMF, refclock.KindSample, 0, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		{"PGRMF not selected", sentence("PGRMF,400,43218,061226,120000,18,4807.038,N,01131.000,E,A,2,0,0,1,1"), nmeaUseRMC, 255, 0, time.Time{}},
		{"PGRMF no fix", sentence("PGRMF,400,43218,061226,120000,18,4807.038,N,01131.000,E,A,0,0,0,1,1"), 0, refclock.KindReport, refclock.EvBadReply, time.Time{}},
		{"PGRMF full week number", sentence("PGRMF,2448,43218,061226,120000,18,4807.038,N,01131.000,E,A,2,0,0,1,1"), 0, refclock.KindReport, refclock.EvBadDate, time.Time{}},
		{"PGRMF week not of the date", sentence("PGRMF,401,43218,061226,120000,18,4807.038,N,01131.000,E,A,2,0,0,1,1"), 0, refclock.KindReport, refclock.EvBadDate, time.Time{}},
		{"PGRMF bad time", sentence("PGRMF,400,43218,061226,127000,18,4807.038,N,01131.000,E,A,2,0,0,1,1"), 0, refclock.KindReport, refclock.EvBadTime, time.Time{}},
	}
	for _, c := range cases {
		var got []refclock.Reading
		a := refclock.Address{Type: refclock.TypeNMEA}
		n := newNMEA(refclock.Config{Addr: a, Mode: c.mode}, Options{Now: time.Now}, &onceLog{log: discard(), seen: map[string]bool{}},
			func(r refclock.Reading) { got = append(got, r) })
		n.sentence(c.line, rx)
		if c.kind == 255 {
			if len(got) != 0 {
				t.Errorf("%s: %+v, want nothing", c.name, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Kind != c.kind || got[0].Event != c.ev {
			t.Errorf("%s: %+v, want kind %d event %d", c.name, got, c.kind, c.ev)
			continue
		}
		if c.kind == refclock.KindSample && (!got[0].Ref.Equal(c.ref) || !got[0].Rx.Equal(rx) || got[0].Fudge != refclock.FudgeTime2) {
			t.Errorf("%s: ref %v rx %v fudge %d, want %v", c.name, got[0].Ref, got[0].Rx, got[0].Fudge, c.ref)
		}
	}
}

// TestNMEAOneSamplePerSecond: RMC, GGA and ZDA of one second give one sample.
func TestNMEAOneSamplePerSecond(t *testing.T) {
	rx := time.Date(2026, 12, 6, 12, 0, 0, 100e6, time.UTC)
	var got []refclock.Reading
	n := newNMEA(refclock.Config{Addr: refclock.Address{Type: refclock.TypeNMEA}}, Options{Now: time.Now},
		&onceLog{log: discard(), seen: map[string]bool{}}, func(r refclock.Reading) { got = append(got, r) })
	n.sentence(sentence("GPRMC,120000.00,A,4807.038,N,01131.000,E,0,0,061226,,,A"), rx)
	n.sentence(sentence("GPGGA,120000.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), rx)
	n.sentence(sentence("GPZDA,120000.00,06,12,2026,00,00"), rx)
	n.sentence(sentence("GPRMC,120001.00,A,4807.038,N,01131.000,E,0,0,061226,,,A"), rx.Add(time.Second))
	if len(got) != 2 {
		t.Fatalf("%d samples, want 2", len(got))
	}
}

// TestNMEAGPSTime: once a $GPZDG was used the receiver counts GPS time, and UTC sentences
// are ignored from then on (refclock_nmea.c gps_time), so that the two scales never mix.
func TestNMEAGPSTime(t *testing.T) {
	rx := time.Date(2026, 12, 6, 12, 0, 0, 100e6, time.UTC)
	var got []refclock.Reading
	n := newNMEA(refclock.Config{Addr: refclock.Address{Type: refclock.TypeNMEA}}, Options{Now: time.Now},
		&onceLog{log: discard(), seen: map[string]bool{}}, func(r refclock.Reading) { got = append(got, r) })
	n.sentence(sentence("GPRMC,120000.00,A,4807.038,N,01131.000,E,0,0,061226,,,A"), rx)
	n.sentence(sentence("GPZDG,120002.00,06,12,2026,00.00,,"), rx.Add(time.Second))
	n.sentence(sentence("GPRMC,120002.00,A,4807.038,N,01131.000,E,0,0,061226,,,A"), rx.Add(2*time.Second))
	n.sentence(sentence("GPZDG,120003.00,06,12,2026,00.00,,"), rx.Add(2*time.Second))
	if len(got) != 3 || !got[1].Ref.Equal(rx.Add(time.Second).Truncate(time.Second)) || !got[2].Ref.Equal(rx.Add(2*time.Second).Truncate(time.Second)) ||
		!strings.HasPrefix(got[2].Timecode, "$GPZDG") {
		t.Fatalf("readings %+v, want RMC, ZDG, ZDG (the RMC after the first ZDG ignored)", got)
	}
}

func FuzzNMEASentence(f *testing.F) {
	f.Add(sentence("GPRMC,120000.00,A,4807.038,N,01131.000,E,0,0,061226,,,A"))
	f.Add(sentence("GPZDA,120000.00,06,12,2026,00,00"))
	f.Add("$GPGGA,1*")
	rx := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		n := newNMEA(refclock.Config{Addr: refclock.Address{Type: refclock.TypeNMEA}}, Options{Now: time.Now},
			&onceLog{log: discard(), seen: map[string]bool{}}, func(r refclock.Reading) {
				// Never before minYear; a two-digit year within 50 years of the receive
				// time, a four-digit one (ZDA, ZDG) at most a century after minYear.
				if r.Kind == refclock.KindSample && (r.Ref.Year() < minYear || r.Ref.Year() >= minYear+100) {
					t.Fatalf("sample from %q: %v", s, r.Ref)
				}
			})
		n.sentence(s, rx)
	})
}

// TestNMEAMissingDevice: a serial device that does not exist is a fault reported at every
// try (the association stays, its polls count as noreply) and logged once; the driver keeps
// trying until the daemon stops.
func TestNMEAMissingDevice(t *testing.T) {
	var mu sync.Mutex
	var got []refclock.Reading
	var logged strings.Builder
	lg := &onceLog{log: slog.New(slog.NewTextHandler(&syncWriter{w: &logged, mu: &mu}, nil)), name: "GPS_NMEA(0)", seen: map[string]bool{}}
	n := newNMEA(refclock.Config{Addr: refclock.Address{Type: refclock.TypeNMEA}, Path: filepath.Join(t.TempDir(), "gps0")},
		Options{Now: time.Now, Retry: 5 * time.Millisecond}, lg, func(r refclock.Reading) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
		})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	n.run(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 3 || got[0].Kind != refclock.KindReport || got[0].Event != refclock.EvFault {
		t.Fatalf("readings %+v, want repeated faults", got)
	}
	if c := strings.Count(logged.String(), "no such file"); c != 1 {
		t.Fatalf("logged %d times:\n%s", c, logged.String())
	}
}

type syncWriter struct {
	w  *strings.Builder
	mu *sync.Mutex
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// TestNMEATwoDigitYear: RMC's two-digit year is read in the century nearest the receive
// time, as classic's unfold_century does, and a year before minYear is a wrong date: "86"
// received in 2026 is 1986 (a receiver's rollover), never 2086 (the fuzzer's find).
func TestNMEATwoDigitYear(t *testing.T) {
	for _, c := range []struct {
		ddmmyy string
		rx     time.Time
		year   int
		ok     bool
	}{
		{"061226", time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), 2026, true},
		{"061286", time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), 1986, false},
		{"010176", time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), 2076, true},
		{"010177", time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), 1977, false},
		{"010105", time.Date(2099, 6, 1, 0, 0, 0, 0, time.UTC), 2105, true},
		{"010126", time.Date(1999, 6, 1, 0, 0, 0, 0, time.UTC), 2026, true}, // a local clock before minYear
	} {
		y, _, _, ok := nmeaDate6(c.ddmmyy, c.rx)
		if y != c.year || ok != c.ok {
			t.Errorf("%s received %v: year %d ok %v, want %d %v", c.ddmmyy, c.rx, y, ok, c.year, c.ok)
		}
	}
}
