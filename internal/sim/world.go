// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"gontp/internal/snapshot"

	"gontp/internal/engine"
	"gontp/internal/ntptime"
	"gontp/internal/server"
	"gontp/internal/wire"
	"gontp/peer"
)

// Epoch is true time zero of every run: the calendar the clocks read. Any date works; a
// fixed one keeps runs reproducible.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// serverProcessing is how long a reference server takes between receiving a request and
// sending the reply (true time), a typical figure for a kernel-timestamped ntpd.
const serverProcessing = 20 * time.Microsecond

// Options are the choices of a run that are not part of the scenario.
type Options struct {
	// Host makes the gontp host's clock and the discipline that adjusts it, from the
	// scenario's client line and a source of true elapsed time (the clock reads
	// origin + elapsed + its error). Nil means DefaultHost (KernelHost: gontp's
	// clock.Discipline over clock.Model); StandInHost is the simulator's earlier loop.
	// The run ends, as ntpd exits, when the engine's Err reports the loop's panic, or, for
	// an UpdaterLoop, when its Updater returns an error wrapping ErrPanic (clock.ErrPanic)
	// or has an Exited method that returns an error.
	Host func(sc *Scenario, origin time.Time, elapsed func() time.Duration, rng *rand.Rand) (HostClock, engine.Loop)
	// Log receives the engine's log lines, stamped with the simulated time; nil discards
	// them.
	Log *slog.Logger
	// Stats receives the engine's statistics records (the statistics files' writer, to
	// measure what they cost); nil records nothing.
	Stats engine.Recorder
}

// HostClock is the gontp host's clock as the world observes it.
type HostClock interface {
	Now() time.Time
	// Offset is how far the clock is ahead of true time, s.
	Offset() float64
	// FreqError is the frequency error left after the discipline's correction, ppm.
	FreqError() float64
	// Steps is the number of times the clock was stepped.
	Steps() int
}

type evKind uint8

const (
	evTimer    evKind = iota + 1 // the engine's poll timer
	evToServer                   // a request reaches a reference server
	evToClient                   // a reply reaches the gontp host
	evSample                     // record the true offset
	evMark                       // the end of an outage: record the offset
	evResolved                   // a pool's DNS answer arrives
	evDarken                     // some of a pool's servers in use go dark
)

// dnsDelay is how long a pool name takes to resolve.
const dnsDelay = 30 * time.Millisecond

type event struct {
	at   time.Duration
	seq  uint64
	kind evKind
	srv  *refServer
	data []byte
	gen  uint64
	req  engine.ResolveRequest
	dark Darken
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// refServer is one simulated reference server: its clock, gontp's own reply path
// (server.Respond) answering from a synchronised stratum-N system, and the link to it.
type refServer struct {
	spec   ServerSpec
	addr   netip.AddrPort
	clock  *Clock
	srv    *server.Server
	downs  []Down
	outs   []Outage
	lastRx time.Duration // true time of the last request, -1 before the first
	kods   int
	// request arrival times after the first KoD, for kod_poll_interval
	firstKoD   time.Duration
	minKoDGap  float64
	lastAfterK time.Duration
	requests   int
	out        [server.MaxReplyLen]byte
}

// down reports whether the server is unreachable at true time t.
func (s *refServer) down(t time.Duration) bool {
	for _, d := range s.downs {
		if t >= d.At && (d.For == 0 || t < d.At+d.For) {
			return true
		}
	}
	for _, o := range s.outs {
		if t >= o.Start && (t-o.Start)%o.Every < o.For {
			return true
		}
	}
	return false
}

// world is one run.
type world struct {
	sc    *Scenario
	now   time.Duration
	seq   uint64
	q     queue
	clock HostClock
	eng   *engine.Engine
	// updater is the loop when it is an UpdaterLoop, nil otherwise: the engine then does
	// not know about steps, and the loop keeps the panic.
	updater  *UpdaterLoop
	net      *rand.Rand
	servers  []*refServer
	byAddr   map[netip.AddrPort]*refServer
	timerGen uint64
	timerAt  time.Duration
	res      *Result
	names    map[netip.AddrPort]string
	exit     error
	steps    int
	pools    map[string]*simPool
}

// simPool is the DNS side of a pool: its servers and where the next answer starts.
type simPool struct {
	spec    PoolSpec
	members []netip.Addr
	next    int
}

// Run runs the scenario to its end (or to the daemon's exit) and evaluates its limits.
func Run(sc *Scenario, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	w := &world{
		sc:     sc,
		net:    rand.New(rand.NewPCG(sc.Seed, 2)),
		byAddr: map[netip.AddrPort]*refServer{},
		names:  map[netip.AddrPort]string{},
		res:    newResult(sc),
		pools:  map[string]*simPool{},
	}
	host := o.Host
	if host == nil {
		host = DefaultHost
	}
	elapsed := func() time.Duration { return w.now }
	hc, d := host(sc, Epoch, elapsed, rand.New(rand.NewPCG(sc.Seed, 3)))
	if hc == nil || d == nil {
		return nil, fmt.Errorf("%s: Options.Host returned no clock or no discipline", sc.File)
	}
	w.clock = hc
	log := slog.New(simTime{h: o.Log.Handler(), now: func() time.Time { return Epoch.Add(w.now) }})
	if u, ok := d.(*UpdaterLoop); ok {
		// The engine learns neither steps nor panics from it: the world watches.
		u.log = log
		w.updater = u
	}
	cfg := engine.Config{NTP: true, Tos: sc.Tos}
	for _, sp := range sc.Servers {
		rs := w.addServer(sp, "")
		cfg.Servers = append(cfg.Servers, peer.Config{Addr: rs.addr, Mode: wire.ModeClient,
			MinPoll: sp.MinPoll, MaxPoll: sp.MaxPoll, IBurst: sp.IBurst, Burst: sp.Burst,
			Prefer: sp.Prefer})
	}
	for _, ps := range sc.Pools {
		sp := &simPool{spec: ps}
		for m := 1; m <= ps.Size; m++ {
			member := ps.Server
			member.Name = fmt.Sprintf("%s.%d", ps.Name, m)
			sp.members = append(sp.members, w.addServer(member, ps.Name).addr.Addr())
		}
		w.pools[ps.Name] = sp
		cfg.Pools = append(cfg.Pools, engine.Pool{Name: ps.Name, Peer: peer.Config{
			MinPoll: ps.Server.MinPoll, MaxPoll: ps.Server.MaxPoll, IBurst: ps.Server.IBurst}})
	}
	eng, err := engine.New(cfg, engine.Options{
		Precision: -20,
		Start:     w.local(),
		Log:       log,
		Rand:      rand.New(rand.NewPCG(sc.Seed, 1)),
		Loop:      d,
		Stats:     o.Stats,
		Resolve: func(r engine.ResolveRequest) {
			w.schedule(&event{at: w.now + dnsDelay, kind: evResolved, req: r})
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: engine: %w", sc.File, err)
	}
	w.eng = eng
	w.schedule(&event{at: 0, kind: evSample})
	for _, d := range sc.Darkens {
		w.schedule(&event{at: d.At, kind: evDarken, dark: d})
	}
	for _, m := range outageEnds(sc) {
		w.schedule(&event{at: m, kind: evMark})
	}
	w.rearm()
	w.loop()
	w.res.finish(w)
	return w.res, nil
}

// addServer makes a reference server for sp, a member of pool group if that is not "".
// Its address only labels it inside the simulation (198.18.0.0/15 is the benchmarking
// range); nothing is sent on a real network.
func (w *world) addServer(sp ServerSpec, group string) *refServer {
	i := len(w.servers)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(1 + i/250), byte(1 + i%250)}), 123)
	rs := &refServer{
		spec: sp, addr: addr, lastRx: -1, firstKoD: -1, minKoDGap: math.Inf(1),
		clock: NewClock(Epoch, func() time.Duration { return w.now }, sp.Offset, sp.FreqPPM, sp.WanderPPB,
			rand.New(rand.NewPCG(w.sc.Seed, uint64(100+i)))),
		srv: server.New(server.Config{MinPoll: sp.KoDPoll}, ntptime.FromTime(Epoch)),
	}
	hit := func(target string) bool {
		return target == "*" || target == sp.Name || (group != "" && target == group)
	}
	for _, d := range w.sc.Downs {
		if hit(d.Target) {
			rs.downs = append(rs.downs, d)
		}
	}
	for _, ou := range w.sc.Outages {
		if hit(ou.Target) {
			rs.outs = append(rs.outs, ou)
		}
	}
	w.servers = append(w.servers, rs)
	w.byAddr[addr] = rs
	w.names[addr] = sp.Name
	return rs
}

// resolved answers a pool's DNS query with the next Count of its servers, so that a pool
// that asks again gets fresh addresses, as pool DNS hands out a changing set.
func (w *world) resolved(r engine.ResolveRequest) {
	var addrs []netip.Addr
	err := error(nil)
	if p := w.pools[r.Name]; p != nil {
		for range p.spec.Count {
			addrs = append(addrs, p.members[p.next%len(p.members)])
			p.next++
		}
	} else {
		err = fmt.Errorf("%s: no such name in the scenario", r.Name)
	}
	w.send(w.eng.PoolResolved(r.ID, addrs, err, w.local()))
	w.afterEngine()
}

// darken takes down, for good, the first d.N servers of the pool that the engine has
// associations with (in association order), and records them for the summary.
func (w *world) darken(d Darken) {
	snap := w.eng.Snapshot()
	n := 0
	for i := range snap.Peers {
		rs := w.byAddr[snap.Peers[i].Vars.Addr]
		if rs == nil || !strings.HasPrefix(rs.spec.Name, d.Pool+".") || rs.down(w.now) || n == d.N {
			continue
		}
		rs.downs = append(rs.downs, Down{Target: rs.spec.Name, At: w.now, Line: d.Line})
		w.res.Darkened = append(w.res.Darkened, rs.spec.Name)
		n++
	}
}

// outageEnds lists the true times within the run at which a down period or an outage
// ends: the worst moment for a clock that has been free-running.
func outageEnds(sc *Scenario) []time.Duration {
	var ends []time.Duration
	for _, d := range sc.Downs {
		if d.For > 0 && d.At+d.For <= sc.Duration {
			ends = append(ends, d.At+d.For)
		}
	}
	for _, o := range sc.Outages {
		for t := o.Start + o.For; t <= sc.Duration; t += o.Every {
			ends = append(ends, t)
		}
	}
	return ends
}

func (w *world) schedule(e *event) {
	w.seq++
	e.seq = w.seq
	heap.Push(&w.q, e)
}

// local is the gontp host's clock reading now.
func (w *world) local() time.Time { return w.clock.Now() }

// rearm schedules the engine's next timer call. The engine speaks local time; the event
// queue true time, so the wait is converted at the clock's current offset (a slew of at
// most 500 ppm can make it fire a hair early, and the engine then simply asks again).
func (w *world) rearm() {
	next := w.eng.Next()
	wait := next.Sub(w.local())
	at := w.now + max(wait, time.Nanosecond)
	if w.timerGen > 0 && at == w.timerAt {
		return
	}
	w.timerGen++
	w.timerAt = at
	w.schedule(&event{at: at, kind: evTimer, gen: w.timerGen})
}

func (w *world) loop() {
	for w.q.Len() > 0 && w.exit == nil {
		e := heap.Pop(&w.q).(*event)
		if e.at > w.sc.Duration {
			break
		}
		w.now = e.at
		switch e.kind {
		case evTimer:
			if e.gen != w.timerGen {
				continue
			}
			now := w.local()
			w.send(w.eng.Timer(now))
			w.afterEngine()
		case evToServer:
			w.serve(e.srv, e.data)
		case evToClient:
			now := w.local()
			w.send(w.eng.Receive(e.data, e.srv.addr, now, now))
			w.afterEngine()
		case evSample:
			w.res.sample(w)
			w.schedule(&event{at: w.now + w.sc.Sample, kind: evSample})
		case evMark:
			w.res.outageEnd(w)
		case evResolved:
			w.resolved(e.req)
		case evDarken:
			w.darken(e.dark)
		}
	}
}

// afterEngine notes what an engine call changed: the system peer, the clock state, and
// whether the daemon would have exited.
func (w *world) afterEngine() {
	if n := w.clock.Steps(); n != w.steps {
		// The discipline stepped the clock: every sample the engine holds is now wrong.
		w.steps = n
		if w.updater != nil {
			w.eng.Stepped(w.local())
		}
	}
	snap := w.eng.Snapshot()
	w.res.observe(w, snap)
	err := w.eng.Err()
	if err == nil && w.updater != nil {
		err = w.updater.Exited()
	}
	if err != nil {
		w.exit = err
		w.res.Exit = err
		w.res.ExitAt = w.now
		return
	}
	w.rearm()
}

// send puts the engine's packets on their links.
func (w *world) send(out []engine.Send) {
	for _, s := range out {
		rs := w.byAddr[s.To]
		if rs == nil {
			w.res.Unroutable++
			continue
		}
		rs.requests++
		b := make([]byte, wire.HeaderLen)
		s.Packet.Encode(b)
		l := rs.spec.Link
		if w.net.Float64() < l.LossOut {
			continue
		}
		d := l.Delay + l.Asym/2 + w.queueing(l)
		at := w.now + seconds(d)
		if rs.down(at) {
			continue
		}
		w.schedule(&event{at: at, kind: evToServer, srv: rs, data: b})
	}
}

// queueing is a packet's delay beyond the link's fixed delay: the exponential queueing
// jitter and the normal jitter, which may shorten the delay but not below zero.
func (w *world) queueing(l Link) float64 {
	var q float64
	if l.Jitter > 0 {
		q = w.net.ExpFloat64() * l.Jitter
	}
	if l.Normal > 0 {
		q = max(q+w.net.NormFloat64()*l.Normal, math.Abs(l.Asym)/2-l.Delay)
	}
	return q
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// serve answers a request at a reference server with gontp's own reply path, from a
// snapshot of a synchronised stratum-N system, the reply stamped with the server's clock.
// A server with a KoD limit answers a request that comes too soon with a RATE kiss.
func (w *world) serve(rs *refServer, req []byte) {
	rxLocal := rs.clock.Now()
	src := server.Source{}
	if rs.spec.KoD > 0 {
		if rs.lastRx >= 0 && w.now-rs.lastRx < rs.spec.KoD {
			src.Restrict = server.RestrictLimited | server.RestrictKoD
		}
		if rs.firstKoD >= 0 {
			if gap := (w.now - rs.lastAfterK).Seconds(); gap < rs.minKoDGap {
				rs.minKoDGap = gap
			}
			rs.lastAfterK = w.now
		}
	}
	rs.lastRx = w.now
	sys := snapshot.SysVars{
		Leap: wire.LeapNone, Stratum: rs.spec.Stratum, Precision: -20,
		RefID:     wire.RefIDFromString("GPS"),
		RefTime:   ntptime.FromTime(rxLocal.Add(-8 * time.Second)),
		RootDelay: rs.spec.RootDelay, RootDisp: rs.spec.RootDisp,
	}
	if rs.spec.Stratum > 1 {
		sys.RefID = wire.RefIDFromString("SIM")
	}
	snap := &snapshot.Snapshot{Sys: sys}
	n, v := rs.srv.Respond(req, ntptime.FromTime(rxLocal), snap, src, rs.out[:])
	if n == 0 {
		return
	}
	reply := append([]byte(nil), rs.out[:n]...)
	depart := w.now + serverProcessing
	switch {
	case v.StampXmt():
		wire.PutXmt(reply, ntptime.FromTime(rxLocal.Add(serverProcessing)))
	case v == server.KissOfDeath:
		rs.kods++
		if rs.firstKoD < 0 {
			rs.firstKoD = w.now
			rs.lastAfterK = w.now
		}
	}
	l := rs.spec.Link
	if w.net.Float64() < l.LossBack {
		return
	}
	at := depart + seconds(l.Delay-l.Asym/2+w.queueing(l))
	if rs.down(at) {
		return
	}
	w.schedule(&event{at: at, kind: evToClient, srv: rs, data: reply})
}

// simTime is a log handler that stamps records with the simulated true time instead of
// the host's.
type simTime struct {
	h   slog.Handler
	now func() time.Time
}

func (s simTime) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }
func (s simTime) Handle(ctx context.Context, r slog.Record) error {
	r.Time = s.now()
	return s.h.Handle(ctx, r)
}
func (s simTime) WithAttrs(a []slog.Attr) slog.Handler {
	return simTime{h: s.h.WithAttrs(a), now: s.now}
}
func (s simTime) WithGroup(g string) slog.Handler { return simTime{h: s.h.WithGroup(g), now: s.now} }
