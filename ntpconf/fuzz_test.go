// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzParse checks that no input makes the lexer or parser panic or hang, that saveconfig
// always writes, and that its output parses again. Includes go through an in-memory file
// system in which the fuzzed file can include itself, to exercise the depth limit.
func FuzzParse(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(corpusDir, "*.conf"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("includefile ntp.conf\nserver 192.0.2.1\n"))
	f.Add([]byte("setvar a = \"x y\" default\ntrustedkey ( 1 ... 3 )\npollskewlist 4 1|1\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<13 { // larger inputs only repeat lines; BenchmarkParseHostile covers size
			return
		}
		fsys := fstest.MapFS{"ntp.conf": &fstest.MapFile{Data: src}}
		cfg, _ := Parse(fsys, "ntp.conf")
		if cfg == nil {
			t.Fatal("Parse returned a nil Config")
		}
		var buf bytes.Buffer
		if err := cfg.WriteSaveconfig(&buf); err != nil {
			t.Fatal(err)
		}
		cfg2, _ := ParseBytes("saved.conf", buf.Bytes())
		if cfg2 == nil {
			t.Fatal("ParseBytes returned a nil Config")
		}
		_ = cfg.TinkerParams()
		_ = cfg.TosParams()
		_ = cfg.MRUParams()
		_ = cfg.DiscardParams()
		_ = cfg.Flags()
	})
}

// BenchmarkParseHostile measures a worst case: a 64 KiB file of unknown words that
// includes itself up to the file limit.
func BenchmarkParseHostile(b *testing.B) {
	var src bytes.Buffer
	src.WriteString("includefile ntp.conf\nincludefile ntp.conf\n")
	for src.Len() < 1<<16-16 {
		src.WriteString("serverr x\n")
	}
	fsys := fstest.MapFS{"ntp.conf": &fstest.MapFile{Data: src.Bytes()}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(fsys, "ntp.conf"); err == nil {
			b.Fatal("want errors")
		}
	}
}

// BenchmarkParseDebian measures the Debian default file.
func BenchmarkParseDebian(b *testing.B) {
	src, err := os.ReadFile(filepath.Join(corpusDir, "debian-default.conf"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBytes("ntp.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}
