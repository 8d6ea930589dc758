// SPDX-License-Identifier: BSD-2-Clause

// Package leap reads the IETF/IERS leap-seconds.list file (the leapfile directive), checks
// its SHA-1 hash and expiry as classic ntpd 4.2.8p15 does, and answers what the daemon
// needs: TAI-UTC now and the next leap second. It is an I/O helper: what to do about a leap
// second (schedule, arm the kernel, serve the leap indicator) is decided by the clock
// discipline's leap owner (clock/leap.go).
package leap

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ntpEpoch is 1900-01-01, the origin of the file's timestamps.
var ntpEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// FromNTP converts NTP seconds (era 0) to time.
func FromNTP(s uint64) time.Time { return ntpEpoch.Add(time.Duration(s) * time.Second) }

// Entry is one data line: from At on, TAI-UTC is TAI seconds.
type Entry struct {
	At  time.Time
	TAI int
}

// Table is a parsed leap-seconds.list.
type Table struct {
	Updated time.Time // "#$" line: when the file was last updated
	Expires time.Time // "#@" line: when the file stops being valid
	Entries []Entry   // in time order
	// Hashed reports whether a "#h" line was present and matched (false with checkHash
	// off or when the file carries no hash).
	Hashed bool
}

// Errors of Parse; each is wrapped with the line.
var (
	ErrNoHash       = errors.New("no hash signature")
	ErrHashMismatch = errors.New("signature mismatch")
	ErrBadHash      = errors.New("malformed hash signature")
	ErrNoExpiry     = errors.New("no expiration date (#@ line)")
	ErrEmpty        = errors.New("no leap second entries")
	ErrNotMonthEnd  = errors.New("a leap second must take effect at 00:00:00 UTC on the first day of a month (the end of the month before)")
)

// maxLine bounds a line so that a hostile file cannot exhaust memory.
const maxLine = 4096

// Parse reads a leap-seconds.list. With checkHash (classic's default; `leapfile FILE
// ignorehash` turns it off) the "#h" SHA-1 over the digits of the "#$", "#@" and data
// lines must match. Errors name the line.
func Parse(r io.Reader, checkHash bool) (*Table, error) {
	t := &Table{}
	h := sha1.New()
	var want []byte
	var notMonthEnd error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	line := 0
	digits := func(s string) {
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				h.Write([]byte{s[i]})
			}
		}
	}
	for sc.Scan() {
		line++
		s := sc.Text()
		switch {
		case strings.HasPrefix(s, "#$"):
			v, err := parseNTP(s[2:])
			if err != nil {
				return nil, fmt.Errorf("line %d: update time: %w", line, err)
			}
			t.Updated = v
			digits(s[2:])
		case strings.HasPrefix(s, "#@"):
			v, err := parseNTP(s[2:])
			if err != nil {
				return nil, fmt.Errorf("line %d: expiration time: %w", line, err)
			}
			t.Expires = v
			digits(s[2:])
		case strings.HasPrefix(s, "#h"):
			f := strings.Fields(s[2:])
			if len(f) != 5 {
				return nil, fmt.Errorf("line %d: %w: want 5 words, got %d", line, ErrBadHash, len(f))
			}
			want = make([]byte, 0, 20)
			for _, w := range f {
				v, err := strconv.ParseUint(w, 16, 32)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w: %q", line, ErrBadHash, w)
				}
				want = binary.BigEndian.AppendUint32(want, uint32(v))
			}
		case strings.HasPrefix(s, "#"):
		default:
			data, _, _ := strings.Cut(s, "#")
			f := strings.Fields(data)
			if len(f) == 0 {
				continue
			}
			if len(f) < 2 {
				return nil, fmt.Errorf("line %d: want \"NTP-SECONDS TAI-OFFSET\", got %q", line, strings.TrimSpace(data))
			}
			at, err := parseNTP(f[0])
			if err != nil {
				return nil, fmt.Errorf("line %d: time: %w", line, err)
			}
			if u := at.UTC(); u.Day() != 1 || u.Hour() != 0 || u.Minute() != 0 || u.Second() != 0 {
				// ITU-R TF.460: a leap second is the last second of a month (June and
				// December first, March and September second). A file announcing one
				// elsewhere is corrupt, and would make the kernel insert a second at
				// some other midnight.
				// A tampered file is reported as such first (below).
				if notMonthEnd == nil {
					notMonthEnd = fmt.Errorf("line %d: %w: %s", line, ErrNotMonthEnd, u.Format(time.DateTime))
				}
			}
			tai, err := strconv.Atoi(f[1])
			if err != nil || tai < 0 || tai > 10000 {
				return nil, fmt.Errorf("line %d: TAI offset %q is not a number of seconds", line, f[1])
			}
			if n := len(t.Entries); n > 0 {
				prev := t.Entries[n-1]
				if !at.After(prev.At) {
					return nil, fmt.Errorf("line %d: %s is not after the previous entry", line, at.Format(time.DateOnly))
				}
				if d := tai - prev.TAI; d != 1 && d != -1 {
					return nil, fmt.Errorf("line %d: TAI offset changes by %d, not by one second", line, d)
				}
			}
			t.Entries = append(t.Entries, Entry{At: at, TAI: tai})
			digits(data)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if len(t.Entries) == 0 {
		return nil, ErrEmpty
	}
	if t.Expires.IsZero() {
		return nil, ErrNoExpiry
	}
	if checkHash {
		if want == nil {
			return nil, ErrNoHash
		}
		if got := h.Sum(nil); string(got) != string(want) {
			return nil, fmt.Errorf("%w: file says %x, contents hash to %x", ErrHashMismatch, want, got)
		}
		t.Hashed = true
	}
	if notMonthEnd != nil {
		return nil, notMonthEnd
	}
	return t, nil
}

func parseNTP(s string) (time.Time, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil || v > 1<<33 {
		return time.Time{}, fmt.Errorf("%q is not NTP seconds", strings.TrimSpace(s))
	}
	return FromNTP(v), nil
}

// Expired reports whether the table is past its expiration date at now.
func (t *Table) Expired(now time.Time) bool { return !now.Before(t.Expires) }

// TAI returns TAI-UTC at now (0 before the first entry).
func (t *Table) TAI(now time.Time) int {
	i := sort.Search(len(t.Entries), func(i int) bool { return t.Entries[i].At.After(now) })
	if i == 0 {
		return 0
	}
	return t.Entries[i-1].TAI
}

// Last returns the latest entry.
func (t *Table) Last() Entry { return t.Entries[len(t.Entries)-1] }

// Next returns the first entry after now, if any.
func (t *Table) Next(now time.Time) (Entry, bool) {
	i := sort.Search(len(t.Entries), func(i int) bool { return t.Entries[i].At.After(now) })
	if i == len(t.Entries) {
		return Entry{}, false
	}
	return t.Entries[i], true
}

// NextLeap is the first leap second after now: when the new TAI-UTC takes effect (the
// midnight that ends a month) and whether a second is inserted (TAI-UTC grows) or
// deleted. It is the clock discipline's leap owner's view of the file (clock.LeapTable),
// which decides when to arm the kernel and what to serve.
func (t *Table) NextLeap(now time.Time) (at time.Time, insert, ok bool) {
	e, ok := t.Next(now)
	if !ok {
		return time.Time{}, false, false
	}
	return e.At, e.TAI > t.TAI(now), true
}

// LoadedMessage is classic's log line after loading: "leapsecond file ('PATH'): loaded,
// expire=2026-06-28T00:00:00Z last=2017-01-01T00:00:00Z ofs=37".
func (t *Table) LoadedMessage(path string) string {
	l := t.Last()
	return fmt.Sprintf("leapsecond file ('%s'): loaded, expire=%s last=%s ofs=%d", path,
		t.Expires.Format("2006-01-02T15:04:05Z"), l.At.Format("2006-01-02T15:04:05Z"), l.TAI)
}

// Warner rate-limits the expiry warning to once a day (classic checks the file daily and
// warns each time; gontp's timers may check more often).
type Warner struct {
	last time.Time
}

// expiryWarnDays is how close to expiry the warning starts.
const expiryWarnDays = 28

// Check returns the warning to log for t at now, if one is due: the file has expired or
// expires within 28 days, and none was given in the last 24 hours.
func (w *Warner) Check(t *Table, path string, now time.Time) (string, bool) {
	if !w.last.IsZero() && now.Sub(w.last) < 24*time.Hour && now.After(w.last) {
		return "", false
	}
	left := t.Expires.Sub(now)
	var msg string
	switch {
	case left <= 0:
		days := int(-left / (24 * time.Hour))
		msg = fmt.Sprintf("leapsecond file ('%s'): expired %d day%s ago", path, days, plural(days))
	case left < expiryWarnDays*24*time.Hour:
		days := int((left + 24*time.Hour - 1) / (24 * time.Hour))
		msg = fmt.Sprintf("leapsecond file ('%s'): will expire in less than %d day%s", path, days, plural(days))
	default:
		return "", false
	}
	w.last = now
	return msg, true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
