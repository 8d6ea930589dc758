// SPDX-License-Identifier: BSD-2-Clause

package driftfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ntp.drift")
	if _, err := Read(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := Write(p, -12.3456); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "-12.346\n" {
		t.Errorf("file holds %q, want classic's %%.3f line", b)
	}
	if _, err := os.Stat(p + ".TEMP"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	v, err := Read(p)
	if err != nil || v != -12.346 {
		t.Errorf("Read = %v, %v", v, err)
	}
	for _, bad := range []string{"", "abc\n", "NaN\n", "900\n"} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := Read(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%q: %v, want ErrCorrupt", bad, err)
		}
	}
	if err := Write(filepath.Join(dir, "no", "such"), 1); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestSaver(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ntp.drift")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewSaver(p, 0, 10, true, t0)
	if w, _ := s.Hourly(10.5, t0.Add(30*time.Minute)); w {
		t.Error("wrote within the hour")
	}
	if w, _ := s.Hourly(10.05, t0.Add(61*time.Minute)); w {
		t.Error("wrote a change below the threshold")
	}
	if w, err := s.Hourly(10.5, t0.Add(62*time.Minute)); !w || err != nil {
		t.Errorf("no hourly write: %v", err)
	}
	if w, _ := s.Exit(10.5, t0.Add(63*time.Minute)); w {
		t.Error("exit rewrote an unchanged value")
	}
	if w, _ := s.Exit(10.52, t0.Add(64*time.Minute)); !w {
		t.Error("exit did not write a changed value")
	}
	if v, _ := Read(p); v != 10.52 {
		t.Errorf("file holds %v", v)
	}
}
