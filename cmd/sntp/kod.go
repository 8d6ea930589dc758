// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// kodEntry is one line of the KoD history: when the kiss came, its code, and the address.
type kodEntry struct {
	when time.Time
	code string
	addr string
}

// kodDB is sntp's persistent Kiss-o'-Death history (classic's sntp/kod_management.c): one
// line per server that sent a DENY or RSTR kiss, "%16.16llx CODE ADDRESS" (the Unix time in
// hex), kept sorted by address, one entry per address. Like classic, the file is only ever
// rewritten when it could be read at the start (so a missing file is never created), once
// right after reading and again when sntp exits.
type kodDB struct {
	path     string
	entries  []kodEntry
	writable bool // the file was read: it is rewritten at exit
}

// openKoD reads path as classic's kod_init_kod_db does and returns the history and the
// messages classic logs (each a LOG_WARNING, on standard output) or nil.
func openKoD(path string, log func(string)) *kodDB {
	db := &kodDB{path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		log(fmt.Sprintf("kod_init_kod_db(): Cannot open KoD db file %s: %s", path, strerror(err)))
		return db
	}
	// First pass: every non-blank line must hold exactly two spaces, or the whole file is
	// ignored (classic logs this at LOG_DEBUG, which its terminal output shows).
	lines := strings.SplitAfter(string(data), "\n")
	n := 0
	for _, l := range lines {
		if l == "" || l == "\n" || !strings.HasSuffix(l, "\n") {
			continue
		}
		if strings.Count(l, " ") != 2 {
			if path != os.DevNull {
				log(fmt.Sprintf("Syntax error in KoD db file %s in line %d (missing space)", path, n+1))
			}
			return db
		}
		n++
	}
	for _, l := range lines {
		if l == "" || l == "\n" {
			continue
		}
		f := strings.Fields(l)
		var e kodEntry
		ok := len(f) == 3
		if ok {
			secs, err := strconv.ParseUint(f[0], 16, 64)
			ok = err == nil
			e = kodEntry{when: time.Unix(int64(secs), 0), code: truncate(f[1], 4), addr: truncate(f[2], 254)}
		}
		if !ok {
			log(fmt.Sprintf("An error occured while parsing the KoD db file %s", path))
			return db
		}
		db.entries = append(db.entries, e)
		if len(db.entries) == n {
			break
		}
	}
	if db.write(log) {
		db.writable = true
	}
	return db
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// search reports whether addr has a KoD on file.
func (db *kodDB) search(addr string) bool {
	for _, e := range db.entries {
		if e.addr == addr {
			return true
		}
	}
	return false
}

// add records a kiss from addr at now: a new entry in address order, or a new time for the
// address's existing one (classic's add_entry keeps the old code then).
func (db *kodDB) add(addr, code string, now time.Time) {
	i := sort.Search(len(db.entries), func(i int) bool { return db.entries[i].addr >= addr })
	if i < len(db.entries) && db.entries[i].addr == addr {
		db.entries[i].when = now
		return
	}
	db.entries = append(db.entries, kodEntry{})
	copy(db.entries[i+1:], db.entries[i:])
	db.entries[i] = kodEntry{when: now, code: truncate(code, 4), addr: addr}
}

// write rewrites the file, creating its directories first if the open fails, as classic's
// write_kod_db does; it reports success.
func (db *kodDB) write(log func(string)) bool {
	var b strings.Builder
	for _, e := range db.entries {
		fmt.Fprintf(&b, "%016x %s %s\n", uint64(e.when.Unix()), e.code, e.addr)
	}
	err := os.WriteFile(db.path, []byte(b.String()), 0o644)
	if err != nil && db.path != "" {
		if mkErr := os.MkdirAll(filepath.Dir(db.path), 0o755); mkErr != nil && !errors.Is(mkErr, fs.ErrExist) {
			log(fmt.Sprintf("mkdir(%s) failed: %s", filepath.Dir(db.path), strerror(mkErr)))
			return false
		}
		err = os.WriteFile(db.path, []byte(b.String()), 0o644)
	}
	if err != nil {
		log(fmt.Sprintf("Can't open KOD db file %s for writing: %s", db.path, strerror(err)))
		return false
	}
	return true
}

// close writes the history back when it was read at the start (classic's atexit handler).
func (db *kodDB) close(log func(string)) {
	if db.writable {
		db.write(log)
	}
}
