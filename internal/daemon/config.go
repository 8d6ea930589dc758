// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-multierror"

	"context"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"gontp/internal/control"
	"gontp/internal/engine"
	"gontp/internal/keys"
	"gontp/internal/netio"
	"gontp/internal/server"
	"gontp/internal/wire"
	"gontp/ntpconf"
	"gontp/peer"
	"gontp/refclock"
	"gontp/system"
)

// DefaultConfigFile is where ntpd reads its configuration without -c.
const DefaultConfigFile = "/etc/ntp.conf"

// runConfig is what the daemon takes from ntp.conf.
type runConfig struct {
	engine engine.Config
	// cast is the broadcast client's receive side (bcast.go).
	cast       castListen
	interfaces []netio.Rule
	// named are the server and peer lines with host names, resolved after start.
	named []namedServer
	// setvars are the `setvar` variables the control server serves.
	setvars []control.SetVar
	// gate is the restrict list and the rate limiter/MRU monitor (restrict, discard, mru,
	// enable/disable monitor).
	gate *server.Gate
	// keys are the symmetric keys of the `keys` file with `trustedkey` applied, nil when
	// there is no key file; controlKey is `controlkey` (0: none).
	keys       *keys.Set
	controlKey uint32
	// minPoll is classic's ntp_minpoll, from `discard average`: the least poll a reply
	// advertises.
	minPoll int8
	// noAuth is `disable auth`: unauthenticated symmetric-active packets may mobilise
	// passive associations (server.Config.NoAuth).
	noAuth bool
	// authSet says that an enable or disable line names auth (it then wins over -A).
	authSet bool
	// refclocks are the reference clock lines; openRefclocks makes their drivers (only at
	// start: a driver may hold a device, and a reload does not change reference clocks).
	refclocks []refclockLine
	// serverPos is the position of each line of engine.Servers, for messages.
	serverPos []string
	// tinker is the `tinker` configuration (clock.go applies it).
	tinker ntpconf.TinkerValues
	// monitor and flags are what the gate was made from: a reload keeps the running MRU
	// list when they are unchanged.
	monitor server.MonitorConfig
	flags   ntpconf.SystemFlags
	// problems are the errors found while applying the configuration, each with file:line:
	// at start they are logged and the rest runs, as in classic; a reload refuses the file.
	problems []string
	// parsed is the configuration this was made from (reload compares with it).
	parsed *ntpconf.Config
	// nts is Network Time Security: the server's settings and the NTS associations (nts.go);
	// ntsInfo its counters for mode 6, set once NTS runs.
	nts     ntsConf
	ntsInfo func() control.NTSStats
	// warned are the warnings start-up gave (a reload repeats them at debug level only).
	warned map[string]bool
}

// actedOn are the directives the daemon uses today. Every other directive in the file is
// parsed and checked, then named in one warning each, so that nothing is silently ignored.
var actedOn = map[string]bool{
	"server": true, "peer": true, "pool": true, "fudge": true, "interface": true, "nic": true, "enable": true,
	"disable": true, "tos": true, "includefile": true, "setvar": true,
	"restrict": true, "unrestrict": true, "discard": true, "mru": true,
	"keys": true, "trustedkey": true, "controlkey": true, "requestkey": true, "keysdir": true,
	"driftfile": true, "leapfile": true, "tinker": true,
	"logfile": true, "logconfig": true,
	"statsdir": true, "statistics": true, "filegen": true, "metrics": true, "nts": true,
	"broadcast": true, "broadcastclient": true, "multicastclient": true, "broadcastdelay": true,
	"manycastserver": true,
}

// ParseConfigFile reads the configuration file name (DefaultConfigFile when empty) and its
// includes from the real file system. The Config holds every usable line even when the
// error (a *multierror.Error of *ntpconf.PosError) lists bad ones; a nil Config means the
// file itself could not be read.
func ParseConfigFile(name string) (*ntpconf.Config, error) {
	if name == "" {
		name = DefaultConfigFile
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", name, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	// ntpconf opens names relative to the root of the fs.FS and keeps the name as given
	// for positions, so errors read "/etc/ntp.conf:3:20: ...".
	return ntpconf.Parse(os.DirFS("/"), abs)
}

// loadKeys reads the `keys` file and applies `trustedkey` and `controlkey` (libntp
// authreadkeys and ntp_config.c config_auth). The keys authenticate NTP packets (`key N` on
// server, peer and pool lines; clients that send a MAC) and ntpq's mode-6 writes. A file
// with an error classic counts is rejected whole, as classic rejects it, so nil is returned
// and every MAC fails.
//
// A key file that cannot be read or that classic would reject is logged as an error, which
// makes a reload keep the running configuration (keys included); a key of a type classic
// does not know is only dropped, with a warning.
func loadKeys(cfg *ntpconf.Config, log *slog.Logger) (set *keys.Set, controlKey uint32) {
	ck := cfg.Setting("controlkey")
	if ck != nil {
		controlKey = uint32(ck.Value.Float())
	}
	st := cfg.Setting("keys")
	if st == nil {
		switch {
		case ck != nil:
			log.Warn(fmt.Sprintf("%s: controlkey needs a key file (`keys` or -k); no key is usable", ck.Pos))
		case len(cfg.TrustedKeys) > 0:
			log.Warn(fmt.Sprintf("%s: trustedkey needs a key file (`keys` or -k); no key is usable", cfg.TrustedKeys[0].Pos))
		}
		return nil, 0
	}
	name := st.Value.Str
	f, err := os.Open(name)
	if err != nil {
		log.Error(fmt.Sprintf("%s: authreadkeys: file '%s': %v", st.Pos, name, err))
		return nil, 0
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o004 != 0 {
		// The keys are shared secrets: anyone who reads them can forge packets and
		// reconfigure the daemon through ntpq. Classic says nothing; gontp warns.
		log.Warn(fmt.Sprintf("%s: key file %s is readable by every user (mode %04o); anyone on this host can forge authenticated packets: chmod o-r %s",
			st.Pos, name, fi.Mode().Perm(), name))
	}
	set, errs := keys.Parse(name, f)
	for _, e := range errs {
		if set == nil {
			log.Error(e.Error())
		} else {
			log.Warn(e.Error())
		}
	}
	if set == nil {
		return nil, 0
	}
	for _, k := range cfg.TrustedKeys {
		if k.First < 1 || k.Last > keys.MaxKeyID || k.First > k.Last {
			log.Error(fmt.Sprintf("%s: trustedkey %d..%d: key ids are 1 to %d", k.Pos, k.First, k.Last, keys.MaxKeyID))
		}
		for id := max(k.First, 1); id <= k.Last && id <= keys.MaxKeyID; id++ {
			set.Trust(uint32(id))
		}
	}
	if ck != nil && !set.Trusted(controlKey) {
		log.Warn(fmt.Sprintf("%s: controlkey %d is not a trusted key of %s; authenticated ntpq requests will fail", ck.Pos, controlKey, name))
	}
	if rk := cfg.Setting("requestkey"); rk != nil {
		log.Warn(fmt.Sprintf("%s: requestkey %d authenticates ntpdc (mode 7) writes, which gontp never accepts (mode 7 is not served); ntpq's :config uses controlkey", rk.Pos, int64(rk.Value.Float())))
	}
	if kd := cfg.Setting("keysdir"); kd != nil {
		log.Warn(fmt.Sprintf("%s: keysdir only locates Autokey files (crypto), which gontp does not implement; the symmetric keys are read from %s", kd.Pos, name))
	}
	log.Info(fmt.Sprintf("%s: %d keys loaded", name, set.Len()))
	return set, controlKey
}

// commandLineKeys applies ntpd's -k (the key file, instead of `keys`) and -t (more trusted
// keys, added to those of `trustedkey`) to a parsed configuration.
func commandLineKeys(cfg *ntpconf.Config, opts Options) {
	pos := ntpconf.Pos{File: "command line"}
	if opts.KeyFile != "" {
		cfg.Settings = append(cfg.Settings, &ntpconf.Setting{Pos: pos, Keyword: "keys", Value: ntpconf.Value{Kind: ntpconf.ValueString, Str: opts.KeyFile}})
	}
	for _, id := range opts.TrustedKeys {
		cfg.TrustedKeys = append(cfg.TrustedKeys, &ntpconf.KeyRange{Pos: pos, First: int64(id), Last: int64(id)})
	}
}

// restrictResolver resolves host names in restrict lines at start, as classic does, in the
// family -4/-6 asks for.
func restrictResolver(family int) server.Resolver {
	network := "ip"
	switch family {
	case 4:
		network = "ip4"
	case 6:
		network = "ip6"
	}
	return func(host string) ([]netip.Addr, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return net.DefaultResolver.LookupNetIP(ctx, network, host)
	}
}

// Problems lists, one line each, the problems in an error from ParseConfigFile.
func Problems(err error) []string {
	var merr *multierror.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &merr):
		out := make([]string, 0, len(merr.Errors))
		for _, e := range merr.Errors {
			out = append(out, e.Error())
		}
		return out
	default:
		return []string{err.Error()}
	}
}

// loadConfig reads and applies the configuration file. Like classic ntpd it reports every bad
// line and goes on with the rest; only an unreadable file stops the daemon. --configtest
// runs the same (CheckConfig), so that it reports exactly what start-up would.
func loadConfig(opts Options, log *slog.Logger) (*runConfig, error) {
	cfg, perr := ParseConfigFile(opts.ConfigFile)
	if cfg == nil {
		return nil, perr
	}
	if err := addCommandLineServers(cfg, opts.Servers); err != nil {
		return nil, err
	}
	for _, p := range Problems(perr) {
		log.Error(p)
	}
	commandLineKeys(cfg, opts)
	warned := &newWarnings{Handler: log.Handler(), now: map[string]bool{}}
	wlog := slog.New(warned)
	for _, w := range cfg.Warnings() {
		wlog.Warn(w.Error())
	}
	rc := applyConfig(cfg, opts.Family, wlog)
	openRefclocks(rc)
	for _, p := range rc.problems {
		log.Error(p)
	}
	rc.parsed = cfg
	rc.warned = warned.now
	return rc, nil
}

// addCommandLineServers puts ntpd's server operands in front of the file's associations, as
// classic's config_peers does: each one "server NAME iburst", version 4, nothing else. An
// operand that is not a plain host name or address (one with blanks, quotes or '#', which
// would be more than one word of a configuration line) is refused by name.
func addCommandLineServers(cfg *ntpconf.Config, servers []string) error {
	if len(servers) == 0 {
		return nil
	}
	var b strings.Builder
	for _, s := range servers {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"'#\\") {
			return fmt.Errorf("command line: server %q is not a host name or address", s)
		}
		fmt.Fprintf(&b, "server %s iburst\n", s)
	}
	extra, err := ntpconf.ParseBytes("command line", []byte(b.String()))
	if err != nil {
		return fmt.Errorf("command line servers: %w", err)
	}
	cfg.Associations = append(extra.Associations, cfg.Associations...)
	return nil
}

// CheckConfig is --configtest: it reads the configuration as start-up does and returns every
// error (what a reload would refuse the file for) and every warning start-up would log, in
// the daemon's words. A nil error means the file could be read at all.
func CheckConfig(file string, family int) (errs, warnings []string, err error) {
	cfg, perr := ParseConfigFile(file)
	if cfg == nil {
		return nil, nil, perr
	}
	errs = Problems(perr)
	for _, w := range cfg.Warnings() {
		warnings = append(warnings, w.Error())
	}
	log := slog.New(&collect{level: slog.LevelWarn, out: &warnings, errs: &errs})
	rc := applyConfig(cfg, family, log)
	openRefclocks(rc)
	loadNTSFiles(rc.nts, log) // the certificate, key and authorities start-up reads
	errs = append(errs, rc.problems...)
	return errs, warnings, nil
}

// problemTap turns error records into rc.problems and passes the rest on.
type problemTap struct {
	slog.Handler
	rc *runConfig
}

func (h *problemTap) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || h.Handler.Enabled(ctx, l)
}

func (h *problemTap) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.rc.problems = append(h.rc.problems, r.Message)
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// collect is a slog handler that keeps the messages of warnings and errors.
type collect struct {
	level slog.Level
	out   *[]string
	errs  *[]string
}

func (c *collect) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }
func (c *collect) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		*c.errs = append(*c.errs, r.Message)
	} else {
		*c.out = append(*c.out, r.Message)
	}
	return nil
}
func (c *collect) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *collect) WithGroup(string) slog.Handler      { return c }

// applyConfig turns a parsed configuration into the daemon's settings, warning about what it
// cannot do yet. It changes nothing outside the runConfig it returns, so that a reload can
// check a file whole before taking it; errors go to rc.problems.
//
// cmdFamily is ntpd's -4 or -6 (0 for neither): names then resolve only to that family.
func applyConfig(cfg *ntpconf.Config, cmdFamily int, log *slog.Logger) *runConfig {
	rc := &runConfig{}
	problem := func(format string, args ...any) { rc.problems = append(rc.problems, fmt.Sprintf(format, args...)) }
	// Whatever is logged as an error on the way (a keys file that cannot be read, say) is a
	// problem too: the caller logs it, and a reload refuses the file for it.
	log = slog.New(&problemTap{Handler: log.Handler(), rc: rc})
	for _, d := range cfg.Directives {
		if !actedOn[d.Keyword] {
			log.Warn(fmt.Sprintf("%s: %q is read but gontp does not act on it yet; it has no effect", d.Pos, d.Keyword))
		}
	}
	warnFlags(cfg, log)
	for _, v := range cfg.Setvars {
		rc.setvars = append(rc.setvars, control.SetVar{Name: v.Name, Value: v.Value, Default: v.Default})
	}
	gate, warns, gerr := server.NewGate(gateConfig(cfg), restrictResolver(cmdFamily), rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	rc.problems = append(rc.problems, Problems(gerr)...)
	for _, w := range warns {
		log.Warn(w)
	}
	rc.gate = gate
	rc.monitor = monitorConfig(cfg.DiscardParams(), cfg.MRUParams())
	rc.flags = cfg.Flags()
	rc.tinker = cfg.TinkerParams()
	for _, o := range cfg.Tinker {
		switch o.Name {
		case "dispersion", "huffpuff", "tick":
			log.Warn(fmt.Sprintf("%s: tinker %s is read but gontp's discipline does not use it", o.Pos, o.Name))
		}
	}
	if avg := cfg.DiscardParams().Average; avg > 0 {
		rc.minPoll = int8(avg)
	}
	rc.keys, rc.controlKey = loadKeys(cfg, log)
	flags := cfg.Flags()
	rc.engine.NTP = flags["ntp"]
	rc.noAuth = !flags["auth"]
	for _, o := range append(cfg.Enable[:len(cfg.Enable):len(cfg.Enable)], cfg.Disable...) {
		rc.authSet = rc.authSet || o.Name == "auth"
	}

	tv := cfg.TosParams()
	tos := system.Tos{MinClock: tv.MinClock, MaxClock: tv.MaxClock, MinSane: tv.MinSane,
		MinDist: tv.MinDist, MaxDist: tv.MaxDist, Floor: uint8(tv.Floor), Ceiling: uint8(tv.Ceiling),
		Orphan: uint8(tv.Orphan), OrphanWait: float64(tv.OrphanWait)}
	for _, o := range cfg.Tos {
		switch o.Name {
		case "cohort", "beacon", "bcpollbstep", "basedate":
			log.Warn(fmt.Sprintf("%s: tos %s is read but gontp does not act on it yet", o.Pos, o.Name))
		}
	}
	if err := tos.Validate(); err != nil {
		pos := ""
		if len(cfg.Tos) > 0 {
			pos = cfg.Tos[0].Pos.String() + ": "
		}
		problem("%stos: %v; using the defaults", pos, err)
		tos = system.DefaultTos()
	}
	rc.engine.Tos = &tos

	fudges := map[ntpconf.RefclockID]refclock.Fudge{}
	for _, f := range cfg.Fudges {
		if f.Refclock == nil {
			continue
		}
		fu := fudges[*f.Refclock]
		for _, o := range f.Options {
			switch o.Name {
			case "time1":
				fu.Time1, fu.Time1Set = o.Value.Float(), true
			case "time2":
				fu.Time2, fu.Time2Set = o.Value.Float(), true
			case "minjitter":
				fu.MinJitter, fu.MinJitterSet = o.Value.Float(), true
			case "stratum":
				fu.Stratum, fu.StratumSet = int(o.Value.Float()), true
			case "refid":
				fu.RefID, fu.RefIDSet = o.Value.Str, true
			case "flag1", "flag2", "flag3", "flag4":
				// flag3 on PPS and NMEA is the kernel's hardpps discipline: the driver
				// binds it (internal/refclockio/pps.go) and the engine sets the kernel's
				// PPS status bits while that source is the system peer.
				fu.Flags[o.Name[4]-'1'] = o.Value.Float() != 0
			default:
				log.Warn(fmt.Sprintf("%s: fudge %s is read but gontp does not act on it yet", o.Pos, o.Name))
			}
		}
		fudges[*f.Refclock] = fu
	}

	seen := map[netip.AddrPort]string{}
	for _, a := range cfg.Associations {
		if a.Invalid {
			continue
		}
		warnAssocOptions(a, log)
		pc := peer.Config{
			MinPoll: int8(a.EffectiveMinPoll()), MaxPoll: int8(a.EffectiveMaxPoll()),
			Version: uint8(a.Version), KeyID: a.Key,
			IBurst: a.Has("iburst"), Burst: a.Has("burst"), Prefer: a.Has("prefer"),
			NoSelect: a.Has("noselect"), True: a.Has("true"), Preempt: a.Has("preempt"),
			Xleave: a.Has("xleave"),
		}
		if a.Key != 0 && !rc.keys.Trusted(uint32(a.Key)) {
			log.Warn(fmt.Sprintf("%s: %s %s key %d: not a trusted key of the key file; nothing is sent to it (classic: \"no key\")",
				a.Pos, a.Kind, a.Address, a.Key))
		}
		if a.Has("noval") && !a.Has("nts") {
			log.Warn(fmt.Sprintf("%s: %s %s: noval applies only with nts; it has no effect", a.Pos, a.Kind, a.Address))
		}
		if a.Has("nts") && a.Refclock == nil {
			// NTS-KE first, with the line's name; the association comes when it succeeds
			// (nts.go). A pool line makes one association, with the pool name's NTS-KE
			// server, as NTPsec does.
			pc.Mode = wire.ModeClient
			pc.NTS = true
			if a.Kind == ntpconf.KindPeer {
				log.Warn(fmt.Sprintf("%s: peer %s nts: NTS is client-server only (RFC 8915); this line has no effect", a.Pos, a.Address))
				continue
			}
			rc.nts.clients = append(rc.nts.clients, ntsClientLine{pos: a.Pos.String(), name: a.Address,
				family: family(a.Family, cmdFamily), noval: a.Has("noval"), peer: pc})
			continue
		}
		if a.Refclock != nil {
			addr := refclock.Address{Type: uint8(a.Refclock.Type), Unit: uint8(a.Refclock.Unit)}
			clk := refclock.Config{Addr: addr, Mode: uint32(a.TTLMode), Fudge: fudges[*a.Refclock],
				Path: a.Path, PPSPath: a.PPSPath}
			rc.refclocks = append(rc.refclocks, refclockLine{pos: a.Pos.String(), clock: clk, peer: pc})
			continue
		}
		switch a.Kind {
		case ntpconf.KindServer:
			pc.Mode = wire.ModeClient
		case ntpconf.KindPeer:
			pc.Mode = wire.ModeSymActive
		case ntpconf.KindPool:
			// Spawned servers take minpoll, maxpoll, iburst and noselect from the line
			// (classic); prefer, burst, true and key are not passed on.
			for _, f := range []string{"prefer", "burst", "true", "preempt"} {
				if a.Has(f) {
					log.Warn(fmt.Sprintf("%s: pool %s: option %s has no effect on a pool (classic ntpd ignores it too)", a.Pos, a.Address, f))
				}
			}
			pc.Prefer, pc.Burst, pc.True, pc.Preempt = false, false, false, false
			rc.engine.Pools = append(rc.engine.Pools, engine.Pool{Name: a.Address, Family: family(a.Family, cmdFamily), Peer: pc})
			continue
		case ntpconf.KindManycastClient:
			// A manycast client (manycast.go in the engine): a pool prototype that
			// solicits the group.
			if pl, ok := manycastLine(a, pc, log); ok {
				rc.engine.Pools = append(rc.engine.Pools, pl)
			}
			continue
		case ntpconf.KindBroadcast:
			// A broadcast server (ntpd MODE_BROADCAST): mode-5 packets every 2^minpoll s
			// to an interface's broadcast address or a multicast group (bcast.go).
			if !broadcastLine(a, &pc, log) {
				continue
			}
		default:
			log.Warn(fmt.Sprintf("%s: %s %s: gontp has no %s mode; this line has no effect", a.Pos, a.Kind, a.Address, a.Kind))
			continue
		}
		if ad, err := netip.ParseAddr(a.Address); err == nil {
			ad = ad.Unmap()
			if f := family(a.Family, cmdFamily); (f == 4 && !ad.Is4()) || (f == 6 && !ad.Is6()) {
				log.Warn(fmt.Sprintf("%s: %s %s: not an IPv%d address; this line has no effect", a.Pos, a.Kind, a.Address, f))
				continue
			}
			pc.Addr = netip.AddrPortFrom(ad, 123)
			// Classic skips a second line for the same address (newpeer finds the
			// existing association; checked with 4.2.8p15) without a word; gontp says
			// where. gontp keeps one association per address whatever the mode.
			if first, dup := seen[pc.Addr]; dup {
				log.Warn(fmt.Sprintf("%s: %s %s: duplicate association for %s (first at %s); this line is skipped",
					a.Pos, a.Kind, a.Address, ad, first))
				continue
			}
			seen[pc.Addr] = a.Pos.String()
			rc.engine.Servers = append(rc.engine.Servers, pc)
			rc.serverPos = append(rc.serverPos, a.Pos.String())
			continue
		}
		rc.named = append(rc.named, namedServer{pos: a.Pos.String(), name: a.Address, family: a.Family, peer: pc})
	}

	ntsFromConfig(cfg, &rc.nts, log)
	bclientFromConfig(cfg, rc, log)

	for _, r := range cfg.Interfaces {
		target := r.Class
		if target == "" {
			target = r.Name
		}
		rule, err := netio.ParseRule(r.Action, target)
		if err != nil {
			problem("%s: %v", r.Pos, err)
			continue
		}
		rc.interfaces = append(rc.interfaces, rule)
	}
	return rc
}

// refclockLine is a `server 127.127.t.u` line with its fudge.
type refclockLine struct {
	pos   string
	clock refclock.Config
	peer  peer.Config
}

// openRefclocks puts the reference clock lines into rc.engine.Refclocks; a clock gontp has no
// driver for is a problem named with its line. The drivers themselves (devices, segments,
// sockets) are started by the running daemon only (startRefclocks), never by a check.
func openRefclocks(rc *runConfig) {
	for _, l := range rc.refclocks {
		if err := refclock.Supported(l.clock.Addr); err != nil {
			rc.problems = append(rc.problems, fmt.Sprintf("%s: %v", l.pos, err))
			continue
		}
		rc.engine.Refclocks = append(rc.engine.Refclocks, engine.Refclock{Clock: l.clock, Peer: l.peer})
	}
}

// noAuth is whether authentication is not required for mobilising associations (classic
// sys_authenticate off): `disable auth`, or -A when the file names neither.
func (o Options) noAuth(rc *runConfig) bool {
	if rc.authSet {
		return rc.noAuth
	}
	return o.AuthNoReq
}

// actedFlags are the enable/disable flags the daemon uses: ntp (discipline), kernel (the
// kernel loop), monitor (the MRU list), mode7 (the read-only ntpdc subset) and auth (whether
// an unauthenticated symmetric-active packet may mobilise a passive association).
var actedFlags = map[string]bool{"ntp": true, "kernel": true, "monitor": true, "mode7": true, "auth": true}

// warnFlags names each enable or disable flag gontp reads but does not act on, with its
// line. `enable mode7` is acted on for a read-only subset (internal/mode7: peer list and
// details, system info and counters, kernel state); monlist and every write request stay
// refused, and the log says so once.
func warnFlags(cfg *ntpconf.Config, log *slog.Logger) {
	for _, list := range []struct {
		verb string
		opts []*ntpconf.Option
	}{{"enable", cfg.Enable}, {"disable", cfg.Disable}} {
		for _, o := range list.opts {
			switch {
			case o.Name == "mode7" && list.verb == "enable":
				log.Info(fmt.Sprintf("%s: enable mode7: ntpdc's read-only requests are answered (peers, showpeer, sysinfo, sysstats, kerninfo); monlist and every write request are refused", o.Pos))
			case actedFlags[o.Name]:
			default:
				log.Warn(fmt.Sprintf("%s: %s %s is read but gontp does not act on it yet; it has no effect", o.Pos, list.verb, o.Name))
			}
		}
	}
}

// warnAssocOptions names the options of a server, peer or pool line that gontp reads but
// does not act on.
func warnAssocOptions(a *ntpconf.Association, log *slog.Logger) {
	for _, f := range a.Flags {
		switch f {
		case "autokey", "xmtnonce":
			log.Warn(fmt.Sprintf("%s: %s %s: option %s is read but gontp does not act on it yet; it has no effect", a.Pos, a.Kind, a.Address, f))
		case "xleave":
			// The client/server (peer/xleave.go) and symmetric (peer/symxleave.go)
			// interleaved modes; classic's broadcast one is not there yet.
			if a.Kind != ntpconf.KindServer && a.Kind != ntpconf.KindPool && a.Kind != ntpconf.KindPeer {
				log.Warn(fmt.Sprintf("%s: %s %s: option xleave works only on server, pool and peer lines; here it has no effect", a.Pos, a.Kind, a.Address))
			}
		}
	}
	if a.TTLMode != 0 && a.Refclock == nil && a.Kind != ntpconf.KindBroadcast && a.Kind != ntpconf.KindManycastClient {
		log.Warn(fmt.Sprintf("%s: %s %s: option ttl is read but gontp does not act on it yet; it has no effect", a.Pos, a.Kind, a.Address))
	}
	if a.Ident != "" {
		log.Warn(fmt.Sprintf("%s: %s %s: option ident is read but gontp does not act on it yet; it has no effect", a.Pos, a.Kind, a.Address))
	}
}

// family is the address family a line uses: its own -4/-6, else ntpd's.
func family(line, cmd int) int {
	if line != 0 {
		return line
	}
	return cmd
}
