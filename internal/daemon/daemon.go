// SPDX-License-Identifier: BSD-2-Clause

// Package daemon wires gontp together: it reads the configuration, opens the sockets, runs
// the engine on real timers and serves time, as classic ntpd's main loop does. It is the only
// place below cmd/ that reads the wall clock; everything under it takes time as an argument.
package daemon

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gontp/internal/snapshot"

	"golang.org/x/sys/unix"

	"gontp/internal/control"
	"gontp/internal/engine"
	"gontp/internal/filegen"
	"gontp/internal/keys"
	"gontp/internal/metrics"
	"gontp/internal/mode7"
	"gontp/internal/netio"
	"gontp/internal/ntptime"
	"gontp/internal/server"
	"gontp/internal/wire"
	"gontp/ntpconf"
	"gontp/refclock"
)

// Options are the daemon's settings from the command line.
type Options struct {
	ConfigFile   string   // -c
	PIDFile      string   // -p
	Interfaces   []string // -I: interface names or addresses to listen on
	NoVirtualIPs bool     // -L
	Port         uint16   // UDP port; 123 except in tests
	CommandLine  []string // for the "Command line:" log line
	// AuthNoReq is ntpd's -A (--authnoreq): `disable auth` unless the configuration file
	// says `enable auth` or `disable auth` itself (classic applies the command line first,
	// then the file). -a (--authreq) is the default.
	AuthNoReq bool
	// KeyFile is ntpd's -k: the symmetric key file, instead of ntp.conf's `keys`.
	// TrustedKeys are -t: key ids trusted besides those of `trustedkey`.
	KeyFile     string
	TrustedKeys []uint32
	// Family is ntpd's -4 (4) or -6 (6): host names in server, peer and pool lines then
	// resolve to that family only. 0 means both.
	Family int
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// Clock selects the clock the daemon disciplines (the kernel's, or a virtual one) and
	// the discipline's command-line policy (-g, -G, -x, -q, -f).
	Clock ClockOptions
	// User is ntpd's -u "user[:group]": after binding the sockets the daemon switches to it,
	// keeping only CAP_SYS_TIME and CAP_NET_BIND_SERVICE. Empty: stay as started.
	User string
	// Observe, when set, is called once the engine runs, with a function that returns the
	// engine's current snapshot (safe from any goroutine). In-process tests read the
	// association table with it.
	Observe func(snap func() *snapshot.Snapshot)

	// LogOutput, when set, is the log destination behind log: `logfile` and `logconfig`
	// act on it and SIGHUP reopens it. LogFileFromCommandLine (-l) keeps `logfile` from
	// moving it.
	LogOutput              *LogOutput
	LogFileFromCommandLine bool
	// Reload receives one value per SIGHUP: reopen the log, reload the configuration.
	Reload <-chan struct{}
	// Reloaded, when set, is told after each reload whether the new configuration was
	// applied (true) or refused (false); ObserveConfig, when set, is called once at start
	// with a function that returns the configuration in effect (ConfigState). Tests use them.
	Reloaded      func(applied bool)
	ObserveConfig func(state func() ConfigState)
	// UpdateInterval is ntpd's -U: how often the interfaces are rescanned; 0 means classic's
	// default of 300 s, a negative value never.
	UpdateInterval time.Duration
	// Notifier is systemd's sd_notify socket (nil: not under systemd); Readiness is the
	// pipe to the forking parent (nil: not forked). Both are told when the daemon runs.
	Notifier  *Notifier
	Readiness *Readiness
	// LeapCheckInterval is how often the leap-seconds file is looked at for changes on
	// disk; 0 means LeapCheckInterval (5 minutes). Tests make it short.
	LeapCheckInterval time.Duration
	// Jail is ntpd's -i: chroot to this directory once the sockets are bound and the pid
	// file is written, before the user change (jail.go).
	Jail string
	// StatsDir is ntpd's -s: the statistics directory, over `statsdir`.
	StatsDir string
	// Servers are ntpd's operands: each is served as a "server NAME iburst" line before the
	// configuration file's own, as classic's config_peers does (with or without -q).
	Servers []string
	// Priority is ntpd's -N and -P (priority.go).
	Priority Priority
}

// Daemon is a running gontp ntpd.
type Daemon struct {
	log   *slog.Logger
	opts  Options
	now   func() time.Time
	clock *Clock
	srv   *server.Server
	// txKernel is the kernel's transmit time of the last request sendFrom sent, when
	// txKernelOK (engine goroutine only).
	txKernel   time.Time
	txKernelOK bool
	// gate is the restrict list and the MRU monitor in effect; a reload swaps it.
	gate atomic.Pointer[server.Gate]
	ctl  *control.Server
	// mode7 answers ntpdc's read-only requests while the flags in effect (mode7Flags, swapped
	// by a reload) say `enable mode7`.
	mode7      *mode7.Server
	mode7Flags atomic.Pointer[ntpconf.SystemFlags]
	eng        *engine.Engine
	socks      *netio.Set

	// toEngine carries datagrams that belong to associations to the engine goroutine,
	// which alone owns the associations (docs/architecture.md: one goroutine owns all state).
	toEngine chan inbound
	// calls carries other work for the engine goroutine: resolved names, pool answers,
	// interface changes.
	calls chan engineCall
	// readings carries the reference clock drivers' readings to the engine goroutine.
	readings chan refclock.Reading
	stopping <-chan struct{}
	// routes caches the socket for each destination of the engine's packets; the engine
	// goroutine alone uses it, and a rescan empties it.
	routes map[netip.AddrPort]*netio.Socket
	// castWarned is the last error logged for each broadcast destination (bcast.go),
	// so that a destination no interface reaches is named once, not at every poll.
	castWarned map[netip.Addr]string
	// castStart is what the broadcast client and manycast server sockets were bound for
	// at start (a reload can turn them off and on, not bind others).
	castStart castListen
	resolver  Resolver

	dropped atomic.Uint64 // association packets dropped because the engine queue was full

	// nts is Network Time Security (nts.go); nil when ntp.conf has no NTS.
	nts *ntsState
	// stampSeal writes a reply's transmit timestamp and then its MAC (made once, so that
	// handing it to netio per reply allocates nothing).
	stampSeal netio.TxHook
	// seal only computes the MAC of an interleaved reply, whose transmit timestamp
	// Respond wrote.
	seal netio.TxHook
	// keys are the symmetric keys in use (nil: no key file); the engine goroutine signs
	// the associations' packets with them, authinfo and runtime configuration read them.
	keys atomic.Pointer[keys.Set]

	// lines are the configured server and peer lines and their associations, for reloads;
	// cur is the configuration in effect, applied the group texts of it that are in effect
	// (a group that needs a restart keeps its old text), warned the warnings given for it
	// (reload.go). The engine goroutine alone uses lines, cur and applied once it runs;
	// warned belongs to the reload.
	// cmdRules are the -I options as interface rules, after the configuration's.
	cmdRules []netio.Rule
	lines    map[lineKey]*lineState
	// drivers are the running reference clock drivers by address (refclock.go): a reload
	// stops, starts and restarts them. The engine goroutine alone uses it once it runs.
	drivers map[refclock.Address]*driver
	cur     *runConfig
	applied map[string]string
	warned  map[string]bool
	// ctx is Run's context, for the name resolutions that runtime configuration starts.
	ctx context.Context
	// startConfig is ntp.conf as read at start (saveconfig writes it).
	startConfig *ntpconf.Config

	// stats writes the statistics files (stats.go); metrics serves the `metrics`
	// endpoint (metrics.go).
	stats   *filegen.Writer
	metrics *metrics.Endpoint
	// ctlReady is ctl once made, for the metrics endpoint's goroutines.
	ctlReady atomic.Pointer[control.Server]
}

// OnceDone is returned by Run when -q has set the clock once and the daemon is done. Message
// is what classic ntpd -q prints on standard output ("ntpd: time set +0.123456s"); cmd/ntpd
// prints it and exits 0.
type OnceDone struct{ Message string }

func (o *OnceDone) Error() string { return o.Message }

// inbound is a datagram for the engine, copied out of netio's buffer.
type inbound struct {
	data   []byte
	rx     time.Time
	src    netip.AddrPort
	socket *netio.Socket
	// passive: a symmetric-active packet from a stranger that mobilises a passive
	// association (server.NewPassive).
	passive bool
	// bclient marks a broadcast from a stranger that may mobilise a broadcast client
	// association (server.NewBClient).
	bclient bool
}

// Run starts the daemon and serves until ctx is cancelled. Errors that stop the daemon at
// start (unusable configuration file, no sockets) are returned; everything later is logged.
func Run(ctx context.Context, opts Options, log *slog.Logger) error {
	now := time.Now
	log.Info(VersionString() + ": Starting")
	if len(opts.CommandLine) > 0 {
		log.Info("Command line: " + strings.Join(opts.CommandLine, " "))
	}
	prec, tick := measurePrecision(func() int64 { return time.Now().UnixNano() })
	log.Info(fmt.Sprintf("proto: precision = %.3f usec (%d)", float64(tick)/1e3, prec))
	setPriority(opts.Priority, log)

	cfg, err := loadConfig(opts, log)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		// SIGTERM while the configuration was loading: stop before binding anything.
		log.Info("ntpd exiting on signal")
		return nil
	}
	applyLogging(opts, cfg.parsed, log)
	clk, err := setupClock(opts.Clock, cfg.parsed, prec, log)
	if err != nil {
		return err
	}
	// From here on the daemon's time is the disciplined clock's: the host clock, or the
	// virtual clock of --virtual-clock, for the server's timestamps as for the engine.
	now = clk.Now
	var creds netio.Credentials
	if opts.User != "" {
		// Resolve the user before binding anything, so that a typo fails at once.
		if creds, err = netio.LookupCredentials(opts.User); err != nil {
			return err
		}
	}
	start := now()
	d := &Daemon{
		log:   log,
		opts:  opts,
		now:   now,
		clock: clk,
		srv: server.New(server.Config{MinPoll: cfg.minPoll, NoAuth: opts.noAuth(cfg),
			Floor: cfg.engine.Tos.Floor, Ceiling: cfg.engine.Tos.Ceiling, BClient: cfg.cast.on(),
			ManycastServer: len(cfg.cast.manycast) > 0, ManycastClient: cfg.manycastClient()}, ntptime.FromTime(start)),
		warned:   cfg.warned,
		toEngine: make(chan inbound, 256),
		calls:    make(chan engineCall, 64),
		readings: make(chan refclock.Reading, 256),
		stopping: ctx.Done(),
		resolver: opts.Resolver,
	}
	d.stats = newStatsWriter(cfg.parsed, opts, now, start, log)
	defer d.stats.Close()
	if d.resolver == nil {
		d.resolver = net.DefaultResolver
	}
	d.gate.Store(cfg.gate)
	d.stampSeal = func(b []byte, now time.Time) {
		wire.PutXmt(b, ntptime.FromTime(now))
		d.srv.Seal(b)
	}
	d.seal = func(b []byte, _ time.Time) { d.srv.Seal(b) }
	var engineKeys engine.Keys
	if cfg.keys != nil {
		d.keys.Store(cfg.keys)
		d.srv.SetKeys(cfg.keys)
		engineKeys = cfg.keys
	}
	eng, err := engine.New(cfg.engine, engine.Options{Precision: prec, Start: start, Log: log,
		Loop: clk.Discipline,
		Rand: rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(os.Getpid()))),
		// The engine asks; the lookup runs on its own goroutine and the answer comes back
		// through d.calls, so the engine goroutine never waits for DNS.
		Resolve:   func(req engine.ResolveRequest) { go d.resolvePool(ctx, req) },
		Stats:     d.stats,
		Keys:      engineKeys,
		LocalAddr: d.localAddrFor,
	})
	if err != nil {
		return err
	}
	d.eng = eng
	for _, name := range opts.Interfaces {
		r, err := netio.ParseRule("listen", name)
		if err != nil {
			return fmt.Errorf("-I %s: %w", name, err)
		}
		d.cmdRules = append(d.cmdRules, r)
	}
	rules := append(append([]netio.Rule(nil), cfg.interfaces...), d.cmdRules...)
	port := opts.Port
	if port == 0 {
		port = 123
	}
	d.socks, err = netio.Open(netio.Config{Port: port, Rules: rules, NoVirtualIPs: opts.NoVirtualIPs,
		DSCP: netio.DefaultDSCP, Logger: log, Now: now})
	if err != nil {
		return err
	}
	defer d.socks.Close()
	d.castStart = cfg.cast
	if cfg.cast.on() || len(cfg.cast.manycast) > 0 {
		// broadcastclient/multicastclient/manycastserver: bound before the privilege
		// drop, as classic.
		if err := d.socks.ListenCast(cfg.cast.broadcast, cfg.cast.allGroups()); err != nil {
			log.Error(err.Error())
		}
	}
	// The metrics endpoint binds before the privilege drop, as the NTP sockets do.
	d.startMetrics(cfg.parsed)
	defer d.metrics.Close()
	// NTS reads its certificate, key and master keys while still root, and binds TCP 4460.
	d.startNTS(ctx, cfg.nts)
	if opts.PIDFile != "" {
		if err := writePIDFile(opts.PIDFile); err != nil {
			log.Error(err.Error())
		} else {
			defer os.Remove(opts.PIDFile)
		}
	}
	if opts.Jail != "" {
		// -i: after the pid file, before the user change (chroot needs root), as classic.
		if err := enterJail(opts.Jail); err != nil {
			return fmt.Errorf("-i %s: %w", opts.Jail, err)
		}
		log.Info("chrooted to " + opts.Jail)
	}
	if opts.User != "" {
		// Everything that needs root is done: the sockets are bound and the pid file is
		// written (classic ntpd drops at the same point).
		missing, err := netio.DropPrivileges(creds, netio.KeepCapabilities)
		if err != nil {
			return fmt.Errorf("-u %s: %w", opts.User, err)
		}
		for _, c := range missing {
			if c == unix.CAP_SYS_TIME {
				log.Warn("cap_sys_time is not available to this process (bounding set): it cannot set the clock")
			}
		}
		log.Info(fmt.Sprintf("running as user %s (uid %d, gid %d), keeping only the capabilities to set the clock and bind port 123",
			creds.Name, creds.UID, creds.GID))
	}
	// The files are opened from here on, by the final user (classic opens them at the
	// first record, after dropping root).
	d.stats.Start()
	go d.runSysStats(ctx, d.srv)
	for _, sock := range d.socks.Sockets() {
		if !sock.Wildcard {
			d.gate.Load().List.AddInterface(sock.Local.Addr())
		}
	}
	if d.nts != nil {
		cfg.ntsInfo = d.ntsInfo
	}
	d.startConfig = cfg.parsed
	writer := &configWriter{d: d, startFile: opts.ConfigFile, startAt: start}
	if sd := cfg.parsed.Setting("saveconfigdir"); sd != nil {
		writer.saveDir = sd.Value.Str
	}
	d.ctl = newControl(eng.Snapshot, clk.Kernel, d.srv, d.gate.Load, func() *netio.Set { return d.socks }, cfg, start, writer, d.keys.Load, log)
	d.ctlReady.Store(d.ctl)
	d.mode7Flags.Store(&cfg.flags)
	d.mode7 = newMode7(eng.Snapshot, clk.Kernel, d.srv, func() map[string]bool { return *d.mode7Flags.Load() })

	// The engine goroutine is not running yet, so this call may touch the engine directly.
	eng.SetLocalAddrs(d.localAddrs())
	// The real departure times of replies to clients that may ask for the interleaved
	// mode (server/xleave.go), on the disciplined clock's timescale.
	d.socks.OnTxTime(func(dst netip.AddrPort, reply []byte, tx time.Time, kernel bool) {
		d.srv.Transmitted(dst, reply, ntptime.FromTime(d.clock.RxTime(tx, kernel)))
	})
	if err := d.socks.ServeBatch(d.handle); err != nil {
		return err
	}
	if opts.Observe != nil {
		opts.Observe(eng.Snapshot)
	}

	d.startLines(ctx, cfg)
	d.startRefclocks(ctx, cfg.engine.Refclocks)
	if opts.ObserveConfig != nil {
		opts.ObserveConfig(d.configState)
	}
	// Classic writes the kernel's starting state, the drift file's frequency with it, when
	// it starts (clock.Discipline.Begin); the engine goroutine is not running yet. A
	// failure (no CAP_SYS_TIME) comes again at the first update, which reports it.
	if err := clk.Discipline.Begin(now()); err != nil {
		log.Debug(err.Error())
	}
	d.started(ctx)
	// The engine runs on Run's own goroutine. Everything that depends on the thread's
	// network namespace (the route lookups of SocketFor, the interface rescan) happens
	// here, so a caller that runs the daemon on a thread inside a namespace (the
	// in-process interoperability tests) gets it all inside that namespace.
	runErr := d.runEngine(ctx)
	d.socks.Close()
	clk.Close(d.now()) // writes the drift file
	if runErr != nil {
		return runErr
	}
	log.Info("ntpd exiting on signal")
	return nil
}

// rescan looks for new and vanished interfaces (classic's interface update) and tells the
// engine the addresses for its loop test.
func (d *Daemon) rescan() {
	res, err := d.socks.Rescan()
	if err != nil {
		d.log.Error("interface rescan failed", "error", err)
		return
	}
	if len(res.Added) > 0 {
		d.log.Info("new interface(s) found: waking up resolver")
	}
	// `restrict` matches the daemon's own addresses with classic's "interface" entries.
	gate := d.gate.Load()
	for _, s := range res.Added {
		if !s.Wildcard {
			gate.List.AddInterface(s.Local.Addr())
		}
	}
	for _, s := range res.Removed {
		if !s.Wildcard {
			gate.List.RemoveInterface(s.Local.Addr())
		}
	}
	d.eng.SetLocalAddrs(d.localAddrs())
	clear(d.routes)
}

// handle answers one datagram: the restrict list and the rate limiter judge its source, time
// requests are answered into reply (sent by netio with the batch), mode-6 queries go to the
// control server, and association traffic goes to the engine. It runs on the socket's
// receive goroutine and reads only the published snapshot.
func (d *Daemon) handle(p *netio.Packet, reply []byte) (int, netio.TxHook) {
	snap := d.eng.Snapshot()
	rxTime := d.clock.RxTime(p.RxTime, p.Kernel)
	rx := ntptime.FromTime(rxTime)
	src := d.gate.Load().Source(p.Data, p.Source, p.Socket.Local.Addr(), rx, snap.AssocModes[p.Source])
	src.Mode7 = d.mode7Enabled()
	var mcastSock *netio.Socket
	if p.Socket.Local.Addr().IsMulticast() {
		// A manycast client's request to a group we joined (manycastserver): the
		// answer goes from our unicast address towards it.
		if sock, err := d.socks.SocketFor(p.Source); err == nil {
			mcastSock = sock
			src.Manycast, src.ManycastLocal = true, sock.Local.Addr()
		}
	}
	n, verdict := d.srv.Respond(p.Data, rx, snap, src, reply)
	if mcastSock != nil {
		if n > 0 && verdict.StampXmt() {
			if err := mcastSock.SendTo(reply[:n], p.Source, d.stampSeal); err != nil {
				d.log.Debug("send failed", "to", p.Source.String(), "error", err)
			}
		}
		return 0, nil
	}
	switch verdict {
	case server.ToControl:
		sock, to := p.Socket, p.Source
		d.ctl.Handle(p.Data, p.Source, controlRestrict(src.Restrict), p.RxTime, func(b []byte) {
			if err := sock.SendTo(b, to, nil); err != nil {
				d.log.Debug("send failed", "to", to.String(), "error", err)
			}
		})
		return 0, nil
	case server.ToPrivate:
		sock, to := p.Socket, p.Source
		d.mode7.Handle(p.Data, d.now(), func(b []byte) {
			if err := sock.SendTo(b, to, nil); err != nil {
				d.log.Debug("send failed", "to", to.String(), "error", err)
			}
		})
		return 0, nil
	case server.ToAssociation, server.NewPassive, server.NewBClient, server.ToManycast:
		in := inbound{data: append([]byte(nil), p.Data...), rx: rxTime, src: p.Source, socket: p.Socket,
			passive: verdict == server.NewPassive, bclient: verdict == server.NewBClient}
		select {
		case d.toEngine <- in:
		default:
			d.dropped.Add(1)
		}
		return 0, nil
	}
	if verdict == server.RepliedInterleaved {
		// The transmit timestamp is our previous reply's real departure time, already
		// written; only the MAC is still to compute. This reply's own departure time is
		// kept for the client's next request (server/xleave.go).
		p.WantTxTime = true
		return n, d.seal
	}
	if n == 0 || !verdict.StampXmt() {
		return n, nil
	}
	if verdict == server.Replied && server.WantsTxTime(p.Data) {
		p.WantTxTime = true
	}
	if verdict == server.Replied && d.nts != nil && d.nts.ring != nil && len(p.Data) > wire.HeaderLen {
		return d.ntsReply(p.Data, reply, n)
	}
	// The transmit timestamp is written at the last moment before the send (RFC 5905
	// section 8: T3 as close to the wire as possible), and an authenticated reply is
	// signed after it.
	return n, d.stampSeal
}

// mode7Enabled reports whether `enable mode7` is in effect.
func (d *Daemon) mode7Enabled() bool {
	f := d.mode7Flags.Load()
	return f != nil && d.mode7 != nil && (*f)["mode7"]
}

// runEngine is the engine's goroutine: it fires the association timers, feeds it the
// association packets and the results of name lookups, rescans the interfaces, and sends
// what the engine asks to send.
func (d *Daemon) runEngine(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	// -U: classic's interface update interval, 300 s unless given; never when negative.
	var rescanC <-chan time.Time
	switch every := d.opts.UpdateInterval; {
	case every == 0:
		every = 5 * time.Minute
		fallthrough
	case every > 0:
		rescan := time.NewTicker(every)
		defer rescan.Stop()
		rescanC = rescan.C
	}
	tick := time.NewTicker(TickInterval) // drift file, leap file, interference checks
	defer tick.Stop()
	leapEvery := d.opts.LeapCheckInterval
	if leapEvery <= 0 {
		leapEvery = LeapCheckInterval
	}
	leapCheck := time.NewTicker(leapEvery) // the leap file changed on disk (WatchLeap)
	defer leapCheck.Stop()
	for {
		var sends []engine.Send
		select {
		case <-ctx.Done():
			return nil
		case <-rescanC:
			d.rescan()
		case <-tick.C:
			d.clock.Tick(d.now())
		case <-leapCheck.C:
			d.clock.WatchLeap()
		case <-timer.C:
			sends = d.eng.Timer(d.now())
		case in := <-d.toEngine:
			now := d.now()
			d.recordInput(in, now)
			if in.bclient {
				// A stranger's broadcast (server.NewBClient).
				sends = d.eng.NewBClient(in.data, in.src, in.rx, now)
				d.srv.Processed()
				break
			}
			if in.passive {
				// A stranger's symmetric-active packet (server.NewPassive): never an
				// NTS association's, which is configured.
				sends = d.eng.NewPassive(in.data, in.src, in.rx, now)
				d.srv.Processed()
				break
			}
			switch d.ntsAccept(in) {
			case ntsPlain:
				sends = d.eng.Receive(in.data, in.src, in.rx, now)
			case ntsVerified:
				sends = d.eng.ReceiveNTS(in.data, in.src, in.rx, now)
			}
			d.srv.Processed()
		case f := <-d.calls:
			sends = f(d.eng, d.now())
		case r := <-d.readings:
			d.eng.RefclockReading(r, d.now())
		}
		for _, s := range sends {
			d.send(s)
		}
		// A panic (offset beyond tinker panic) stops the daemon, as in classic.
		if err := d.eng.Err(); err != nil {
			return err
		}
		if msg, ok := d.eng.Once(); ok {
			// -q: the clock was set once (the engine logged it); stop.
			return &OnceDone{Message: msg}
		}
		// The engine's times are the disciplined clock's, which may run at another rate
		// than the host's timers (virtual clock): wait the difference in its own terms.
		wait := d.eng.Next().Sub(d.now())
		if wait < 0 {
			wait = 0
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// send transmits a packet of an association from the socket that routes to its address.
//
// The packet's transmit timestamp was set when the engine ran, and the association checks
// the reply's origin against it, so every microsecond between then and the send biases the
// measured offset by half of it (classic stamps just before sendpkt). The route lookup of
// SocketFor costs tens of microseconds, so its answer is kept per destination until the
// next interface rescan.
func (d *Daemon) send(s engine.Send) {
	if s.Cast {
		d.sendCast(s)
		return
	}
	sock := d.routes[s.To]
	if sock == nil {
		var err error
		sock, err = d.socks.SocketFor(s.To)
		if err != nil {
			d.log.Debug("no socket to send to", "to", s.To.String(), "error", err)
			return
		}
		if d.routes == nil {
			d.routes = map[netip.AddrPort]*netio.Socket{}
		}
		d.routes[s.To] = sock
	}
	if d.ntsSend(sock, s) {
		return
	}
	apriori := d.now()
	actual, ok := d.sendFrom(sock, s)
	if !ok {
		return
	}
	if s.KeepXmt {
		// An interleaved symmetric packet: its own departure time goes out in the
		// next one (peer/symxleave.go).
		t := d.now()
		if d.txKernelOK {
			t = d.clock.RxTime(d.txKernel, true)
		}
		d.eng.SentAt(s.To, t, apriori)
		d.recordOutput(sock.Local.Addr(), s, actual)
		return
	}
	if actual != 0 {
		d.eng.Transmitted(s.To, s.Packet.Xmt, actual)
	}
	if d.txKernelOK {
		d.eng.TxTimestamp(s.To, actual, d.clock.RxTime(d.txKernel, true))
	}
	d.recordOutput(sock.Local.Addr(), s, actual)
}

// sendFrom signs (after the stamp) and sends one association packet from sock, returning
// the transmit timestamp that went out.
//
// A unicast client request also asks the kernel for its transmit time
// (netio.SendToStamped), left in txKernel/txKernelOK for send.
func (d *Daemon) sendFrom(sock *netio.Socket, s engine.Send) (ntptime.Time, bool) {
	d.txKernelOK = false
	var b [wire.HeaderLen + wire.MaxMACLen]byte
	n := s.Packet.Encode(b[:])
	keySet := d.keys.Load()
	if s.KeyID != 0 {
		// Key ID now, digest after the stamp (the MAC covers the transmit timestamp).
		binary.BigEndian.PutUint32(b[n:], s.KeyID)
		n += wire.KeyIDLen + keySet.Size(s.KeyID)
	}
	// T1 is written at the last moment before the system call, as the server's T3 is; the
	// engine built the packet earlier (tens of microseconds under load) and learns the
	// timestamp that went out, which the reply must echo.
	var actual ntptime.Time
	stamp := func(p []byte, now time.Time) {
		actual = ntptime.FromTime(now)
		if s.KeepXmt {
			actual = s.Packet.Xmt
		} else {
			wire.PutXmt(p, actual)
		}
		if s.KeyID != 0 {
			keySet.Sign(p[:wire.HeaderLen+wire.KeyIDLen], s.KeyID, p[:wire.HeaderLen])
		}
	}
	// A client request also asks the kernel for its transmit time (netio.SendToStamped):
	// the offset is computed with it, as the receive side uses the kernel's receive time.
	var kernel time.Time
	var ok bool
	var err error
	if s.Packet.Mode == wire.ModeClient && !s.Cast || s.KeepXmt {
		kernel, ok, err = sock.SendToStamped(b[:n], s.To, stamp)
	} else {
		err = sock.SendTo(b[:n], s.To, stamp)
	}
	if err != nil {
		d.log.Debug("send failed", "to", s.To.String(), "error", err)
		return 0, false
	}
	d.txKernel, d.txKernelOK = kernel, ok
	return actual, true
}

// sendCast sends a broadcast association's packet on every interface that reaches its
// broadcast address or multicast group, each with its own transmit timestamp, as classic's
// sendpkt does for a broadcast peer. Nothing answers, so the engine need not learn the
// timestamps.
func (d *Daemon) sendCast(s engine.Send) {
	socks, err := d.socks.CastSockets(s.To.Addr(), int(s.TTL))
	if err != nil {
		d.castErr(s.To, err)
		return
	}
	delete(d.castWarned, s.To.Addr())
	var last ntptime.Time
	for _, sock := range socks {
		if actual, ok := d.sendFrom(sock, s); ok {
			d.recordOutput(sock.Local.Addr(), s, actual)
			last = actual
		}
	}
	if last != 0 && s.Packet.Mode == wire.ModeClient {
		// A manycast solicitation: the replies echo the stamp that went out (the last
		// interface's, when several reach the group).
		d.eng.Transmitted(s.To, s.Packet.Xmt, last)
	}
}

// localAddrFor is our address on the way to `to`: the local address of the socket the
// engine's packets to it leave from (engine.Options.LocalAddr, for the orphan election).
// It runs on the engine goroutine, which alone uses the route cache.
func (d *Daemon) localAddrFor(to netip.AddrPort) (netip.Addr, bool) {
	sock := d.routes[to]
	if sock == nil {
		if d.socks == nil {
			return netip.Addr{}, false
		}
		var err error
		if sock, err = d.socks.SocketFor(to); err != nil {
			return netip.Addr{}, false
		}
		if d.routes == nil {
			d.routes = map[netip.AddrPort]*netio.Socket{}
		}
		d.routes[to] = sock
	}
	a := sock.Local.Addr()
	return a, a.IsValid() && !a.IsUnspecified()
}

func writePIDFile(path string) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	return nil
}

// localAddrs are the addresses of the sockets, for the engine's loop test (TEST12).
func (d *Daemon) localAddrs() []netip.Addr {
	var out []netip.Addr
	for _, s := range d.socks.Sockets() {
		if a := s.Local.Addr(); a.IsValid() && !a.IsUnspecified() {
			out = append(out, a.Unmap())
		}
	}
	return out
}
