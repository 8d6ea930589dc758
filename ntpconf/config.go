// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"net/netip"
	"strconv"
)

// Config is a parsed ntp.conf. Its lists keep what the file says, in file order and with
// positions, like classic ntpd's configuration tree: WriteSaveconfig prints them back in
// classic's saveconfig form, and the accessors (Tinker, Tos, Discard, MRU, Driftfile...)
// apply classic's rules (later values override, classic defaults) for the daemon.
// Entries classic would reject when applying them stay in the lists, marked Invalid, so
// that saveconfig output matches classic's; the daemon must skip them.
type Config struct {
	// Files lists every file read, the main file first, then includes in reading order.
	Files []string

	Associations []*Association
	Fudges       []*Fudge
	Restricts    []*Restrict
	Interfaces   []*InterfaceRule
	Filegens     []*Filegen
	Setvars      []*Setvar
	Traps        []*Trap
	Unpeers      []*Unpeer

	// Settings are the single-value directives (driftfile, leapfile, logfile, pidfile,
	// statsdir, keys, keysdir, controlkey, requestkey, saveconfigdir, broadcastdelay,
	// nonvolatile, automax, revoke, dscp, tick, ident, leapsmearinterval, mdnstries,
	// ntpsigndsocket) in file order; the last one of a name wins.
	Settings []*Setting

	// Option lists; classic concatenates repeated directives and a later option of the
	// same name overrides an earlier one.
	Tinker    []*Option
	Tos       []*Option
	Discard   []*Option
	MRU       []*Option
	Rlimit    []*Option
	Crypto    []*Option
	Logconfig []*LogconfigItem
	Enable    []*Option // Name only
	Disable   []*Option // Name only

	Statistics []*Option // Name only (loopstats, peerstats...)
	// TrustedKeys is the list of the last trustedkey line: classic replaces, not appends.
	TrustedKeys     []*KeyRange
	Phone           []*Option // Value.Str
	TTL             []*Option // Value.Int
	ManycastServer  []*Address
	MulticastClient []*Address
	Reset           []*Option // Name only
	PollSkew        []*PollSkew
	BroadcastClient *Pos // non-nil when broadcastclient was given
	// Metrics are gontp's `metrics ADDRESS:PORT` lines: where the Prometheus/OpenMetrics
	// endpoint listens (none: it is off).
	Metrics []*Metrics
	// NTS holds the `nts` lines (NTPsec syntax, ntpconf/nts.go) in file order.
	NTS []*NTSOption

	// Directives lists every directive read (keyword and position), in file order, so the
	// daemon can warn by name about the ones it does not act on.
	Directives []Directive

	warnings []*PosError
}

// Directive is one configuration command as it appeared.
type Directive struct {
	Keyword string
	Pos     Pos
}

// ValueKind is the class of a value as classic stores it.
type ValueKind int

const (
	ValueNone ValueKind = iota
	ValueInt
	ValueDouble
	ValueString
)

// Value is an option argument.
type Value struct {
	Kind ValueKind
	Int  int64
	Dbl  float64
	Str  string
}

// Float returns the value as a number (integers converted).
func (v Value) Float() float64 {
	if v.Kind == ValueInt {
		return float64(v.Int)
	}
	return v.Dbl
}

func (v Value) String() string {
	switch v.Kind {
	case ValueInt:
		return strconv.FormatInt(v.Int, 10)
	case ValueDouble:
		return formatDouble(v.Dbl)
	case ValueString:
		return v.Str
	}
	return ""
}

// Option is "NAME VALUE" inside a directive (tinker panic 0, tos orphan 10, ...).
type Option struct {
	Pos   Pos
	Name  string
	Value Value
}

// Setting is a single-value directive such as "driftfile /var/lib/ntp/ntp.drift".
type Setting struct {
	Pos     Pos
	Keyword string
	Value   Value
	// Extra holds driftfile's deprecated wander threshold (ValueDouble) or leapfile's
	// hash option ("checkhash" or "ignorehash", default checkhash).
	Extra Value
}

// AssocKind is the directive that made an association.
type AssocKind string

const (
	KindServer         AssocKind = "server"
	KindPool           AssocKind = "pool"
	KindPeer           AssocKind = "peer"
	KindBroadcast      AssocKind = "broadcast"
	KindManycastClient AssocKind = "manycastclient"
)

// Association is a server, pool, peer, broadcast or manycastclient line; refclocks are
// servers whose address is 127.127.t.u (or NTPsec's "refclock NAME" form).
type Association struct {
	Pos     Pos
	Kind    AssocKind
	Family  int // 0, 4 (-4) or 6 (-6)
	Address string
	// Refclock is set for 127.127.t.u addresses.
	Refclock *RefclockID
	// MinPoll and MaxPoll are 0 when not given (classic prints them only then).
	MinPoll, MaxPoll int
	// TTLMode is "ttl" for network associations and "mode" for refclocks: classic keeps
	// both in one field.
	TTLMode int64
	// Path and PPSPath are NTPsec's refclock path and ppspath: the device gontp's driver
	// opens instead of classic's default for the unit ("" for the default).
	Path, PPSPath string
	Version       int // 4 unless given
	Key           uint32
	Ident         string
	Flags         []string // iburst, burst, prefer, noselect, true, preempt, xleave, autokey, xmtnonce, in file order
	// Invalid is set when classic ntpd would refuse the association when applying it
	// (e.g. 127.0.0.2); the daemon must not use it.
	Invalid bool
}

// Has reports whether the association carries flag (e.g. "iburst").
func (a *Association) Has(flag string) bool {
	for _, f := range a.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// EffectiveMinPoll is the minimum poll exponent in use: the configured one or classic's
// default 6 (NTP_MINDPOLL).
func (a *Association) EffectiveMinPoll() int {
	if a.MinPoll == 0 {
		return DefaultMinPoll
	}
	return a.MinPoll
}

// EffectiveMaxPoll is the configured maximum poll exponent or classic's default 10
// (NTP_MAXDPOLL).
func (a *Association) EffectiveMaxPoll() int {
	if a.MaxPoll == 0 {
		return DefaultMaxPoll
	}
	return a.MaxPoll
}

// Classic poll defaults and limits (ntp.h: NTP_MINPOLL 3, NTP_MINDPOLL 6, NTP_MAXDPOLL 10,
// NTP_MAXPOLL 17) and the NTP version it sends.
const (
	MinPollLimit   = 3
	DefaultMinPoll = 6
	DefaultMaxPoll = 10
	MaxPollLimit   = 17
	NTPVersion     = 4
)

// RefclockID is a 127.127.t.u refclock address.
type RefclockID struct {
	Type int
	Unit int
}

// Fudge is "fudge 127.127.t.u OPTIONS"; options are time1, time2, minjitter (seconds),
// stratum, refid, abbrev, flag1..flag4 (0 or 1).
type Fudge struct {
	Pos      Pos
	Address  string
	Refclock *RefclockID
	Options  []*Option
}

// RestrictFlags is the set of restrict flags.
type RestrictFlags uint32

const (
	RestrictIgnore RestrictFlags = 1 << iota
	RestrictNoserve
	RestrictNoquery
	RestrictNomodify
	RestrictNopeer
	RestrictNoepeer
	RestrictNotrust
	RestrictLimited
	RestrictKod
	RestrictNotrap
	RestrictLowpriotrap
	RestrictNomrulist
	RestrictVersion
	RestrictNtpport
	RestrictMssntp
	RestrictFlake
	RestrictServerResponseFuzz
)

var restrictFlagNames = map[string]RestrictFlags{
	"ignore": RestrictIgnore, "noserve": RestrictNoserve, "noquery": RestrictNoquery,
	"nomodify": RestrictNomodify, "nopeer": RestrictNopeer, "noepeer": RestrictNoepeer,
	"notrust": RestrictNotrust, "limited": RestrictLimited, "kod": RestrictKod,
	"notrap": RestrictNotrap, "lowpriotrap": RestrictLowpriotrap,
	"nomrulist": RestrictNomrulist, "version": RestrictVersion, "ntpport": RestrictNtpport,
	"mssntp": RestrictMssntp, "flake": RestrictFlake,
}

// Restrict is one restrict line. Default is "restrict default" (Family 0: both families,
// 4 or 6 with -4/-6); Source is "restrict source". Otherwise Address (and Mask when given,
// or Prefix >= 0 for gontp's CIDR form "ADDR/LEN") name the entry.
type Restrict struct {
	Pos     Pos
	Default bool
	Source  bool
	Family  int
	Address string
	Mask    string
	Prefix  int // -1 unless the address was written ADDR/LEN
	// Written is the ADDR/LEN word as the file has it: saveconfig writes it back so, as
	// classic does (it keeps the word as a host name).
	Written     string
	IPPeerLimit int // -1 (no limit) unless given
	Flags       RestrictFlags
	FlagNames   []string // as written (with "serverresponse fuzz" as one entry), for saveconfig
	// Remove is NTPsec's unrestrict: remove these flags (or the entry).
	Remove  bool
	Invalid bool
}

// InterfaceRule is "interface|nic listen|ignore|drop all|ipv4|ipv6|wildcard|NAME|ADDR[/LEN]".
type InterfaceRule struct {
	Pos    Pos
	Action string // listen, ignore, drop
	Class  string // all, ipv4, ipv6, wildcard; "" when Name is used
	Name   string
}

// Filegen is "filegen NAME [file F] [type T] [link|nolink] [enable|disable]".
type Filegen struct {
	Pos     Pos
	Name    string
	Options []*Option // file (Str), type (Str), and flags link/nolink/enable/disable (Name only)
}

// Metrics is gontp's "metrics ADDRESS:PORT" (an IP address, IPv6 in brackets).
type Metrics struct {
	Pos  Pos
	Addr netip.AddrPort
}

// Setvar is "setvar NAME = VALUE [default]".
type Setvar struct {
	Pos     Pos
	Name    string
	Value   string
	Default bool
}

// Trap is "trap ADDR [port N] [interface ADDR]".
type Trap struct {
	Pos     Pos
	Address string
	Options []*Option
	Invalid bool
}

// Unpeer is "unpeer ADDR" or "unpeer ASSOCID".
type Unpeer struct {
	Pos     Pos
	Address string
	AssocID int // set when the argument is a number
}

// Address is an address argument with its -4/-6 family.
type Address struct {
	Pos     Pos
	Family  int
	Address string
}

// KeyRange is a trusted key (First == Last) or a range "( First ... Last )".
type KeyRange struct {
	Pos         Pos
	First, Last int64
	Range       bool
}

// LogconfigItem is one "=syncall", "+clockall" or "-peerinfo" item.
type LogconfigItem struct {
	Pos  Pos
	Op   byte // '=', '+' or '-'
	Name string
}

// PollSkew is one pollskewlist entry: "POLL EARLY|LATE" or "default EARLY|LATE".
type PollSkew struct {
	Pos         Pos
	Poll        int // -1 for default
	Early, Late int64
}

// Warnings lists the problems that did not stop a line from being used.
func (c *Config) Warnings() []*PosError { return c.warnings }

// Setting returns the last setting named keyword, or nil.
func (c *Config) Setting(keyword string) *Setting {
	var s *Setting
	for _, x := range c.Settings {
		if x.Keyword == keyword {
			s = x
		}
	}
	return s
}

// Driftfile returns the drift file path; ok is false when no driftfile directive was
// given (classic then keeps no drift file) and path is "" when it was disabled.
func (c *Config) Driftfile() (path string, ok bool) {
	s := c.Setting("driftfile")
	if s == nil {
		return "", false
	}
	return s.Value.Str, true
}

// Leapfile returns the leap seconds file and whether its hash is checked (classic default).
func (c *Config) Leapfile() (path string, checkHash bool, ok bool) {
	s := c.Setting("leapfile")
	if s == nil {
		return "", true, false
	}
	return s.Value.Str, s.Extra.Str != "ignorehash", true
}

// StatsDir is the statistics directory with classic's trailing slash; classic's default
// is /var/NTP/.
func (c *Config) StatsDir() string {
	s := c.Setting("statsdir")
	if s == nil {
		return "/var/NTP/"
	}
	d := s.Value.Str
	if d == "" || d[len(d)-1] != '/' {
		d += "/"
	}
	return d
}

func lastOption(opts []*Option, name string) (*Option, bool) {
	var o *Option
	for _, x := range opts {
		if x.Name == name {
			o = x
		}
	}
	return o, o != nil
}

// TinkerValues are the clock discipline parameters (classic defaults, tinker overrides).
type TinkerValues struct {
	Allan      float64 // log2 s
	Dispersion float64 // ppm
	Freq       *float64
	Huffpuff   float64 // s, 0 = off
	Panic      float64 // s, 0 = no panic check
	Step       float64 // s
	StepBack   float64
	StepFwd    float64
	Stepout    float64
	Tick       *float64
}

// TinkerParams applies the tinker options over classic's defaults.
func (c *Config) TinkerParams() TinkerValues {
	t := TinkerValues{Allan: 11, Dispersion: 15, Panic: 1000, Step: 0.128, Stepout: 300}
	stepBackSet, stepFwdSet := false, false
	for _, o := range c.Tinker {
		v := o.Value.Float()
		switch o.Name {
		case "allan":
			t.Allan = v
		case "dispersion":
			t.Dispersion = v
		case "freq":
			f := v
			t.Freq = &f
		case "huffpuff":
			t.Huffpuff = v
		case "panic":
			t.Panic = v
		case "step":
			t.Step = v
		case "stepback":
			t.StepBack, stepBackSet = v, true
		case "stepfwd":
			t.StepFwd, stepFwdSet = v, true
		case "stepout":
			t.Stepout = v
		case "tick":
			f := v
			t.Tick = &f
		}
	}
	if !stepBackSet {
		t.StepBack = t.Step
	}
	if !stepFwdSet {
		t.StepFwd = t.Step
	}
	return t
}

// TosValues are the selection parameters (classic defaults, tos overrides).
type TosValues struct {
	MinClock, MaxClock, MinSane int
	MinDist, MaxDist            float64
	Floor, Ceiling              int
	Orphan, OrphanWait          int
	Cohort                      bool
	Beacon                      int
	BcPollBStep                 int
	Basedate                    string // "" = classic's build default
}

// TosParams applies the tos options over classic's defaults (ntp_proto.c: sys_floor 0,
// sys_ceiling STRATUM_UNSPEC - 1 = 15; the man page's floor of 1 is not what the code does).
func (c *Config) TosParams() TosValues {
	t := TosValues{MinClock: 3, MaxClock: 10, MinSane: 1, MinDist: 0.001, MaxDist: 1.5,
		Floor: 0, Ceiling: 15, Orphan: 16, OrphanWait: 300, Beacon: 3600}
	for _, o := range c.Tos {
		v := o.Value.Float()
		switch o.Name {
		case "minclock":
			t.MinClock = int(v)
		case "maxclock":
			t.MaxClock = int(v)
		case "minsane":
			t.MinSane = int(v)
		case "mindist":
			t.MinDist = v
		case "maxdist":
			t.MaxDist = v
		case "floor":
			t.Floor = int(v)
		case "ceiling":
			t.Ceiling = int(v)
		case "orphan":
			t.Orphan = int(v)
		case "orphanwait":
			t.OrphanWait = int(v)
		case "cohort":
			t.Cohort = v != 0
		case "beacon":
			t.Beacon = int(v)
		case "bcpollbstep":
			t.BcPollBStep = int(v)
		case "basedate":
			t.Basedate = o.Value.Str
		}
	}
	return t
}

// DiscardValues are the rate-limit parameters.
type DiscardValues struct {
	Average int // log2 s
	Minimum int // s
	Monitor int
}

// DiscardParams applies discard options over classic's defaults (average 3, minimum 2,
// monitor 3000).
func (c *Config) DiscardParams() DiscardValues {
	d := DiscardValues{Average: 3, Minimum: 2, Monitor: 3000}
	for _, o := range c.Discard {
		switch o.Name {
		case "average":
			d.Average = int(o.Value.Int)
		case "minimum":
			d.Minimum = int(o.Value.Int)
		case "monitor":
			d.Monitor = int(o.Value.Int)
		}
	}
	return d
}

// MRUValues are the MRU list limits.
type MRUValues struct {
	MaxDepth, MinDepth, MaxAge, MaxMemKB     int
	InitAlloc, IncAlloc, InitMemKB, IncMemKB int
}

// MRUParams applies mru options over classic's defaults (maxmem 1024 KB, mindepth 600,
// maxage 64 s, initmem 4 KB, incmem 4 KB). Classic's maxdepth and maxmem set the same
// limit; the later one wins.
func (c *Config) MRUParams() MRUValues {
	m := MRUValues{MinDepth: 600, MaxAge: 64, MaxMemKB: 1024, InitMemKB: 4, IncMemKB: 4}
	for _, o := range c.MRU {
		v := int(o.Value.Int)
		switch o.Name {
		case "maxdepth":
			m.MaxDepth, m.MaxMemKB = v, 0
		case "maxmem":
			m.MaxMemKB, m.MaxDepth = v, 0
		case "mindepth":
			m.MinDepth = v
		case "maxage":
			m.MaxAge = v
		case "initalloc":
			m.InitAlloc, m.InitMemKB = v, 0
		case "initmem":
			m.InitMemKB, m.InitAlloc = v, 0
		case "incalloc":
			m.IncAlloc, m.IncMemKB = v, 0
		case "incmem":
			m.IncMemKB, m.IncAlloc = v, 0
		}
	}
	return m
}

// SystemFlags are the enable/disable switches with classic's defaults.
type SystemFlags map[string]bool

// Flags applies enable and disable lines over classic's defaults. Classic applies all
// enable lines, then all disable lines, so "disable" wins when both name a flag.
func (c *Config) Flags() SystemFlags {
	f := SystemFlags{"auth": true, "bclient": false, "calibrate": false, "kernel": true,
		"monitor": true, "ntp": true, "stats": true, "mode7": false,
		"peer_clear_digest_early": true, "unpeer_crypto_early": true,
		"unpeer_crypto_nak_early": true, "unpeer_digest_early": true}
	for _, o := range c.Enable {
		f[o.Name] = true
	}
	for _, o := range c.Disable {
		f[o.Name] = false
	}
	return f
}

// Trusted reports whether key id is declared trusted by trustedkey.
func (c *Config) Trusted(id int64) bool {
	for _, k := range c.TrustedKeys {
		if id >= k.First && id <= k.Last {
			return true
		}
	}
	return false
}
