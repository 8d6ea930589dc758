// SPDX-License-Identifier: BSD-2-Clause

package filegen

import (
	"fmt"
	"strings"

	"gontp/internal/stats"
	"gontp/ntpconf"
)

// FromConfig reads the statistics configuration: `statsdir`, `statistics`, `filegen` and
// `enable/disable stats`. dirOverride is `ntpd -s DIR` (empty when not given), which wins
// over `statsdir` as in classic. A filegen line with a file name classic refuses (one that
// climbs out of the directory) keeps the previous name and comes back as a warning naming
// the line; its other options apply, as in classic.
func FromConfig(cfg *ntpconf.Config, dirOverride string) (stats.Config, []string) {
	c := stats.Config{Stats: cfg.Flags()["stats"], Dir: cfg.StatsDir()}
	if dirOverride != "" {
		c.Dir = dirOverride
		if !strings.HasSuffix(c.Dir, "/") {
			c.Dir += "/"
		}
	}
	for k := range stats.NumKinds {
		c.Gens[k] = stats.Gen{File: k.String(), Type: stats.GenDay, Link: true}
	}
	var warns []string
	for _, o := range cfg.Statistics {
		if k, ok := stats.KindByName(o.Name); ok {
			c.Gens[k].Enabled = true
		}
	}
	for _, g := range cfg.Filegens {
		k, ok := stats.KindByName(g.Name)
		if !ok {
			continue
		}
		gen := &c.Gens[k]
		for _, o := range g.Options {
			switch o.Name {
			case "file":
				if validFile(o.Value.Str) {
					gen.File = o.Value.Str
				} else {
					warns = append(warns, fmt.Sprintf("%s: filegen %s file %q: the name may not be empty or climb out of the statistics directory (\"..\"); keeping %q",
						o.Pos, g.Name, o.Value.Str, gen.File))
				}
			case "type":
				gen.Type, _ = stats.GenTypeByName(o.Value.Str)
			case "link":
				gen.Link = true
			case "nolink":
				gen.Link = false
			case "enable":
				gen.Enabled = true
			case "disable":
				gen.Enabled = false
			}
		}
	}
	if c.Enabled(stats.CryptoStats) {
		for _, g := range cfg.Filegens {
			if g.Name == "cryptostats" {
				warns = append(warns, fmt.Sprintf("%s: cryptostats: gontp has no Autokey, so this file set stays empty", g.Pos))
			}
		}
		for _, o := range cfg.Statistics {
			if o.Name == "cryptostats" {
				warns = append(warns, fmt.Sprintf("%s: cryptostats: gontp has no Autokey, so this file set stays empty", o.Pos))
			}
		}
	}
	return c, warns
}

// validFile reports whether a filegen file name is usable: not empty and with no ".."
// component (classic's valid_fileref).
func validFile(f string) bool {
	if f == "" {
		return false
	}
	for _, part := range strings.Split(f, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}
