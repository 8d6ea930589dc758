// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"gontp/internal/engine"
	"gontp/ntpconf"
	"gontp/peer"
)

// Reloading the configuration on SIGHUP is gontp's addition: classic ntpd 4.2.8p15 exits on
// SIGHUP and has no reload (Debian's `/etc/init.d/ntp reload` exits 3), so adding or
// removing a server there means a restart, which throws away every association's state.
// gontp re-reads the file and changes only the associations whose lines changed: a new
// `server` or `peer` line is mobilised (names are resolved in the background as at start), a
// removed one is demobilised, the others keep their clock filter and reach. Lines are matched
// by their whole meaning (mode, address or name, family and options), so editing a line's
// options replaces that association. The log file is reopened and `logfile`/`logconfig`
// take their new values. Every other directive is only read at start: a reload that finds
// them changed says so, naming them, instead of pretending.

// lineKey identifies an association line across reloads.
type lineKey string

// literalKey is the key of a server or peer line with an address.
func literalKey(pc peer.Config) lineKey { return lineKey(fmt.Sprintf("addr %+v", pc)) }

// namedKey is the key of a server or peer line with a host name.
func namedKey(s namedServer) lineKey {
	pc := s.peer
	pc.Addr = netip.AddrPort{}
	return lineKey(fmt.Sprintf("name %s family %d %+v", s.name, s.family, pc))
}

// lineState is what the daemon knows of one association line.
type lineState struct {
	desc   string         // "server 198.18.0.3" or "server ntp.example (198.18.0.3)", for messages
	addr   netip.AddrPort // the association's address once mobilised
	cancel func()         // stops the name resolution of a named line
}

// startLines records the configured associations the engine made and starts resolving the
// named ones. It runs before the engine goroutine starts, so it may touch d.lines.
func (d *Daemon) startLines(ctx context.Context, cfg *runConfig) {
	d.lines = map[lineKey]*lineState{}
	for _, pc := range cfg.engine.Servers {
		d.lines[literalKey(pc)] = &lineState{desc: pc.Addr.Addr().String(), addr: pc.Addr}
	}
	for _, s := range cfg.named {
		d.addNamed(ctx, s)
	}
	d.confText = staticText(cfg.parsed)
}

// addNamed starts resolving a named line; on success the association is mobilised, unless
// the line was removed meanwhile.
func (d *Daemon) addNamed(ctx context.Context, s namedServer) {
	key := namedKey(s)
	lctx, cancel := context.WithCancel(ctx)
	st := &lineState{desc: s.name, cancel: cancel}
	d.lines[key] = st
	go func() {
		defer cancel()
		wait := resolveRetryFirst
		for attempt := 1; ; attempt++ {
			addrs, err := d.lookup(lctx, network(s.family, d.opts.Family), s.name)
			if lctx.Err() != nil {
				return
			}
			if err == nil {
				pc := s.peer
				pc.Addr = netip.AddrPortFrom(addrs[0], 123)
				d.post(func(e *engine.Engine, now time.Time) []engine.Send {
					if d.lines[key] != st {
						return nil // removed by a reload while resolving
					}
					if _, err := e.AddServer(pc, now); err != nil {
						d.log.Error(fmt.Sprintf("%s: %s %s: %v", s.pos, s.name, pc.Addr.Addr(), err))
						return nil
					}
					st.addr = pc.Addr
					st.desc = fmt.Sprintf("%s (%s)", s.name, pc.Addr.Addr())
					d.log.Info(fmt.Sprintf("%s: %s resolved to %s", s.pos, s.name, pc.Addr.Addr()))
					return nil
				})
				return
			}
			d.log.Warn(fmt.Sprintf("%s: cannot resolve %s (attempt %d): %v; retrying in %v", s.pos, s.name, attempt, err, wait))
			select {
			case <-lctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, resolveRetryMax)
		}
	}()
}

// reload re-reads the configuration (SIGHUP). It parses on the caller's goroutine and hands
// the association changes to the engine goroutine.
func (d *Daemon) reload(ctx context.Context) {
	d.log.Info("SIGHUP: reopening the log file, reloading " + d.opts.ConfigFile + " and the leap-seconds file")
	if out := d.opts.LogOutput; out != nil {
		if err := out.Reopen(); err != nil {
			d.log.Error(err.Error())
		}
	}
	cfg, perr := ParseConfigFile(d.opts.ConfigFile)
	if cfg == nil {
		d.log.Error(fmt.Sprintf("reload: %v; keeping the running configuration", perr))
		return
	}
	for _, p := range Problems(perr) {
		d.log.Error("reload: " + p)
	}
	// applyConfig warns about what it cannot do; at a reload those warnings repeat the
	// start-up ones, so they go to debug.
	quiet := slog.New(levelShift{d.log.Handler()})
	rc, err := applyConfig(cfg, d.opts.Family, quiet)
	if err != nil {
		d.log.Error(fmt.Sprintf("reload: %v; keeping the running configuration", err))
		return
	}
	rc.parsed = cfg
	applyLogging(d.opts, cfg, d.log)
	static := staticText(cfg)
	d.post(func(e *engine.Engine, now time.Time) []engine.Send {
		if static != d.confText {
			d.log.Warn("reload: " + describeStatic(d.confText, static) + " changed; only server and peer lines, logfile and logconfig are reloaded, the rest takes effect at the next restart")
		}
		d.applyLines(ctx, e, rc, now)
		d.confText = static
		// The leap-seconds file is re-read, so that an updated one (tzdata replaces it
		// before it expires) takes effect without a restart.
		if lp, checkHash, ok := cfg.Leapfile(); ok && lp != "" {
			d.clock.loadLeap(lp, checkHash)
		}
		return nil
	})
}

// applyLines mobilises the new association lines and demobilises the removed ones. It runs
// on the engine goroutine.
func (d *Daemon) applyLines(ctx context.Context, e *engine.Engine, rc *runConfig, now time.Time) {
	want := map[lineKey]bool{}
	for _, pc := range rc.engine.Servers {
		k := literalKey(pc)
		want[k] = true
		if d.lines[k] != nil {
			continue
		}
		if _, err := e.AddServer(pc, now); err != nil {
			d.log.Error(fmt.Sprintf("reload: server %s: %v", pc.Addr.Addr(), err))
			continue
		}
		d.lines[k] = &lineState{desc: pc.Addr.Addr().String(), addr: pc.Addr}
		d.log.Info(fmt.Sprintf("reload: %s added", pc.Addr.Addr()))
	}
	for _, s := range rc.named {
		k := namedKey(s)
		want[k] = true
		if d.lines[k] == nil {
			d.addNamed(ctx, s)
			d.log.Info(fmt.Sprintf("reload: %s added; resolving it", s.name))
		}
	}
	for k, st := range d.lines {
		if want[k] {
			continue
		}
		if st.cancel != nil {
			st.cancel()
		}
		delete(d.lines, k)
		if !st.addr.IsValid() {
			d.log.Info(fmt.Sprintf("reload: %s removed before it was resolved", st.desc))
			continue
		}
		if err := e.RemoveServer(st.addr, now); err != nil {
			d.log.Error(fmt.Sprintf("reload: removing %s: %v", st.desc, err))
			continue
		}
		d.log.Info(fmt.Sprintf("reload: %s removed", st.desc))
	}
}

// staticText is the configuration as classic's saveconfig writes it, without the lines a
// reload applies (server, peer, logfile, logconfig): what must be unchanged for a reload to
// be complete.
func staticText(cfg *ntpconf.Config) string {
	if cfg == nil {
		return ""
	}
	var b bytes.Buffer
	if err := cfg.WriteSaveconfig(&b); err != nil {
		return "unprintable: " + err.Error()
	}
	var out strings.Builder
	for _, l := range strings.SplitAfter(b.String(), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "server" || f[0] == "peer" || f[0] == "logfile" || f[0] == "logconfig") {
			// Refclocks are server lines too, but need a driver: they are static.
			if !(f[0] == "server" && len(f) > 1 && strings.HasPrefix(f[1], "127.127.")) {
				continue
			}
		}
		out.WriteString(l)
	}
	return out.String()
}

// describeStatic names the directives whose lines differ between two staticText outputs.
func describeStatic(old, cur string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	o, c := count(old), count(cur)
	seen := map[string]bool{}
	var names []string
	note := func(l string) {
		f := strings.Fields(l)
		if len(f) == 0 || seen[f[0]] {
			return
		}
		seen[f[0]] = true
		names = append(names, f[0])
	}
	for l, n := range o {
		if c[l] != n {
			note(l)
		}
	}
	for l, n := range c {
		if o[l] != n {
			note(l)
		}
	}
	if len(names) == 0 {
		return "the configuration"
	}
	return strings.Join(names, ", ")
}

// applyLogging applies `logfile` and `logconfig` to the daemon's LogOutput. -l on the
// command line wins over `logfile`: the administrator typed it for this run.
func applyLogging(opts Options, cfg *ntpconf.Config, log *slog.Logger) {
	out := opts.LogOutput
	if out == nil || cfg == nil {
		return
	}
	if st := cfg.Setting("logfile"); st != nil && !opts.LogFileFromCommandLine {
		if err := out.SetFile(st.Value.Str); err != nil {
			log.Error(fmt.Sprintf("%s: %v", st.Pos, err))
		}
	}
	items := make([]LogconfigItem, 0, len(cfg.Logconfig))
	for _, it := range cfg.Logconfig {
		items = append(items, LogconfigItem{Pos: it.Pos.String(), Op: it.Op, Name: it.Name})
	}
	if err := out.SetLogconfig(items); err != nil {
		log.Warn(err.Error())
	}
}

// levelShift lowers every record to debug: the repeated warnings of a reload.
type levelShift struct{ slog.Handler }

func (h levelShift) Enabled(ctx context.Context, l slog.Level) bool {
	if l >= slog.LevelError {
		return h.Handler.Enabled(ctx, l)
	}
	return h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h levelShift) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}
