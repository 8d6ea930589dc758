// SPDX-License-Identifier: BSD-2-Clause

package stats

import (
	"fmt"
	"time"
)

// Kind is one statistics file set.
type Kind uint8

// The file sets classic ntpd 4.2.8p15 registers (ntp_util.c init_util), in its order.
const (
	ClockStats Kind = iota
	CryptoStats
	LoopStats
	RawStats
	SysStats
	PeerStats
	ProtoStats
	TimingStats
	NumKinds
)

var kindNames = [NumKinds]string{"clockstats", "cryptostats", "loopstats", "rawstats", "sysstats",
	"peerstats", "protostats", "timingstats"}

func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("stats(%d)", uint8(k))
}

// KindByName returns the file set called name.
func KindByName(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return Kind(k), true
		}
	}
	return 0, false
}

// GenType is a filegen `type`: how often a new file generation starts.
type GenType uint8

// Generation types (ntp_filegen.h). Day is classic's default.
const (
	GenDay GenType = iota
	GenNone
	GenPID
	GenWeek
	GenMonth
	GenYear
	GenAge
)

var genTypeNames = map[string]GenType{"none": GenNone, "pid": GenPID, "day": GenDay,
	"week": GenWeek, "month": GenMonth, "year": GenYear, "age": GenAge}

// GenTypeByName returns the generation type a filegen `type` names.
func GenTypeByName(name string) (GenType, bool) {
	g, ok := genTypeNames[name]
	return g, ok
}

func (g GenType) String() string {
	for n, v := range genTypeNames {
		if v == g {
			return n
		}
	}
	return fmt.Sprintf("type(%d)", uint8(g))
}

// Gen is the configuration of one file set (classic's FILEGEN: fname, type, flag).
type Gen struct {
	File    string  // file name inside Dir (default: the set's name)
	Type    GenType // default day
	Link    bool    // hard link the base name to the current generation (default on)
	Enabled bool    // `statistics NAME` or `filegen NAME enable`
}

// Config is everything the statistics files need from ntp.conf and the command line.
type Config struct {
	// Dir is the statistics directory with a trailing slash (`statsdir`, `ntpd -s`;
	// classic's default /var/NTP/).
	Dir string
	// Stats is `enable/disable stats` (classic stats_control, on by default): off, no
	// file is written at all.
	Stats bool
	Gens  [NumKinds]Gen
}

// Enabled reports whether records of kind k are written.
func (c *Config) Enabled(k Kind) bool { return c.Stats && k < NumKinds && c.Gens[k].Enabled }

// Any reports whether any file set is written.
func (c *Config) Any() bool {
	for k := range NumKinds {
		if c.Enabled(k) {
			return true
		}
	}
	return false
}

// Generation is one file of a set: its name suffix and the local times it covers.
type Generation struct {
	Suffix string    // ".20261206", ".2026w49", ".202612", ".2026", ".a00000000", ".#1234", ""
	From   time.Time // the generation holds records from From (inclusive) ...
	Until  time.Time // ... to Until (exclusive); zero for none and pid: never rotated
}

// Contains reports whether a record stamped t belongs to this generation.
func (g Generation) Contains(t time.Time) bool {
	return g.Until.IsZero() || (!t.Before(g.From) && t.Before(g.Until))
}

// GenerationAt is the generation a record stamped t belongs to (classic filegen_open). The
// calendar types use UTC dates, like classic's ntpcal; week is the ISO week ("%04dw%02d"
// of the ISO year); age counts whole days of uptime (start is when the daemon started);
// pid uses the process ID ("#PID" after the dot, as 4.2.8p15 names it).
func GenerationAt(typ GenType, t, start time.Time, pid int) Generation {
	u := t.UTC()
	day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	switch typ {
	case GenNone:
		return Generation{}
	case GenPID:
		return Generation{Suffix: fmt.Sprintf(".#%d", pid)}
	case GenWeek:
		y, w := u.ISOWeek()
		monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		return Generation{Suffix: fmt.Sprintf(".%04dw%02d", y, w), From: monday, Until: monday.AddDate(0, 0, 7)}
	case GenMonth:
		first := time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
		return Generation{Suffix: fmt.Sprintf(".%04d%02d", u.Year(), int(u.Month())), From: first, Until: first.AddDate(0, 1, 0)}
	case GenYear:
		first := time.Date(u.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return Generation{Suffix: fmt.Sprintf(".%04d", u.Year()), From: first, Until: first.AddDate(1, 0, 0)}
	case GenAge:
		// Classic: id_lo = current_time - current_time % 86400 (seconds of uptime).
		up := max(t.Sub(start), 0)
		lo := up - up%(24*time.Hour)
		from := start.Add(lo)
		return Generation{Suffix: fmt.Sprintf(".a%08d", int64(lo/time.Second)), From: from, Until: from.Add(24 * time.Hour)}
	default: // GenDay
		return Generation{Suffix: fmt.Sprintf(".%04d%02d%02d", u.Year(), int(u.Month()), u.Day()), From: day, Until: day.AddDate(0, 0, 1)}
	}
}
