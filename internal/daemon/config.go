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
	engine     engine.Config
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
	// parsed is the configuration this was made from (reload compares with it).
	parsed *ntpconf.Config
}

// actedOn are the directives the daemon uses today. Every other directive in the file is
// parsed and checked, then named in one warning each, so that nothing is silently ignored.
var actedOn = map[string]bool{
	"server": true, "peer": true, "pool": true, "fudge": true, "interface": true, "nic": true, "enable": true,
	"disable": true, "tos": true, "includefile": true, "setvar": true,
	"restrict": true, "unrestrict": true, "discard": true, "mru": true,
	"keys": true, "trustedkey": true, "controlkey": true,
	"driftfile": true, "leapfile": true, "tinker": true,
	"logfile": true, "logconfig": true,
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

// loadKeys reads the `keys` file and applies `trustedkey` and `controlkey`. gontp uses the keys
// to authenticate ntpq (mode 6) requests; authentication of NTP packets (`key` on server and
// peer lines) is not implemented, and the association lines say so.
func loadKeys(cfg *ntpconf.Config, log *slog.Logger) (*keys.Set, uint32) {
	st := cfg.Setting("keys")
	if st == nil {
		return nil, 0
	}
	name := st.Value.Str
	f, err := os.Open(name)
	if err != nil {
		log.Error(fmt.Sprintf("%s: keys: %v", st.Pos, err))
		return nil, 0
	}
	defer f.Close()
	set, errs := keys.Parse(name, f)
	for _, e := range errs {
		log.Error(e.Error())
	}
	for _, k := range cfg.TrustedKeys {
		for id := k.First; id <= k.Last && id <= 65535; id++ {
			set.Trust(uint32(id))
		}
	}
	var controlKey uint32
	if ck := cfg.Setting("controlkey"); ck != nil {
		controlKey = uint32(ck.Value.Float())
		if !set.Trusted(controlKey) {
			log.Warn(fmt.Sprintf("%s: controlkey %d is not a trusted key in %s; authenticated ntpq requests will fail", ck.Pos, controlKey, name))
		}
	}
	log.Info(fmt.Sprintf("%s: %d keys loaded", name, set.Len()))
	return set, controlKey
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
// line and goes on with the rest; only an unreadable file stops the daemon.
func loadConfig(opts Options, log *slog.Logger) (*runConfig, error) {
	cfg, perr := ParseConfigFile(opts.ConfigFile)
	if cfg == nil {
		return nil, perr
	}
	for _, p := range Problems(perr) {
		log.Error(p)
	}
	for _, w := range cfg.Warnings() {
		log.Warn(w.Error())
	}
	rc, err := applyConfig(cfg, opts.Family, log)
	if rc != nil {
		rc.parsed = cfg
	}
	return rc, err
}

// applyConfig turns a parsed configuration into the daemon's settings, warning about what it
// cannot do yet.
//
// cmdFamily is ntpd's -4 or -6 (0 for neither): names then resolve only to that family.
func applyConfig(cfg *ntpconf.Config, cmdFamily int, log *slog.Logger) (*runConfig, error) {
	rc := &runConfig{}
	for _, d := range cfg.Directives {
		if !actedOn[d.Keyword] {
			log.Warn(fmt.Sprintf("%s: %q is read but gontp does not act on it yet; it has no effect", d.Pos, d.Keyword))
		}
	}
	for _, v := range cfg.Setvars {
		rc.setvars = append(rc.setvars, control.SetVar{Name: v.Name, Value: v.Value, Default: v.Default})
	}
	gate, warns, gerr := server.NewGate(gateConfig(cfg), restrictResolver(cmdFamily), rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	for _, p := range Problems(gerr) {
		log.Error(p)
	}
	for _, w := range warns {
		log.Warn(w)
	}
	rc.gate = gate
	if avg := cfg.DiscardParams().Average; avg > 0 {
		rc.minPoll = int8(avg)
	}
	rc.keys, rc.controlKey = loadKeys(cfg, log)
	flags := cfg.Flags()
	rc.engine.NTP = flags["ntp"]

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
		log.Error(fmt.Sprintf("tos: %v; using the defaults", err))
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
				fu.Time1 = o.Value.Float()
			case "time2":
				fu.Time2 = o.Value.Float()
			case "stratum":
				fu.Stratum, fu.StratumSet = int(o.Value.Float()), true
			case "refid":
				fu.RefID, fu.RefIDSet = o.Value.Str, true
			case "flag1", "flag2", "flag3", "flag4":
				fu.Flags[o.Name[4]-'1'] = o.Value.Float() != 0
			default:
				log.Warn(fmt.Sprintf("%s: fudge %s is read but gontp does not act on it yet", o.Pos, o.Name))
			}
		}
		fudges[*f.Refclock] = fu
	}

	for _, a := range cfg.Associations {
		if a.Invalid {
			continue
		}
		pc := peer.Config{
			MinPoll: int8(a.EffectiveMinPoll()), MaxPoll: int8(a.EffectiveMaxPoll()),
			Version: uint8(a.Version), KeyID: a.Key,
			IBurst: a.Has("iburst"), Burst: a.Has("burst"), Prefer: a.Has("prefer"),
			NoSelect: a.Has("noselect"), True: a.Has("true"), Preempt: a.Has("preempt"),
		}
		if a.Key != 0 {
			log.Warn(fmt.Sprintf("%s: %s %s key %d: gontp does not authenticate NTP packets yet (keys serve ntpq only); replies carrying a MAC will be refused",
				a.Pos, a.Kind, a.Address, a.Key))
		}
		if a.Refclock != nil {
			addr := refclock.Address{Type: uint8(a.Refclock.Type), Unit: uint8(a.Refclock.Unit)}
			drv, err := refclock.New(addr, fudges[*a.Refclock])
			if err != nil {
				log.Error(fmt.Sprintf("%s: %v", a.Pos, err))
				continue
			}
			rc.engine.Refclocks = append(rc.engine.Refclocks, engine.Refclock{Addr: addr, Driver: drv, Peer: pc})
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
			rc.engine.Servers = append(rc.engine.Servers, pc)
			continue
		}
		rc.named = append(rc.named, namedServer{pos: a.Pos.String(), name: a.Address, family: a.Family, peer: pc})
	}

	for _, r := range cfg.Interfaces {
		target := r.Class
		if target == "" {
			target = r.Name
		}
		rule, err := netio.ParseRule(r.Action, target)
		if err != nil {
			log.Error(fmt.Sprintf("%s: %v", r.Pos, err))
			continue
		}
		rc.interfaces = append(rc.interfaces, rule)
	}
	return rc, nil
}

// family is the address family a line uses: its own -4/-6, else ntpd's.
func family(line, cmd int) int {
	if line != 0 {
		return line
	}
	return cmd
}
