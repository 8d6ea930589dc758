// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// WriteSaveconfigHeader writes classic's two header lines, "#NTF:D YYYYMMDD@hh:mm:ss" with
// the time given (classic uses the local time of the daemon) and "#NTF:V VERSION".
func WriteSaveconfigHeader(w io.Writer, now time.Time, version string) error {
	if _, err := fmt.Fprintf(w, "#NTF:D %s\n#NTF:V %s\n", now.Format("20060102@15:04:05"), version); err != nil {
		return fmt.Errorf("ntpconf: writing saveconfig header: %w", err)
	}
	return nil
}

// dumpedSettings are the single-value directives classic's saveconfig prints in file order
// at the top (its "vars" list); statsdir, keys, keysdir, controlkey, requestkey and revoke
// are printed later, once, and mdnstries and ntpsigndsocket are not printed at all.
var dumpedSettings = map[string]bool{
	"driftfile": true, "leapfile": true, "logfile": true, "pidfile": true,
	"saveconfigdir": true, "broadcastdelay": true, "nonvolatile": true, "automax": true,
	"dscp": true, "tick": true, "ident": true, "leapsmearinterval": true,
}

// WriteSaveconfig writes the configuration the way classic ntpd's saveconfig
// (--saveconfigquit, ntpq saveconfig) does, without the two "#NTF:" header lines, which
// carry the date and the daemon version: the caller writes them. Directives come in
// classic's fixed order, repeated option directives (tinker, tos, enable...) are merged
// into one line, numbers are normalised ("%g"), file names quoted, and every restrict line
// carries its ippeerlimit. gontp's extensions are written in classic syntax (a refclock
// line as server and fudge, ADDR/LEN as mask).
func (c *Config) WriteSaveconfig(w io.Writer) error {
	b := bufio.NewWriter(w)
	for _, s := range c.Settings {
		if !dumpedSettings[s.Keyword] {
			continue
		}
		switch s.Value.Kind {
		case ValueString:
			fmt.Fprintf(b, "%s \"%s\"", s.Keyword, s.Value.Str)
			if s.Keyword == "driftfile" && s.Extra.Kind == ValueDouble {
				fmt.Fprintf(b, " %s", formatDouble(s.Extra.Dbl))
			}
			if s.Keyword == "leapfile" {
				fmt.Fprintf(b, " %s", s.Extra.Str)
			}
		case ValueInt:
			fmt.Fprintf(b, "%s %d", s.Keyword, int32(s.Value.Int))
		case ValueDouble:
			fmt.Fprintf(b, "%s %s", s.Keyword, formatDouble(s.Value.Dbl))
		}
		b.WriteString("\n")
	}
	if len(c.Logconfig) > 0 {
		b.WriteString("logconfig")
		for _, it := range c.Logconfig {
			fmt.Fprintf(b, " %c%s", it.Op, it.Name)
		}
		b.WriteString("\n")
	}
	if s := c.Setting("statsdir"); s != nil {
		fmt.Fprintf(b, "statsdir \"%s\"\n", s.Value.Str)
	}
	writeNames(b, "statistics", c.Statistics)
	for _, g := range c.Filegens {
		if len(g.Options) == 0 {
			continue
		}
		fmt.Fprintf(b, "filegen %s", g.Name)
		for _, o := range g.Options {
			switch o.Name {
			case "file", "type":
				fmt.Fprintf(b, " %s %s", o.Name, o.Value.Str)
			default:
				fmt.Fprintf(b, " %s", o.Name)
			}
		}
		b.WriteString("\n")
	}
	if len(c.Crypto) > 0 {
		b.WriteString("crypto")
		for _, o := range c.Crypto {
			fmt.Fprintf(b, " %s %s", o.Name, o.Value.Str)
		}
		b.WriteString("\n")
	}
	if s := c.Setting("revoke"); s != nil && int32(s.Value.Int) != 0 {
		fmt.Fprintf(b, "revoke %d\n", int32(s.Value.Int))
	}
	if s := c.Setting("keysdir"); s != nil {
		fmt.Fprintf(b, "keysdir \"%s\"\n", s.Value.Str)
	}
	if s := c.Setting("keys"); s != nil {
		fmt.Fprintf(b, "keys \"%s\"\n", s.Value.Str)
	}
	if len(c.TrustedKeys) > 0 {
		b.WriteString("trustedkey")
		for _, k := range c.TrustedKeys {
			if k.Range {
				fmt.Fprintf(b, " (%d ... %d)", int32(k.First), int32(k.Last))
			} else {
				fmt.Fprintf(b, " %d", int32(k.First))
			}
		}
		b.WriteString("\n")
	}
	for _, kw := range []string{"controlkey", "requestkey"} {
		if s := c.Setting(kw); s != nil && int32(s.Value.Int) != 0 {
			fmt.Fprintf(b, "%s %d\n", kw, int32(s.Value.Int))
		}
	}
	writeNames(b, "enable", c.Enable)
	writeNames(b, "disable", c.Disable)
	writeOptions(b, "tos", c.Tos)
	writeOptions(b, "rlimit", c.Rlimit)
	writeOptions(b, "tinker", c.Tinker)
	if c.BroadcastClient != nil {
		b.WriteString("broadcastclient\n")
	}
	for _, a := range c.Associations {
		writeAssociation(b, a)
		for _, f := range c.Fudges {
			if f.Address != a.Address {
				continue
			}
			fmt.Fprintf(b, "fudge %s", f.Address)
			for _, o := range f.Options {
				fmt.Fprintf(b, " %s %s", o.Name, optionValue(o.Value))
			}
			b.WriteString("\n")
		}
	}
	writeAddresses(b, "manycastserver", c.ManycastServer)
	writeAddresses(b, "multicastclient", c.MulticastClient)
	for _, u := range c.Unpeers {
		fmt.Fprintf(b, "unpeer %s\n", u.Address)
	}
	writeOptions(b, "mru", c.MRU)
	writeOptions(b, "discard", c.Discard)
	if len(c.PollSkew) > 0 {
		b.WriteString("pollskewlist")
		for _, ps := range c.PollSkew {
			if ps.Poll < 0 {
				fmt.Fprintf(b, " default %d|%d", ps.Early, ps.Late)
			} else {
				fmt.Fprintf(b, " %d %d|%d", ps.Poll, ps.Early, ps.Late)
			}
		}
		b.WriteString("\n")
	}
	for _, r := range c.Restricts {
		writeRestrict(b, r)
	}
	for _, r := range c.Interfaces {
		x := r.Class
		if x == "" {
			x = r.Name
		}
		fmt.Fprintf(b, "interface %s %s\n", r.Action, x)
	}
	if len(c.Phone) > 0 {
		b.WriteString("phone")
		for _, o := range c.Phone {
			fmt.Fprintf(b, " \"%s\"", o.Value.Str)
		}
		b.WriteString("\n")
	}
	for _, s := range c.Setvars {
		fmt.Fprintf(b, "setvar %s = %s", quoteIfNeeded(s.Name), quoteIfNeeded(s.Value))
		if s.Default {
			b.WriteString(" default")
		}
		b.WriteString("\n")
	}
	if len(c.TTL) > 0 {
		b.WriteString("ttl")
		for _, o := range c.TTL {
			fmt.Fprintf(b, " %d", int32(o.Value.Int))
		}
		b.WriteString("\n")
	}
	for _, t := range c.Traps {
		fmt.Fprintf(b, "trap %s", t.Address)
		for _, o := range t.Options {
			fmt.Fprintf(b, " %s %s", o.Name, optionValue(o.Value))
		}
		b.WriteString("\n")
	}
	writeNames(b, "reset", c.Reset)
	// gontp's own directive, after everything classic writes.
	for _, m := range c.Metrics {
		fmt.Fprintf(b, "metrics %s\n", m.Addr)
	}
	writeNTS(b, c)
	if err := b.Flush(); err != nil {
		return fmt.Errorf("ntpconf: writing saveconfig: %w", err)
	}
	return nil
}

func optionValue(v Value) string {
	switch v.Kind {
	case ValueInt:
		return strconv.FormatInt(int64(int32(v.Int)), 10)
	case ValueDouble:
		return formatDouble(v.Dbl)
	}
	return v.Str
}

func writeNames(b *bufio.Writer, kw string, opts []*Option) {
	if len(opts) == 0 {
		return
	}
	b.WriteString(kw)
	for _, o := range opts {
		b.WriteString(" " + o.Name)
	}
	b.WriteString("\n")
}

func writeOptions(b *bufio.Writer, kw string, opts []*Option) {
	if len(opts) == 0 {
		return
	}
	b.WriteString(kw)
	for _, o := range opts {
		if o.Value.Kind == ValueString { // tos basedate
			fmt.Fprintf(b, " %s \"%s\"", o.Name, o.Value.Str)
			continue
		}
		fmt.Fprintf(b, " %s %s", o.Name, optionValue(o.Value))
	}
	b.WriteString("\n")
}

func writeAddresses(b *bufio.Writer, kw string, addrs []*Address) {
	if len(addrs) == 0 {
		return
	}
	b.WriteString(kw)
	for _, a := range addrs {
		b.WriteString(" " + a.Address)
	}
	b.WriteString("\n")
}

func writeAssociation(b *bufio.Writer, a *Association) {
	b.WriteString(string(a.Kind))
	switch a.Family {
	case 4:
		b.WriteString(" -4")
	case 6:
		b.WriteString(" -6")
	}
	b.WriteString(" " + a.Address)
	if a.MinPoll != 0 {
		fmt.Fprintf(b, " minpoll %d", a.MinPoll)
	}
	if a.MaxPoll != 0 {
		fmt.Fprintf(b, " maxpoll %d", a.MaxPoll)
	}
	if a.TTLMode != 0 {
		if a.Refclock != nil || strings.HasPrefix(a.Address, "127.127.") {
			fmt.Fprintf(b, " mode %d", uint32(a.TTLMode))
		} else {
			fmt.Fprintf(b, " ttl %d", uint32(a.TTLMode))
		}
	}
	if a.Version != NTPVersion {
		fmt.Fprintf(b, " version %d", a.Version)
	}
	if a.Key != 0 {
		fmt.Fprintf(b, " key %d", a.Key)
	}
	if a.Ident != "" {
		fmt.Fprintf(b, " ident \"%s\"", a.Ident)
	}
	for _, f := range a.Flags {
		b.WriteString(" " + f)
	}
	b.WriteString("\n")
}

func writeRestrict(b *bufio.Writer, r *Restrict) {
	if r.Remove {
		b.WriteString("unrestrict ")
	} else {
		b.WriteString("restrict ")
	}
	switch {
	case r.Default && r.Family == 4:
		b.WriteString("-4 default")
	case r.Default && r.Family == 6:
		b.WriteString("-6 default")
	case r.Default:
		b.WriteString("default")
	case r.Source:
		b.WriteString("source")
	default:
		switch {
		case r.Written != "":
			// Classic 4.2.8p15 writes the word as given ("restrict 192.0.2.0/24
			// ippeerlimit -1 nomodify", checked with --saveconfigquit).
			b.WriteString(r.Written)
		case r.Prefix >= 0:
			b.WriteString(r.Address)
			if a, err := netip.ParseAddr(r.Address); err == nil {
				b.WriteString(" mask " + prefixMask(a, r.Prefix))
			}
		default:
			b.WriteString(r.Address)
		}
		if r.Prefix < 0 && r.Mask != "" {
			b.WriteString(" mask " + r.Mask)
		}
	}
	fmt.Fprintf(b, " ippeerlimit %d", r.IPPeerLimit)
	for _, f := range r.FlagNames {
		b.WriteString(" " + f)
	}
	b.WriteString("\n")
}

// quoteIfNeeded quotes setvar names and values that contain blanks, as classic does.
func quoteIfNeeded(s string) string {
	if strings.ContainsAny(s, " \t") {
		return "\"" + s + "\""
	}
	return s
}
