// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// Limits of includefile. Classic allows five levels of includefile (MAXINCLUDELEVEL) and
// says "getconfig: Maximum include file level exceeded." for a deeper one, which it skips
// and goes on; MaxFiles is gontp's own bound on the number of files, far above any real
// configuration. There is no size limit: classic reads a file of any size, and a daemon
// that dropped a large file would run without its restrict lines, wide open.
const (
	MaxIncludeDepth = 5
	MaxFiles        = 64
)

// Parse reads the configuration file name from fsys, following includefile directives
// through fsys too. Absolute include paths are taken relative to the root of fsys (pass
// os.DirFS("/") and the name without its leading slash), and so are relative ones, which
// classic ntpd resolves against its working directory ("/" for a daemon).
//
// The returned Config always holds every line that could be used: like classic ntpd, a
// bad line is reported and skipped, or only its complete leading part is kept (classic's
// parser reduces "server 192.0.2.1 ibrust" to "server 192.0.2.1"). The error, when not
// nil, is a *multierror.Error of *PosError listing every problem of KindSyntax and
// KindSemantic in file order; warnings are in Config.Warnings.
func Parse(fsys fs.FS, name string) (*Config, error) {
	p := newParser(fsys)
	p.parseFile(name, Pos{}, 0)
	return p.finish()
}

// ParseBytes parses src as the configuration file called name. includefile directives
// fail with an error naming them, since there is no file system to read them from.
func ParseBytes(name string, src []byte) (*Config, error) {
	p := newParser(nil)
	p.cfg.Files = append(p.cfg.Files, name)
	p.parseSource(name, src, 0)
	return p.finish()
}

type parser struct {
	fsys    fs.FS
	cfg     *Config
	errs    []*PosError
	ended   bool
	nfiles  int
	toks    []token
	i       int
	lineCmd string
}

func newParser(fsys fs.FS) *parser {
	return &parser{fsys: fsys, cfg: &Config{}}
}

func (p *parser) finish() (*Config, error) {
	var merr *multierror.Error
	for _, e := range p.errs {
		if e.Kind == KindWarning {
			p.cfg.warnings = append(p.cfg.warnings, e)
			continue
		}
		merr = multierror.Append(merr, e)
	}
	p.crossCheck()
	if merr == nil {
		return p.cfg, nil
	}
	return p.cfg, merr
}

// MaxProblems caps the problems reported for one Parse; the rest of the input is still
// read and applied, as classic does, but not reported line by line.
const MaxProblems = 1000

func (p *parser) addErr(pos Pos, kind ErrorKind, format string, args ...any) {
	switch {
	case len(p.errs) < MaxProblems:
		p.errs = append(p.errs, &PosError{Pos: pos, Kind: kind, Msg: fmt.Sprintf(format, args...)})
	case len(p.errs) == MaxProblems:
		p.errs = append(p.errs, &PosError{Pos: pos, Kind: KindSemantic, Msg: fmt.Sprintf("more than %d problems; the rest are not reported", MaxProblems)})
	}
}

func (p *parser) syntax(t token, format string, args ...any) {
	p.addErr(t.pos, KindSyntax, format, args...)
}

func (p *parser) semantic(pos Pos, format string, args ...any) {
	p.addErr(pos, KindSemantic, format, args...)
}

func (p *parser) warn(pos Pos, format string, args ...any) {
	p.addErr(pos, KindWarning, format, args...)
}

func (p *parser) parseFile(name string, from Pos, depth int) {
	if p.nfiles >= MaxFiles {
		p.semantic(from, "includefile %q: more than %d configuration files", name, MaxFiles)
		return
	}
	p.nfiles++
	if p.fsys == nil {
		p.semantic(from, "includefile %q: no file system to read it from", name)
		return
	}
	fsName := strings.TrimPrefix(path.Clean(name), "/")
	if fsName == "" {
		fsName = "."
	}
	f, err := p.fsys.Open(fsName)
	if err != nil {
		if depth == 0 {
			p.semantic(Pos{File: name}, "cannot open configuration file: %v", err)
		} else {
			p.semantic(from, "includefile: cannot open %q: %v", name, err)
		}
		return
	}
	src, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil {
		p.semantic(from, "reading %q: %v", name, err)
		return
	}
	p.cfg.Files = append(p.cfg.Files, name)
	p.parseSource(name, src, depth)
}

func (p *parser) parseSource(name string, src []byte, depth int) {
	lineNo := 0
	for len(src) > 0 && !p.ended {
		lineNo++
		var line []byte
		if k := bytes.IndexByte(src, '\n'); k >= 0 {
			line, src = src[:k], src[k+1:]
		} else {
			line, src = src, nil
		}
		toks, tooLong, unterminated := lexLine(name, lineNo, string(line))
		if unterminated != nil {
			p.warn(*unterminated, "string has no closing quote; it runs to the end of the line")
		}
		if tooLong != nil {
			p.addErr(*tooLong, KindSyntax, "word longer than %d characters", maxLexeme)
			continue
		}
		p.toks, p.i = toks, 0
		p.command(depth)
	}
}

// ---- token helpers ----

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOC {
		p.i++
	}
	return t
}

func (p *parser) atEOC() bool { return p.toks[p.i].kind == tkEOC }

func describe(t token) string {
	switch t.kind {
	case tkEOC:
		return "end of line"
	case tkString:
		if t.quoted {
			return strconv.Quote(t.text)
		}
	}
	return strconv.Quote(t.text)
}

func isKw(t token, words ...string) bool {
	if t.kind != tkKeyword {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

// intArg reads the integer argument of option opt. Classic accepts T_U_int (values above
// INT_MAX and hex) only for the association options.
func (p *parser) intArg(opt string, allowU bool) (int64, bool) {
	t := p.next()
	if t.kind == tkInteger || (allowU && t.kind == tkUInt) {
		if t.wrap {
			p.warn(t.pos, "%s %s does not fit 32 bits; classic ntpd reads it as %d", opt, t.text, t.ival)
		}
		return t.ival, true
	}
	hint := ""
	switch {
	case t.kind == tkUInt:
		hint = " (classic ntpd accepts no hexadecimal or values above 2147483647 here)"
	case t.kind == tkDouble:
		hint = " (whole numbers only)"
	}
	p.syntax(t, "%s needs an integer, found %s%s", opt, describe(t), hint)
	return 0, false
}

// numArg reads a number (integer or decimal) argument.
func (p *parser) numArg(opt string) (float64, bool) {
	t := p.next()
	switch t.kind {
	case tkInteger:
		if t.wrap {
			p.warn(t.pos, "%s %s does not fit 32 bits; classic ntpd reads it as %d", opt, t.text, t.ival)
		}
		return float64(t.ival), true
	case tkDouble:
		return t.fval, true
	}
	hint := ""
	if t.kind == tkUInt {
		hint = " (classic ntpd accepts no hexadecimal or integers above 2147483647 here; write a decimal)"
	}
	p.syntax(t, "%s needs a number, found %s%s", opt, describe(t), hint)
	return 0, false
}

func (p *parser) strArg(opt string) (token, bool) {
	t := p.next()
	if t.kind == tkString {
		return t, true
	}
	if t.kind == tkKeyword {
		p.syntax(t, "%s needs a name, found the keyword %q (quote it to use it as a name)", opt, t.text)
	} else {
		p.syntax(t, "%s needs a name, found %s", opt, describe(t))
	}
	return t, false
}

// boolArg is classic's boolean: 0, 1 or "true"; other integers are taken as 1 with a
// warning, as classic does.
func (p *parser) boolArg(opt string) (int64, bool) {
	t := p.next()
	switch {
	case t.kind == tkInteger:
		if t.ival != 0 && t.ival != 1 {
			p.warn(t.pos, "%s %s is not 0 or 1; taken as 1 as classic ntpd does", opt, t.text)
			return 1, true
		}
		return t.ival, true
	case isKw(t, "true"):
		return 1, true
	}
	p.syntax(t, "%s needs 0 or 1, found %s", opt, describe(t))
	return 0, false
}

// trailing reports a token left after a complete command. Classic keeps the complete
// command and reports the rest as a syntax error; so does gontp.
func (p *parser) trailing(cmd string, expected []string) {
	t := p.peek()
	if t.kind == tkEOC {
		return
	}
	msg := fmt.Sprintf("unexpected %s after %s", describe(t), cmd)
	if t.kind == tkString || t.kind == tkKeyword {
		if len(expected) > 0 {
			msg = fmt.Sprintf("unknown option %s for %s", describe(t), p.lineCmd) + p.dym(t.text, expected)
		}
	}
	p.syntax(t, "%s", msg)
}

func (p *parser) record(kw string, pos Pos) {
	p.cfg.Directives = append(p.cfg.Directives, Directive{Keyword: kw, Pos: pos})
}

// ---- commands ----

var directiveNames = []string{
	"automax", "broadcast", "broadcastclient", "broadcastdelay", "controlkey", "crypto",
	"disable", "discard", "driftfile", "dscp", "enable", "end", "filegen", "fudge", "ident",
	"includefile", "interface", "keys", "keysdir", "leapfile", "leapsmearinterval",
	"logconfig", "logfile", "manycastclient", "manycastserver", "mdnstries", "mru",
	"multicastclient", "nic", "nonvolatile", "ntpsigndsocket", "peer", "phone", "pidfile",
	"pollskewlist", "pool", "requestkey", "reset", "restrict", "revoke", "rlimit",
	"saveconfigdir", "server", "setvar", "statistics", "statsdir", "tick", "tinker", "tos",
	"trap", "trustedkey", "ttl", "unconfig", "unpeer",
}

// ntpsecOnly are NTPsec directives that neither classic ntpd nor gontp implement.
var ntpsecOnly = map[string]string{
	"limit": "rate limits (classic uses discard)",
}

func (p *parser) command(depth int) {
	t := p.peek()
	if t.kind == tkEOC {
		return
	}
	p.lineCmd = t.text
	if t.kind != tkKeyword {
		switch {
		case t.kind == tkString && !t.quoted && t.text == "refclock":
			p.next()
			p.refclock(t)
			return
		case t.kind == tkString && !t.quoted && t.text == "unrestrict":
			p.next()
			p.restrict(t, true)
			return
		case t.kind == tkString && !t.quoted && t.text == "nts":
			p.next()
			p.nts(t)
			return
		case t.kind == tkString && !t.quoted && t.text == "metrics":
			p.next()
			p.metrics(t)
			return
		case t.kind == tkString && ntpsecOnly[t.text] != "":
			p.syntax(t, "%q (NTPsec %s) is not supported by classic ntpd or gontp", t.text, ntpsecOnly[t.text])
			return
		case t.kind == tkString && strings.ToLower(t.text) != t.text && keywords[strings.ToLower(t.text)] != 0 ||
			t.kind == tkString && strings.ToLower(t.text) != t.text && isDirective(strings.ToLower(t.text)):
			p.syntax(t, "unknown directive %q: keywords are lower case; did you mean %q?", t.text, strings.ToLower(t.text))
			return
		}
		p.syntax(t, "unknown directive %s%s", describe(t), p.dym(t.text, directiveNames))
		return
	}
	p.next()
	switch t.text {
	case "server", "pool", "peer", "broadcast", "manycastclient":
		p.association(t)
	case "fudge":
		p.fudge(t)
	case "restrict":
		p.restrict(t, false)
	case "tinker":
		p.optionList(t, &p.cfg.Tinker, tinkerOptions, nil, nil)
	case "tos":
		p.optionList(t, &p.cfg.Tos, nil, tosOptions, nil)
	case "discard":
		p.optionList(t, &p.cfg.Discard, nil, nil, discardOptions)
	case "mru":
		p.optionList(t, &p.cfg.MRU, nil, nil, mruOptions)
	case "rlimit":
		p.optionList(t, &p.cfg.Rlimit, nil, nil, rlimitOptions)
	case "statistics":
		p.nameList(t, &p.cfg.Statistics, statNames)
	case "enable":
		p.nameList(t, &p.cfg.Enable, systemFlagNames)
	case "disable":
		p.nameList(t, &p.cfg.Disable, systemFlagNames)
	case "reset":
		p.nameList(t, &p.cfg.Reset, resetNames)
	case "filegen":
		p.filegen(t)
	case "crypto":
		p.crypto(t)
	case "logconfig":
		p.logconfig(t)
	case "driftfile":
		p.driftfile(t)
	case "leapfile":
		p.leapfile(t)
	case "logfile", "pidfile", "saveconfigdir", "statsdir", "keys", "keysdir", "ident", "ntpsigndsocket":
		p.stringSetting(t)
	case "controlkey", "requestkey", "revoke", "automax", "dscp", "mdnstries", "leapsmearinterval":
		p.intSetting(t)
	case "broadcastdelay", "nonvolatile", "tick":
		p.numSetting(t)
	case "trustedkey":
		p.trustedkey(t)
	case "setvar":
		p.setvar(t)
	case "phone":
		p.phone(t)
	case "ttl":
		p.ttl(t)
	case "manycastserver", "multicastclient":
		p.addressList(t)
	case "broadcastclient":
		pos := t.pos
		p.cfg.BroadcastClient = &pos
		p.record(t.text, t.pos)
		p.trailing("broadcastclient", nil)
	case "unpeer", "unconfig":
		p.unpeer(t)
	case "trap":
		p.trap(t)
	case "interface", "nic":
		p.iface(t)
	case "pollskewlist":
		p.pollskew(t)
	case "includefile":
		p.include(t, depth)
	case "end":
		p.record(t.text, t.pos)
		p.ended = true
	case "simulate":
		p.syntax(t, "the simulate block is for the ntpdsim simulator, not ntpd")
	default:
		p.syntax(t, "%q is not a directive%s", t.text, p.dym(t.text, directiveNames))
	}
}

func isDirective(w string) bool {
	for _, d := range directiveNames {
		if d == w {
			return true
		}
	}
	return false
}

// ---- associations ----

var assocIntOptions = []string{"minpoll", "maxpoll", "key", "version", "ttl", "mode"}
var assocFlagOptions = []string{"iburst", "burst", "prefer", "noselect", "true", "preempt", "xleave", "autokey", "xmtnonce", "nts", "noval"}

func assocOptionNames() []string {
	return append(append(append([]string{}, assocIntOptions...), assocFlagOptions...), "ident")
}

// address reads [-4|-6] ADDRESS.
func (p *parser) address(cmd string) (fam int, addr token, ok bool) {
	t := p.peek()
	switch t.kind {
	case tkV4Flag:
		p.next()
		fam = 4
	case tkV6Flag:
		p.next()
		fam = 6
	}
	addr = p.next()
	if addr.kind != tkString {
		if addr.kind == tkKeyword {
			p.syntax(addr, "%s needs an address or host name, found the keyword %q", cmd, addr.text)
		} else {
			p.syntax(addr, "%s needs an address or host name, found %s", cmd, describe(addr))
		}
		return 0, addr, false
	}
	return fam, addr, true
}

// parseRefclockAddr recognises 127.127.t.u.
func parseRefclockAddr(s string) *RefclockID {
	if !strings.HasPrefix(s, "127.127.") {
		return nil
	}
	parts := strings.Split(s[len("127.127."):], ".")
	if len(parts) != 2 {
		return nil
	}
	t, err1 := strconv.Atoi(parts[0])
	u, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || t < 0 || t > 255 || u < 0 || u > 255 {
		return nil
	}
	return &RefclockID{Type: t, Unit: u}
}

// looksNumeric reports whether s looks like an IPv4 dotted quad, so a malformed one can
// be reported instead of silently becoming a host name to look up.
func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return strings.Contains(s, ".")
}

func (p *parser) checkAssocAddress(a *Association, t token) {
	s := a.Address
	if a.Refclock != nil {
		return
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		if looksNumeric(s) {
			p.warn(t.pos, "%q is not a valid IPv4 address; it will be looked up as a host name", s)
		}
		return
	}
	switch {
	case ip.Is4() && a.Family == 6, ip.Is6() && !ip.Is4In6() && a.Family == 4:
		p.warn(t.pos, "-%d given with the %s address %s", a.Family, map[bool]string{true: "IPv4", false: "IPv6"}[ip.Is4()], s)
	}
	if ip.Is4() && ip.IsLoopback() && ip != netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
		a.Invalid = true
		p.semantic(t.pos, "%s: classic ntpd refuses loopback addresses other than 127.0.0.1 (and refclocks 127.127.t.u)", s)
	}
}

func (p *parser) association(kw token) {
	fam, addr, ok := p.address(kw.text)
	if !ok {
		return
	}
	a := &Association{Pos: kw.pos, Kind: AssocKind(kw.text), Family: fam, Address: addr.text, Version: NTPVersion}
	a.Refclock = parseRefclockAddr(addr.text)
	if a.Refclock != nil && kw.text != "server" && kw.text != "peer" {
		p.semantic(addr.pos, "%s %s: reference clocks are configured with server", kw.text, addr.text)
		a.Invalid = true
	}
	p.checkAssocAddress(a, addr)
	drop := false
	for {
		t := p.peek()
		if t.kind == tkEOC {
			break
		}
		if t.kind == tkString && !t.quoted && (t.text == "nts" || t.text == "noval") {
			// NTPsec's NTS options (ntpconf/nts.go); not classic keywords, so they lex
			// as strings.
			p.next()
			a.Flags = append(a.Flags, t.text)
			continue
		}
		if t.kind != tkKeyword {
			p.commitAssoc(a, drop)
			p.syntax(t, "unknown option %s for %s%s", describe(t), kw.text, p.dym(t.text, assocOptionNames()))
			return
		}
		switch t.text {
		case "minpoll", "maxpoll", "key", "version", "ttl", "mode":
			p.next()
			v, ok := p.intArg(t.text, true)
			if !ok {
				return
			}
			switch t.text {
			case "minpoll":
				if v < MinPollLimit || v > 255 {
					c := min(max(v, MinPollLimit), 255)
					p.warn(t.pos, "minpoll %d is outside %d..%d; classic ntpd uses %d", v, MinPollLimit, MaxPollLimit, c)
					v = c
				} else if v > MaxPollLimit {
					p.warn(t.pos, "minpoll %d is above %d", v, MaxPollLimit)
				}
				a.MinPoll = int(v)
			case "maxpoll":
				if v < 0 || v > MaxPollLimit {
					c := min(max(v, 0), MaxPollLimit)
					p.warn(t.pos, "maxpoll %d is outside %d..%d; classic ntpd uses %d", v, MinPollLimit, MaxPollLimit, c)
					v = c
				}
				a.MaxPoll = int(v)
			case "key":
				if v < 1 || v > 65535 {
					p.warn(t.pos, "key %d is outside the key id range 1..65535", v)
				}
				a.Key = uint32(v)
			case "version":
				if v < 1 || v > 4 {
					p.warn(t.pos, "version %d is outside 1..4", v)
				}
				a.Version = int(uint8(v))
			case "ttl":
				if a.Refclock != nil {
					p.semantic(t.pos, "ttl does not apply to reference clocks (use mode); classic ntpd drops this line")
					drop = true
				}
				a.TTLMode = v
			case "mode":
				if a.Refclock == nil {
					p.semantic(t.pos, "mode applies only to reference clocks 127.127.t.u; classic ntpd drops this line")
					drop = true
				}
				a.TTLMode = v
			}
		case "ident":
			p.next()
			s, ok := p.strArg("ident")
			if !ok {
				return
			}
			a.Ident = s.text
		case "iburst", "burst", "prefer", "noselect", "true", "preempt", "xleave", "autokey", "xmtnonce":
			p.next()
			a.Flags = append(a.Flags, t.text)
		default:
			p.commitAssoc(a, drop)
			p.syntax(t, "unknown option %q for %s%s", t.text, kw.text, p.dym(t.text, assocOptionNames()))
			return
		}
	}
	p.commitAssoc(a, drop)
}

func (p *parser) commitAssoc(a *Association, drop bool) {
	if drop {
		return
	}
	if a.MinPoll != 0 && a.MaxPoll != 0 && a.MinPoll > a.MaxPoll {
		p.warn(a.Pos, "minpoll %d is greater than maxpoll %d", a.MinPoll, a.MaxPoll)
	}
	p.cfg.Associations = append(p.cfg.Associations, a)
	p.record(string(a.Kind), a.Pos)
}

// refclockDrivers maps NTPsec driver names to classic driver types.
var refclockDrivers = map[string]int{
	"local": 1, "spectracom": 4, "truetime": 5, "generic": 8, "arbiter": 11, "modem": 18,
	"nmea": 20, "pps": 22, "hpgps": 26, "shm": 28, "trimble": 29, "oncore": 30, "jjy": 40,
	"zyfer": 42, "gpsd": 46,
}

// refclock reads NTPsec's "refclock NAME [unit N] [options]" and turns it into the classic
// server 127.127.t.u and fudge pair. Classic ntpd 4.2.8p15 rejects the line; gontp accepts
// it so configurations carried over from NTPsec keep working.
func (p *parser) refclock(kw token) {
	name := p.next()
	typ, ok := refclockDrivers[name.text]
	if name.kind != tkString || !ok {
		p.syntax(name, "refclock needs a driver name (%s), found %s%s", strings.Join(keysOf(refclockDrivers), ", "), describe(name), p.dym(name.text, keysOf(refclockDrivers)))
		return
	}
	p.warn(kw.pos, "refclock is NTPsec syntax: classic ntpd 4.2.8p15 rejects this line; gontp reads it as server 127.127.%d.u", typ)
	a := &Association{Pos: kw.pos, Kind: KindServer, Version: NTPVersion}
	f := &Fudge{Pos: kw.pos}
	unit := int64(0)
	baud := int64(-1) // NMEA mode bits 4-6 from NTPsec's baud, -1 for none
	opts := []string{"unit", "subtype", "mode", "minpoll", "maxpoll", "prefer", "noselect", "time1", "time2", "stratum", "refid", "flag1", "flag2", "flag3", "flag4", "path", "ppspath", "baud", "holdover"}
	for !p.atEOC() {
		t := p.next()
		switch t.text {
		case "unit", "subtype", "mode", "minpoll", "maxpoll", "stratum", "baud":
			v, ok := p.intArg(t.text, false)
			if !ok {
				return
			}
			switch t.text {
			case "unit":
				if v < 0 || v > 255 {
					p.semantic(t.pos, "refclock unit %d is outside 0..255", v)
					return
				}
				unit = v
			case "subtype", "mode":
				a.TTLMode = v
			case "minpoll":
				a.MinPoll = int(min(max(v, MinPollLimit), MaxPollLimit))
			case "maxpoll":
				a.MaxPoll = int(min(max(v, 0), MaxPollLimit))
			case "stratum":
				f.Options = append(f.Options, &Option{Pos: t.pos, Name: "stratum", Value: Value{Kind: ValueInt, Int: v}})
			case "baud":
				// NTPsec's baud is classic NMEA's mode bits 4-6.
				bits, ok := map[int64]int64{4800: 0, 9600: 1, 19200: 2, 38400: 3, 57600: 4, 115200: 5}[v]
				switch {
				case typ != 20:
					p.warn(t.pos, "refclock option baud applies to the nmea driver only; ignored")
				case !ok:
					p.semantic(t.pos, "refclock nmea baud %d: the driver runs at 4800, 9600, 19200, 38400, 57600 or 115200", v)
					return
				default:
					baud = bits
				}
			}
		case "time1", "time2":
			v, ok := p.numArg(t.text)
			if !ok {
				return
			}
			f.Options = append(f.Options, &Option{Pos: t.pos, Name: t.text, Value: Value{Kind: ValueDouble, Dbl: v}})
		case "flag1", "flag2", "flag3", "flag4":
			v, ok := p.boolArg(t.text)
			if !ok {
				return
			}
			f.Options = append(f.Options, &Option{Pos: t.pos, Name: t.text, Value: Value{Kind: ValueInt, Int: v}})
		case "refid":
			s, ok := p.strArg("refid")
			if !ok {
				return
			}
			f.Options = append(f.Options, &Option{Pos: t.pos, Name: "refid", Value: Value{Kind: ValueString, Str: s.text}})
		case "prefer", "noselect":
			a.Flags = append(a.Flags, t.text)
		case "path", "ppspath":
			v, ok := p.strArg(t.text)
			if !ok {
				return
			}
			if t.text == "path" {
				a.Path = v.text
			} else {
				a.PPSPath = v.text
			}
			p.warn(t.pos, "refclock option %s is NTPsec's: classic ntpd has no such option (it opens the driver's default device); gontp's driver opens %s", t.text, v.text)
		case "holdover":
			p.warn(t.pos, "refclock option holdover is not supported by classic ntpd; ignored")
		default:
			p.syntax(t, "unknown refclock option %s%s", describe(t), p.dym(t.text, opts))
			return
		}
	}
	if baud >= 0 {
		a.TTLMode = a.TTLMode&^0x70 | baud<<4
	}
	addr := fmt.Sprintf("127.127.%d.%d", typ, unit)
	a.Address, f.Address = addr, addr
	a.Refclock = &RefclockID{Type: typ, Unit: int(unit)}
	f.Refclock = a.Refclock
	p.commitAssoc(a, false)
	if len(f.Options) > 0 {
		p.cfg.Fudges = append(p.cfg.Fudges, f)
		p.record("fudge", f.Pos)
	}
}

// ---- fudge ----

var fudgeOptions = []string{"time1", "time2", "minjitter", "stratum", "refid", "abbrev", "flag1", "flag2", "flag3", "flag4"}

func (p *parser) fudge(kw token) {
	_, addr, ok := p.address("fudge")
	if !ok {
		return
	}
	f := &Fudge{Pos: kw.pos, Address: addr.text, Refclock: parseRefclockAddr(addr.text)}
	for {
		t := p.peek()
		if t.kind == tkEOC {
			if len(f.Options) == 0 {
				p.syntax(t, "fudge %s needs at least one option (%s)", addr.text, strings.Join(fudgeOptions, ", "))
				return
			}
			break
		}
		if !isKw(t, fudgeOptions...) {
			if len(f.Options) > 0 {
				p.commitFudge(f, addr)
			}
			p.syntax(t, "unknown option %s for fudge%s", describe(t), p.dym(t.text, fudgeOptions))
			return
		}
		p.next()
		o := &Option{Pos: t.pos, Name: t.text}
		switch t.text {
		case "time1", "time2", "minjitter":
			v, ok := p.numArg(t.text)
			if !ok {
				return
			}
			o.Value = Value{Kind: ValueDouble, Dbl: v}
		case "stratum":
			v, ok := p.intArg("stratum", false)
			if !ok {
				return
			}
			if v < 0 || v > 16 {
				p.warn(t.pos, "fudge stratum %d is outside 0..16", v)
			}
			o.Value = Value{Kind: ValueInt, Int: v}
		case "refid", "abbrev":
			s, ok := p.strArg(t.text)
			if !ok {
				return
			}
			if t.text == "refid" && len(s.text) > 4 {
				p.warn(s.pos, "refid %q is longer than 4 characters; only %q is used", s.text, s.text[:4])
			}
			o.Value = Value{Kind: ValueString, Str: s.text}
		default: // flag1..flag4
			v, ok := p.boolArg(t.text)
			if !ok {
				return
			}
			o.Value = Value{Kind: ValueInt, Int: v}
		}
		f.Options = append(f.Options, o)
	}
	p.commitFudge(f, addr)
}

func (p *parser) commitFudge(f *Fudge, addr token) {
	if f.Refclock == nil {
		p.semantic(addr.pos, "fudge %s: not a reference clock address 127.127.t.u; classic ntpd ignores this line", addr.text)
	}
	p.cfg.Fudges = append(p.cfg.Fudges, f)
	p.record("fudge", f.Pos)
}

// ---- restrict ----

func restrictFlagList() []string {
	return append(keysOf(restrictFlagNames), "serverresponse", "ippeerlimit", "mask")
}

func (p *parser) restrict(kw token, remove bool) {
	r := &Restrict{Pos: kw.pos, Prefix: -1, IPPeerLimit: -1, Remove: remove}
	if remove {
		p.warn(kw.pos, "unrestrict is NTPsec syntax: classic ntpd 4.2.8p15 rejects this line")
	}
	t := p.next()
	switch {
	case t.kind == tkV4Flag || t.kind == tkV6Flag:
		r.Family = 4
		if t.kind == tkV6Flag {
			r.Family = 6
		}
		a := p.next()
		switch {
		case isKw(a, "default"):
			r.Default = true
		case a.kind == tkString:
			r.Address = a.text
			p.checkRestrictAddr(r, a)
		default:
			p.syntax(a, "%s %s needs default or an address, found %s", kw.text, t.text, describe(a))
			return
		}
	case isKw(t, "default"):
		r.Default = true
	case isKw(t, "source"):
		r.Source = true
	case t.kind == tkString:
		r.Address = t.text
		p.checkRestrictAddr(r, t)
	default:
		p.syntax(t, "%s needs default, source or an address, found %s", kw.text, describe(t))
		return
	}
	if !r.Default && !r.Source && isKw(p.peek(), "mask") {
		p.next()
		m := p.next()
		if m.kind != tkString {
			p.syntax(m, "mask needs an address mask such as 255.255.255.0, found %s", describe(m))
			return
		}
		r.Mask = m.text
		if r.Prefix >= 0 {
			p.semantic(m.pos, "both a /%d prefix and a mask given", r.Prefix)
			r.Invalid = true
		} else if _, err := netip.ParseAddr(m.text); err != nil {
			p.semantic(m.pos, "mask %q is not an address mask; classic ntpd ignores this line", m.text)
			r.Invalid = true
		}
	}
	if isKw(p.peek(), "ippeerlimit") {
		t := p.next()
		v, ok := p.intArg("ippeerlimit", false)
		if !ok {
			return
		}
		if v < -1 {
			p.warn(t.pos, "ippeerlimit %d is below -1 (no limit)", v)
		}
		r.IPPeerLimit = int(v)
	}
	for {
		t := p.peek()
		if t.kind == tkEOC {
			break
		}
		if isKw(t, "serverresponse") {
			p.next()
			f := p.next()
			if !isKw(f, "fuzz") {
				p.syntax(f, "serverresponse needs fuzz, found %s", describe(f))
				return
			}
			r.Flags |= RestrictServerResponseFuzz
			r.FlagNames = append(r.FlagNames, "serverresponse fuzz")
			continue
		}
		if isKw(t, "epeer") {
			p.next()
			p.semantic(t.pos, "restrict flag epeer makes classic ntpd 4.2.8p15 exit at start-up (config_access: Unknown flag-type-token); remove it")
			r.Invalid = true
			r.FlagNames = append(r.FlagNames, "epeer")
			continue
		}
		bit, ok := restrictFlagNames[t.text]
		if t.kind != tkKeyword || !ok {
			p.commitRestrict(r)
			what := "unknown restrict flag " + describe(t) + p.dym(t.text, restrictFlagList())
			switch t.text {
			case "mask":
				what = "mask must come right after the address"
			case "ippeerlimit":
				what = "ippeerlimit must come once, before the flags"
			case "source", "default":
				what = fmt.Sprintf("%s must come right after %s", t.text, kw.text)
			}
			p.syntax(t, "%s", what)
			return
		}
		p.next()
		r.Flags |= bit
		r.FlagNames = append(r.FlagNames, t.text)
	}
	p.commitRestrict(r)
}

func (p *parser) checkRestrictAddr(r *Restrict, t token) {
	s := t.text
	if k := strings.IndexByte(s, '/'); k >= 0 {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			p.semantic(t.pos, "restrict address %q is not ADDRESS/LENGTH; classic ntpd ignores this line", s)
			r.Invalid = true
			return
		}
		r.Address = pfx.Addr().String()
		r.Prefix = pfx.Bits()
		r.Written = s
		p.warn(t.pos, "%s: classic ntpd 4.2.8p15 has no ADDR/LEN form and ignores this line; gontp applies it (classic form: restrict %s mask %s)", s, r.Address, prefixMask(pfx.Addr(), pfx.Bits()))
		return
	}
	if _, err := netip.ParseAddr(s); err != nil && looksNumeric(s) {
		p.semantic(t.pos, "restrict address %q is not a valid address; classic ntpd ignores this line", s)
		r.Invalid = true
	}
}

// prefixMask writes the mask of a prefix length in the family of addr.
func prefixMask(addr netip.Addr, bits int) string {
	if addr.Is4() {
		var b [4]byte
		for i := 0; i < bits; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom4(b).String()
	}
	var b [16]byte
	for i := 0; i < bits; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b).String()
}

func (p *parser) commitRestrict(r *Restrict) {
	if r.Flags&RestrictKod != 0 && r.Flags&RestrictLimited == 0 {
		p.warn(r.Pos, "kod does nothing without limited")
	}
	p.cfg.Restricts = append(p.cfg.Restricts, r)
	if r.Remove {
		p.record("unrestrict", r.Pos)
	} else {
		p.record("restrict", r.Pos)
	}
}

// ---- option lists ----

var tinkerOptions = []string{"allan", "dispersion", "freq", "huffpuff", "panic", "step", "stepback", "stepfwd", "stepout", "tick"}
var tosOptions = []string{"bcpollbstep", "beacon", "ceiling", "floor", "orphan", "orphanwait", "minsane", "mindist", "maxdist", "minclock", "maxclock", "cohort", "basedate"}
var discardOptions = []string{"average", "minimum", "monitor"}
var mruOptions = []string{"maxdepth", "maxmem", "mindepth", "maxage", "initalloc", "initmem", "incalloc", "incmem"}
var rlimitOptions = []string{"memlock", "stacksize", "filenum"}
var statNames = []string{"clockstats", "cryptostats", "loopstats", "peerstats", "rawstats", "sysstats", "protostats", "timingstats"}
var systemFlagNames = []string{"auth", "bclient", "calibrate", "kernel", "monitor", "ntp", "stats", "mode7", "peer_clear_digest_early", "unpeer_crypto_early", "unpeer_crypto_nak_early", "unpeer_digest_early"}
var resetNames = []string{"allpeers", "auth", "ctl", "io", "mem", "sys", "timer"}

var tosIntOptions = map[string]bool{"bcpollbstep": true, "beacon": true, "ceiling": true, "floor": true, "orphan": true, "orphanwait": true, "minsane": true}

// optionList reads "CMD NAME VALUE [NAME VALUE ...]". Exactly one of dbl (number values),
// tos (classic's tos mix) or ints (integer values) names the options.
func (p *parser) optionList(kw token, dst *[]*Option, dbl, tos, ints []string) {
	names := append(append(append([]string{}, dbl...), tos...), ints...)
	var opts []*Option
	for {
		t := p.peek()
		if t.kind == tkEOC && len(opts) > 0 {
			break
		}
		if !isKw(t, names...) {
			if len(opts) > 0 {
				*dst = append(*dst, opts...)
				p.record(kw.text, kw.pos)
			}
			if t.kind == tkEOC {
				p.syntax(t, "%s needs options (%s)", kw.text, strings.Join(names, ", "))
			} else {
				extra := ""
				if kw.text == "tos" && t.text == "maxdisp" {
					extra = " (maxdisp is NTPsec only)"
				}
				if kw.text == "mru" && t.text == "minage" {
					extra = " (minage is NTPsec only)"
				}
				p.syntax(t, "unknown option %s for %s%s%s", describe(t), kw.text, p.dym(t.text, names), extra)
			}
			return
		}
		p.next()
		o := &Option{Pos: t.pos, Name: t.text}
		switch {
		case len(dbl) > 0:
			v, ok := p.numArg(t.text)
			if !ok {
				return
			}
			o.Value = Value{Kind: ValueDouble, Dbl: v}
		case len(ints) > 0:
			v, ok := p.intArg(t.text, false)
			if !ok {
				return
			}
			o.Value = Value{Kind: ValueInt, Int: v}
		case t.text == "cohort":
			v, ok := p.boolArg("cohort")
			if !ok {
				return
			}
			o.Value = Value{Kind: ValueDouble, Dbl: float64(v)}
		case t.text == "basedate":
			s := p.next()
			if s.kind != tkString {
				p.syntax(s, "basedate needs a date YYYY-MM-DD or a day number, found %s", describe(s))
				return
			}
			d, ok := evalBasedate(s.text)
			if !ok {
				p.warn(s.pos, "basedate %q is not a date YYYY-MM-DD or a number of days since 1900; classic ntpd substitutes its build date %s", s.text, d)
			}
			o.Value = Value{Kind: ValueString, Str: d}
		case tosIntOptions[t.text]:
			v, ok := p.intArg(t.text, false)
			if !ok {
				return
			}
			o.Value = Value{Kind: ValueDouble, Dbl: float64(v)}
		default:
			v, ok := p.numArg(t.text)
			if !ok {
				return
			}
			o.Value = Value{Kind: ValueDouble, Dbl: v}
		}
		opts = append(opts, o)
	}
	*dst = append(*dst, opts...)
	p.record(kw.text, kw.pos)
}

// classicBuildBasedate is what classic 4.2.8p15 (Debian build) substitutes for a bad tos
// basedate.
const classicBuildBasedate = "2020-09-22"

// evalBasedate converts a tos basedate argument: a date YYYY-MM-DD or a day number counted
// from 1900-01-01, formatted as classic's saveconfig prints it.
func evalBasedate(s string) (string, bool) {
	if allDigits(s) && s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n > 3000000 {
			return classicBuildBasedate, false
		}
		y, m, d := civilFromDays(int64(n) - 25567) // 1900-01-01 is 25567 days before 1970-01-01
		return fmt.Sprintf("%04d-%02d-%02d", y, m, d), true
	}
	var y, m, d int
	if len(s) == 10 && s[4] == '-' && s[7] == '-' && allDigits(s[:4]) && allDigits(s[5:7]) && allDigits(s[8:]) {
		y, _ = strconv.Atoi(s[:4])
		m, _ = strconv.Atoi(s[5:7])
		d, _ = strconv.Atoi(s[8:])
		if y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m) {
			return s, true
		}
	}
	return classicBuildBasedate, false
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// civilFromDays converts days since 1970-01-01 to a proleptic Gregorian date.
func civilFromDays(z int64) (int64, int64, int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// nameList reads "CMD NAME [NAME ...]" where every NAME is one of names.
func (p *parser) nameList(kw token, dst *[]*Option, names []string) {
	var opts []*Option
	for {
		t := p.peek()
		if t.kind == tkEOC && len(opts) > 0 {
			break
		}
		if !isKw(t, names...) {
			if len(opts) > 0 {
				*dst = append(*dst, opts...)
				p.record(kw.text, kw.pos)
			}
			if t.kind == tkEOC {
				p.syntax(t, "%s needs at least one of %s", kw.text, strings.Join(names, ", "))
			} else {
				extra := ""
				if t.text == "pps" && (kw.text == "enable" || kw.text == "disable") {
					extra = " (pps is no longer a system flag in ntpd 4.2.8)"
				}
				p.syntax(t, "unknown option %s for %s%s%s", describe(t), kw.text, p.dym(t.text, names), extra)
			}
			return
		}
		p.next()
		opts = append(opts, &Option{Pos: t.pos, Name: t.text})
	}
	*dst = append(*dst, opts...)
	p.record(kw.text, kw.pos)
}

// ---- filegen, crypto, logconfig ----

var filegenTypes = []string{"none", "pid", "day", "week", "month", "year", "age"}

func (p *parser) filegen(kw token) {
	n := p.next()
	if !isKw(n, statNames...) {
		p.syntax(n, "filegen needs a statistics name (%s), found %s%s", strings.Join(statNames, ", "), describe(n), p.dym(n.text, statNames))
		return
	}
	g := &Filegen{Pos: kw.pos, Name: n.text}
	opts := []string{"file", "type", "link", "nolink", "enable", "disable"}
	for {
		t := p.peek()
		if t.kind == tkEOC {
			break
		}
		if !isKw(t, opts...) {
			p.commitFilegen(g)
			p.syntax(t, "unknown option %s for filegen%s", describe(t), p.dym(t.text, opts))
			return
		}
		p.next()
		switch t.text {
		case "file":
			s, ok := p.strArg("file")
			if !ok {
				return
			}
			g.Options = append(g.Options, &Option{Pos: t.pos, Name: "file", Value: Value{Kind: ValueString, Str: s.text}})
		case "type":
			s := p.next()
			if !isKw(s, filegenTypes...) {
				p.syntax(s, "filegen type needs one of %s, found %s%s", strings.Join(filegenTypes, ", "), describe(s), p.dym(s.text, filegenTypes))
				return
			}
			g.Options = append(g.Options, &Option{Pos: t.pos, Name: "type", Value: Value{Kind: ValueString, Str: s.text}})
		default:
			g.Options = append(g.Options, &Option{Pos: t.pos, Name: t.text})
		}
	}
	p.commitFilegen(g)
}

func (p *parser) commitFilegen(g *Filegen) {
	p.cfg.Filegens = append(p.cfg.Filegens, g)
	p.record("filegen", g.Pos)
}

var cryptoOptions = []string{"digest", "host", "ident", "pw", "randfile"}

func (p *parser) crypto(kw token) {
	var opts []*Option
	for {
		t := p.peek()
		if t.kind == tkEOC {
			break
		}
		if !isKw(t, cryptoOptions...) {
			p.cfg.Crypto = append(p.cfg.Crypto, opts...)
			p.record("crypto", kw.pos)
			p.syntax(t, "unknown option %s for crypto%s", describe(t), p.dym(t.text, cryptoOptions))
			return
		}
		p.next()
		s, ok := p.strArg(t.text)
		if !ok {
			return
		}
		opts = append(opts, &Option{Pos: t.pos, Name: t.text, Value: Value{Kind: ValueString, Str: s.text}})
	}
	p.cfg.Crypto = append(p.cfg.Crypto, opts...)
	p.record("crypto", kw.pos)
}

func (p *parser) logconfig(kw token) {
	var items []*LogconfigItem
	for !p.atEOC() {
		t := p.next()
		it := &LogconfigItem{Pos: t.pos, Op: '=', Name: t.text}
		if t.text != "" && strings.IndexByte("=+-", t.text[0]) >= 0 {
			it.Op, it.Name = t.text[0], t.text[1:]
		}
		if !validLogClass(it.Name) {
			p.warn(t.pos, "logconfig: unknown class %q (classes sys, peer, clock, sync; types info, events, statistics, status; or all)", it.Name)
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		p.syntax(p.peek(), "logconfig needs at least one item such as =syncall")
		return
	}
	p.cfg.Logconfig = append(p.cfg.Logconfig, items...)
	p.record("logconfig", kw.pos)
}

func validLogClass(s string) bool {
	if s == "all" || s == "allall" {
		return true
	}
	for _, c := range []string{"sys", "peer", "clock", "sync", "all"} {
		if strings.HasPrefix(s, c) {
			switch s[len(c):] {
			case "info", "events", "statistics", "status", "all":
				return true
			}
		}
	}
	return false
}

// ---- single settings ----

func (p *parser) driftfile(kw token) {
	s := &Setting{Pos: kw.pos, Keyword: "driftfile", Value: Value{Kind: ValueString}}
	t := p.peek()
	if t.kind == tkString {
		p.next()
		s.Value.Str = t.text
		if w := p.peek(); w.kind == tkDouble {
			p.next()
			s.Extra = Value{Kind: ValueDouble, Dbl: w.fval}
			p.warn(w.pos, "driftfile FILE WANDER is deprecated; write the wander threshold as a separate nonvolatile line")
		}
	} else if t.kind != tkEOC {
		p.syntax(t, "driftfile needs a file name, found %s", describe(t))
		return
	}
	p.commitSetting(s)
	p.trailing("driftfile's file name (a wander threshold must be written as a decimal)", nil)
}

func (p *parser) leapfile(kw token) {
	t, ok := p.strArg("leapfile")
	if !ok {
		return
	}
	s := &Setting{Pos: kw.pos, Keyword: "leapfile", Value: Value{Kind: ValueString, Str: t.text}, Extra: Value{Kind: ValueString, Str: "checkhash"}}
	if h := p.peek(); isKw(h, "checkhash", "ignorehash") {
		p.next()
		s.Extra.Str = h.text
	}
	p.commitSetting(s)
	p.trailing("leapfile", []string{"checkhash", "ignorehash"})
}

// metrics is gontp's "metrics ADDRESS:PORT": the metrics endpoint listens there. Several
// lines listen on several addresses; a repeated address is reported and used once.
func (p *parser) metrics(kw token) {
	t, ok := p.strArg("metrics")
	if !ok {
		return
	}
	ap, err := netip.ParseAddrPort(t.text)
	if err != nil || ap.Port() == 0 {
		p.syntax(t, "metrics needs ADDRESS:PORT with an IP address and a port (127.0.0.1:9975, [::1]:9975), found %q", t.text)
		return
	}
	for _, m := range p.cfg.Metrics {
		if m.Addr == ap {
			p.warn(t.pos, "metrics %s: already given at %s; listening once", ap, m.Pos)
			p.trailing("metrics", nil)
			return
		}
	}
	p.cfg.Metrics = append(p.cfg.Metrics, &Metrics{Pos: kw.pos, Addr: ap})
	p.record("metrics", kw.pos)
	p.trailing("metrics", nil)
}

func (p *parser) stringSetting(kw token) {
	t, ok := p.strArg(kw.text)
	if !ok {
		return
	}
	p.commitSetting(&Setting{Pos: kw.pos, Keyword: kw.text, Value: Value{Kind: ValueString, Str: t.text}})
	p.trailing(kw.text+"'s name (quote names that contain blanks)", nil)
}

func (p *parser) intSetting(kw token) {
	t := p.peek()
	v, ok := p.intArg(kw.text, false)
	if !ok {
		return
	}
	switch kw.text {
	case "controlkey", "requestkey":
		if v < 1 || v > 65535 {
			p.warn(t.pos, "%s %d is outside the key id range 1..65535", kw.text, v)
		}
	case "leapsmearinterval":
		p.warn(kw.pos, "leapsmearinterval: classic ntpd as packaged is built without leap smearing and ignores it")
	}
	p.commitSetting(&Setting{Pos: kw.pos, Keyword: kw.text, Value: Value{Kind: ValueInt, Int: v}})
	p.trailing(kw.text, nil)
}

func (p *parser) numSetting(kw token) {
	v, ok := p.numArg(kw.text)
	if !ok {
		return
	}
	p.commitSetting(&Setting{Pos: kw.pos, Keyword: kw.text, Value: Value{Kind: ValueDouble, Dbl: v}})
	p.trailing(kw.text, nil)
}

func (p *parser) commitSetting(s *Setting) {
	p.cfg.Settings = append(p.cfg.Settings, s)
	p.record(s.Keyword, s.Pos)
}

// ---- trustedkey, setvar, phone, ttl, addresses, unpeer, trap, interface, pollskew ----

func (p *parser) trustedkey(kw token) {
	var keys []*KeyRange
	commit := func() {
		if len(keys) > 0 {
			// classic keeps only the last trustedkey line's list
			p.cfg.TrustedKeys = keys
			p.record("trustedkey", kw.pos)
		}
	}
	for {
		t := p.peek()
		if t.kind == tkEOC && len(keys) > 0 {
			break
		}
		switch {
		case t.kind == tkInteger:
			p.next()
			if t.ival < 1 || t.ival > 65535 {
				p.warn(t.pos, "trusted key %d is outside the key id range 1..65535", t.ival)
			}
			keys = append(keys, &KeyRange{Pos: t.pos, First: t.ival, Last: t.ival})
		case t.kind == tkSpecial && t.text == "(":
			p.next()
			lo, ok := p.intArg("trustedkey range", false)
			if !ok {
				return
			}
			if e := p.next(); !isKw(e, "...") {
				p.syntax(e, "trustedkey range needs \"...\" between its bounds, written ( FIRST ... LAST ) with blanks, found %s", describe(e))
				return
			}
			hi, ok := p.intArg("trustedkey range", false)
			if !ok {
				return
			}
			if c := p.next(); c.kind != tkSpecial || c.text != ")" {
				p.syntax(c, "trustedkey range needs a closing \")\", found %s", describe(c))
				return
			}
			if lo > hi {
				p.warn(t.pos, "trustedkey range ( %d ... %d ) is empty", lo, hi)
			}
			keys = append(keys, &KeyRange{Pos: t.pos, First: lo, Last: hi, Range: true})
		default:
			commit()
			if t.kind == tkEOC {
				p.syntax(t, "trustedkey needs key ids")
			} else {
				p.syntax(t, "trustedkey needs key ids or ( FIRST ... LAST ), found %s", describe(t))
			}
			return
		}
	}
	commit()
}

func (p *parser) setvar(kw token) {
	n := p.next()
	if n.kind != tkString {
		p.syntax(n, "setvar needs NAME = VALUE, found %s", describe(n))
		return
	}
	eq := p.next()
	if eq.kind != tkSpecial || eq.text != "=" {
		p.syntax(eq, "setvar needs \"=\" after the name (with a blank before it), found %s", describe(eq))
		return
	}
	v := p.next()
	if v.kind != tkString {
		p.syntax(v, "setvar needs a value after \"=\" (quote values that are numbers or keywords), found %s", describe(v))
		return
	}
	s := &Setvar{Pos: kw.pos, Name: n.text, Value: v.text}
	if isKw(p.peek(), "default") {
		p.next()
		s.Default = true
	}
	p.cfg.Setvars = append(p.cfg.Setvars, s)
	p.record("setvar", kw.pos)
	p.trailing("setvar", []string{"default"})
}

func (p *parser) phone(kw token) {
	var opts []*Option
	for !p.atEOC() {
		t := p.next()
		opts = append(opts, &Option{Pos: t.pos, Name: "phone", Value: Value{Kind: ValueString, Str: t.text}})
	}
	if len(opts) == 0 {
		p.syntax(p.peek(), "phone needs at least one dial string")
		return
	}
	p.cfg.Phone = append(p.cfg.Phone, opts...)
	p.record("phone", kw.pos)
}

func (p *parser) ttl(kw token) {
	var opts []*Option
	for {
		t := p.peek()
		if t.kind == tkEOC && len(opts) > 0 {
			break
		}
		if t.kind != tkInteger {
			if len(opts) > 0 {
				p.cfg.TTL = append(p.cfg.TTL, opts...)
				p.record("ttl", kw.pos)
			}
			p.syntax(t, "ttl needs integer TTL values, found %s", describe(t))
			return
		}
		p.next()
		opts = append(opts, &Option{Pos: t.pos, Name: "ttl", Value: Value{Kind: ValueInt, Int: t.ival}})
	}
	p.cfg.TTL = append(p.cfg.TTL, opts...)
	p.record("ttl", kw.pos)
}

func (p *parser) addressList(kw token) {
	var addrs []*Address
	for !p.atEOC() {
		t := p.next()
		a := &Address{Pos: t.pos, Address: t.text}
		switch t.kind {
		case tkV4Flag, tkV6Flag:
			a.Family = 4
			if t.kind == tkV6Flag {
				a.Family = 6
			}
			n := p.next()
			if n.kind != tkString {
				p.syntax(n, "%s needs an address after %s, found %s", kw.text, t.text, describe(n))
				return
			}
			a.Address = n.text
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		p.syntax(p.peek(), "%s needs at least one address", kw.text)
		return
	}
	if kw.text == "manycastserver" {
		p.cfg.ManycastServer = append(p.cfg.ManycastServer, addrs...)
	} else {
		p.cfg.MulticastClient = append(p.cfg.MulticastClient, addrs...)
	}
	p.record(kw.text, kw.pos)
}

func (p *parser) unpeer(kw token) {
	_, a, ok := p.address(kw.text)
	if !ok {
		return
	}
	u := &Unpeer{Pos: kw.pos, Address: a.text}
	if allDigits(a.text) {
		u.AssocID, _ = strconv.Atoi(a.text)
		if u.AssocID < 1 || u.AssocID > 65535 {
			p.semantic(a.pos, "unpeer %s: association ids are 1..65535", a.text)
		}
	}
	p.cfg.Unpeers = append(p.cfg.Unpeers, u)
	p.record("unpeer", kw.pos)
	p.trailing("unpeer", nil)
}

func (p *parser) trap(kw token) {
	_, a, ok := p.address("trap")
	if !ok {
		return
	}
	tr := &Trap{Pos: kw.pos, Address: a.text}
	commit := func() {
		p.cfg.Traps = append(p.cfg.Traps, tr)
		p.record("trap", kw.pos)
	}
	for {
		t := p.peek()
		if t.kind == tkEOC {
			break
		}
		switch {
		case isKw(t, "port"):
			p.next()
			v, ok := p.intArg("port", false)
			if !ok {
				return
			}
			if v < 1 || v > 65535 {
				p.warn(t.pos, "trap port %d is outside 1..65535", v)
			}
			tr.Options = append(tr.Options, &Option{Pos: t.pos, Name: "port", Value: Value{Kind: ValueInt, Int: v}})
		case isKw(t, "interface"):
			p.next()
			_, ia, ok := p.address("trap interface")
			if !ok {
				return
			}
			tr.Options = append(tr.Options, &Option{Pos: t.pos, Name: "interface", Value: Value{Kind: ValueString, Str: ia.text}})
		default:
			commit()
			p.syntax(t, "unknown option %s for trap%s", describe(t), p.dym(t.text, []string{"port", "interface"}))
			return
		}
	}
	commit()
}

func (p *parser) iface(kw token) {
	act := p.next()
	if !isKw(act, "listen", "ignore", "drop") {
		p.syntax(act, "%s needs listen, ignore or drop, found %s%s", kw.text, describe(act), p.dym(act.text, []string{"listen", "ignore", "drop"}))
		return
	}
	r := &InterfaceRule{Pos: kw.pos, Action: act.text}
	c := p.next()
	switch {
	case isKw(c, "all", "ipv4", "ipv6", "wildcard"):
		r.Class = c.text
	case c.kind == tkString:
		r.Name = c.text
		if strings.Contains(c.text, "/") {
			if _, err := netip.ParsePrefix(c.text); err != nil {
				p.semantic(c.pos, "interface %q: not ADDRESS/LENGTH", c.text)
			}
		}
	default:
		p.syntax(c, "%s %s needs all, ipv4, ipv6, wildcard, an interface name or an address, found %s", kw.text, act.text, describe(c))
		return
	}
	p.cfg.Interfaces = append(p.cfg.Interfaces, r)
	p.record(kw.text, kw.pos)
	p.trailing(kw.text, nil)
}

func (p *parser) pollskew(kw token) {
	var items []*PollSkew
	commit := func() {
		p.cfg.PollSkew = append(p.cfg.PollSkew, items...)
		p.record("pollskewlist", kw.pos)
	}
	for !p.atEOC() {
		t := p.next()
		it := &PollSkew{Pos: t.pos, Poll: -1}
		switch {
		case t.kind == tkInteger:
			it.Poll = int(t.ival)
		case isKw(t, "default"):
		default:
			p.i-- // t is not consumed: the command so far is complete
			commit()
			p.syntax(t, "pollskewlist needs POLL EARLY|LATE or default EARLY|LATE, found %s", describe(t))
			return
		}
		e, ok := p.intArg("pollskewlist early", false)
		if !ok {
			return
		}
		if bar := p.next(); bar.kind != tkSpecial || bar.text != "|" {
			p.syntax(bar, "pollskewlist needs EARLY|LATE, found %s", describe(bar))
			return
		}
		l, ok := p.intArg("pollskewlist late", false)
		if !ok {
			return
		}
		it.Early, it.Late = e, l
		if it.Poll >= 0 {
			if it.Poll < MinPollLimit || it.Poll > MaxPollLimit {
				p.semantic(t.pos, "pollskewlist: poll %d is outside %d..%d; entry ignored as classic ntpd does", it.Poll, MinPollLimit, MaxPollLimit)
				continue
			}
			half := int64(1) << uint(it.Poll) / 2
			if e < 0 || l < 0 || e > half || l > half {
				p.semantic(t.pos, "pollskewlist: randomization limit must be <= half the poll interval (%d s for poll %d); entry ignored as classic ntpd does", half, it.Poll)
				continue
			}
		}
		items = append(items, it)
	}
	commit()
}

func (p *parser) include(kw token, depth int) {
	t, ok := p.strArg("includefile")
	if !ok {
		return
	}
	p.record("includefile", kw.pos)
	end := p.peek()
	if end.kind != tkEOC {
		p.syntax(end, "unexpected %s after includefile's file name", describe(end))
	}
	if depth+1 > MaxIncludeDepth {
		// Classic skips the file with this message and applies the rest (a file that
		// includes itself is read MaxIncludeDepth+1 times); gontp does the same, and
		// says where.
		p.warn(kw.pos, "includefile %q: getconfig: Maximum include file level exceeded (more than %d levels); this includefile is skipped", t.text, MaxIncludeDepth)
		return
	}
	saveToks, saveI, saveCmd := p.toks, p.i, p.lineCmd
	p.parseFile(t.text, kw.pos, depth+1)
	p.toks, p.i, p.lineCmd = saveToks, saveI, saveCmd
	// an "end" inside an included file ends the whole configuration, as in classic
}

// crossCheck runs the checks that need the whole file.
func (p *parser) crossCheck() {
	// fudge lines for refclocks that no server line declares are ignored by classic (and
	// not saved by saveconfig).
	for _, f := range p.cfg.Fudges {
		if f.Refclock == nil {
			continue
		}
		found := false
		for _, a := range p.cfg.Associations {
			if a.Address == f.Address {
				found = true
				break
			}
		}
		if !found {
			p.cfg.warnings = append(p.cfg.warnings, &PosError{Pos: f.Pos, Kind: KindWarning,
				Msg: fmt.Sprintf("fudge %s: no server %s line configures this reference clock", f.Address, f.Address)})
		}
	}
}

// dym is didYouMean, skipped once problems are no longer reported.
func (p *parser) dym(word string, candidates []string) string {
	if len(p.errs) >= MaxProblems {
		return ""
	}
	return didYouMean(word, candidates)
}
