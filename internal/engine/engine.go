// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"gontp/clock"
	"gontp/internal/ntptime"
	"gontp/internal/snapshot"
	"gontp/internal/stats"
	"gontp/internal/wire"
	"gontp/peer"
	"gontp/refclock"
	"gontp/system"
)

// Config is what the engine runs: the associations of the configuration and the system
// settings that shape selection and the clock.
type Config struct {
	// Servers are the network associations (server and peer lines with resolved addresses).
	Servers []peer.Config
	// Refclocks are the reference clocks (server 127.127.t.u lines with their fudge).
	Refclocks []Refclock
	// NTP is `enable ntp` (the default): the clock is disciplined. With `disable ntp` the
	// engine measures and selects but never adjusts the clock, and like classic ntpd it then
	// keeps the leap indicator at alarm (observed on 4.2.8p15: "leap_alarm, sync_local").
	NTP bool
	// Tos is the `tos` configuration; the zero value means classic's defaults.
	Tos *system.Tos
	// Pools are the `pool` lines. Server lines whose names still have to be resolved are
	// added later with AddServer.
	Pools []Pool
	// BClient is `broadcastclient`/`multicastclient` with `broadcastdelay`: how the
	// associations NewBClient mobilises start.
	BClient BClient
}

// Refclock is one configured reference clock. Its driver runs outside the engine (the
// daemon's I/O layer reads the device) and hands its readings in through RefclockReading;
// the engine keeps the clock's state (refclock.Proc) and polls it like a peer.
type Refclock struct {
	Clock refclock.Config
	Peer  peer.Config // poll, prefer, iburst... of its server line; Addr is set by the engine
}

// Options are the run-time inputs of the engine: everything that depends on the real world.
type Options struct {
	Precision int8
	Start     time.Time
	Log       *slog.Logger
	Rand      *rand.Rand
	// Loop is the clock loop that adjusts the clock (*clock.Discipline in the daemon). Nil
	// means the clock is never adjusted (see clockUpdate): the engine's own tests.
	Loop Loop
	// Resolve starts the resolution of a pool's name. It must not block and must not call
	// the engine: the answer comes back later through PoolResolved, on the engine's
	// goroutine. Nil means pool names cannot be resolved (each attempt is logged).
	Resolve func(ResolveRequest)
	// LocalAddr returns our address on the way to a remote one (the socket the daemon
	// would send from), for the orphan-parent election; nil or false means unknown, and
	// then any orphan-stratum peer may be our parent.
	LocalAddr func(to netip.AddrPort) (netip.Addr, bool)
	// Stats receives the statistics records (loopstats, peerstats, protostats); nil
	// records nothing. Its methods must not block.
	Stats Recorder
	// Keys checks the MACs of the associations' packets (nil: no key file; every MAC is
	// then bad and associations with a key send nothing). SetKeys replaces it.
	Keys Keys
}

// Keys are the symmetric keys of the key file with trustedkey applied (internal/keys.Set).
type Keys interface {
	// Trusted reports whether key id is in the key file and trusted.
	Trusted(id uint32) bool
	// TrustedFrom also requires src to be in the key's address list, if it has one.
	TrustedFrom(id uint32, src netip.Addr) bool
	// Verify reports, in constant time, whether digest is msg's MAC under key id.
	Verify(id uint32, msg, digest []byte) bool
}

// Recorder takes the engine's statistics records where classic ntpd calls its
// record_*_stats functions (ntp_util.c): a peer's clock filter sample (clock_filter), each
// clock update (local_clock) and each system or peer event (report_event). The daemon's
// statistics writer (internal/filegen) implements it; it must queue, never block.
type Recorder interface {
	PeerStats(at time.Time, p stats.Peer)
	LoopStats(at time.Time, l stats.Loop)
	ProtoStats(text string)
	// ClockStats records a reference clock driver's line (classic record_clock_stats, which
	// the drivers call with each timecode): source is the clock's address as classic
	// prints it ("127.127.20.0"), text the driver's words.
	ClockStats(source, text string)
}

// noRecorder records nothing.
type noRecorder struct{}

func (noRecorder) PeerStats(time.Time, stats.Peer) {}
func (noRecorder) LoopStats(time.Time, stats.Loop) {}
func (noRecorder) ProtoStats(string)               {}
func (noRecorder) ClockStats(string, string)       {}

// Loop is the clock loop (RFC 5905 section 12; *clock.Discipline) as the engine drives it.
// Besides adjusting the clock it says what it did, so that the engine can do what classic
// ntpd's clock_update does with local_clock's answer: take sys_poll and the settling flag
// from the loop, clear every association after a step, report the loop's system events,
// and stop on a panic. It is the engine's one way to the clock: a discipline that does
// less (the simulator's stand-in) implements every method anyway and says so in its answers.
type Loop interface {
	// ProcessAt takes the system offset measured at local time at (the system peer's
	// sample epoch, which the clock filter may have picked polls ago) at local time now,
	// with the sample's delay excess over the least its filter holds (s).
	ProcessAt(offset, excess float64, at, now time.Time) (clock.Result, error)
	// Vars are the loop variables ntpq shows (frequency, clk_jitter, clk_wander).
	Vars() clock.Vars
	// Project returns the offset a sample measured at local time from would show at
	// local time to, given the corrections made in between (clock.Discipline.Project).
	Project(offset float64, from, to time.Time) float64
	// SetPollLimits bounds sys_poll by the system peer's minpoll and maxpoll (classic
	// clock_update clamps sys_poll to them before calling local_clock).
	SetPollLimits(minPoll, maxPoll int8)
	// Settling reports whether the loop is still measuring the initial frequency
	// (classic freq_cnt > 0); the engine asks once at start, then takes
	// clock.Result.Settling from each ProcessAt.
	Settling() bool
	// FastPoll is the poll exponent the associations should poll at while the loop
	// measures the start-up frequency, 0 otherwise; the engine asks once at start, then
	// takes clock.Result.FastPoll from each ProcessAt.
	FastPoll() int8
	// Prime gives the loop, before its first update, the system peer's earlier samples
	// (clock.Discipline.Prime); a loop without use for them ignores them.
	Prime(earlier []clock.Earlier)
	// SetRootDistance gives the root delay and dispersion of the update about to be
	// processed (the kernel's maximum error is rootdelay/2 + rootdisp).
	SetRootDistance(rootDelay, rootDisp float64)
	// SetKernelPPS says, before each update, whether the kernel's own PPS discipline
	// should run: the system peer is a PPS source whose driver bound its pulses to the
	// kernel (fudge flag3; clock.Discipline.SetKernelPPS).
	SetKernelPPS(on bool) error
	// Leap hands the survivors' leap vote to the loop's leap owner, which decides what is
	// scheduled (leap file or vote, for the end of a month), arms the kernel during the
	// last day and says what to serve (clock.Discipline.Leap).
	Leap(now time.Time, voteIns, voteDel bool) (clock.LeapState, error)
}

// errNoLoop is the warning of an engine without a Loop: it never adjusts the clock, so it
// accepts an update as synchronising only when no adjustment is needed, which is the case
// for the LOCAL refclock (its offset is zero by definition). For any other source the system
// stays unsynchronised, as with `disable ntp`, and the reason is logged once.
var errNoLoop = errors.New("this engine has no clock discipline: " +
	"the offset is measured but not corrected, and the server stays unsynchronised as with `disable ntp`")

// noLoopUpdate is the update of an engine without a Loop (errNoLoop): synchronised only
// when offset needs no adjustment.
func noLoopUpdate(offset float64) (synchronised bool, err error) {
	if offset == 0 {
		return true, nil
	}
	return false, errNoLoop
}

// Send is a packet an association wants sent. Its transmit timestamp is already set and must
// go out unchanged (the association checks replies against it).
type Send struct {
	To     netip.AddrPort
	Packet wire.Packet
	// KeyID is the key the packet must be signed with after its transmit timestamp is
	// written (0: no MAC). The engine only asks for trusted keys.
	KeyID uint32
	// Cast marks a broadcast association's packet: To is a broadcast address or a
	// multicast group, sent on every interface that reaches it (netio CastSockets), with
	// TTL for a group (0: the system's default).
	Cast bool
	TTL  uint8
	// KeepXmt marks an interleaved symmetric packet (peer.Action.KeepXmt): sent without
	// a new transmit timestamp; its real departure time goes to SentAt.
	KeepXmt bool
}

// association is one peer.Assoc with what the engine adds: its ID and, for a reference
// clock, the clock's state that stands in for the network.
type association struct {
	id    uint16
	seq   uint64 // order of creation, shared with the pool prototypes
	a     *peer.Assoc
	clock *refclock.Proc // nil for a network association
	// removed is set when the engine demobilises a preemptible association (ActTimeout);
	// the association itself does not know.
	removed bool
	// pool is the ID of the pool prototype that spawned this association, 0 for none.
	pool uint16
	// kissed is the DENY or RSTR code the server last refused us with, "" once it
	// answers again: the refusal is logged once per streak (noteKiss).
	kissed string
}

// Engine owns the associations, the system variables and the discipline. It is not safe for
// concurrent use: one goroutine calls it (docs/architecture.md), and observers read snapshot.Snapshot.
type Engine struct {
	// ntsVerified is set by ReceiveNTS for the packet it hands to Receive.
	ntsVerified bool
	log         *slog.Logger
	rng         *rand.Rand
	sys         system.State
	ntp         bool
	bclient     BClient
	loop        Loop // nil: the clock is never adjusted
	keys        Keys
	// leapVote is the survivors' majority vote on a leap second at the last selection.
	leapVote [2]bool
	// err is the panic that ended the discipline (classic exits there); once set, the
	// discipline is never called again.
	err error
	// stepNow is the local time right after a step made during the current Timer or
	// Receive call, zero otherwise: the rest of the call must use it, not the stale now.
	stepNow time.Time
	// onceMsg is set when the discipline reported Done (-q): classic's "ntpd: time set
	// +0.123456s" line, after which the daemon exits.
	onceMsg string
	start   time.Time

	assocs  []*association
	byAddr  map[netip.AddrPort]*association
	pools   []*pool
	seq     uint64
	nextID  uint16
	resolve func(ResolveRequest)
	// byClock finds a reference clock's association for its driver's readings.
	byClock map[refclock.Address]*association
	// localAddr is Options.LocalAddr (orphan.go).
	localAddr func(netip.AddrPort) (netip.Addr, bool)
	// survivors is the number of survivors of the last selection (ntpd sys_survivors),
	// which decides whether pools look for more servers.
	survivors int
	// sysEvent and sysEventCount are the low byte of the system status word (the last
	// system event and how often it was reported since the code changed).
	sysEvent, sysEventCount uint8
	selector                system.Selector
	cands                   []system.Candidate
	sysPeer                 *association
	clockHop                float64
	sysEpoch                time.Time
	lostPeer                time.Time   // when the system peer was lost (or start), for the orphan wait
	offset                  float64     // last system offset, s
	jitter                  float64     // system jitter, s
	disc                    system.Disc // the discipline's input from the last update
	discAt                  time.Time   // when the last selection ran (disc.Others is aligned to it)
	warned                  map[string]bool

	acts []peer.Action
	snap atomic.Pointer[snapshot.Snapshot]
	rec  Recorder
}

// New makes the engine and its associations; nothing is sent until the first Timer call.
func New(cfg Config, o Options) (*Engine, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		return nil, errors.New("engine: Options.Rand is nil")
	}
	e := &Engine{
		log:       o.Log,
		rng:       o.Rand,
		sys:       system.DefaultState(),
		ntp:       cfg.NTP,
		bclient:   cfg.BClient,
		loop:      o.Loop,
		start:     o.Start,
		lostPeer:  o.Start,
		byAddr:    map[netip.AddrPort]*association{},
		warned:    map[string]bool{},
		resolve:   o.Resolve,
		keys:      o.Keys,
		rec:       o.Stats,
		localAddr: o.LocalAddr,
		byClock:   map[refclock.Address]*association{},
	}
	if e.rec == nil {
		e.rec = noRecorder{}
	}
	if e.resolve == nil {
		e.resolve = func(r ResolveRequest) {
			e.log.Error(fmt.Sprintf("cannot resolve pool %s: this engine has no resolver", r.Name))
		}
	}
	// Until the first update says otherwise, the clock filter settles as the discipline
	// does: without a drift file the loop starts measuring the frequency (classic's
	// freq_cnt > 0), and the filter must hand on its newest samples, or a first sample of
	// least delay would stall the selection for polls (seen in the simulator).
	switch {
	case !cfg.NTP:
		// Classic with `disable ntp` never runs local_clock, so its freq_cnt never leaves
		// its start value and the clock filter hands on the newest sample for ever
		// (checked against classic ntpd 4.2.8p15: its peer offset and delay are those of
		// the newest filter stage, not of the least delay).
		e.sys.Settling = true
	case e.loop != nil:
		e.sys.Settling = e.loop.Settling()
	}
	if e.loop != nil {
		// tinker allan is the discipline's setting; the clock filter ranks its stages by
		// it too (classic's allan_xpt, used by clock_filter and the loop alike).
		if a := e.loop.Vars().Allan; a > 0 {
			e.sys.Allan = a
		}
		if cfg.NTP {
			// The loop measures the start-up frequency from the first samples on.
			e.sys.FastPoll = e.loop.FastPoll()
		}
	}
	e.sys.Precision = o.Precision
	if cfg.Tos != nil {
		if err := cfg.Tos.Validate(); err != nil {
			return nil, err
		}
		e.sys.Tos = *cfg.Tos
	}
	// Classic ntpd numbers associations from a random start so that IDs are not guessable
	// across restarts; they stay fixed for the life of each association.
	e.nextID = uint16(e.rng.IntN(1<<15)) + 1
	// ntpd spaces the first polls of the configured associations one second apart.
	n := 0
	for _, pc := range cfg.Servers {
		pc.StartDelay = time.Duration(n+1) * time.Second
		pc.Configured = true
		if _, err := e.add(pc, nil, o.Start); err != nil {
			return nil, err
		}
		n++
	}
	for _, rc := range cfg.Refclocks {
		pc := rc.Peer
		pc.Addr = netip.AddrPortFrom(rc.Clock.Addr.Addr(), 123)
		pc.Mode = wire.ModeClient
		pc.Configured = true
		pc.StartDelay = time.Duration(n+1) * time.Second
		proc, err := refclock.NewProc(rc.Clock, o.Precision)
		if err != nil {
			return nil, err
		}
		if _, err := e.add(pc, proc, o.Start); err != nil {
			return nil, err
		}
		n++
	}
	for _, pl := range cfg.Pools {
		pl.Peer.StartDelay = time.Duration(n+1) * time.Second
		p, err := newPool(pl, e.newID(), e.newSeq(), o.Start)
		if err != nil {
			return nil, err
		}
		e.pools = append(e.pools, p)
		n++
	}
	// ntpd reports the restart system event once at start ("0.0.0.0 c016 06 restart").
	e.sysEventReport(sysEvRestart, "")
	e.publish(o.Start)
	return e, nil
}

func (e *Engine) newID() uint16 {
	id := e.nextID
	e.nextID++
	if e.nextID == 0 {
		e.nextID = 1
	}
	return id
}

func (e *Engine) newSeq() uint64 { e.seq++; return e.seq }

func (e *Engine) add(pc peer.Config, proc *refclock.Proc, now time.Time) (*association, error) {
	if _, dup := e.byAddr[pc.Addr]; dup {
		return nil, fmt.Errorf("duplicate association for %s", pc.Addr)
	}
	a, err := peer.New(pc, now, &e.sys, e.rng)
	if err != nil {
		return nil, fmt.Errorf("association %s: %w", pc.Addr, err)
	}
	as := &association{id: e.newID(), seq: e.newSeq(), a: a, clock: proc}
	if proc != nil {
		setRefclock(as)
		e.byClock[proc.Addr()] = as
	}
	e.assocs = append(e.assocs, as)
	e.byAddr[pc.Addr] = as
	// The association recorded its mobilize event in its status word; like classic's
	// newpeer, say so ("198.18.0.2 8011 81 mobilize assoc 3125" in protostats).
	e.logPeerEvent(as, peer.EvMobilize, fmt.Sprintf("assoc %d", as.id))
	return as, nil
}

// Next returns when Timer must be called next.
func (e *Engine) Next() time.Time {
	next := time.Time{}
	for _, as := range e.assocs {
		if t := as.a.NextPoll(); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, p := range e.pools {
		if next.IsZero() || p.nextdate.Before(next) {
			next = p.nextdate
		}
	}
	if t := e.orphanDeadline(); !t.IsZero() && (next.IsZero() || t.Before(next)) {
		next = t
	}
	if next.IsZero() {
		next = e.start.Add(time.Hour)
	}
	return next
}

// Timer runs every association whose poll is due at now and returns the packets to send.
func (e *Engine) Timer(now time.Time) []Send {
	var out []Send
	for _, as := range e.assocs {
		if as.a.NextPoll().After(now) {
			continue
		}
		e.acts = e.acts[:0]
		if as.clock != nil {
			e.acts = as.a.RefclockPoll(now, &e.sys, e.acts)
			s, ok, stats := as.clock.Poll(now, e.sys.Leap != wire.LeapAlarm)
			if stats != "" || as.clock.StatsEveryPoll() {
				e.rec.ClockStats(as.clock.Addr().String(), stats)
			}
			setRefclock(as)
			if ok {
				e.acts = as.a.RefclockSample(peer.RefclockSample{Offset: s.Offset,
					Jitter: s.Jitter, RootDisp: s.Disp, Leap: s.Leap, RefTime: s.RefTime}, now, &e.sys, e.acts)
			}
		} else {
			e.acts = as.a.Poll(now, &e.sys, e.acts)
		}
		out = e.carryOut(as, now, out)
		if !e.stepNow.IsZero() {
			// The clock was stepped: the associations were reset on the new time line,
			// and the others' turns are judged again at the next call.
			break
		}
	}
	now = e.afterStep(now)
	e.reap()
	for _, p := range e.pools {
		if !p.nextdate.After(now) {
			out = e.pollPool(p, now, out)
		}
	}
	e.orphan(now)
	e.publish(now)
	return out
}

// Transmitted tells the engine that the packet it asked to send to `to` with transmit
// timestamp planned went out with actual instead: the daemon writes the timestamp at the
// last moment before the system call (RFC 5905 section 8: T1 as close to the wire as
// possible), not when the engine built the packet, which under load is tens of
// microseconds earlier and would bias every offset by half that. The origin the
// association or pool expects in the reply follows. It must be called before the engine
// sees another packet.
func (e *Engine) Transmitted(to netip.AddrPort, planned, actual ntptime.Time) {
	if planned == actual {
		return
	}
	if as, ok := e.byAddr[to]; ok {
		as.a.Transmitted(planned, actual)
	}
	for _, p := range e.pools {
		if (p.solicit == to || p.group == to) && p.aorg == planned {
			p.aorg = actual
		}
	}
}

// TxTimestamp gives the kernel's transmit time of the packet sent to `to` with transmit
// timestamp xmt (as it went out, after Transmitted): the association computes the reply's
// offset and delay with it (peer.Assoc.TxTimestamp).
func (e *Engine) TxTimestamp(to netip.AddrPort, xmt ntptime.Time, kernel time.Time) {
	if as, ok := e.byAddr[to]; ok && as.clock == nil {
		as.a.TxTimestamp(xmt, ntptime.FromTime(kernel))
	}
}

// SentAt gives the real departure time of an interleaved symmetric packet sent to `to`
// (Send.KeepXmt): the kernel's transmit timestamp, else the time read after the send;
// apriori is the time read before it (peer.Assoc.SentAt).
func (e *Engine) SentAt(to netip.AddrPort, t, apriori time.Time) {
	if as, ok := e.byAddr[to]; ok && as.clock == nil {
		as.a.SentAt(ntptime.FromTime(t), ntptime.FromTime(apriori))
	}
}

// Receive hands a datagram from src to its association. Packets from unknown sources are
// the server's business and never reach the engine; a packet for a vanished association is
// dropped.
func (e *Engine) Receive(data []byte, src netip.AddrPort, rx time.Time, now time.Time) []Send {
	as := e.byAddr[src]
	if as != nil && as.clock != nil {
		return nil
	}
	var pkt wire.Packet
	tr, err := wire.Decode(data, &pkt)
	if err != nil {
		return nil
	}
	if as == nil {
		if e.poolReply(&pkt, data, &tr, src, now) {
			e.publish(now)
		}
		return nil
	}
	auth := peer.AuthNone
	if tr.HasMAC {
		auth = e.authenticate(as.a, data, &tr, src)
		if auth == authDrop {
			return nil
		}
	}
	if e.ntsVerified {
		auth = peer.AuthOK // ReceiveNTS: the daemon verified the NTS authenticator
	}
	e.acts = e.acts[:0]
	e.acts, err = as.a.Receive(&pkt, peer.Rx{Dst: ntptime.FromTime(rx), Auth: auth}, now, &e.sys, e.acts)
	e.noteKiss(as, &pkt, err)
	if err != nil {
		e.log.Debug("packet rejected", "from", src.String(), "error", err)
	}
	out := e.carryOut(as, now, nil)
	now = e.afterStep(now)
	e.reap()
	e.publish(now)
	return out
}

// authDrop is authenticate's verdict for a packet dropped without a trace.
const authDrop peer.AuthResult = 255

// authenticate checks the MAC of a packet for association a, as classic receive() does. A
// crypto-NAK (a server that could not verify our MAC, or an invalid one) is dropped
// without a trace: classic 4.2.8p15 logs an invalid one and, observed on the real program,
// leaves an association that receives valid ones with no flash bit, no badauth and no
// event, so it just stays unreachable with `auth bad`. Any other MAC must verify with a
// key trusted for the source, and with the association's own key when it has one.
func (e *Engine) authenticate(a *peer.Assoc, data []byte, tr *wire.Trailer, src netip.AddrPort) peer.AuthResult {
	if tr.IsNAK {
		return authDrop
	}
	if e.keys == nil || tr.KeyID == 0 || a.KeyID() != 0 && tr.KeyID != a.KeyID() {
		return peer.AuthBad
	}
	if !e.keys.TrustedFrom(tr.KeyID, src.Addr().Unmap()) || !e.keys.Verify(tr.KeyID, data[:tr.AuthLen], tr.Digest) {
		return peer.AuthBad
	}
	return peer.AuthOK
}

// SetKeys replaces the key set (a reload of the key file). Nil means none.
func (e *Engine) SetKeys(k Keys) { e.keys = k }

// carryOut performs the actions of one association call.
func (e *Engine) carryOut(as *association, now time.Time, out []Send) []Send {
	selectNow, latest := false, false
	for _, act := range e.acts {
		if as.removed {
			break // the engine demobilised it: what the association asked after that is moot
		}
		switch act.Kind {
		case peer.ActSend:
			if as.clock != nil {
				break
			}
			id := as.a.KeyID()
			if id != 0 && (e.keys == nil || !e.keys.Trusted(id)) {
				for _, ev := range as.a.NoKey(nil) {
					if ev.Kind == peer.ActEvent {
						e.logPeerEvent(as, ev.Event, ev.Detail)
					}
				}
				break
			}
			send := Send{To: as.a.Addr(), Packet: act.Packet, KeyID: id, KeepXmt: act.KeepXmt}
			if act.Packet.Mode == wire.ModeBroadcast {
				send.Cast, send.TTL = true, as.a.TTL()
			}
			out = append(out, send)
		case peer.ActSample:
			// ntpd clock_filter: record_peer_stats with the status word of the moment.
			e.rec.PeerStats(now, stats.Peer{Source: as.a.Addr().Addr(), Status: as.a.Status(),
				Offset: act.Sample.Offset, Delay: act.Sample.Delay, Disp: act.Sample.Disp, Jitter: act.Sample.Jitter})
		case peer.ActSelect:
			selectNow = true
		case peer.ActLatest:
			latest = true
		case peer.ActEvent:
			e.logPeerEvent(as, act.Event, act.Detail)
		case peer.ActDemobilize:
			e.log.Info(fmt.Sprintf("%s demobilized: %s", e.name(as), act.Detail))
		case peer.ActTimeout:
			e.timeout(as)
		}
	}
	if selectNow {
		e.selectClock(now)
	} else if latest && as == e.sysPeer && !as.removed {
		e.latestUpdate(as, now)
	}
	return out
}

// latestUpdate hands the system peer's latest sample to the discipline when the clock
// filter had no new output for it (peer.ActLatest): combined with the other survivors as
// the last selection weighted them, it updates the clock as a selection would, so the
// estimator sees every sample of the system peer rather than one in a few (the filter's
// least-delay stage is often one already used). Without a discipline there is nothing to
// gain, and the selection keeps classic's pace.
func (e *Engine) latestUpdate(sp *association, now time.Time) {
	if e.loop == nil || !e.ntp || e.err != nil || e.sys.Settling || e.disc.At.IsZero() {
		return
	}
	off, at, excess := sp.a.Latest()
	if !at.After(e.sysEpoch) {
		return
	}
	d := e.disc
	d.Offset = e.loop.Project(off, at, now)
	if d.Share < 1 {
		d.Offset = d.Share*d.Offset + (1-d.Share)*e.loop.Project(d.Others, e.discAt, now)
	}
	d.At, d.Excess = at, excess
	e.disc, e.offset = d, d.Offset
	e.clockUpdate(sp, now)
}

// noteKiss logs a DENY or RSTR Kiss-o'-Death at the default level, once until the server
// answers normally again. Classic 4.2.8p15 drops such a kiss without a word (the
// association stays at reach 0); an operator whose server refuses service needs to know
// which one, so gontp says it.
func (e *Engine) noteKiss(as *association, pkt *wire.Packet, err error) {
	switch {
	case errors.Is(err, peer.ErrKissDeny):
		kc, _ := pkt.KissCode()
		code := strings.TrimRight(string(kc[:]), "\x00")
		if as.kissed != code {
			as.kissed = code
			e.log.Warn(fmt.Sprintf("kiss-o'-death %s from %s: the server refuses us service; the association stays (reach 0) and keeps polling, as classic ntpd does",
				code, e.name(as)))
		}
	case err == nil && as.kissed != "":
		e.log.Info(fmt.Sprintf("%s answers again after kiss-o'-death %s", e.name(as), as.kissed))
		as.kissed = ""
	}
}

// reap removes demobilised associations.
func (e *Engine) reap() {
	kept := e.assocs[:0]
	for _, as := range e.assocs {
		if as.a.Gone() || as.removed {
			delete(e.byAddr, as.a.Addr())
			if as.clock != nil {
				delete(e.byClock, as.clock.Addr())
			}
			if e.sysPeer == as {
				e.sysPeer = nil
			}
			continue
		}
		kept = append(kept, as)
	}
	clear(e.assocs[len(kept):])
	e.assocs = kept
}

func (e *Engine) name(as *association) string {
	if as.clock != nil {
		return as.clock.Addr().Name()
	}
	return as.a.Addr().Addr().String()
}

// selectClock runs the selection over every association and, when a system peer survives
// with a new sample, updates the system variables (ntpd clock_select and clock_update).
func (e *Engine) selectClock(now time.Time) {
	e.cands = e.cands[:0]
	sysIdx := -1
	project := e.loop != nil && e.ntp && e.err == nil
	for i, as := range e.assocs {
		c := as.a.Candidate(now, &e.sys)
		e.orphanCandidate(as, &c)
		if project && !c.Epoch.IsZero() {
			// Align every survivor's offset to now: the discipline may have moved the
			// clock a lot since an old filter stage was measured.
			c.Offset = e.loop.Project(c.Offset, c.Epoch, now)
			if !c.LatestAt.IsZero() {
				c.Latest = e.loop.Project(c.Latest, c.LatestAt, now)
			}
		}
		e.cands = append(e.cands, c)
		if as == e.sysPeer {
			sysIdx = i
		}
	}
	res := e.selector.Select(e.cands, system.SelectParams{
		Tos:            e.sys.Tos,
		SysPeer:        sysIdx,
		ClockHop:       e.clockHop,
		SysEpoch:       e.sysEpoch,
		OrphanWaitOver: now.Sub(e.lostPeer) >= time.Duration(e.sys.Tos.OrphanWait*float64(time.Second)),
	})
	if res.Stale {
		return
	}
	e.survivors = res.Survivors
	e.clockHop = res.ClockHop
	// ntpd leap_vote: a leap second is announced when more than half of the survivors
	// carry it, so that one wrong server cannot make the clock leap.
	e.leapVote = [2]bool{res.Survivors > 0 && res.LeapIns > res.Survivors/2,
		res.Survivors > 0 && res.LeapDel > res.Survivors/2}
	for i, as := range e.assocs {
		as.a.SetSelection(res.Codes[i])
	}
	if res.SysPeer < 0 {
		if e.sysPeer != nil {
			e.sysPeer = nil
			e.lostPeer = now
			e.sysEventReport(sysEvNoPeer, "")
		}
		if e.loop != nil && e.ntp {
			e.kernelPPS()
		}
		return
	}
	sp := e.assocs[res.SysPeer]
	if sp != e.sysPeer {
		// ntpd report_event(PEVNT_NEWPEER): recorded in the peer's status word and logged
		// once per change, with the stratum so that the line says what we now serve.
		for _, act := range sp.a.Report(peer.EvSysPeer, "", nil) {
			e.logPeerEvent(sp, act.Event, act.Detail)
		}
		e.log.Info(fmt.Sprintf("synchronized to %s, stratum %d", e.name(sp), sp.a.Vars(now).Stratum))
	}
	e.sysPeer = sp
	e.offset, e.jitter, e.disc, e.discAt = res.Offset, res.Jitter, res.Disc, now
	e.clockUpdate(sp, now)
}

// clockUpdate copies the system peer's variables into the system variables as ntpd's
// clock_update does after a successful discipline step (RFC 5905 appendix A.5.5.1).
func (e *Engine) clockUpdate(sp *association, now time.Time) {
	v := sp.a.Vars(now)
	e.sysEpoch = e.disc.At
	// Classic clock_update sets the root delay and dispersion before local_clock, which
	// hands them to the kernel as its maximum error.
	// ntpd: rootdisp = peer rootdisp + peer disp + system jitter + PHI * age + |offset|,
	// never below mindisp.
	rootDelay := v.Delay + v.RootDelay
	rootDisp := max(v.RootDisp+v.Disp+e.jitter+snapshot.PHI*now.Sub(v.Update).Seconds()+math.Abs(e.offset), minDisp)
	synced := false
	switch {
	case !e.ntp || e.err != nil:
		// `disable ntp`, or the daemon is exiting after a panic: measure, never adjust.
	case e.loop == nil:
		ok, err := noLoopUpdate(e.offset)
		if err != nil {
			e.warnOnce("discipline", err.Error())
		}
		synced = ok
	default:
		var stepped bool
		synced, stepped = e.process(sp, v, rootDelay, rootDisp, now)
		if stepped || e.err != nil {
			return
		}
	}
	e.sys.Stratum = min(v.Stratum+1, wire.StratumUnsynched)
	// A reference clock or primary server names its source; anything else is named by its
	// address (ntpd: refid is the peer's refid for stratum 0/unspecified, else addr2refid).
	if v.Stratum == 0 || v.Stratum == wire.StratumUnsynched {
		e.sys.RefID = v.RefID
	} else {
		e.sys.RefID = peer.RefID(v.Addr.Addr())
	}
	e.sys.RefTime = ntptime.FromTime(now)
	e.sys.RootDelay, e.sys.RootDisp = rootDelay, rootDisp
	if synced {
		if e.sys.Leap == wire.LeapAlarm {
			e.sysEventReport(sysEvClockSync, "")
		}
		e.sys.Leap = e.leap(now)
	}
}

// leap is the leap indicator the server sends after a synchronising update: the loop's
// leap owner decides it (with the kernel's arming) from the leap file and the survivors'
// vote (clock.Discipline.Leap); an engine without a loop serves no warning.
func (e *Engine) leap(now time.Time) uint8 {
	if e.loop == nil || !e.ntp {
		return wire.LeapNone
	}
	st, err := e.loop.Leap(now, e.leapVote[0], e.leapVote[1])
	if err != nil {
		e.warnOnce("leap", fmt.Sprintf("cannot arm the kernel for the leap second: %v", err))
	}
	return st.LeapIndicator()
}

// kernelPPS tells the loop whether the kernel's own PPS discipline should run: while the
// system peer is a PPS source whose driver bound its pulses to the kernel (fudge flag3).
// Classic hands the pulses to the kernel (hardpps_enable) from the bind on, whatever the
// selection; gontp only while the PPS source is the system peer, that is while a prefer
// peer numbers its seconds (the pps rules of clock_select), and takes the bits off again
// when it no longer is.
func (e *Engine) kernelPPS() {
	on := e.sysPeer != nil && e.sysPeer.clock != nil && e.sysPeer.clock.KernelPPS()
	if err := e.loop.SetKernelPPS(on); err != nil {
		e.warnOnce("kernelpps", fmt.Sprintf("cannot set the kernel's PPS discipline: %v", err))
	}
}

// process hands the system offset to the Loop as classic clock_update hands it to
// local_clock, and acts on the answer: a step clears every association and leaves the system
// unsynchronised (ntpd clear_all, refid STEP); a panic is reported as panic_stop and kept
// for Err, and the discipline is not called again. It reports whether the clock is now
// synchronised to the system peer and whether it was stepped.
func (e *Engine) process(sp *association, v peer.Vars, rootDelay, rootDisp float64, now time.Time) (synced, stepped bool) {
	e.loop.SetPollLimits(v.MinPoll, v.MaxPoll)
	e.loop.SetRootDistance(rootDelay, rootDisp)
	e.kernelPPS()
	// The estimator places the offset at the time of the system peer's latest sample
	// (system.Result.Disc). While the frequency is unknown (settling) the other
	// survivors' offsets cannot be aligned: Project knows the corrections but not the
	// oscillator's error, so an offset measured a burst earlier (seconds) is off by that
	// error times its age (300 µs for 6 s at 50 ppm) and the combination bends the first
	// frequency estimate; the system peer's own sample is exact at its own time (classic
	// combines anyway). Afterwards the combined offset, aligned to now (selectClock), is
	// moved back to that time.
	at := e.disc.At
	if at.IsZero() {
		at = v.Epoch
	}
	offset := v.Offset
	if !e.sys.Settling {
		offset = e.loop.Project(e.disc.Offset, now, at)
	}
	// A sample's error is bounded by half its delay above the least the filter holds
	// (the rest of the round trip went one way or the other): the discipline widens the
	// sample's uncertainty by it, so a sample that waited in a queue weighs little
	// (chrony weights its regression the same way).
	if !e.loop.Vars().Updated {
		// The first update: the system peer's earlier samples (the iburst's first three)
		// tell the frequency before a start-up step.
		var earlier []clock.Earlier
		for _, st := range sp.a.Stages() {
			if st.Epoch.Before(at) {
				earlier = append(earlier, clock.Earlier{Offset: st.Offset, At: st.Epoch})
			}
		}
		e.loop.Prime(earlier)
	}
	r, err := e.loop.ProcessAt(offset, e.disc.Excess, at, now)
	if err != nil {
		if errors.Is(err, clock.ErrPanic) {
			e.err = err
			e.sysEventReport(sysEvPanicStop, err.Error())
			return false, false
		}
		// A kernel failure (no CAP_SYS_TIME, say): the clock was not adjusted. Classic
		// ntpd logs the failing call and carries on as if it had worked, so a daemon that
		// may not set the clock still synchronises and serves its sources' time
		// (observed: classic with `server` lines and failing clock calls answers
		// synchronised). Once is enough to tell the operator.
		e.warnOnce("discipline", err.Error()+"; the clock is not being adjusted")
		// Classic's local_clock still records loopstats when its clock calls fail.
		e.recordLoop(now, e.sys.Poll)
		return true, false
	}
	e.sys.Poll = r.Poll
	e.sys.Settling = r.Settling
	e.sys.FastPoll = r.FastPoll
	if !r.Ignored {
		// ntpd local_clock ends every update it acts on with record_loop_stats.
		e.recordLoop(now, r.Poll)
	}
	if r.Done {
		// -q: classic prints "ntpd: time set +0.123456s" (the caller does, from Once) and
		// logs "time reset +0.123456 s" or "time slew ..." (ntp_loopfilter.c, mode_ntpdate).
		e.onceMsg = r.Message
		if r.Stepped {
			e.log.Info(fmt.Sprintf("time reset %+.6f s", r.Step))
		} else {
			e.log.Info(fmt.Sprintf("time slew %+.6f s", e.loop.Vars().Offset))
		}
	}
	if r.Stepped {
		// Every time the engine holds is on the old time line; carry the pool timers over
		// and restart the associations from the clock's new reading.
		d := time.Duration(math.Round(r.Step * 1e9))
		for _, p := range e.pools {
			p.nextdate = p.nextdate.Add(d)
		}
		e.stepNow = now.Add(d)
		e.stepped(e.stepNow, r.Detail)
		return false, true
	}
	if code, ok := sysEventCodes[r.Event]; ok {
		e.sysEventReport(code, r.Detail)
	}
	return r.Synchronised, false
}

// recordLoop writes the loopstats record of a clock update: the loop's variables as ntpq
// shows them, and the poll the update left.
func (e *Engine) recordLoop(now time.Time, poll int8) {
	cv := e.loop.Vars()
	e.rec.LoopStats(now, stats.Loop{Offset: cv.Offset, Frequency: cv.Frequency, Jitter: cv.ClkJitter,
		Wander: cv.ClkWander, Poll: poll})
}

// afterStep returns the time the rest of a call must use: now, or the clock's reading
// right after a step made during the call.
func (e *Engine) afterStep(now time.Time) time.Time {
	if e.stepNow.IsZero() {
		return now
	}
	now, e.stepNow = e.stepNow, time.Time{}
	return now
}

// Once returns classic's -q message ("ntpd: time set +0.123456s" or "ntpd: time slew
// ...") once the discipline (clock.Params.Once) has set the clock; ok is false before.
// The daemon prints it and exits with status 0, as `ntpd -q` does.
func (e *Engine) Once() (msg string, ok bool) { return e.onceMsg, e.onceMsg != "" }

// Err returns the error that ended the clock discipline: an error wrapping clock.ErrPanic
// (its text is classic's panic_stop detail, "+2000 s; set clock manually within 1000 s.")
// once an offset beyond the panic threshold arrived. Classic ntpd exits there with status
// 255 (exit(-1)); the daemon checks Err after every Timer and Receive and does the same.
// Nil while the discipline runs.
func (e *Engine) Err() error { return e.err }

// minDisp is ntpd's sys_mindisp (`tos mindist` default): the least root dispersion.
const minDisp = 0.001

func (e *Engine) warnOnce(key, msg string) {
	if e.warned[key] {
		return
	}
	e.warned[key] = true
	e.log.Warn(msg)
}

// Snapshot returns the last published snapshot. Safe for concurrent use.
func (e *Engine) Snapshot() *snapshot.Snapshot { return e.snap.Load() }

// publish makes a new immutable snapshot of the system and the associations.
func (e *Engine) publish(now time.Time) {
	s := &snapshot.Snapshot{
		Sys: snapshot.SysVars{
			Leap: e.sys.Leap, Stratum: e.sys.Stratum, Precision: e.sys.Precision, Poll: e.sys.Poll,
			RefID: e.sys.RefID, RefTime: e.sys.RefTime, RootDelay: e.sys.RootDelay,
			RootDisp: e.sys.RootDisp, RootDispTime: e.sys.RefTime,
		},
		Offset:     e.offset,
		Jitter:     e.jitter,
		Peers:      make([]snapshot.Peer, 0, len(e.assocs)),
		AssocModes: make(map[netip.AddrPort]uint8, len(e.assocs)),
	}
	if s.Sys.RootDispTime == 0 {
		// Before the first update classic grows the dispersion from start.
		s.Sys.RootDispTime = ntptime.FromTime(e.start)
	}
	if e.sysPeer != nil {
		s.SysPeer = e.sysPeer.id
	}
	s.SysEvent, s.SysEventCount = e.sysEvent, e.sysEventCount
	if e.loop != nil {
		cv := e.loop.Vars()
		s.Frequency, s.ClkJitter, s.ClkWander = cv.Frequency, cv.ClkJitter, cv.ClkWander
		s.ClockState = uint8(cv.State)
		if e.ntp {
			// Classic's rv offset is the loop's last_offset, the last offset the
			// discipline took; with `disable ntp` the engine shows the system offset.
			s.Offset = cv.Offset
		}
	}
	pi := 0
	for _, as := range e.assocs {
		// Associations and pool prototypes appear in the order they were made.
		for ; pi < len(e.pools) && e.pools[pi].seq < as.seq; pi++ {
			s.Peers = append(s.Peers, e.poolPeer(e.pools[pi], now, s))
		}
		p := snapshot.Peer{ID: as.id, Vars: as.a.Vars(now)}
		if as.clock != nil {
			p.Refclock = as.clock.Addr().Name()
			p.Clock = clockVars(as.clock.Vars())
		} else {
			s.AssocModes[as.a.Addr()] = p.Vars.HMode
		}
		s.Peers = append(s.Peers, p)
	}
	for ; pi < len(e.pools); pi++ {
		s.Peers = append(s.Peers, e.poolPeer(e.pools[pi], now, s))
	}
	e.snap.Store(s)
}

// poolPeer is a pool prototype as observers see it. Its outstanding solicitation is listed
// in AssocModes as a client association, so that the time server hands the reply to the
// engine instead of declining it as a stranger's server packet.
func (e *Engine) poolPeer(p *pool, now time.Time, s *snapshot.Snapshot) snapshot.Peer {
	if p.aorg != 0 {
		if _, ok := s.AssocModes[p.solicit]; !ok {
			s.AssocModes[p.solicit] = wire.ModeClient
		}
	}
	return snapshot.Peer{ID: p.id, Vars: e.poolVars(p, now), Hostname: p.name}
}
