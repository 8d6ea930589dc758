// SPDX-License-Identifier: BSD-2-Clause

// Package peer is one NTP association, sans I/O
// (docs/architecture.md, "The association is an action machine"): the poll process with iburst and
// burst, the reach register, the receive tests of RFC 5905 section 8 with classic ntpd's
// flash bits, Kiss-o'-Death, the clock filter of section 10 and symmetric active/passive
// mode. The selection of the system peer (section 11.2) is package system's.
//
// Nothing here reads a clock, sleeps, draws global randomness or touches the network: the
// caller passes the time, the system state (system.State) and a *rand.Rand, and carries out
// the returned Actions (send a packet, rearm the poll timer, use a new sample, run the
// selection, demobilise). The daemon does that over sockets, the simulator in virtual time.
//
// Where RFC 5905 and classic ntpd 4.2.8p15 differ, ntpd wins, because gontp replaces it:
// the differences are named in the comments.
package peer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/system"
)

// Errors returned by Receive for a packet that was not used. They are sentinels so that the
// engine can count each kind; the flash bits (Vars.Flash) say the same thing the ntpd way.
var (
	ErrMode      = errors.New("packet mode does not belong to this association")
	ErrDuplicate = errors.New("duplicate packet (TEST1)")
	ErrBogus     = errors.New("origin timestamp does not match our last transmit (TEST2)")
	ErrUnsync    = errors.New("zero transmit timestamp (TEST3)")
	ErrAuth      = errors.New("authentication failed (TEST5)")
	ErrStratum   = errors.New("server unsynchronised or stratum out of range (TEST6)")
	ErrHeader    = errors.New("root delay and dispersion out of range (TEST7)")
	ErrKissRate  = errors.New("kiss-o'-death RATE")
	ErrKissDeny  = errors.New("kiss-o'-death DENY or RSTR")
	ErrKiss      = errors.New("kiss-o'-death with an unknown code")
	ErrGone      = errors.New("association is demobilised")
	ErrXleave    = errors.New("interleaved reply with inconsistent timestamps (interleave_error)")
)

// Config is one association as the configuration (or the engine, for pool members and
// symmetric passive peers) describes it.
type Config struct {
	Addr netip.AddrPort // the remote address; opaque here except for its reference ID
	// Mode is the host mode: wire.ModeClient for `server` lines and pool members,
	// wire.ModeSymActive for `peer` lines, wire.ModeSymPassive for the ephemeral
	// association the engine makes when an unknown symmetric active peer calls.
	Mode             uint8
	MinPoll, MaxPoll int8   // log2 s; 0 means the default (6, 10); clamped to 3..17
	Version          uint8  // NTP version sent; 0 means 4
	KeyID            uint32 // symmetric key, 0 for none
	// NTS marks an association protected by Network Time Security (RFC 8915): like a key,
	// it makes authentication required (status bit authenable), and only replies the
	// daemon verified (Rx.Auth AuthOK) pass the AUTH test.
	NTS              bool
	IBurst, Burst    bool
	Prefer, NoSelect bool
	True             bool // `true`: always survives the intersection
	// Configured marks a persistent association from the configuration (FLAG_CONFIG):
	// it is never demobilised for being unreachable, and its status word has the conf bit.
	Configured bool
	// Preempt marks a pool member or a `preempt` server: after Unreach polls without a
	// reply the association asks the engine (ActTimeout) whether it should go. A
	// preemptible association that is not Configured is a pool member, which gontp
	// replaces sooner (see PoolQuiet).
	Preempt bool
	// StartDelay is the delay before the first poll. Zero means ntpd's choice for an
	// association mobilised after startup: 2 s for symmetric passive, otherwise a random
	// whole number of seconds below minpoll. At startup ntpd spaces associations one
	// second apart (the n-th polls after n s); the engine passes that here.
	StartDelay time.Duration
	// BClient marks a broadcast client (ntpd MDF_BCLNT), mobilised by the engine for a
	// broadcast from a stranger (bclient.go). With Mode wire.ModeClient it starts with
	// classic's volley; with Mode HModeBClient it listens at once and takes BDelay as the
	// round-trip delay (ntpd's novolley; classic 4.2.8p15's configuration cannot ask for it,
	// and the engine always starts with the volley).
	BClient bool
	// BDelay is `broadcastdelay`, s: the delay without a volley, and the limit the
	// delay measured after a volley must not exceed (classic's |sys_bdelay|).
	BDelay float64
	// TTL is a broadcast association's IP TTL (IPv6 hop limit) for a multicast group
	// (`broadcast ADDR ttl N`); 0 leaves the system's default.
	TTL uint8
	// Xleave is `xleave`: a client association asks for the interleaved mode (xleave.go).
	Xleave bool
}

// Assoc is one association: the peer variables of RFC 5905 section 9 plus ntpd's poll and
// rate state. It is not safe for concurrent use; the engine goroutine owns it.
type Assoc struct {
	addr                      netip.AddrPort
	addrRefID                 uint32
	hmode, version            uint8
	keyid                     uint32
	nts                       bool
	iburst, burstOn           bool
	prefer, noselect, trueFlg bool
	configured, preempt       bool
	refclock                  uint8   // driver type for a reference clock (SetRefclock), else 0
	pps                       bool    // a PPS source now (SetPPS)
	refIBurst                 bool    // a reference clock's start-up burst (iburst) is running
	ttl                       uint8   // Config.TTL
	bclient, bcVol            bool    // Config.BClient; the volley's delay is still to measure
	bdelay                    float64 // Config.BDelay, then the measured delay

	minpoll, maxpoll int8
	hpoll, ppoll     int8

	// header of the last packet that passed the tests
	leap, stratum, pmode uint8
	precision            int8
	rootdelay, rootdisp  float64
	refid                uint32
	reftime              ntptime.Time

	// on-wire state (RFC 5905 section 9.1)
	aorg ntptime.Time // our last transmit timestamp, cleared once a reply matched it
	// t1 is the kernel's transmit time of the request that carried t1org (TxTimestamp).
	t1org, t1 ntptime.Time
	// txLags are the kernel's lags behind the packets' own stamps of the last requests, s
	// (a ring, txLagN counting every one), for lateBound.
	txLags [txLagWindow]float64
	txLagN int
	rec    ntptime.Time // the peer's transmit timestamp of its last packet (our next org)
	dst    ntptime.Time // our receive timestamp of its last packet (our next rec)
	xmt    ntptime.Time // the peer's last transmit timestamp, for the duplicate test
	xl     xleaveState  // the interleaved mode (xleave.go)
	// flip and borg: the interleaved symmetric mode (symxleave.go)
	flip int8
	borg ntptime.Time

	reach      uint8
	unreach    int
	quiet      int  // polls since the last reply (classic's unreach is also reset by the selection)
	burst      int  // packets left in the current burst
	retry      int  // polls left to wait for the reply that starts a burst
	throttle   int  // headway, s; decays by one per second
	rated      bool // a RATE kiss came: no fast polling (system.State.FastPoll) for this server
	throttleAt time.Time

	outdate, nextdate time.Time // last poll (not burst) transmit; next scheduled poll
	update            time.Time // last clock filter update
	epoch             time.Time // epoch of the last sample handed on
	timereceived      time.Time
	timelastrec       time.Time
	timereachable     time.Time
	flash             uint16
	authentic         bool
	gone              bool

	filter [NStages]stage
	next   int // next filter slot to write
	order  [NStages]uint8
	offset float64
	delay  float64
	disp   float64
	jitter float64
	// latest is the newest sample and latestExcess its delay above the least delay in the
	// register: what the discipline takes at every sample (Candidate.Latest).
	latest       stage
	latestExcess float64

	sel              system.SelCode
	nevents, lastEvt uint8

	sent, received, bogusorg, oldpkt, badauth, seldisp, selbroken uint64

	rng *rand.Rand
}

type stage struct {
	offset, delay, disp float64
	epoch               time.Time
}

// New makes an association and schedules its first poll (NextPoll). It reports the
// mobilize event in the status word as ntpd does.
func New(cfg Config, now time.Time, sys *system.State, rng *rand.Rand) (*Assoc, error) {
	if !cfg.Addr.IsValid() {
		return nil, fmt.Errorf("association: invalid address %v", cfg.Addr)
	}
	switch cfg.Mode {
	case wire.ModeClient, wire.ModeSymActive, wire.ModeSymPassive, wire.ModeBroadcast:
	case HModeBClient:
		if !cfg.BClient {
			return nil, fmt.Errorf("association %v: broadcast client mode without BClient", cfg.Addr)
		}
	default:
		return nil, fmt.Errorf("association %v: host mode %d not supported (only client, symmetric active, symmetric passive and broadcast)", cfg.Addr, cfg.Mode)
	}
	if rng == nil {
		return nil, fmt.Errorf("association %v: nil random source", cfg.Addr)
	}
	v := cfg.Version
	if v == 0 {
		v = wire.VersionMax
	}
	if v < wire.VersionMin || v > wire.VersionMax {
		return nil, fmt.Errorf("association %v: version %d outside 1..4", cfg.Addr, v)
	}
	// newpeer(): defaults, clamping, and minpoll never above maxpoll.
	minp, maxp := cfg.MinPoll, cfg.MaxPoll
	if minp == 0 {
		minp = DefMinPoll
	}
	if maxp == 0 {
		maxp = DefMaxPoll
	}
	minp = clampPoll(minp)
	maxp = clampPoll(maxp)
	if minp > maxp {
		minp = maxp
	}
	a := &Assoc{
		addr:       cfg.Addr,
		addrRefID:  RefID(cfg.Addr.Addr()),
		hmode:      cfg.Mode,
		version:    v,
		keyid:      cfg.KeyID,
		nts:        cfg.NTS,
		iburst:     cfg.IBurst,
		burstOn:    cfg.Burst,
		prefer:     cfg.Prefer,
		noselect:   cfg.NoSelect,
		trueFlg:    cfg.True,
		configured: cfg.Configured,
		preempt:    cfg.Preempt,
		ttl:        cfg.TTL,
		bclient:    cfg.BClient,
		bcVol:      cfg.BClient && cfg.Mode == wire.ModeClient,
		bdelay:     cfg.BDelay,
		xl:         xleaveState{on: cfg.Xleave},
		minpoll:    minp,
		maxpoll:    maxp,
		rng:        rng,
	}
	a.clear(a.initIdent(), now, sys)
	switch {
	case cfg.StartDelay > 0:
		a.nextdate = now.Add(cfg.StartDelay)
	case cfg.Mode == wire.ModeSymPassive:
		a.nextdate = now.Add(passiveDelay)
	default:
		a.nextdate = now.Add(time.Duration(a.rng.IntN(int(a.minpoll))) * time.Second)
	}
	a.report(EvMobilize, "", nil)
	return a, nil
}

// initIdent is the refid ntpq shows for a new or cleared association: "INIT", or for a
// broadcast association (which never hears a reply) "BCST", "MCST" for a multicast group,
// as classic shows them.
func (a *Assoc) initIdent() string {
	if a.hmode != wire.ModeBroadcast {
		return "INIT"
	}
	if a.addr.Addr().IsMulticast() {
		return "MCST"
	}
	return "BCST"
}

// TTL is the broadcast association's multicast TTL (Config.TTL).
func (a *Assoc) TTL() uint8 { return a.ttl }

func clampPoll(p int8) int8 {
	if p < MinPoll {
		return MinPoll
	}
	if p > MaxPoll {
		return MaxPoll
	}
	return p
}

// clear resets the association to its unsynchronised state (ntpd peer_clear) with ident
// as the refid shown to ntpq ("INIT", "TIME", ...).
func (a *Assoc) clear(ident string, now time.Time, sys *system.State) {
	a.leap, a.stratum, a.pmode, a.precision = wire.LeapAlarm, wire.StratumUnsynched, 0, 0
	a.rootdelay, a.rootdisp, a.reftime = 0, 0, 0
	a.refid = wire.RefIDFromString(ident)
	a.aorg, a.rec, a.dst, a.xmt = 0, 0, 0, 0
	a.xl = xleaveState{on: a.xl.on}
	a.flip, a.borg = 0, 0
	if a.xl.on && a.symmetric() {
		a.flip = 1 // classic peer_clear: "initialize the alternate origin switch"
	}
	a.reach, a.unreach, a.burst, a.retry = 0, 0, 0, 0
	a.throttle, a.throttleAt = 0, now
	a.epoch, a.timereceived, a.timelastrec, a.timereachable = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.authentic = false
	a.ppoll = a.maxpoll
	a.hpoll = a.minpoll
	a.offset, a.delay = 0, 0
	a.latest, a.latestExcess = stage{}, 0
	a.disp = MaxDisp
	a.jitter = log2s(sys.Precision)
	a.next = 0
	for i := range a.filter {
		a.filter[i] = stage{disp: MaxDisp}
		a.order[i] = uint8(i)
	}
	a.sel = system.SelReject
	a.nextdate, a.update, a.outdate = now, now, now
	a.flash = 0
	a.unfit(now, sys)
}

// Reset clears the association as ntpd's peer_clear does, keeping its configuration
// (including a minpoll raised by a RATE kiss) and its event history, and schedules a new
// first poll a random whole number of seconds below minpoll from now. The engine calls it
// for every association with ident "STEP" after the clock was stepped, because all their
// samples and timestamps are then wrong (ntpd clear_all).
func (a *Assoc) Reset(ident string, now time.Time, sys *system.State, acts []Action) []Action {
	if a.gone {
		return acts
	}
	a.clear(ident, now, sys)
	a.nextdate = now.Add(time.Duration(a.rng.IntN(int(a.minpoll))) * time.Second)
	return append(acts, Action{Kind: ActRearm, At: a.nextdate})
}

// log2s returns 2^e seconds (ntpd LOGTOD).
func log2s(e int8) float64 { return math.Ldexp(1, int(e)) }

// fixedSeconds converts the signed 32.32 difference of two timestamps to seconds. Taking the
// difference modulo 2^64 first keeps it right across an era boundary (RFC 5905 section 6).
func fixedSeconds(a, b ntptime.Time) float64 { return float64(int64(a-b)) / (1 << 32) }

// NextPoll is when the poll timer should fire next.
func (a *Assoc) NextPoll() time.Time { return a.nextdate }

// Addr is the remote address.
func (a *Assoc) Addr() netip.AddrPort { return a.addr }

// Gone reports whether the association has asked to be demobilised; it then ignores Poll
// and Receive.
func (a *Assoc) Gone() bool { return a.gone }

// headway returns the throttle after decaying it by one per whole second since it was last
// touched (ntpd decrements it once per second in timer()).
func (a *Assoc) headway(now time.Time) int {
	if el := now.Sub(a.throttleAt); el >= time.Second {
		secs := int(el / time.Second)
		a.throttleAt = a.throttleAt.Add(time.Duration(secs) * time.Second)
		a.throttle -= secs
		if a.throttle < 0 {
			a.throttle = 0
		}
	}
	return a.throttle
}

// headwayAt returns the headway at now without changing any state.
func (a *Assoc) headwayAt(now time.Time) int {
	t := a.throttle
	if el := now.Sub(a.throttleAt); el >= time.Second {
		t -= int(el / time.Second)
	}
	return max(t, 0)
}

// report records a peer event in the status word (ntpd report_event): the counter restarts
// when the code changes and saturates at 15, after which further reports of the same code
// are dropped.
func (a *Assoc) report(ev Event, detail string, acts []Action) []Action {
	if a.lastEvt != uint8(ev) {
		a.nevents = 0
	}
	if a.nevents >= maxEvents {
		return acts
	}
	a.lastEvt = uint8(ev)
	a.nevents++
	return append(acts, Action{Kind: ActEvent, Event: ev, Detail: detail})
}

// Report records an event that the engine detected for this association (sys_peer when
// the selection picks it, clock_event for refclock status changes) and returns the
// ActEvent to log, or nothing when the counter for that code is saturated.
func (a *Assoc) Report(ev Event, detail string, acts []Action) []Action {
	return a.report(ev, detail, acts)
}

// KeyID is the symmetric key the association sends its packets with (`key N`), 0 for none.
func (a *Assoc) KeyID() uint32 { return a.keyid }

// NoKey records that a packet could not be sent because the association's key is not a
// trusted key of the key file (classic peer_xmit: flash TEST5, badauth, event "no key"),
// so that ntpq shows why the association never reaches its server.
func (a *Assoc) NoKey(acts []Action) []Action {
	a.flash |= FlashAuth
	a.badauth++
	return a.report(EvBadAuth, "no key", acts)
}
