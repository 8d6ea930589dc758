// SPDX-License-Identifier: BSD-2-Clause

// Package driftfile reads and writes ntpd's frequency file (driftfile directive, -f): one
// line with the frequency correction in ppm. Classic ntpd 4.2.8p15 reads it at start, so that
// the discipline starts in FSET and skips measuring the frequency, and rewrites it about
// hourly through FILE.TEMP and a rename, so a crash never leaves a half-written file.
package driftfile

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MaxPPM is the largest frequency a drift file may hold (the kernel's 500 ppm).
const MaxPPM = 500

// ErrCorrupt is wrapped by Read when the file exists but does not hold a frequency.
var ErrCorrupt = errors.New("does not hold a frequency")

// Read returns the frequency in ppm. A missing file gives an error wrapping
// fs.ErrNotExist, a corrupt one ErrCorrupt; both are warnings for the daemon, which then
// starts without a frequency (NSET).
func Read(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("frequency file %s: %w", path, err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("frequency file %s: empty: %w", path, ErrCorrupt)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("frequency file %s: %q: %w", path, f[0], ErrCorrupt)
	}
	if math.Abs(v) > MaxPPM {
		return 0, fmt.Errorf("frequency file %s: %.3f ppm is beyond ±%d ppm: %w", path, v, MaxPPM, ErrCorrupt)
	}
	return v, nil
}

// Write stores ppm as classic does ("%.3f\n") through path.TEMP and a rename.
func Write(path string, ppm float64) error {
	if math.IsNaN(ppm) || math.Abs(ppm) > MaxPPM {
		return fmt.Errorf("frequency file %s: refusing to write %v ppm", path, ppm)
	}
	tmp := path + ".TEMP"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("frequency file %s: %w", tmp, err)
	}
	_, werr := fmt.Fprintf(f, "%.3f\n", ppm)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("frequency file %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("frequency file %s: rename %s: %w", path, filepath.Base(tmp), err)
	}
	return nil
}

// Saver decides when to rewrite the file: at most once an hour, and only when the
// frequency moved by at least Threshold ppm since the last write (classic's
// wander_threshold, `driftfile FILE WANDER` / `nonvolatile`, default 1e-7 s/s = 0.1 ppm).
type Saver struct {
	Path      string
	Threshold float64 // ppm
	last      float64
	lastWrite time.Time
	have      bool
}

// DefaultThreshold is classic's nonvolatile default, in ppm.
const DefaultThreshold = 0.1

// NewSaver makes a Saver; loaded is the value read at start (the file is not rewritten
// until the frequency moves away from it), ok whether there was one.
func NewSaver(path string, threshold, loaded float64, ok bool, now time.Time) *Saver {
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	return &Saver{Path: path, Threshold: threshold, last: loaded, have: ok, lastWrite: now}
}

// Hourly is called from the daemon's timer with the discipline's frequency; it writes
// when an hour has passed since the last write and the value changed enough.
func (s *Saver) Hourly(ppm float64, now time.Time) (wrote bool, err error) {
	if now.Sub(s.lastWrite) < time.Hour && now.After(s.lastWrite) {
		return false, nil
	}
	if s.have && math.Abs(ppm-s.last) < s.Threshold {
		return false, nil
	}
	return s.write(ppm, now)
}

// Exit writes the frequency at shutdown if it differs from the file's.
func (s *Saver) Exit(ppm float64, now time.Time) (bool, error) {
	if s.have && strconv.FormatFloat(ppm, 'f', 3, 64) == strconv.FormatFloat(s.last, 'f', 3, 64) {
		return false, nil
	}
	return s.write(ppm, now)
}

func (s *Saver) write(ppm float64, now time.Time) (bool, error) {
	if err := Write(s.Path, ppm); err != nil {
		return false, err
	}
	s.last, s.have, s.lastWrite = ppm, true, now
	return true, nil
}
