// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"bufio"
	"strings"
)

// NTS directives in NTPsec 1.2.2's syntax (ntp.conf(5) of NTPsec, "nts"): Network Time
// Security (RFC 8915). Classic ntpd 4.2.8p15 has none of this; gontp reads it so that an
// NTPsec configuration carries over.
//
//	nts enable | disable         serve NTS-KE and NTS-protected NTP
//	nts cert FILE                the server's certificate chain (PEM)
//	nts key FILE                 its private key (PEM)
//	nts ca FILE                  the authorities a client trusts (PEM); system roots if absent
//	nts cookie FILE              where the server keeps its cookie master keys
//	nts mintls VER | maxtls VER  TLS version bounds (TLS1.3; NTS needs 1.3)
//	nts aead NAME[:NAME...]      AEAD algorithms (AES_SIV_CMAC_256, _384, _512)
//
// and the association options `nts` (run NTS-KE with the server's name, then authenticate
// every packet) and `noval` (do not verify the server's certificate: testing only).

// NTSOption is one `nts` line's setting.
type NTSOption struct {
	Pos   Pos
	Name  string // enable, disable, cert, key, ca, cookie, mintls, maxtls, aead
	Value string // empty for enable and disable
	// ValuePos is where the value starts, for errors about it (a missing file).
	ValuePos Pos
}

var ntsValued = []string{"cert", "key", "ca", "cookie", "mintls", "maxtls", "aead"}

// ntsNames are the `nts` subcommands gontp reads.
var ntsNames = append([]string{"enable", "disable"}, ntsValued...)

// ntsUnsupported are NTPsec `nts` subcommands that gontp names rather than pretends to honour.
var ntsUnsupported = map[string]string{
	"tlsciphersuites": "TLS 1.3 cipher suites are Go's fixed, safe set",
	"tlsecdhcurves":   "Go chooses the key exchange groups",
}

// nts reads one `nts` line.
func (p *parser) nts(kw token) {
	p.record("nts", kw.pos)
	t := p.peek()
	if t.kind == tkEOC {
		p.syntax(t, "nts: missing subcommand (one of %s)", strings.Join(ntsNames, ", "))
		return
	}
	p.next()
	name := t.text
	if why, ok := ntsUnsupported[name]; ok {
		p.semantic(t.pos, "nts %s is not supported by gontp (%s)", name, why)
		p.skipLine()
		return
	}
	o := &NTSOption{Pos: kw.pos, Name: name}
	switch name {
	case "enable", "disable":
	case "cert", "key", "ca", "cookie", "mintls", "maxtls", "aead":
		v := p.peek()
		if v.kind == tkEOC {
			p.syntax(v, "nts %s: missing value", name)
			return
		}
		p.next()
		o.Value, o.ValuePos = v.text, v.pos
		if name == "mintls" || name == "maxtls" {
			if ntsTLSVersion(v.text) == 0 {
				p.semantic(v.pos, "nts %s %q: gontp speaks only TLS1.3, which NTS requires (RFC 8915 section 3)", name, v.text)
				p.skipLine()
				return
			}
		}
	default:
		p.syntax(t, "unknown nts subcommand %s%s", describe(t), p.dym(name, ntsNames))
		p.skipLine()
		return
	}
	p.trailing("nts "+name, nil)
	p.cfg.NTS = append(p.cfg.NTS, o)
}

// skipLine drops the rest of the current line.
func (p *parser) skipLine() {
	for p.peek().kind != tkEOC {
		p.next()
	}
}

// ntsTLSVersion accepts NTPsec's spellings of TLS 1.3 ("TLS1.3", "TLSv1.3", "1.3"); it
// returns 0x0304, or 0 for anything else.
func ntsTLSVersion(s string) uint16 {
	switch strings.ToLower(s) {
	case "tls1.3", "tlsv1.3", "1.3":
		return 0x0304
	}
	return 0
}

// NTSSetting returns the last `nts NAME` line's option, or nil.
func (c *Config) NTSSetting(name string) *NTSOption {
	var o *NTSOption
	for _, x := range c.NTS {
		if x.Name == name {
			o = x
		}
	}
	return o
}

// NTSEnabled reports whether the last of `nts enable` and `nts disable` is enable.
func (c *Config) NTSEnabled() bool {
	on := false
	for _, x := range c.NTS {
		switch x.Name {
		case "enable":
			on = true
		case "disable":
			on = false
		}
	}
	return on
}

// writeNTS writes the `nts` lines back for --saveconfigquit, in file order.
func writeNTS(b *bufio.Writer, c *Config) {
	for _, o := range c.NTS {
		if o.Value == "" {
			b.WriteString("nts " + o.Name + "\n")
			continue
		}
		b.WriteString("nts " + o.Name + " " + quoteIfNeeded(o.Value) + "\n")
	}
}
