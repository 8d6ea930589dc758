// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"gontp/internal/engine"
	"gontp/internal/netio"
	"gontp/internal/server"
	"gontp/ntpconf"
	"gontp/peer"
)

// Reloading the configuration on SIGHUP is gontp's addition: classic ntpd 4.2.8p15 exits on
// SIGHUP and has no reload (Debian's `/etc/init.d/ntp reload` exits 3), so any change there
// means a restart, which throws away every association's state.
//
// A reload is never half-applied. The new file is read and checked whole first (parse, then
// applyConfig, which builds every new setting without touching the running ones); if it has
// any error, nothing changes: each error is logged with file:line:col and the daemon says it
// keeps the running configuration. Otherwise the difference is applied in one call on the
// engine goroutine, so that no packet is handled half-way:
//
//   - server and peer lines are matched by address (or host name and family): a removed line's
//     association goes first, an edited line's association takes the new options in place,
//     keeping what it has measured (clock filter, reach, counters, association ID), a new line
//     is mobilised. A line whose mode changed (server to peer) is replaced.
//   - each other group of directives has an applier (appliers below) that applies it when the
//     group's text changed; a group gontp cannot change in a running daemon yet has none, and
//     one warning names every such group that changed.
//
// The result is the same as a restart with the new file, except for what was measured: the
// reload corpus test (internal/interop) compares the two.

// applier owns one group of directives at a reload. groups are the keys of groupTexts it
// owns; apply makes the new configuration's values take effect and runs on the engine
// goroutine, inside the reload's single step. An applier without apply names directives
// that a running daemon cannot change yet: a reload that changes them says so, naming
// them, and they take effect at the next restart.
// differs, when set, also reports a change the group texts cannot show (a reference
// clock's device path, which saveconfig does not print).
type applier struct {
	name    string
	groups  []string
	apply   func(d *Daemon, e *engine.Engine, cur *runConfig, now time.Time)
	differs func(old, cur *runConfig) bool
	// can, when set, says whether this change can be applied in the running daemon; when
	// it cannot, the change is named as taking effect at the next restart.
	can func(d *Daemon, cur *runConfig) bool
}

var appliers = []applier{
	{name: "restrict, discard, mru, enable/disable monitor",
		groups: []string{"restrict", "unrestrict", "discard", "mru", "flag monitor"}, apply: (*Daemon).applyAccess},
	{name: "tos", groups: []string{"tos"}, apply: func(d *Daemon, e *engine.Engine, cur *runConfig, now time.Time) {
		if err := e.SetTos(*cur.engine.Tos, now); err != nil {
			d.log.Error("reload: tos: " + err.Error()) // validated by applyConfig: not reached
		}
	}},
	{name: "tinker", groups: []string{"tinker"}, apply: func(d *Daemon, _ *engine.Engine, cur *runConfig, _ time.Time) {
		d.clock.Discipline.SetTinker(tinkerFor(d.opts.Clock, cur.tinker))
	}},
	{name: "driftfile", groups: []string{"driftfile"}, apply: func(d *Daemon, _ *engine.Engine, cur *runConfig, now time.Time) {
		if d.opts.Clock.DriftFile != "" {
			d.log.Warn("reload: driftfile: -f " + d.opts.Clock.DriftFile + " on the command line wins over the configuration")
			return
		}
		path, _ := cur.parsed.Driftfile()
		d.clock.setDriftFile(path, driftThreshold(cur.parsed), now)
	}},
	{name: "interface, nic", groups: []string{"interface", "nic"}, apply: func(d *Daemon, _ *engine.Engine, cur *runConfig, _ time.Time) {
		d.socks.SetRules(append(append([]netio.Rule(nil), cur.interfaces...), d.cmdRules...))
		d.rescan()
	}},
	{name: "setvar", groups: []string{"setvar"}, apply: func(d *Daemon, _ *engine.Engine, cur *runConfig, _ time.Time) {
		d.ctl.SetSetVars(cur.setvars)
	}},
	{name: "pool, manycastclient", groups: []string{"pool", "manycastclient"}, apply: (*Daemon).applyPools},
	{name: "server 127.127.t.u and fudge (reference clocks)", groups: []string{"refclock", "fudge"},
		apply: (*Daemon).applyRefclocks, differs: refclocksDiffer},
	// The key file itself is read again at every reload (installKeys after the appliers), so
	// that an edited ntp.keys takes effect; this applier only names the change.
	{name: "keys, trustedkey, controlkey, requestkey", groups: []string{"keys", "trustedkey", "controlkey", "requestkey"},
		apply: func(*Daemon, *engine.Engine, *runConfig, time.Time) {}},
	{name: "statistics, filegen, statsdir, enable/disable stats", groups: []string{"statistics", "filegen", "statsdir", "flag stats"},
		apply: func(d *Daemon, _ *engine.Engine, cur *runConfig, _ time.Time) { d.ApplyStats(cur.parsed) }},
	{name: "metrics", groups: []string{"metrics"},
		apply: func(d *Daemon, _ *engine.Engine, cur *runConfig, _ time.Time) { d.ApplyMetrics(cur.parsed) }},
	{name: "tinker freq", groups: []string{"tinker freq"}},
	{name: "enable/disable ntp", groups: []string{"flag ntp"}, apply: func(_ *Daemon, e *engine.Engine, cur *runConfig, now time.Time) {
		e.SetNTP(cur.engine.NTP, now)
	}},
	{name: "enable/disable kernel", groups: []string{"flag kernel"}},
	// NTS (nts.go): the NTS-KE server, its certificate, the master key file and the NTS
	// associations are set up at start only.
	{name: "nts (and server/pool lines with nts)", groups: []string{"nts"}},
	// `broadcastdelay` needs no socket: the broadcast client associations mobilised from
	// now on take it.
	{name: "broadcastdelay", groups: []string{"broadcastdelay"}, apply: func(_ *Daemon, e *engine.Engine, cur *runConfig, _ time.Time) {
		e.SetBClient(cur.engine.BClient)
	}},
	// The broadcast client's and the manycast server's sockets are bound at start, before
	// the privilege drop (bcast.go), and stay: a reload may turn the broadcast client or
	// the manycast server off, and back on with the sockets of the start; anything that
	// needs other sockets takes effect at the next restart. `broadcast` lines are
	// association lines and reload as such.
	{name: "broadcastclient, multicastclient, manycastserver", groups: []string{"broadcastclient", "multicastclient", "manycastserver"},
		can: func(d *Daemon, cur *runConfig) bool { return d.castStart.serves(cur.cast) },
		apply: func(d *Daemon, _ *engine.Engine, cur *runConfig, _ time.Time) {
			d.srv.SetBClient(cur.cast.on())
			d.srv.SetManycastServer(len(cur.cast.manycast) > 0)
		}},
}

// groupTexts splits a configuration into the groups appliers own: the saveconfig lines of
// each directive (a refclock's server line counts as "refclock"), the enable/disable flags
// one by one ("flag monitor"), and tinker without and with freq. server and peer lines are
// not in it: they are matched line by line.
func groupTexts(cfg *ntpconf.Config) map[string]string {
	m := map[string]string{}
	if cfg == nil {
		return m
	}
	var b bytes.Buffer
	if err := cfg.WriteSaveconfig(&b); err != nil {
		m["unprintable"] = err.Error()
		return m
	}
	for _, l := range strings.Split(b.String(), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		key := f[0]
		if (key == "server" || key == "pool") && slices.Contains(f[2:], "nts") {
			// NTS associations (nts.go) come from an NTS-KE made at start: they belong
			// to the nts group, which changes at a restart.
			m["nts"] += l + "\n"
			continue
		}
		switch key {
		case "server":
			if len(f) < 2 || !strings.HasPrefix(f[1], "127.127.") {
				continue
			}
			key = "refclock"
		case "peer", "enable", "disable", "tinker":
			continue
		}
		m[key] += l + "\n"
	}
	for name, on := range cfg.Flags() {
		m["flag "+name] = fmt.Sprint(on)
	}
	t := cfg.TinkerParams()
	if t.Freq != nil {
		m["tinker freq"] = fmt.Sprint(*t.Freq)
	}
	t.Freq = nil
	m["tinker"] = fmt.Sprintf("%+v", t)
	return m
}

// lineKey identifies an association line across reloads: its address, or its host name and
// address family.
type lineKey string

// literalKey is the key of a server or peer line with an address.
func literalKey(pc peer.Config) lineKey { return lineKey("addr " + pc.Addr.String()) }

// namedKey is the key of a server or peer line with a host name.
func namedKey(s namedServer) lineKey {
	return lineKey(fmt.Sprintf("name %s family %d", s.name, s.family))
}

// lineState is what the daemon knows of one association line.
type lineState struct {
	desc   string         // "198.18.0.3" or "ntp.example (198.18.0.3)", for messages
	peer   peer.Config    // the line's options (Addr set once mobilised)
	addr   netip.AddrPort // the association's address once mobilised
	cancel func()         // stops the name resolution of a named line
	// runtime marks a line added by ntpq's :config: it is not in ntp.conf, and a reload
	// keeps it (classic has no reload; a runtime addition lasts until the restart there).
	runtime bool
}

// startLines records the configured associations the engine made and starts resolving the
// named ones. It runs before the engine goroutine starts, so it may touch d.lines.
func (d *Daemon) startLines(ctx context.Context, cfg *runConfig) {
	d.ctx = ctx
	d.lines = map[lineKey]*lineState{}
	for _, pc := range cfg.engine.Servers {
		d.lines[literalKey(pc)] = &lineState{desc: pc.Addr.Addr().String(), peer: pc, addr: pc.Addr}
	}
	for _, s := range cfg.named {
		d.addNamed(ctx, s)
	}
	d.applied = groupTexts(cfg.parsed)
	d.cur = cfg
}

// addNamed starts resolving a named line; on success the association is mobilised, unless
// the line was removed or edited meanwhile.
func (d *Daemon) addNamed(ctx context.Context, s namedServer) {
	key := namedKey(s)
	lctx, cancel := context.WithCancel(ctx)
	st := &lineState{desc: s.name, peer: s.peer, cancel: cancel}
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
				d.post(func(e *engine.Engine, now time.Time) []engine.Send {
					if d.lines[key] != st {
						return nil // removed or replaced by a reload while resolving
					}
					pc := st.peer
					pc.Addr = netip.AddrPortFrom(addrs[0], 123)
					if _, err := e.AddServer(pc, now); err != nil {
						d.log.Error(fmt.Sprintf("%s: %s %s: %v", s.pos, s.name, pc.Addr.Addr(), err))
						return nil
					}
					st.addr, st.peer = pc.Addr, pc
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

// reload re-reads the configuration (SIGHUP). It reads and checks the file on the caller's
// goroutine and hands the difference to the engine goroutine as one step.
func (d *Daemon) reload(ctx context.Context) {
	d.log.Info("SIGHUP: reopening the log file, reloading " + d.opts.ConfigFile + " and the leap-seconds file")
	if out := d.opts.LogOutput; out != nil {
		if err := out.Reopen(); err != nil {
			d.log.Error(err.Error())
		}
	}
	refuse := func(problems []string) {
		for _, p := range problems {
			d.log.Error("reload: " + p)
		}
		d.log.Error(fmt.Sprintf("reload: %s has %d error(s); nothing was changed, the running configuration stays",
			d.opts.ConfigFile, len(problems)))
		d.reloaded(false)
	}
	cfg, perr := ParseConfigFile(d.opts.ConfigFile)
	if cfg == nil {
		refuse([]string{perr.Error()})
		return
	}
	if problems := Problems(perr); len(problems) > 0 {
		refuse(problems)
		return
	}
	commandLineKeys(cfg, d.opts)
	// The command line's servers stay what they were at start, as in classic.
	if err := addCommandLineServers(cfg, d.opts.Servers); err != nil {
		refuse([]string{err.Error()})
		return
	}
	// A warning that start-up or the last reload gave already goes to debug; a new one
	// (a line just added that gontp does not act on, say) is logged as such.
	warned := &newWarnings{Handler: d.log.Handler(), seen: d.warned, now: map[string]bool{}}
	wlog := slog.New(warned)
	for _, w := range cfg.Warnings() {
		wlog.Warn(w.Error())
	}
	rc := applyConfig(cfg, d.opts.Family, wlog)
	openRefclocks(rc)
	if len(rc.problems) > 0 {
		refuse(rc.problems)
		return
	}
	rc.parsed = cfg
	d.warned = warned.now
	applyLogging(d.opts, cfg, d.log)
	d.post(func(e *engine.Engine, now time.Time) []engine.Send {
		d.applyReload(ctx, e, rc, now)
		// The key file was read whole and checked with the rest (a file it rejects is a
		// problem that refused the reload above): its keys take effect everywhere at once.
		d.installKeys(e, rc)
		// The leap-seconds file is re-read, so that an updated one (tzdata replaces it
		// before it expires) takes effect without a restart.
		if lp, checkHash, ok := cfg.Leapfile(); ok && lp != "" {
			d.clock.loadLeap(lp, checkHash)
		} else {
			d.clock.leapWatch = leapWatch{} // no leapfile line any more: nothing to watch
		}
		d.reloaded(true)
		return nil
	})
}

// reloaded tells a test that a reload was applied or refused.
func (d *Daemon) reloaded(applied bool) {
	if d.opts.Reloaded != nil {
		d.opts.Reloaded(applied)
	}
}

// applyReload is the reload's single step, on the engine goroutine.
func (d *Daemon) applyReload(ctx context.Context, e *engine.Engine, rc *runConfig, now time.Time) {
	d.applyLines(ctx, e, rc, now)
	texts := groupTexts(rc.parsed)
	changed := func(a applier) bool {
		if a.differs != nil && a.differs(d.cur, rc) {
			return true
		}
		for _, g := range a.groups {
			if d.applied[g] != texts[g] {
				return true
			}
		}
		return false
	}
	var restart []string
	for _, a := range appliers {
		if !changed(a) {
			continue
		}
		if a.apply == nil || a.can != nil && !a.can(d, rc) {
			restart = append(restart, a.name)
			continue
		}
		a.apply(d, e, rc, now)
		for _, g := range a.groups {
			d.applied[g] = texts[g]
		}
		d.log.Info("reload: " + a.name + " applied")
	}
	if len(restart) > 0 {
		d.log.Warn("reload: " + strings.Join(restart, "; ") + " changed: gontp cannot change that in a running daemon yet; it takes effect at the next restart, the rest of the file is applied")
	}
	d.cur = rc
	d.mode7Flags.Store(&rc.flags)
}

// applyLines applies the server and peer lines: removed associations go first (so that an
// address can move from one line to another), edited ones take their new options keeping
// their measurements, new ones are mobilised. It runs on the engine goroutine.
func (d *Daemon) applyLines(ctx context.Context, e *engine.Engine, rc *runConfig, now time.Time) {
	type want struct {
		pc    peer.Config
		named *namedServer
	}
	wanted := map[lineKey]want{}
	var order []lineKey
	for _, pc := range rc.engine.Servers {
		k := literalKey(pc)
		wanted[k] = want{pc: pc}
		order = append(order, k)
	}
	for i := range rc.named {
		k := namedKey(rc.named[i])
		wanted[k] = want{pc: rc.named[i].peer, named: &rc.named[i]}
		order = append(order, k)
	}
	remove := func(k lineKey, st *lineState, why string) {
		if st.cancel != nil {
			st.cancel()
		}
		delete(d.lines, k)
		if !st.addr.IsValid() {
			d.log.Info(fmt.Sprintf("reload: %s %s before it was resolved", st.desc, why))
			return
		}
		if err := e.RemoveServer(st.addr, now); err != nil {
			d.log.Error(fmt.Sprintf("reload: removing %s: %v", st.desc, err))
			return
		}
		d.log.Info(fmt.Sprintf("reload: %s %s", st.desc, why))
	}
	// Removed lines, and lines whose mode changed, go first.
	keys := make([]lineKey, 0, len(d.lines))
	for k := range d.lines {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		st := d.lines[k]
		w, ok := wanted[k]
		switch {
		case !ok && st.runtime:
			// added by ntpq's :config, not by the file: kept
		case !ok:
			remove(k, st, "removed")
		case w.pc.Mode != st.peer.Mode || (!st.addr.IsValid() && !sameOptions(w.pc, st.peer)):
			// A new mode needs a new association; a name still being resolved simply
			// starts again with the new options.
			remove(k, st, "replaced")
		}
	}
	for _, k := range order {
		w := wanted[k]
		st := d.lines[k]
		switch {
		case st != nil && sameOptions(w.pc, st.peer):
			// unchanged
		case st != nil:
			pc := w.pc
			pc.Addr = st.addr
			if err := e.ReconfigureServer(pc, now); err != nil {
				d.log.Error(fmt.Sprintf("reload: %s: %v", st.desc, err))
				continue
			}
			st.peer = pc
			d.log.Info(fmt.Sprintf("reload: %s takes its edited options; its measurements are kept", st.desc))
		case w.named != nil:
			d.addNamed(ctx, *w.named)
			d.log.Info(fmt.Sprintf("reload: %s added; resolving it", w.named.name))
		default:
			if _, err := e.AddServer(w.pc, now); err != nil {
				d.log.Error(fmt.Sprintf("reload: server %s: %v", w.pc.Addr.Addr(), err))
				continue
			}
			d.lines[k] = &lineState{desc: w.pc.Addr.Addr().String(), peer: w.pc, addr: w.pc.Addr}
			d.log.Info(fmt.Sprintf("reload: %s added", w.pc.Addr.Addr()))
		}
	}
}

// sameOptions reports whether two lines configure the same association, addresses aside.
func sameOptions(a, b peer.Config) bool {
	a.Addr, b.Addr = netip.AddrPort{}, netip.AddrPort{}
	a.StartDelay, b.StartDelay = 0, 0
	a.Configured, b.Configured = false, false
	return a == b
}

// applyPools adds the new `pool` lines, removes the removed ones with the servers they
// spawned, and gives an edited one's prototype and servers the new options, keeping their
// measurements. Pools are matched by name and address family.
func (d *Daemon) applyPools(e *engine.Engine, cur *runConfig, now time.Time) {
	key := func(p engine.Pool) string { return fmt.Sprintf("%s -%d", p.Name, p.Family) }
	old := map[string]engine.Pool{}
	for _, p := range d.cur.engine.Pools {
		old[key(p)] = p
	}
	want := map[string]bool{}
	for _, p := range cur.engine.Pools {
		want[key(p)] = true
	}
	for k, p := range old {
		if !want[k] {
			if err := e.RemovePool(p.Name, p.Family, now); err != nil {
				d.log.Error("reload: " + err.Error())
			}
		}
	}
	for _, p := range cur.engine.Pools {
		o, ok := old[key(p)]
		switch {
		case !ok:
			if err := e.AddPool(p, now); err != nil {
				d.log.Error("reload: " + err.Error())
				continue
			}
			d.log.Info(fmt.Sprintf("reload: pool %s added", p.Name))
		case !sameOptions(o.Peer, p.Peer):
			if err := e.ReconfigurePool(p, now); err != nil {
				d.log.Error("reload: " + err.Error())
				continue
			}
			d.log.Info(fmt.Sprintf("reload: pool %s and its servers take the edited options", p.Name))
		}
	}
	// A manycastclient line (a pool with a group) lets server replies from strangers in.
	d.srv.SetManycastClient(cur.manycastClient())
}

// applyAccess swaps in the new restrict list, `enable/disable auth` and `tos floor/ceiling`
// (whether strangers' symmetric-active packets may mobilise passive associations) and, when `discard`, `mru` or `enable monitor`
// changed, the new MRU monitor; otherwise the running monitor, with its list of clients,
// stays. The new list gets the hidden entries of the local addresses before it is seen, so
// that the daemon never answers itself in between.
func (d *Daemon) applyAccess(_ *engine.Engine, cur *runConfig, _ time.Time) {
	g := cur.gate
	old := d.gate.Load()
	if cur.monitor == d.cur.monitor && cur.flags["monitor"] == d.cur.flags["monitor"] {
		// The running monitor stays; only whether some entry is `limited` may differ,
		// which keeps it running under `disable monitor` (classic mon_start(MON_RES)).
		g.Monitor = old.Monitor
		if g.List.HasLimited() {
			g.Monitor.Start(server.MonitorRestricted)
		} else {
			g.Monitor.Stop(server.MonitorRestricted)
		}
	}
	for _, sock := range d.socks.Sockets() {
		if !sock.Wildcard {
			g.List.AddInterface(sock.Local.Addr())
		}
	}
	d.gate.Store(g)
	d.srv.SetNoAuth(d.opts.noAuth(cur))
	d.srv.SetStratumRange(cur.engine.Tos.Floor, cur.engine.Tos.Ceiling)
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

// newWarnings logs a warning the daemon gave before (at start or the last reload) at debug
// level and a new one as it is, and records them all for the next reload. Errors pass.
type newWarnings struct {
	slog.Handler
	seen, now map[string]bool
}

func (h *newWarnings) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, l) || h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h *newWarnings) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		h.now[r.Message] = true
		if h.seen[r.Message] {
			r.Level = slog.LevelDebug
		}
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}
