// SPDX-License-Identifier: BSD-2-Clause

// Package server is gontp's time server: the receive path of classic ntpd 4.2.8p15
// (ntp_proto.c receive() up to the association dispatch, and fast_xmit()) as one pure,
// allocation-free function. Respond takes a datagram, its kernel receive timestamp and the
// engine's published snapshot.Snapshot and writes the reply, if any, into a caller buffer. It never
// reads a clock, never touches a socket and never mobilises an association: packets that
// belong to an association are handed back to the caller with the verdict ToAssociation.
//
// Every decision and every counter follows what the real classic ntpd does; the
// observations behind them, and how they were made, are in testdata/classic-observations.md.
// The one deliberate deviation is that versions 5-7 are dropped (see Respond).
package server

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"strconv"
	"sync/atomic"

	"gontp/internal/snapshot"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// MaxReplyLen is the size of reply buffer Respond needs: the header and the longest MAC
// trailer (key ID and a 20-octet digest).
const MaxReplyLen = wire.HeaderLen + wire.MaxMACLen

// DefaultMinPoll is classic ntpd's ntp_minpoll (the `mintc` system variable): the smallest
// poll exponent a reply advertises.
const DefaultMinPoll = 3

// Config holds the settings of the reply path.
type Config struct {
	// MinPoll is the least poll exponent put in a reply (classic ntp_minpoll, 3): fast_xmit
	// answers max(request poll, MinPoll), comparing the octets unsigned, so that a client
	// polling faster than 2^MinPoll s is told to slow down. Zero means DefaultMinPoll.
	MinPoll int8
	// NoAuth is `disable auth` (classic sys_authenticate off): a symmetric-active packet
	// from a stranger without a MAC may then mobilise a symmetric passive association
	// (NewPassive) unless `nopeer` or `noepeer` applies. With classic's default `enable
	// auth` only an authenticated packet may, and gontp has no keys for NTP packets yet.
	NoAuth bool
	// Floor and Ceiling are `tos floor` and `tos ceiling`: a synchronised symmetric-active
	// peer outside [Floor, Ceiling) mobilises no passive association ("no help"). A zero
	// Ceiling means classic's default, 15.
	Floor, Ceiling uint8
	// BClient is `broadcastclient` or `multicastclient` (classic sys_bclient): a
	// broadcast from a stranger may then mobilise a broadcast client association
	// (NewBClient), authenticated unless NoAuth.
	BClient bool
	// ManycastServer is `manycastserver`: client requests to its groups are answered
	// (Source.Manycast), by classic's rules.
	ManycastServer bool
	// ManycastClient is a `manycastclient` line: a server reply from a stranger may
	// answer its solicitation (ToManycast).
	ManycastClient bool
}

// Server answers time requests and keeps classic ntpd's ss_* counters. It is safe for
// concurrent use: the only state is atomic counters and the key set.
type Server struct {
	minPoll uint8
	noAuth  atomic.Bool
	bclient atomic.Bool
	mcast   atomic.Bool
	acast   atomic.Bool
	strata  atomic.Uint32 // floor<<8 | ceiling (Config.Floor, Config.Ceiling)
	start   ntptime.Time
	resetAt atomic.Uint64 // ntptime.Time of the last Reset
	keys    atomic.Pointer[keyRef]
	// acceptNTS is set while the daemon's NTS responder runs: a request with an NTS
	// authenticator then counts as authenticated for `notrust`, because the responder either
	// answers it authenticated or refuses it (NTS NAK, drop); it never gets a plain reply.
	acceptNTS atomic.Bool
	// xleave is the per-client state of interleaved replies (xleave.go).
	xleave *xleaveTable
	c      counters
}

// AcceptNTS says whether NTS requests are verified after Respond (the daemon's NTS
// responder runs), so that `restrict ... notrust` lets them through as authenticated.
func (s *Server) AcceptNTS(on bool) { s.acceptNTS.Store(on) }

// Keys checks the MACs of requests and signs replies (internal/keys.Set with ntp.conf's
// trustedkey applied). Messages are the packet up to the key ID; digests follow the key ID.
type Keys interface {
	// TrustedFrom reports whether key id is trusted for packets from src (classic's
	// authistrustedip: trustedkey, and the key's address list in the keys file).
	TrustedFrom(id uint32, src netip.Addr) bool
	// Verify reports whether digest is msg's MAC under the trusted key id, in constant time.
	Verify(id uint32, msg, digest []byte) bool
	// Sign appends msg's digest under key id to dst; ok is false for an unusable key.
	Sign(dst []byte, id uint32, msg []byte) (out []byte, ok bool)
	// Size is the length of key id's digest in a packet, 0 for an unusable key.
	Size(id uint32) int
}

type keyRef struct{ k Keys }

// SetKeys installs the key set (nil: none, every MAC then fails as an unknown key does).
// Replies already being built finish with the keys they started with.
func (s *Server) SetKeys(k Keys) {
	if k == nil {
		s.keys.Store(nil)
		return
	}
	s.keys.Store(&keyRef{k})
}

func (s *Server) keySet() Keys {
	if r := s.keys.Load(); r != nil {
		return r.k
	}
	return nil
}

// authenticate is classic receive()'s check of a request's MAC: AUTH_OK when the key is
// trusted for the source and the digest verifies, AUTH_ERROR otherwise (an unknown or
// untrusted key, a key not for this address, a wrong digest or length).
func (s *Server) authenticate(req []byte, tr *wire.Trailer, from netip.Addr) bool {
	k := s.keySet()
	return k != nil && tr.KeyID != 0 && k.TrustedFrom(tr.KeyID, from) && k.Verify(tr.KeyID, req[:tr.AuthLen], tr.Digest)
}

// putMAC appends key id and room for its digest after the header in out; Seal fills the
// digest once the transmit timestamp is written. It returns the octets added, 0 when the key
// cannot sign (classic's authencrypt then adds nothing).
func (s *Server) putMAC(out []byte, id uint32) int {
	k := s.keySet()
	if k == nil {
		return 0
	}
	size := k.Size(id)
	if size == 0 {
		return 0
	}
	binary.BigEndian.PutUint32(out, id)
	clear(out[wire.KeyIDLen : wire.KeyIDLen+size])
	return wire.KeyIDLen + size
}

// Seal computes the MAC of a reply that Respond left room for: call it after the transmit
// timestamp is written (wire.PutXmt), right before the send, as classic's fast_xmit
// authenticates after stamping. A reply without a MAC, or with a crypto-NAK, is left alone.
// It does not allocate.
func (s *Server) Seal(reply []byte) {
	if len(reply) <= wire.HeaderLen+wire.NAKLen {
		return
	}
	k := s.keySet()
	if k == nil {
		return
	}
	id := binary.BigEndian.Uint32(reply[wire.HeaderLen:])
	k.Sign(reply[:wire.HeaderLen+wire.KeyIDLen], id, reply[:wire.HeaderLen])
}

// New returns a Server whose ss_uptime and ss_reset count from start.
func New(cfg Config, start ntptime.Time) *Server {
	mp := cfg.MinPoll
	if mp == 0 {
		mp = DefaultMinPoll
	}
	s := &Server{minPoll: uint8(mp), start: start, xleave: newXleaveTable()}
	s.noAuth.Store(cfg.NoAuth)
	s.bclient.Store(cfg.BClient)
	s.mcast.Store(cfg.ManycastServer)
	s.acast.Store(cfg.ManycastClient)
	s.SetStratumRange(cfg.Floor, cfg.Ceiling)
	s.resetAt.Store(uint64(start))
	return s
}

// Verdict says what Respond did with a datagram and why.
type Verdict uint8

const (
	// Replied: a mode-4 reply to a client (versions 1-4, or a version-1 mode-0 request) is
	// in out. The caller must stamp its transmit timestamp (StampXmt).
	Replied Verdict = iota + 1
	// RepliedPassive: a mode-2 reply to a symmetric-active peer that has no association is
	// in out; no association is mobilised (classic fast_xmit(MODE_PASSIVE), kept "for broken
	// Windows clients"). The caller must stamp its transmit timestamp.
	RepliedPassive
	// KissOfDeath: a RATE kiss-o'-death is in out. It echoes the request's transmit
	// timestamp in all three timestamps; the caller must NOT stamp it.
	KissOfDeath
	// ToControl: a mode-6 packet for the control server; Respond wrote nothing.
	ToControl
	// ToAssociation: the packet belongs to the association given in Source.AssocMode; hand
	// it to the engine (which reports accepted packets through Processed).
	ToAssociation
	// NewPassive: a symmetric-active packet from a stranger that may mobilise a symmetric
	// passive association (classic receive(), AM_NEWPASS: authenticated, or `disable auth`
	// and neither `nopeer` nor `noepeer`); hand it to the engine, which mobilises the
	// association and processes the packet with it. Respond wrote nothing: the new
	// association sends its own packets.
	NewPassive
	// DropPrivate: mode 7 (ntpdc) without `enable mode7`, or from a noquery source; not
	// answered, as classic with mode 7 disabled.
	DropPrivate
	// DropRestricted: refused by a restrict flag, or an unauthenticated packet that would
	// need an association (symmetric active with a bad MAC, broadcast or manycast server
	// packets nobody asked for).
	DropRestricted
	// DropRateLimited: over the rate limit and no KoD due.
	DropRateLimited
	// DropFormat: bad length, version, mode or trailer (ss_badformat).
	DropFormat
	// DropInvalidNAK: exactly 4 octets after the header from a source that cannot send a
	// crypto-NAK to us.
	DropInvalidNAK
	// DropDeclined: a symmetric-passive packet from a stranger, or a packet the association
	// table refuses.
	DropDeclined
	// DropEmpty: a zero-length datagram.
	DropEmpty
	// DropNoSnapshot and DropOutShort: the caller passed no snapshot or too small a buffer.
	DropNoSnapshot
	DropOutShort
	// NewBClient: a broadcast from a stranger that may mobilise a broadcast client
	// association (classic receive(), AM_NEWBCL: `broadcastclient` or
	// `multicastclient` given, and authenticated unless `disable auth`); hand it to the
	// engine. Respond wrote nothing.
	NewBClient
	// ToManycast: a server reply from a stranger that may answer a manycast client's
	// solicitation (classic AM_MANYCAST: a `manycastclient` line, authenticated unless
	// `disable auth`); the engine checks its origin timestamp. Respond wrote nothing.
	ToManycast
	// ToPrivate: a mode-7 (ntpdc) request from a source without noquery while `enable mode7`
	// is in effect (Source.Mode7); the daemon hands it to internal/mode7. Respond wrote
	// nothing.
	ToPrivate
	// RepliedInterleaved: an interleaved mode-4 reply (xleave.go) is in out, its transmit
	// timestamp already written (the real departure time of the previous reply to this
	// client): the caller must NOT stamp it, but must Seal it.
	RepliedInterleaved
)

var verdictNames = [...]string{
	Replied:            "replied",
	RepliedPassive:     "replied-passive",
	KissOfDeath:        "kiss-of-death",
	ToControl:          "to-control",
	ToAssociation:      "to-association",
	NewPassive:         "new-passive",
	DropPrivate:        "drop-private",
	DropRestricted:     "drop-restricted",
	DropRateLimited:    "drop-rate-limited",
	DropFormat:         "drop-format",
	DropInvalidNAK:     "drop-invalid-nak",
	DropDeclined:       "drop-declined",
	DropEmpty:          "drop-empty",
	DropNoSnapshot:     "drop-no-snapshot",
	ToPrivate:          "to-private",
	NewBClient:         "new-bclient",
	ToManycast:         "to-manycast",
	RepliedInterleaved: "replied-interleaved",
	DropOutShort:       "drop-out-short",
}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) && verdictNames[v] != "" {
		return verdictNames[v]
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// StampXmt reports whether the reply's transmit timestamp is still to be written by the
// caller (wire.PutXmt, as late as possible before the send). Respond leaves it zero so that
// a reply sent unstamped by mistake is rejected by every client as bogus rather than being
// believed; a KoD carries the request's timestamp instead and must be sent as it is.
func (v Verdict) StampXmt() bool { return v == Replied || v == RepliedPassive }

// Association matching actions (classic ntp_peer.c AM_*).
const (
	amNoMatch  = iota // not this association: treat as from a stranger
	amProcPkt         // the association's packet
	amFXmit           // client request: answer from the system variables
	amManycast        // server packet to no manycast client
	amNewPass         // symmetric active from a stranger
	amNewBcl          // broadcast from a stranger
	amErr             // refused (declined)
)

// matchAssoc is classic's MATCH_ASSOC table: row = host mode of the association with the
// packet's source address (0 none, 1 active, 2 passive, 3 client, 4 server, 5 broadcast,
// 6 broadcast client), column = packet mode 0..5.
var matchAssoc = [7][6]uint8{
	{amErr, amNewPass, amNoMatch, amFXmit, amManycast, amNewBcl},
	{amErr, amProcPkt, amProcPkt, amNoMatch, amNoMatch, amNoMatch},
	{amErr, amProcPkt, amErr, amNoMatch, amNoMatch, amNoMatch},
	{amErr, amNoMatch, amNoMatch, amNoMatch, amProcPkt, amNoMatch},
	{amErr, amNoMatch, amNoMatch, amNoMatch, amNoMatch, amNoMatch},
	{amErr, amNoMatch, amNoMatch, amNoMatch, amNoMatch, amNoMatch},
	{amErr, amNoMatch, amNoMatch, amNoMatch, amNoMatch, amProcPkt},
}

// Respond decides what to do with one received datagram req and writes the reply, if any,
// into out, returning its length (0 = send nothing) and the verdict. rx is the kernel's
// receive timestamp of req (T2), snap the engine's latest snapshot, src what the caller
// knows of the sender. out must hold MaxReplyLen octets.
//
// The transmit timestamp (T3) is NOT written: when verdict.StampXmt() is true the caller
// writes it with wire.PutXmt(out[:n], now) immediately before sending, and then calls Seal,
// which computes the MAC of an authenticated reply. Respond does not allocate, never panics on any req, and counts every
// datagram in exactly the classic ss_* counters classic ntpd 4.2.8p15 would.
//
// The checks run in classic receive()'s order, which decides the counters:
//
//  1. source port 0: bad format;
//  2. `ignore`: restricted;
//  3. mode 7: restricted (mode 7 is never served);
//  4. mode 6: handed to control, or restricted under `noquery`;
//  5. `noserve`: restricted;
//  6. under 48 octets: bad format;
//  7. version 4 counts in ss_thisver, 1-3 in ss_oldver (bad format under `restrict
//     version`); version 0 is bad format. Classic also counts versions 5-7 as "old" and
//     answers them with a reply carrying the request's version number; gontp drops them as
//     bad format instead, because a version-5 client would misread an NTPv4 reply labelled
//     version 5;
//  8. mode 0: a version-1 client request, else bad format;
//  9. what follows the header: extension fields and/or a MAC (wire.Decode), else bad format;
//  10. `notrust` without a MAC (or, while the NTS responder runs, an NTS authenticator):
//     restricted;
//  11. rate limited: ss_limited, and a RATE KoD when due (never to modes 4 and 5);
//  12. exactly 4 octets after the header are a crypto-NAK, which only the peer of an
//     association may send (it goes to the engine, which drops it without a trace, as
//     classic 4.2.8p15 is observed to); from anyone else it is dropped uncounted
//     ("Invalid-NAK error" in classic's log);
//  13. the association match (Source.AssocMode): the association's own packets are handed
//     on, refused ones declined;
//  14. from a stranger, a client request is answered (mode 4); a symmetric-active packet
//     mobilises a passive association where classic's would (NewPassive: `disable auth`,
//     no `nopeer`, no `noepeer`), is declined under `noepeer`, and otherwise gets a mode-2
//     answer without an association; symmetric passive is declined; broadcast and server
//     packets are restricted.
//
// Authentication (classic receive() and fast_xmit): a request whose MAC verifies with a key
// trusted for its source (SetKeys) is answered with a MAC of the same key (Seal). A MAC that
// fails (unknown or untrusted key, wrong digest) gets a reply with a crypto-NAK (4 zero
// octets) and ss_badauth counts it; a symmetric peer gets a mode-2 reply with a crypto-NAK,
// counted as restricted. A request with extension fields but no MAC also gets a crypto-NAK
// appended (classic fast_xmit authenticates every reply to a longer-than-48-octet request),
// uncounted. Under `restrict notrust` a request must carry a MAC (else restricted) and a
// bad one gets the crypto-NAK. A KoD to a request with a usable key is signed with it.
func (s *Server) Respond(req []byte, rx ntptime.Time, snap *snapshot.Snapshot, src Source, out []byte) (int, Verdict) {
	c := &s.c
	if len(req) == 0 {
		c.empty.Add(1)
		return 0, DropEmpty
	}
	c.received.Add(1)
	if src.BogusPort {
		c.badFormat.Add(1)
		c.bogusPort.Add(1)
		return 0, DropFormat
	}
	rflags := src.Restrict
	if rflags&RestrictIgnore != 0 {
		c.restricted.Add(1)
		return 0, DropRestricted
	}
	version := req[0] >> 3 & 7
	mode := req[0] & 7
	switch mode {
	case wire.ModePrivate:
		if src.Mode7 && rflags&RestrictNoQuery == 0 {
			c.private.Add(1)
			return 0, ToPrivate
		}
		c.restricted.Add(1)
		c.private.Add(1)
		return 0, DropPrivate
	case wire.ModeControl:
		if rflags&RestrictNoQuery != 0 {
			c.restricted.Add(1)
			return 0, DropRestricted
		}
		c.control.Add(1)
		return 0, ToControl
	}
	if rflags&RestrictNoServe != 0 {
		c.restricted.Add(1)
		return 0, DropRestricted
	}
	if len(req) < wire.HeaderLen {
		c.badFormat.Add(1)
		c.short.Add(1)
		return 0, DropFormat
	}
	switch {
	case version == wire.VersionMax:
		c.thisVer.Add(1)
	case version >= wire.VersionMin && version < wire.VersionMax && rflags&RestrictVersion == 0:
		c.oldVer.Add(1)
	default:
		c.badFormat.Add(1)
		c.badVersion.Add(1)
		return 0, DropFormat
	}
	if mode == wire.ModeReserved && version != 1 {
		c.badFormat.Add(1)
		c.badMode.Add(1)
		return 0, DropFormat
	}
	var p wire.Packet
	tr, err := wire.Decode(req, &p)
	if err != nil {
		c.badFormat.Add(1)
		switch {
		case errors.Is(err, wire.ErrExtLength):
			c.badExtLength.Add(1)
		case errors.Is(err, wire.ErrExtOverrun):
			c.badExtOverrun.Add(1)
		default: // wire.ErrTrailerAlign, or any defect wire learns to name later
			c.badTrailer.Add(1)
		}
		return 0, DropFormat
	}
	mode = p.Mode // a version-1 mode 0 is a client request
	if rflags&RestrictNoTrust != 0 && !tr.HasMAC && !(s.acceptNTS.Load() && tr.HasNTSAuthenticator()) {
		c.restricted.Add(1)
		return 0, DropRestricted
	}
	if snap == nil {
		c.noSnapshot.Add(1)
		return 0, DropNoSnapshot
	}
	if len(out) < MaxReplyLen {
		c.outShort.Add(1)
		return 0, DropOutShort
	}
	// A MAC's key ID, kept for the reply as classic's skeyid: it decides whether a KoD to
	// a longer request carries a crypto-NAK (key ID 0) or nothing (an unknown key).
	var keyID uint32
	if tr.HasMAC {
		keyID = tr.KeyID
	}
	if rflags&RestrictLimited != 0 {
		c.limited.Add(1)
		if rflags&RestrictKoD == 0 || mode == wire.ModeBroadcast || mode == wire.ModeServer {
			return 0, DropRateLimited
		}
		kmode := uint8(wire.ModeSymActive)
		if mode == wire.ModeClient {
			kmode = wire.ModeServer
		}
		n := s.kiss(req, version, kmode, out)
		switch {
		case len(req) > wire.HeaderLen && keyID == 0:
			n += putNAK(out[n:])
			c.cryptoNAKs.Add(1)
		case keyID != 0:
			// classic signs the kiss with the request's key ID before authenticating the
			// request; an unknown key adds nothing.
			if m := s.putMAC(out[n:], keyID); m > 0 {
				s.Seal(out[:n+m])
				n += m
			}
		}
		c.kodSent.Add(1)
		return n, KissOfDeath
	}

	action := uint8(amNoMatch)
	if int(src.AssocMode) < len(matchAssoc) && src.AssocMode != 0 {
		action = matchAssoc[src.AssocMode][mode]
	}
	// Classic's valid_NAK: exactly one word after the header is a crypto-NAK, valid only
	// from a server or symmetric peer of one of our associations.
	if len(req) == wire.HeaderLen+wire.NAKLen && action != amProcPkt {
		c.invalidNAK.Add(1)
		return 0, DropInvalidNAK
	}
	switch action {
	case amProcPkt:
		c.toAssoc.Add(1)
		return 0, ToAssociation
	case amErr:
		c.declined.Add(1)
		return 0, DropDeclined
	}
	action = matchAssoc[0][mode]
	// A MAC is AUTH_OK or AUTH_ERROR; without one the packet is AUTH_NONE.
	authOK := tr.HasMAC && s.authenticate(req, &tr, src.Addr)
	authError := tr.HasMAC && !authOK
	switch action {
	case amFXmit:
		if src.Manycast {
			if v := s.manycastRefusal(&p, &snap.Sys, src, rflags, authOK, authError); v != 0 {
				return 0, v
			}
		}
		n := s.reply(req, &p, version, wire.ModeServer, rx, &snap.Sys, out)
		verdict := Replied
		if !authError && !src.Manycast {
			if tx, ok := s.interleaved(req, &p, tr.NumExt, src.Addr); ok {
				// Origin: the request's receive field; transmit: our previous reply's
				// real departure time (xleave.go).
				wire.PutOrg(out[:n], p.Rec)
				wire.PutXmt(out[:n], tx)
				verdict = RepliedInterleaved
				c.interleaved.Add(1)
			}
		}
		n += s.trailer(out[n:], len(req), authOK, authError, keyID)
		if authError {
			c.badAuth.Add(1)
		}
		c.replies.Add(1)
		return n, verdict
	case amNewPass:
		// Classic receive(), AM_NEWPASS. An association needs an authenticated packet
		// unless `disable auth`; `nopeer` and `notrust` make authentication required
		// anyway (AUTH(sys_authenticate | (restrict & (RES_NOPEER|RES_DONTTRUST)))).
		required := !s.noAuth.Load() || rflags&(RestrictNoPeer|RestrictNoTrust) != 0
		if required && !authOK || !required && authError {
			// Not allowed to mobilise: a mode-2 answer without an association (classic
			// keeps it "for broken Windows clients"). A bad MAC gets the answer with a
			// crypto-NAK and counts as restricted.
			n := s.reply(req, &p, version, wire.ModeSymPassive, rx, &snap.Sys, out)
			n += s.trailer(out[n:], len(req), authOK, authError, keyID)
			if authError {
				c.restricted.Add(1)
			}
			c.passiveReplies.Add(1)
			return n, RepliedPassive
		}
		if rflags&RestrictNoEPeer != 0 {
			c.declined.Add(1)
			return 0, DropDeclined
		}
		// "No help": a synchronised peer outside the stratum range, stratum 0 counting
		// as 16 (classic PKT_TO_STRATUM); an unsynchronised one may synchronise to us.
		st, rng := p.Stratum, s.strata.Load()
		if st == wire.StratumUnspec || st > wire.StratumUnsynched {
			st = wire.StratumUnsynched
		}
		if p.Leap != wire.LeapAlarm && (uint32(st) < rng>>8 || uint32(st) >= rng&0xff) {
			c.declined.Add(1)
			return 0, DropDeclined
		}
		c.toAssoc.Add(1)
		return 0, NewPassive
	case amNoMatch, amErr:
		c.declined.Add(1)
		return 0, DropDeclined
	case amNewBcl:
		// Classic receive(), AM_NEWBCL: only a broadcast client takes broadcasts, and
		// it needs them authenticated unless `disable auth` (`nopeer` and `notrust`
		// make it required anyway); a bad MAC never mobilises anything.
		required := !s.noAuth.Load() || rflags&(RestrictNoPeer|RestrictNoTrust) != 0
		if !s.bclient.Load() || authError || required && !authOK {
			c.restricted.Add(1)
			return 0, DropRestricted
		}
		c.toAssoc.Add(1)
		return 0, NewBClient
	case amManycast:
		required := !s.noAuth.Load() || rflags&(RestrictNoPeer|RestrictNoTrust) != 0
		if !s.acast.Load() || authError || required && !authOK {
			c.restricted.Add(1)
			return 0, DropRestricted
		}
		c.toAssoc.Add(1)
		return 0, ToManycast
	default:
		c.restricted.Add(1)
		return 0, DropRestricted
	}
}

// SetStratumRange applies `tos floor` and `tos ceiling` (Config.Floor, Config.Ceiling).
func (s *Server) SetStratumRange(floor, ceiling uint8) {
	if ceiling == 0 {
		ceiling = DefaultCeiling
	}
	s.strata.Store(uint32(floor)<<8 | uint32(ceiling))
}

// DefaultCeiling is classic's `tos ceiling` (sys_ceiling, 15).
const DefaultCeiling = 15

// SetNoAuth applies `enable/disable auth` from a reloaded configuration (Config.NoAuth).
func (s *Server) SetNoAuth(noAuth bool) { s.noAuth.Store(noAuth) }

// manycastRefusal decides on a manycast client's request that arrived on a group socket
// (classic receive(), AM_FXMIT with INT_MCASTOPEN), counting a refusal: only with
// `manycastserver` (else restricted); only while synchronised at a stratum below the
// client's (stratum 0 counting as 16), not at exactly one above it (classic's sys_cohort
// off), and not to a client already synchronised to us (its refid is our address) — all
// declined; and only authenticated unless `disable auth` (`nopeer`, `notrust` make it
// required), else restricted. Without an answer a manycast client never learns we exist.
func (s *Server) manycastRefusal(p *wire.Packet, sys *snapshot.SysVars, src Source, rflags Restrict, authOK, authError bool) Verdict {
	c := &s.c
	if !s.mcast.Load() {
		c.restricted.Add(1)
		return DropRestricted
	}
	his := p.Stratum
	if his == wire.StratumUnspec || his > wire.StratumUnsynched {
		his = wire.StratumUnsynched
	}
	ours := sys.Stratum
	mine := src.ManycastLocal.Is4() && p.RefID == binary.BigEndian.Uint32(src.ManycastLocal.AsSlice())
	if sys.Leap == wire.LeapAlarm || ours >= his || ours == his+1 || mine {
		c.declined.Add(1)
		return DropDeclined
	}
	required := !s.noAuth.Load() || rflags&(RestrictNoPeer|RestrictNoTrust) != 0
	if authError || required && !authOK {
		c.restricted.Add(1)
		return DropRestricted
	}
	return 0
}

// SetManycastServer applies `manycastserver` from a reloaded configuration.
func (s *Server) SetManycastServer(on bool) { s.mcast.Store(on) }

// SetManycastClient applies a reloaded configuration's `manycastclient` lines
// (Config.ManycastClient).
func (s *Server) SetManycastClient(on bool) { s.acast.Store(on) }

// SetBClient applies `broadcastclient`/`multicastclient` from a reloaded configuration
// (Config.BClient).
func (s *Server) SetBClient(on bool) { s.bclient.Store(on) }

// trailer appends what follows a reply's header: room for the MAC of the request's key when
// the request authenticated, else a crypto-NAK when it had a bad MAC or was longer than a
// bare header (classic fast_xmit calls authencrypt for every such request, with key 0 when
// the request did not authenticate).
func (s *Server) trailer(out []byte, reqLen int, authOK, authError bool, keyID uint32) int {
	if authOK {
		if m := s.putMAC(out, keyID); m > 0 {
			return m
		}
	}
	if authError || reqLen > wire.HeaderLen {
		s.c.cryptoNAKs.Add(1)
		return putNAK(out)
	}
	return 0
}

// reply writes classic fast_xmit's normal reply header into out and returns its length.
// Leap, stratum, precision, refid, reftime, root delay and root dispersion come from the
// system variables; the version is the request's; origin is the request's transmit
// timestamp and receive is rx; transmit is left zero for the caller (StampXmt).
func (s *Server) reply(req []byte, p *wire.Packet, version, mode uint8, rx ntptime.Time, sys *snapshot.SysVars, out []byte) int {
	stratum := sys.Stratum
	if stratum >= wire.StratumUnsynched {
		stratum = wire.StratumUnspec // RFC 5905 figure 11: 16 goes out as 0
	}
	r := wire.Packet{
		Leap:      sys.Leap,
		Version:   version,
		Mode:      mode,
		Stratum:   stratum,
		Poll:      s.poll(req[2]),
		Precision: sys.Precision,
		RootDelay: truncShort(sys.RootDelay),
		RootDisp:  truncShort(rootDispAt(sys, rx)),
		RefID:     sys.RefID,
		RefTime:   sys.RefTime,
		Org:       p.Xmt,
		Rec:       rx,
	}
	return r.Encode(out)
}

// kiss writes classic fast_xmit's RATE kiss-o'-death: leap alarm, stratum 0, refid "RATE",
// and the request's own precision, root delay, root dispersion and reference time; all three
// timestamps are the request's transmit timestamp, so the kiss reveals nothing of our clock
// and cannot be used for synchronisation (RFC 5905 section 7.4).
func (s *Server) kiss(req []byte, version, mode uint8, out []byte) int {
	n := copy(out[:wire.HeaderLen], req[:wire.HeaderLen])
	out[0] = wire.LeapAlarm<<6 | version<<3 | mode
	out[1] = wire.StratumUnspec
	out[2] = byte(s.poll(req[2]))
	binary.BigEndian.PutUint32(out[12:], rateCode)
	copy(out[24:32], req[40:48])
	copy(out[32:40], req[40:48])
	return n
}

// rateCode is the RATE kiss code (RFC 5905 section 7.4).
var rateCode = wire.RefIDFromString("RATE")

// poll returns classic's max(request poll, ntp_minpoll), compared as unsigned octets exactly
// as fast_xmit does (so a negative request poll, read as 0x80..0xff, is echoed unchanged).
func (s *Server) poll(reqPoll byte) int8 {
	if reqPoll < s.minPoll {
		return int8(s.minPoll)
	}
	return int8(reqPoll)
}

// putNAK appends a crypto-NAK (RFC 5905 section 7.4: a key ID of zero and no digest).
func putNAK(b []byte) int {
	binary.BigEndian.PutUint32(b, 0)
	return wire.NAKLen
}

// rootDispAt is the root dispersion at t: RootDisp grown by PHI for every second since
// RootDispTime, as classic's once-a-second `sys_rootdisp += clock_phi` does (gontp grows it
// continuously; the difference is under one unit of the short format).
func rootDispAt(sys *snapshot.SysVars, t ntptime.Time) float64 {
	d := sys.RootDisp
	if sys.RootDispTime != 0 {
		if el := ntptime.Sub(t, sys.RootDispTime); el > 0 {
			d += snapshot.PHI * el.Seconds()
		}
	}
	return d
}

// truncShort converts seconds to the short format the way classic's DTOFP/DTOUFP do:
// truncating toward zero (ntptime.ShortFromSeconds rounds, which would differ from classic
// in the last bit), clamped to the format's range, NaN as 0.
func truncShort(sec float64) ntptime.Short {
	if !(sec > 0) {
		return 0
	}
	v := sec * 65536
	if v >= math.MaxUint32 {
		return math.MaxUint32
	}
	return ntptime.Short(v)
}
