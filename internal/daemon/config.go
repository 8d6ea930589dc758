package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-multierror"

	"gontp/internal/engine"
	"gontp/internal/netio"
	"gontp/ntpconf"
	"gontp/peer"
	"gontp/refclock"
)

// DefaultConfigFile is where ntpd reads its configuration without -c.
const DefaultConfigFile = "/etc/ntp.conf"

// runConfig is what the daemon takes from ntp.conf.
type runConfig struct {
	engine     engine.Config
	interfaces []netio.Rule
}

// actedOn are the directives the daemon uses today. Every other directive in the file is
// parsed and checked, then named in one warning each, so that nothing is silently ignored.
var actedOn = map[string]bool{
	"server": true, "fudge": true, "interface": true, "nic": true, "enable": true,
	"disable": true, "tos": true, "includefile": true,
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
	return applyConfig(cfg, log)
}

// applyConfig turns a parsed configuration into the daemon's settings, warning about what it
// cannot do yet.
func applyConfig(cfg *ntpconf.Config, log *slog.Logger) (*runConfig, error) {
	rc := &runConfig{}
	for _, d := range cfg.Directives {
		if !actedOn[d.Keyword] {
			log.Warn(fmt.Sprintf("%s: %q is read but gontp does not act on it yet; it has no effect", d.Pos, d.Keyword))
		}
	}
	flags := cfg.Flags()
	rc.engine.NTP = flags["ntp"]

	tos := peer.DefaultTos()
	for _, o := range cfg.Tos {
		v := o.Value.Float()
		switch o.Name {
		case "minclock":
			tos.MinClock = int(v)
		case "maxclock":
			tos.MaxClock = int(v)
		case "minsane":
			tos.MinSane = int(v)
		case "mindist":
			tos.MinDist = v
		case "maxdist":
			tos.MaxDist = v
		case "floor":
			tos.Floor = uint8(v)
		case "ceiling":
			tos.Ceiling = uint8(v)
		case "orphan":
			tos.Orphan = uint8(v)
		case "orphanwait":
			tos.OrphanWait = v
		default:
			log.Warn(fmt.Sprintf("%s: tos %s is read but gontp does not act on it yet", o.Pos, o.Name))
		}
	}
	if err := tos.Validate(); err != nil {
		log.Error(fmt.Sprintf("tos: %v; using the defaults", err))
		tos = peer.DefaultTos()
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
		// Network associations need the timekeeping core's daemon side (DNS, pool) and a
		// clock discipline, which gontp does not have yet.
		log.Warn(fmt.Sprintf("%s: %s %s: gontp does not poll network servers yet; this line has no effect",
			a.Pos, a.Kind, a.Address))
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
