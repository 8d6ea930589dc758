// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"sync/atomic"

	"gontp/internal/ntptime"
)

// Stats is a copy of the time server's counters. The first group are classic ntpd's system
// statistics (`ntpq -c sysstats`, the ss_* variables of compat.md 2.1) with classic's
// counting rules; the second group is gontp's own breakdown, mostly of what classic lumps
// into ss_badformat ("bad length or format").
type Stats struct {
	// Uptime is the whole seconds since the server started (ss_uptime) and SinceReset the
	// whole seconds since the counters were last reset (ss_reset), both as of the time passed
	// to Stats.
	Uptime, SinceReset uint64

	// Received counts every non-empty datagram Respond saw, any mode (ss_received).
	Received uint64
	// ThisVer and OldVer count time packets (not modes 6/7) of version 4 and of versions
	// 1-3 once they have passed the length and restrict checks (ss_thisver, ss_oldver).
	ThisVer, OldVer uint64
	// BadFormat counts packets dropped for length, version, mode 0 or a malformed trailer
	// (ss_badformat, classic sys_badlength).
	BadFormat uint64
	// BadAuth counts client requests whose MAC failed; they got a crypto-NAK (ss_badauth).
	BadAuth uint64
	// Declined counts symmetric-passive packets from strangers and packets the association
	// table refuses (ss_declined).
	Declined uint64
	// Restricted counts packets dropped by restrict flags, mode 7, broadcast/manycast server
	// packets nobody asked for, and unauthenticated symmetric peers (ss_restricted).
	Restricted uint64
	// Limited counts rate-limited packets (ss_limited), KoDSent the RATE kisses sent
	// (ss_kodsent).
	Limited, KoDSent uint64
	// Processed counts packets the associations accepted for time (ss_processed); the engine
	// reports them through Server.Processed.
	Processed uint64

	// Empty counts zero-length datagrams; classic ignores them without counting.
	Empty uint64
	// Short, BogusPort, BadVersion, BadMode, BadTrailer, BadExtLength and BadExtOverrun split
	// BadFormat: under 48 octets; source port 0; version 0, 5-7, or not 4 under `restrict
	// version`; mode 0 in a version 2-4 packet; octets after the header (or after the last
	// extension field) not a multiple of 4 or otherwise unusable; an extension field length
	// below 16 or not a multiple of 4; an extension field running past the datagram.
	Short, BogusPort, BadVersion, BadMode, BadTrailer, BadExtLength, BadExtOverrun uint64
	// InvalidNAK counts requests carrying exactly 4 octets after the header (a crypto-NAK
	// where none can be valid); classic logs "Invalid-NAK error" and drops them uncounted.
	InvalidNAK uint64
	// Control counts mode-6 packets handed to the control server; Private counts mode 7
	// (also in Restricted).
	Control, Private uint64
	// ToAssoc counts packets handed to an association.
	ToAssoc uint64
	// Replies counts mode-4 replies, PassiveReplies mode-2 replies to unknown symmetric
	// peers, CryptoNAKs the replies (of either kind, KoDs included) carrying a crypto-NAK.
	Replies, PassiveReplies, CryptoNAKs uint64
	// Interleaved counts the mode-4 replies (within Replies) sent in the interleaved mode
	// (xleave.go).
	Interleaved uint64
	// NoSnapshot counts packets dropped because the caller passed no snapshot, OutShort those
	// dropped because the reply buffer was shorter than MaxReplyLen. Both are caller bugs.
	NoSnapshot, OutShort uint64
}

// counters is the live, atomically updated form of Stats; readers never take a lock.
type counters struct {
	received, thisVer, oldVer, badFormat, badAuth, declined, restricted, limited, kodSent,
	processed atomic.Uint64

	empty, short, bogusPort, badVersion, badMode, badTrailer, badExtLength, badExtOverrun,
	invalidNAK, control, private, toAssoc, replies, passiveReplies, cryptoNAKs, noSnapshot,
	outShort, interleaved atomic.Uint64
}

func (c *counters) all() []*atomic.Uint64 {
	return []*atomic.Uint64{
		&c.received, &c.thisVer, &c.oldVer, &c.badFormat, &c.badAuth, &c.declined,
		&c.restricted, &c.limited, &c.kodSent, &c.processed,
		&c.empty, &c.short, &c.bogusPort, &c.badVersion, &c.badMode, &c.badTrailer,
		&c.badExtLength, &c.badExtOverrun, &c.invalidNAK, &c.control, &c.private, &c.toAssoc,
		&c.replies, &c.passiveReplies, &c.cryptoNAKs, &c.noSnapshot, &c.outShort,
		&c.interleaved,
	}
}

// Stats returns a copy of the counters as of now (for Uptime and SinceReset). Each counter is
// read atomically; the set is not one atomic snapshot, as in classic ntpd.
func (s *Server) Stats(now ntptime.Time) Stats {
	c := &s.c
	return Stats{
		Uptime:     wholeSeconds(now, s.start),
		SinceReset: wholeSeconds(now, ntptime.Time(s.resetAt.Load())),

		Received:   c.received.Load(),
		ThisVer:    c.thisVer.Load(),
		OldVer:     c.oldVer.Load(),
		BadFormat:  c.badFormat.Load(),
		BadAuth:    c.badAuth.Load(),
		Declined:   c.declined.Load(),
		Restricted: c.restricted.Load(),
		Limited:    c.limited.Load(),
		KoDSent:    c.kodSent.Load(),
		Processed:  c.processed.Load(),

		Empty:          c.empty.Load(),
		Short:          c.short.Load(),
		BogusPort:      c.bogusPort.Load(),
		BadVersion:     c.badVersion.Load(),
		BadMode:        c.badMode.Load(),
		BadTrailer:     c.badTrailer.Load(),
		BadExtLength:   c.badExtLength.Load(),
		BadExtOverrun:  c.badExtOverrun.Load(),
		InvalidNAK:     c.invalidNAK.Load(),
		Control:        c.control.Load(),
		Private:        c.private.Load(),
		ToAssoc:        c.toAssoc.Load(),
		Replies:        c.replies.Load(),
		PassiveReplies: c.passiveReplies.Load(),
		CryptoNAKs:     c.cryptoNAKs.Load(),
		NoSnapshot:     c.noSnapshot.Load(),
		OutShort:       c.outShort.Load(),
		Interleaved:    c.interleaved.Load(),
	}
}

// Reset zeroes every counter and restarts ss_reset at now, as ntpdc's `reset sys` does in
// classic ntpd. Packets counted concurrently with a Reset may land on either side of it.
func (s *Server) Reset(now ntptime.Time) {
	for _, v := range s.c.all() {
		v.Store(0)
	}
	s.resetAt.Store(uint64(now))
}

// Processed counts one packet that an association accepted for time (ss_processed). Classic
// counts it in the peer's receive path, which in gontp is the engine's.
func (s *Server) Processed() { s.c.processed.Add(1) }

// wholeSeconds returns the whole seconds from since to now, 0 if now is earlier.
func wholeSeconds(now, since ntptime.Time) uint64 {
	d := ntptime.Sub(now, since)
	if d <= 0 {
		return 0
	}
	return uint64(d.Seconds())
}
