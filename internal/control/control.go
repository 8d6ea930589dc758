// SPDX-License-Identifier: BSD-2-Clause

// Package control is the mode-6 control server that classic ntpq, NTPsec's ntpq and the
// monitoring tools built on them talk to (RFC 9327; compat.md sections 1-3). It answers
// from the engine's published snapshot.Snapshot and from small data sources the daemon
// provides (it knows neither the engine nor the time server). Runtime configuration
// (:config, config-from-file, saveconfig) needs the controlkey and is carried out by the
// daemon's Writer (write.go); traps are refused the way classic ntpd 4.2.8p15 refuses an
// unauthenticated request, and mode 7 is not its business at all.
//
// The package is pure: time is passed in, no sockets, no goroutines. Handle turns one
// request datagram into zero or more reply datagrams, each handed to an out function.
package control

import (
	"iter"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gontp/internal/snapshot"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Opcodes of mode 6 (compat.md 1.6).
const (
	OpUnspec       = 0
	OpReadStat     = 1
	OpReadVar      = 2
	OpWriteVar     = 3
	OpReadClock    = 4
	OpWriteClock   = 5
	OpSetTrap      = 6
	OpAsyncMsg     = 7
	OpConfigure    = 8
	OpSaveConfig   = 9
	OpReadMRU      = 10
	OpReadOrdList  = 11
	OpReqNonce     = 12
	OpUnsetTrap    = 31
	opMaxKnown     = 12
	opMaxDataBytes = wire.ControlMaxData
)

// Error codes carried in the high octet of an error reply's status (CERR_*, compat.md 1.5).
const (
	ErrUnspec     = 0
	ErrPermission = 1
	ErrBadFormat  = 2
	ErrBadOp      = 3
	ErrBadAssoc   = 4
	ErrUnknownVar = 5
	ErrBadValue   = 6
)

// Config is what the control server says about the daemon itself.
type Config struct {
	// Version is the `version` system variable, e.g. "ntpd 4.2.8p15-gontp ..."; monitoring
	// tools expect it to start with "ntpd ".
	Version string
	// Processor and System are uname's machine and sysname/release ("x86_64",
	// "Linux/6.1.0-13-amd64").
	Processor, System string
	// MinPoll is the `mintc` variable, the minimum poll exponent (classic: 3).
	MinPoll int8
	// BroadcastDelay and AuthDelay (seconds) are the bcastdelay and authdelay variables.
	BroadcastDelay, AuthDelay float64
	// SetVars are the `setvar` variables of ntp.conf, served verbatim.
	SetVars []SetVar
	// NonceSecret keys the MAC of the mrulist nonces. The daemon fills it from a random
	// source at start (and may rotate it); a zero secret still works but makes nonces
	// predictable to anyone who knows this.
	NonceSecret [16]byte
	// Log receives one line per kind of bad request the first time it is seen; nil logs
	// nothing.
	Log *slog.Logger
}

// SetVar is one `setvar name = value [default]` line.
type SetVar struct {
	Name, Value string
	// Default puts the variable in the default `rv` list.
	Default bool
}

// Sources are the daemon's data the control server reads when a request needs them. Every
// field may be nil: the variables it feeds are then left out of replies (their names stay
// known, so asking for them is not an error).
type Sources struct {
	// Snapshot returns the engine's current snapshot. Required.
	Snapshot func() *snapshot.Snapshot
	// ServerStats returns the time server's counters (ss_* variables, `ntpq -c sysstats`).
	ServerStats func(now ntptime.Time) ServerStats
	// IO returns the receive-buffer and socket counters (`ntpq -c iostats`).
	IO func(now time.Time) IOStats
	// Kernel returns the kernel clock discipline state (`ntpq -c kerninfo`); ok false when
	// it cannot be read.
	Kernel func() (k KernelState, ok bool)
	// Monitor returns the MRU monitor's settings and occupancy (`ntpq -c monstats`).
	Monitor func() MonitorStats
	// MRU iterates over the MRU list oldest entry first (`ntpq -c mrulist`).
	MRU func() iter.Seq[MRUEntry]
	// Timer returns the timer counters (`ntpq -c timerstats`).
	Timer func(now time.Time) TimerStats
	// Auth returns the key counters (`ntpq -c authinfo`).
	Auth func(now time.Time) AuthStats
	// Interfaces lists the daemon's addresses for `ntpq -c ifstats`.
	Interfaces func(now time.Time) []Interface
	// Restrictions lists the restrict entries for `ntpq -c reslist`.
	Restrictions func() []Restriction
	// Keys verifies and signs authenticated requests; nil means no request is ever
	// authenticated, so ifstats and reslist are refused as classic refuses them without
	// credentials.
	Keys Keys
	// ControlKey is the `controlkey` id; authenticated requests for ifstats, reslist and the
	// writes must use it.
	ControlKey uint32
	// Writer carries out :config, config-from-file and saveconfig (write.go); nil refuses
	// them.
	Writer Writer
	// NTS returns the Network Time Security counters (NTPsec's nts_* variables, `ntpq -c
	// ntsinfo` of NTPsec's ntpq); nil when NTS is not configured.
	NTS func() NTSStats
}

// NTSStats are NTPsec's NTS counters (ntp_control.c of NTPsec 1.2.2, "ntsinfo"): NTP packets
// with NTS fields sent and received as client and server, cookies made and decoded (by the
// age of the master key that made them), and NTS-KE exchanges as client (probes) and server.
type NTSStats struct {
	ClientSend, ClientRecvGood, ClientRecvBad uint64
	ServerRecvGood, ServerRecvBad, ServerSend uint64
	CookieMake, CookieDecode, CookieDecodeOld uint64
	CookieDecodeOld2, CookieDecodeOlder       uint64
	CookieDecodeTooOld, CookieDecodeError     uint64
	KEProbesGood, KEProbesBad                 uint64
	KEServesGood, KEServesBad                 uint64
}

func (n NTSStats) value(name string) (uint64, bool) {
	switch name {
	case "nts_client_send":
		return n.ClientSend, true
	case "nts_client_recv_good":
		return n.ClientRecvGood, true
	case "nts_client_recv_bad":
		return n.ClientRecvBad, true
	case "nts_server_recv_good":
		return n.ServerRecvGood, true
	case "nts_server_recv_bad":
		return n.ServerRecvBad, true
	case "nts_server_send":
		return n.ServerSend, true
	case "nts_cookie_make":
		return n.CookieMake, true
	case "nts_cookie_decode":
		return n.CookieDecode, true
	case "nts_cookie_decode_old":
		return n.CookieDecodeOld, true
	case "nts_cookie_decode_old2":
		return n.CookieDecodeOld2, true
	case "nts_cookie_decode_older":
		return n.CookieDecodeOlder, true
	case "nts_cookie_decode_too_old":
		return n.CookieDecodeTooOld, true
	case "nts_cookie_decode_error":
		return n.CookieDecodeError, true
	case "nts_ke_probes_good":
		return n.KEProbesGood, true
	case "nts_ke_probes_bad":
		return n.KEProbesBad, true
	case "nts_ke_serves_good":
		return n.KEServesGood, true
	case "nts_ke_serves_bad":
		return n.KEServesBad, true
	}
	return 0, false
}

// ServerStats are the time server's counters that the ss_* variables show (`ntpq -c
// sysstats`, classic's sys_stat counters); the daemon copies them from server.Stats.
type ServerStats struct {
	// Uptime is the whole seconds since the server started (ss_uptime) and SinceReset the
	// whole seconds since the counters were last reset (ss_reset).
	Uptime, SinceReset uint64
	// Received, ThisVer, OldVer, BadFormat, BadAuth, Declined, Restricted, Limited,
	// KoDSent and Processed are ss_received, ss_thisver, ss_oldver, ss_badformat,
	// ss_badauth, ss_declined, ss_restricted, ss_limited, ss_kodsent and ss_processed.
	Received, ThisVer, OldVer, BadFormat, BadAuth     uint64
	Declined, Restricted, Limited, KoDSent, Processed uint64
}

// Restrict is what the restrict list says of a request's source, as far as the control
// server acts on it (classic's RES_IGNORE and RES_NOQUERY); the daemon takes it from the
// time server's restrict flags.
type Restrict uint8

// Restrict flags.
const (
	RestrictIgnore  Restrict = 1 << iota // `ignore`: no reply to anything
	RestrictNoQuery                      // `noquery`: no reply to mode 6
)

// IOStats are classic's I/O counters (ntpq iostats).
type IOStats struct {
	SinceReset                                uint64 // seconds since the counters were reset
	TotalRecvBufs, FreeRecvBufs, UsedRecvBufs uint64
	LowWaterRefills                           uint64
	Dropped, Ignored, Received, Sent          uint64
	SendFailed, Wakeups, GoodWakeups          uint64
}

// TimerStats are classic's timer counters (ntpq timerstats).
type TimerStats struct {
	SinceReset, Overruns, Xmits uint64
}

// AuthStats are classic's key counters (ntpq authinfo).
type AuthStats struct {
	SinceReset, Keys, FreeKeys, Lookups, NotFound, Uncached, Expired, Encrypts, Decrypts uint64
}

// KernelState is the kernel PLL state read with adjtimex (ntpq kerninfo).
type KernelState struct {
	Offset    time.Duration
	Freq      float64 // ppm
	MaxError  time.Duration
	EstError  time.Duration
	Status    int32 // STA_* bits
	Constant  int64
	Precision time.Duration
	Tolerance float64 // ppm
	// PPS values; zero without kernel PPS.
	PPSFreq, PPSStability                                               float64
	PPSJitter                                                           time.Duration
	PPSShift                                                            int64
	PPSCalibrations, PPSErrors, PPSJitterExceeded, PPSStabilityExceeded int64
}

// MonitorStats are the MRU monitor's settings and occupancy (ntpq monstats).
type MonitorStats struct {
	Enabled                            uint32 // bits: 1 = on by default, 2 = needed by restrict limited/kod
	Depth, Deepest, MinDepth, MaxDepth uint64
	MaxAge                             int64 // seconds
	MemKiB, MaxMemKiB                  uint64
}

// MRUEntry is one source address the monitor has seen.
type MRUEntry struct {
	Addr        netip.AddrPort
	First, Last ntptime.Time
	Count       uint64
	// Mode and Version of the last packet from the address.
	Mode, Version uint8
	// Restrict is the classic RES_* bit set of the matching restrict entry (compat.md 1.9
	// table), with the limited and kod bits only when the last packet triggered them.
	Restrict uint16
}

// Interface is one local address for `ntpq -c ifstats` (compat.md 1.6, READ_ORDLIST_A).
type Interface struct {
	Name                              string
	Addr                              netip.AddrPort
	Broadcast                         netip.AddrPort // zero when none
	Enabled                           bool           // packets are processed (not dropped by an interface rule)
	Flags                             uint32         // classic INT_* bits
	TTL                               uint8
	Multicast                         uint32
	Received, Sent, SendFailed, Peers uint64
	Uptime                            uint64 // seconds since the address was opened
}

// Restriction is one restrict entry for `ntpq -c reslist`.
type Restriction struct {
	Addr netip.Addr
	Mask netip.Addr
	Hits uint64
	// Flags is the text classic prints, e.g. "ntpport interface ignore" or "noquery nomodify".
	Flags string
}

// Keys verifies the MAC of an authenticated request and signs replies to it. Messages are
// the packet up to the key ID; digests are what follows the key ID.
type Keys interface {
	Verify(keyID uint32, msg, digest []byte) bool
	// Sign appends the digest of msg with keyID to dst; ok is false if the key is unknown.
	Sign(dst []byte, keyID uint32, msg []byte) (out []byte, ok bool)
}

// Stats are the control server's counters, one per kind of request and failure.
type Stats struct {
	Requests   uint64 // datagrams handed to Handle
	Restricted uint64 // dropped for noquery or ignore
	Short      uint64 // shorter than the header
	NotControl uint64 // not mode 6
	BadVersion uint64 // version outside 1..4
	BadHeader  uint64 // R, E or M set, or non-zero offset
	BadFormat  uint64 // count beyond the data or length not a multiple of 4 (CERR_BADFMT)
	BadOp      uint64 // unknown opcode (CERR_BADOP)
	Permission uint64 // write, configure, trap, ordlist without credentials (CERR_PERMISSION)
	BadAssoc   uint64 // unknown association (CERR_BADASSOC)
	UnknownVar uint64 // unknown variable name or stale mrulist resume point (CERR_UNKNOWNVAR)
	BadValue   uint64 // malformed or out-of-range value (CERR_BADVALUE)
	LongValue  uint64 // a value over 127 characters stopped the parsing
	BadNonce   uint64 // mrulist without a valid nonce: no reply
	BadAuth    uint64 // a MAC that did not verify
	Responses  uint64 // complete replies sent (error replies included)
	Fragments  uint64 // datagrams sent
	Errors     uint64 // error replies sent
}

type counters struct {
	requests, restricted, short, notControl, badVersion, badHeader, badFormat, badOp,
	permission, badAssoc, unknownVar, badValue, longValue, badNonce, badAuth, responses,
	fragments, errors atomic.Uint64
}

// Server is the mode-6 server. It is safe for concurrent use: Handle keeps no state between
// calls except counters.
type Server struct {
	cfg Config
	src Sources
	// keys are the key set and the controlkey in use: src's at start, SetKeys's after a
	// reload. Each request uses the pair it loaded.
	keys atomic.Pointer[keyState]
	c    counters
	// setvars replaces cfg.SetVars once a reload set them (SetSetVars).
	setvars atomic.Pointer[[]SetVar]
	// sysDefault is the default system variable list with setvar defaults appended.
	logged [16]atomic.Bool
}

// New returns a control server. src.Snapshot is required.
func New(cfg Config, src Sources) *Server {
	if cfg.MinPoll == 0 {
		cfg.MinPoll = 3
	}
	s := &Server{cfg: cfg, src: src}
	s.keys.Store(&keyState{keys: src.Keys, controlKey: src.ControlKey})
	return s
}

// keyState is the key set and the controlkey, replaced together.
type keyState struct {
	keys       Keys
	controlKey uint32
}

// SetKeys replaces the key set and the controlkey (a reload of the key file); requests
// being answered finish with the ones they started with. A nil set refuses every
// authenticated request.
func (s *Server) SetKeys(k Keys, controlKey uint32) {
	s.keys.Store(&keyState{keys: k, controlKey: controlKey})
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	c := &s.c
	return Stats{
		Requests: c.requests.Load(), Restricted: c.restricted.Load(), Short: c.short.Load(),
		NotControl: c.notControl.Load(), BadVersion: c.badVersion.Load(),
		BadHeader: c.badHeader.Load(), BadFormat: c.badFormat.Load(), BadOp: c.badOp.Load(),
		Permission: c.permission.Load(), BadAssoc: c.badAssoc.Load(),
		UnknownVar: c.unknownVar.Load(), BadValue: c.badValue.Load(),
		LongValue: c.longValue.Load(), BadNonce: c.badNonce.Load(), BadAuth: c.badAuth.Load(),
		Responses: c.responses.Load(), Fragments: c.fragments.Load(), Errors: c.errors.Load(),
	}
}

// logOnce logs a kind of bad request the first time it happens, so a flood of bad packets
// cannot flood the log.
func (s *Server) logOnce(kind int, msg string, src netip.AddrPort, err error) {
	if s.cfg.Log == nil || s.logged[kind&15].Swap(true) {
		return
	}
	s.cfg.Log.Info("mode-6 request dropped or refused (logged once per kind)", "reason", msg,
		"from", src.String(), "error", err)
}

// Handle answers one mode-6 request that arrived from src, whose restrict flags are
// restrict, at now. Each reply datagram is passed to out, which must not keep the slice.
// Requests from sources with `noquery` or `ignore`, malformed headers and mrulist requests
// without a valid nonce get no reply (classic ntpd's process_control and read_mru_list).
func (s *Server) Handle(req []byte, src netip.AddrPort, restrict Restrict, now time.Time,
	out func(b []byte)) {
	s.c.requests.Add(1)
	if restrict&(RestrictIgnore|RestrictNoQuery) != 0 {
		s.c.restricted.Add(1)
		return
	}
	h, data, mac, err := wire.DecodeControl(req)
	switch err {
	case nil:
	case wire.ErrControlShort:
		s.c.short.Add(1)
		s.logOnce(0, "short", src, err)
		return
	case wire.ErrNotControl:
		s.c.notControl.Add(1)
		return
	case wire.ErrControlVersion:
		s.c.badVersion.Add(1)
		s.logOnce(1, "version", src, err)
		return
	default: // count or alignment: answered with BADFMT once the header is known good
		if h.CheckRequest() != nil {
			s.c.badHeader.Add(1)
			return
		}
		snap := s.src.Snapshot()
		s.c.badFormat.Add(1)
		s.logOnce(2, "format", src, err)
		s.sendError(&h, snap, ErrBadFormat, out)
		return
	}
	if err := h.CheckRequest(); err != nil {
		s.c.badHeader.Add(1)
		s.logOnce(3, "header", src, err)
		return
	}
	snap := s.src.Snapshot()
	if snap == nil {
		return
	}
	authed := false
	var keyID uint32
	ks := s.keys.Load()
	if mac != nil && ks.keys != nil && len(mac) > wire.KeyIDLen {
		keyID = uint32(mac[0])<<24 | uint32(mac[1])<<16 | uint32(mac[2])<<8 | uint32(mac[3])
		proper := wire.ControlAuthLen(int(h.Count))
		if ks.keys.Verify(keyID, req[:proper], mac[wire.KeyIDLen:]) {
			authed = true
		} else {
			s.c.badAuth.Add(1)
		}
	}
	r := replyPool.Get().(*reply)
	defer r.release()
	r.reset(s, out, snap, now)
	r.hdr = wire.ControlHeader{Leap: snap.Sys.Leap, Version: h.Version, Response: true,
		Opcode: h.Opcode, Sequence: h.Sequence, AssocID: h.AssocID}
	if authed {
		r.auth, r.keyID, r.keys = true, keyID, ks.keys
	}
	switch h.Opcode {
	case OpUnspec:
		s.unspec(r, h.AssocID)
	case OpReadStat:
		s.readStat(r, h.AssocID)
	case OpReadVar:
		s.readVar(r, h.AssocID, data)
	case OpReadClock:
		s.readClock(r, h.AssocID, data)
	case OpReadMRU:
		s.readMRU(r, data, src, now)
	case OpReqNonce:
		s.reqNonce(r, src, now)
	case OpReadOrdList:
		if !authed || keyID != ks.controlKey {
			r.fail(ErrPermission)
			return
		}
		s.readOrdList(r, data, now)
	case OpConfigure, OpSaveConfig, OpWriteVar:
		if !s.writeAllowed(authed, keyID, ks) {
			r.fail(ErrPermission)
			return
		}
		switch h.Opcode {
		case OpConfigure:
			s.configure(r, h.AssocID, data, src)
		case OpSaveConfig:
			s.saveConfig(r, data, src)
		default:
			s.writeVar(r, h.AssocID, data, src)
		}
	case OpWriteClock, OpSetTrap, OpUnsetTrap:
		// No writable clock variables and no traps: refused as classic refuses a requester
		// without the control key. Traps are a later issue.
		r.fail(ErrPermission)
	default: // includes OpAsyncMsg, which only the daemon sends
		r.fail(ErrBadOp)
	}
}

// sendError answers with an error before a reply object exists.
func (s *Server) sendError(h *wire.ControlHeader, snap *snapshot.Snapshot, code uint8, out func([]byte)) {
	r := replyPool.Get().(*reply)
	defer r.release()
	r.reset(s, out, snap, time.Time{})
	leap := uint8(wire.LeapAlarm)
	if snap != nil {
		leap = snap.Sys.Leap
	}
	r.hdr = wire.ControlHeader{Leap: leap, Version: h.Version, Response: true, Opcode: h.Opcode,
		Sequence: h.Sequence, AssocID: h.AssocID}
	r.fail(code)
}

// findPeer returns the association with id.
func findPeer(snap *snapshot.Snapshot, id uint16) *snapshot.Peer {
	for i := range snap.Peers {
		if snap.Peers[i].ID == id {
			return &snap.Peers[i]
		}
	}
	return nil
}

// unspec answers opcode 0 with just a status word (classic control_unspec).
func (s *Server) unspec(r *reply, id uint16) {
	if id == 0 {
		r.hdr.Status = sysStatus(r.snap)
		r.flush(false)
		return
	}
	p := findPeer(r.snap, id)
	if p == nil {
		r.fail(ErrBadAssoc)
		return
	}
	r.hdr.Status = p.Vars.Status
	r.flush(false)
}

// readStat answers opcode 1: for association 0 the binary list of (association ID, peer
// status) records, newest association first as classic sends them, in chunks that never
// split a record; otherwise the peer's default variables (classic read_status).
func (s *Server) readStat(r *reply, id uint16) {
	if id != 0 {
		s.readPeerVars(r, id, nil)
		return
	}
	r.hdr.Status = sysStatus(r.snap)
	var rec [4]byte
	for i := len(r.snap.Peers) - 1; i >= 0; i-- {
		p := &r.snap.Peers[i]
		rec[0], rec[1] = byte(p.ID>>8), byte(p.ID)
		rec[2], rec[3] = byte(p.Vars.Status>>8), byte(p.Vars.Status)
		r.putBinary(rec[:])
	}
	r.flush(false)
}

func (s *Server) readVar(r *reply, id uint16, data []byte) {
	if id == 0 {
		s.readSysVars(r, data)
		return
	}
	s.readPeerVars(r, id, data)
}

// replyPool recycles reply buffers so that answering does not allocate.
var replyPool = sync.Pool{New: func() any { return new(reply) }}
