// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"gontp/internal/snapshot"

	"github.com/google/go-cmp/cmp"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// The expectations below are what classic ntpd 4.2.8p15 answered to the same packets; see
// testdata/classic-observations.md for how they were observed and the raw probe output.

const (
	tStart = ntptime.Time(0xeeb58bc7_00000000) // daemon start
	tRx    = ntptime.Time(0xeeb58bca_edae908f) // a receive timestamp 3.93 s later
	reqXmt = ntptime.Time(0x33333333_33333333)
)

// unsyncSnap is classic's state before any synchronisation: leap 3, stratum 16, refid INIT,
// reftime 0, root delay 0, root dispersion growing from 0 at start.
func unsyncSnap() *snapshot.Snapshot {
	return &snapshot.Snapshot{Sys: snapshot.SysVars{
		Leap: wire.LeapAlarm, Stratum: wire.StratumUnsynched, Precision: -24, Poll: 6,
		RefID: wire.RefIDFromString("INIT"), RootDispTime: tStart,
	}}
}

// header builds the probe's request header: li/vn/mode and poll as given, stratum 0,
// precision -20, rootdelay 1 s, rootdisp 2 s, refid XYZZ, reftime 0x0102030405060708,
// org 0x11.., rec 0x22.., xmt 0x33.. (testdata/classicprobe/main.go).
func header(li, vn, mode uint8, poll int8) []byte {
	b := make([]byte, 48)
	b[0] = li<<6 | vn<<3 | mode
	b[2] = byte(poll)
	b[3] = 0xec
	binary.BigEndian.PutUint32(b[4:], 0x00010000)
	binary.BigEndian.PutUint32(b[8:], 0x00020000)
	binary.BigEndian.PutUint32(b[12:], 0x58595a5a)
	binary.BigEndian.PutUint64(b[16:], 0x0102030405060708)
	binary.BigEndian.PutUint64(b[24:], 0x1111111111111111)
	binary.BigEndian.PutUint64(b[32:], 0x2222222222222222)
	binary.BigEndian.PutUint64(b[40:], uint64(reqXmt))
	return b
}

func ext(typ uint16, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	return b
}

func mac(keyid uint32, digest int) []byte {
	b := make([]byte, 4+digest)
	binary.BigEndian.PutUint32(b, keyid)
	for i := 4; i < len(b); i++ {
		b[i] = 0xa5
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func junk(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func withXmt(b []byte, t ntptime.Time) []byte {
	binary.BigEndian.PutUint64(b[40:], uint64(t))
	return b
}

func allZeroButFirst() []byte {
	b := make([]byte, 48)
	b[0] = 4<<3 | 3
	return b
}

func extWithLen(typ uint16, n, lenField int) []byte {
	b := ext(typ, n)
	binary.BigEndian.PutUint16(b[2:], uint16(lenField))
	return b
}

// want is the expected outcome of one Respond call.
type want struct {
	verdict Verdict
	// reply fields when a reply is expected (verdict Replied or RepliedPassive)
	version uint8
	mode    uint8
	poll    int8
	org     ntptime.Time
	nak     bool // a 4-octet crypto-NAK follows the header
	stats   Stats
}

type respondCase struct {
	name string
	req  []byte
	src  Source
	want want
}

// reply expectations: mode-4 and mode-2 replies to the probe's header.
func served(vn uint8, poll int8, st Stats) want {
	return want{verdict: Replied, version: vn, mode: wire.ModeServer, poll: poll, org: reqXmt, stats: st}
}

func servedNAK(vn uint8, st Stats) want {
	w := served(vn, 6, st)
	w.nak = true
	return w
}

func passive(vn uint8, nak bool, st Stats) want {
	return want{verdict: RepliedPassive, version: vn, mode: wire.ModeSymPassive, poll: 6, org: reqXmt, nak: nak, stats: st}
}

func dropped(v Verdict, st Stats) want { return want{verdict: v, stats: st} }

// Observed with no restrict line (classic's default: no flags) and no association.
var defaultCases = []respondCase{
	{"v4-mode3", header(0, 4, 3, 6), Source{}, served(4, 6, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"v3-mode3", header(0, 3, 3, 6), Source{}, served(3, 6, Stats{Received: 1, OldVer: 1, Replies: 1})},
	{"v2-mode3", header(0, 2, 3, 6), Source{}, served(2, 6, Stats{Received: 1, OldVer: 1, Replies: 1})},
	{"v1-mode3", header(0, 1, 3, 6), Source{}, served(1, 6, Stats{Received: 1, OldVer: 1, Replies: 1})},
	{"v4-mode3-li3", header(3, 4, 3, 6), Source{}, served(4, 6, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"v4-mode3-poll0", header(0, 4, 3, 0), Source{}, served(4, 3, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"v4-mode3-poll2", header(0, 4, 3, 2), Source{}, served(4, 3, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"v4-mode3-poll17", header(0, 4, 3, 17), Source{}, served(4, 17, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"v4-mode3-poll-6", header(0, 4, 3, -6), Source{}, served(4, -6, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"v4-mode3-poll127", header(0, 4, 3, 127), Source{}, served(4, 127, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"v4-mode1", header(0, 4, 1, 6), Source{}, passive(4, false, Stats{Received: 1, ThisVer: 1, PassiveReplies: 1})},
	{"v3-mode1", header(0, 3, 1, 6), Source{}, passive(3, false, Stats{Received: 1, OldVer: 1, PassiveReplies: 1})},
	{"v4-mode1-li3", header(3, 4, 1, 6), Source{}, passive(4, false, Stats{Received: 1, ThisVer: 1, PassiveReplies: 1})},
	{"v4-mode2", header(0, 4, 2, 6), Source{}, dropped(DropDeclined, Stats{Received: 1, ThisVer: 1, Declined: 1})},
	{"v4-mode4", header(0, 4, 4, 6), Source{}, dropped(DropRestricted, Stats{Received: 1, ThisVer: 1, Restricted: 1})},
	{"v4-mode5", header(0, 4, 5, 6), Source{}, dropped(DropRestricted, Stats{Received: 1, ThisVer: 1, Restricted: 1})},
	{"v4-mode7", header(0, 4, 7, 6), Source{}, dropped(DropPrivate, Stats{Received: 1, Restricted: 1, Private: 1})},
	{"v2-mode7", header(0, 2, 7, 6), Source{}, dropped(DropPrivate, Stats{Received: 1, Restricted: 1, Private: 1})},
	{"len12-v2-mode7", header(0, 2, 7, 6)[:12], Source{}, dropped(DropPrivate, Stats{Received: 1, Restricted: 1, Private: 1})},
	{"len8-v2-mode6", header(0, 2, 6, 6)[:8], Source{}, dropped(ToControl, Stats{Received: 1, Control: 1})},
	{"v1-mode0", header(0, 1, 0, 6), Source{}, served(1, 6, Stats{Received: 1, OldVer: 1, Replies: 1})},
	{"v4-mode0", header(0, 4, 0, 6), Source{}, dropped(DropFormat, Stats{Received: 1, ThisVer: 1, BadFormat: 1, BadMode: 1})},
	{"v2-mode0", header(0, 2, 0, 6), Source{}, dropped(DropFormat, Stats{Received: 1, OldVer: 1, BadFormat: 1, BadMode: 1})},
	{"v0-mode3", header(0, 0, 3, 6), Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BadVersion: 1})},
	// Deviation: classic answers versions 5-7 (echoing the version, counted in ss_oldver).
	{"v5-mode3", header(0, 5, 3, 6), Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BadVersion: 1})},
	{"v6-mode3", header(0, 6, 3, 6), Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BadVersion: 1})},
	{"v7-mode3", header(0, 7, 3, 6), Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BadVersion: 1})},
	{"v5-mode1", header(0, 5, 1, 6), Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BadVersion: 1})},
	{"len0", []byte{}, Source{}, dropped(DropEmpty, Stats{Empty: 1})},
	{"len1-v4-mode3", []byte{0x23}, Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, Short: 1})},
	{"len47-v4-mode3", header(0, 4, 3, 6)[:47], Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, Short: 1})},
	{"len47-v3-mode3", header(0, 3, 3, 6)[:47], Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, Short: 1})},
	{"len47-v0-mode3", header(0, 0, 3, 6)[:47], Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, Short: 1})},
	{"len12-v4-mode1", header(0, 4, 1, 6)[:12], Source{}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, Short: 1})},
	{"len49", cat(header(0, 4, 3, 6), junk(1)), Source{}, dropped(DropFormat, Stats{Received: 1, ThisVer: 1, BadFormat: 1, BadTrailer: 1})},
	{"len50", cat(header(0, 4, 3, 6), junk(2)), Source{}, dropped(DropFormat, Stats{Received: 1, ThisVer: 1, BadFormat: 1, BadTrailer: 1})},
	// junk's first word reads as an extension field of 0x1118 octets: past the end
	{"len1048-junk", cat(header(0, 4, 3, 6), junk(1000)), Source{}, dropped(DropFormat, Stats{Received: 1, ThisVer: 1, BadFormat: 1, BadExtOverrun: 1})},
	{"len1048-zeros", cat(header(0, 4, 3, 6), make([]byte, 1000)), Source{}, dropped(DropFormat, Stats{Received: 1, ThisVer: 1, BadFormat: 1, BadExtLength: 1})},
	{"nak-from-client", cat(header(0, 4, 3, 6), mac(0, 0)), Source{}, dropped(DropInvalidNAK, Stats{Received: 1, ThisVer: 1, InvalidNAK: 1})},
	{"keyid1-only-4", cat(header(0, 4, 3, 6), mac(1, 0)), Source{}, dropped(DropInvalidNAK, Stats{Received: 1, ThisVer: 1, InvalidNAK: 1})},
	{"mac8", cat(header(0, 4, 3, 6), mac(1, 4)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"mac12", cat(header(0, 4, 3, 6), mac(1, 8)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"mac16", cat(header(0, 4, 3, 6), mac(1, 12)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"mac-md5-key1", cat(header(0, 4, 3, 6), mac(1, 16)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"mac-sha1-key1", cat(header(0, 4, 3, 6), mac(1, 20)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"mac-md5-key0", cat(header(0, 4, 3, 6), mac(0, 16)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"mac-md5-key65535", cat(header(0, 4, 3, 6), mac(65535, 16)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"mac-md5-key70000", cat(header(0, 4, 3, 6), mac(70000, 16)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"v3-mac-md5-key1", cat(header(0, 3, 3, 6), mac(1, 16)), Source{}, servedNAK(3, Stats{Received: 1, OldVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"v1-mac-md5-key1", cat(header(0, 1, 3, 6), mac(1, 16)), Source{}, servedNAK(1, Stats{Received: 1, OldVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	// 28 octets are too long for a MAC: read as an extension field of length 1
	{"mac28", cat(header(0, 4, 3, 6), mac(1, 24)), Source{}, dropped(DropFormat, Stats{Received: 1, ThisVer: 1, BadFormat: 1, BadExtLength: 1})},
	// 16 octets are short enough to be a MAC (key ID 0x01040010), which fails
	{"ext16", cat(header(0, 4, 3, 6), ext(0x0104, 16)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	// an extension field and no MAC: the reply still carries a crypto-NAK, but no bad auth
	{"ext28", cat(header(0, 4, 3, 6), ext(0x0104, 28)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, Replies: 1, CryptoNAKs: 1})},
	{"ext28-mac-md5", cat(header(0, 4, 3, 6), ext(0x0104, 28), mac(1, 16)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"ext28-nak", cat(header(0, 4, 3, 6), ext(0x0104, 28), mac(0, 0)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"ext16-ext16", cat(header(0, 4, 3, 6), ext(0x0104, 16), ext(0x0204, 16)), Source{}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"ext-len14", cat(header(0, 4, 3, 6), extWithLen(0x0104, 16, 14), make([]byte, 16)), Source{}, dropped(DropFormat, Stats{Received: 1, ThisVer: 1, BadFormat: 1, BadExtLength: 1})},
	{"ext-len64-overrun", cat(header(0, 4, 3, 6), extWithLen(0x0104, 16, 64), make([]byte, 16)), Source{}, dropped(DropFormat, Stats{Received: 1, ThisVer: 1, BadFormat: 1, BadExtOverrun: 1})},
	{"v3-ext28", cat(header(0, 3, 3, 6), ext(0x0104, 28)), Source{}, servedNAK(3, Stats{Received: 1, OldVer: 1, Replies: 1, CryptoNAKs: 1})},
	{"mode1-mac-md5-key1", cat(header(0, 4, 1, 6), mac(1, 16)), Source{}, passive(4, true, Stats{Received: 1, ThisVer: 1, Restricted: 1, PassiveReplies: 1, CryptoNAKs: 1})},
	{"mode1-nak", cat(header(0, 4, 1, 6), mac(0, 0)), Source{}, dropped(DropInvalidNAK, Stats{Received: 1, ThisVer: 1, InvalidNAK: 1})},
	{"mode1-ext28", cat(header(0, 4, 1, 6), ext(0x0104, 28)), Source{}, passive(4, true, Stats{Received: 1, ThisVer: 1, PassiveReplies: 1, CryptoNAKs: 1})},
	{"zero-xmt", withXmt(header(0, 4, 3, 6), 0), Source{}, want{verdict: Replied, version: 4, mode: 4, poll: 6, org: 0, stats: Stats{Received: 1, ThisVer: 1, Replies: 1}}},
	{"all-zero-but-first", allZeroButFirst(), Source{}, want{verdict: Replied, version: 4, mode: 4, poll: 3, org: 0, stats: Stats{Received: 1, ThisVer: 1, Replies: 1}}},
}

// Observed with `restrict default FLAG` (the flags are what the restrict matcher yields).
var restrictCases = []respondCase{
	{"version/v4-mode3", header(0, 4, 3, 6), Source{Restrict: RestrictVersion}, served(4, 6, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"version/v3-mode3", header(0, 3, 3, 6), Source{Restrict: RestrictVersion}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BadVersion: 1})},
	{"version/v4-mode1", header(0, 4, 1, 6), Source{Restrict: RestrictVersion}, passive(4, false, Stats{Received: 1, ThisVer: 1, PassiveReplies: 1})},
	{"version/v3-mode1", header(0, 3, 1, 6), Source{Restrict: RestrictVersion}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BadVersion: 1})},
	{"version/v1-mode0", header(0, 1, 0, 6), Source{Restrict: RestrictVersion}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BadVersion: 1})},
	{"version/len47-v3", header(0, 3, 3, 6)[:47], Source{Restrict: RestrictVersion}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, Short: 1})},

	{"notrust/v4-mode3", header(0, 4, 3, 6), Source{Restrict: RestrictNoTrust}, dropped(DropRestricted, Stats{Received: 1, ThisVer: 1, Restricted: 1})},
	{"notrust/v4-mode1", header(0, 4, 1, 6), Source{Restrict: RestrictNoTrust}, dropped(DropRestricted, Stats{Received: 1, ThisVer: 1, Restricted: 1})},
	{"notrust/v4-mode2", header(0, 4, 2, 6), Source{Restrict: RestrictNoTrust}, dropped(DropRestricted, Stats{Received: 1, ThisVer: 1, Restricted: 1})},
	{"notrust/v4-mode4", header(0, 4, 4, 6), Source{Restrict: RestrictNoTrust}, dropped(DropRestricted, Stats{Received: 1, ThisVer: 1, Restricted: 1})},
	{"notrust/nak-from-client", cat(header(0, 4, 3, 6), mac(0, 0)), Source{Restrict: RestrictNoTrust}, dropped(DropInvalidNAK, Stats{Received: 1, ThisVer: 1, InvalidNAK: 1})},
	{"notrust/mac-md5-key1", cat(header(0, 4, 3, 6), mac(1, 16)), Source{Restrict: RestrictNoTrust}, servedNAK(4, Stats{Received: 1, ThisVer: 1, BadAuth: 1, Replies: 1, CryptoNAKs: 1})},
	{"notrust/ext28", cat(header(0, 4, 3, 6), ext(0x0104, 28)), Source{Restrict: RestrictNoTrust}, dropped(DropRestricted, Stats{Received: 1, ThisVer: 1, Restricted: 1})},
	{"notrust/mode1-mac-md5-key1", cat(header(0, 4, 1, 6), mac(1, 16)), Source{Restrict: RestrictNoTrust}, passive(4, true, Stats{Received: 1, ThisVer: 1, Restricted: 1, PassiveReplies: 1, CryptoNAKs: 1})},

	{"limited/v4-mode3", header(0, 4, 3, 6), Source{Restrict: RestrictLimited}, dropped(DropRateLimited, Stats{Received: 1, ThisVer: 1, Limited: 1})},
	{"limited/v3-mode3", header(0, 3, 3, 6), Source{Restrict: RestrictLimited}, dropped(DropRateLimited, Stats{Received: 1, OldVer: 1, Limited: 1})},
	{"limited/v4-mode1", header(0, 4, 1, 6), Source{Restrict: RestrictLimited}, dropped(DropRateLimited, Stats{Received: 1, ThisVer: 1, Limited: 1})},
	{"limited-kod/v4-mode4", header(0, 4, 4, 6), Source{Restrict: RestrictLimited | RestrictKoD}, dropped(DropRateLimited, Stats{Received: 1, ThisVer: 1, Limited: 1})},
	{"limited-kod/v4-mode5", header(0, 4, 5, 6), Source{Restrict: RestrictLimited | RestrictKoD}, dropped(DropRateLimited, Stats{Received: 1, ThisVer: 1, Limited: 1})},

	{"noserve/v4-mode3", header(0, 4, 3, 6), Source{Restrict: RestrictNoServe}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},
	{"noserve/v4-mode1", header(0, 4, 1, 6), Source{Restrict: RestrictNoServe}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},
	{"noserve/v0-mode3", header(0, 0, 3, 6), Source{Restrict: RestrictNoServe}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},
	{"noserve/len47", header(0, 4, 3, 6)[:47], Source{Restrict: RestrictNoServe}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},
	{"noserve/v4-mode7", header(0, 4, 7, 6), Source{Restrict: RestrictNoServe}, dropped(DropPrivate, Stats{Received: 1, Restricted: 1, Private: 1})},
	{"noserve/mode6", header(0, 2, 6, 6)[:8], Source{Restrict: RestrictNoServe}, dropped(ToControl, Stats{Received: 1, Control: 1})},

	{"ignore/v4-mode3", header(0, 4, 3, 6), Source{Restrict: RestrictIgnore}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},
	{"ignore/v4-mode7", header(0, 4, 7, 6), Source{Restrict: RestrictIgnore}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},
	{"ignore/len47", header(0, 4, 3, 6)[:47], Source{Restrict: RestrictIgnore}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},
	{"ignore/mode6", header(0, 2, 6, 6)[:8], Source{Restrict: RestrictIgnore}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},

	{"noquery/v4-mode3", header(0, 4, 3, 6), Source{Restrict: RestrictNoQuery}, served(4, 6, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"noquery/v4-mode7", header(0, 4, 7, 6), Source{Restrict: RestrictNoQuery}, dropped(DropPrivate, Stats{Received: 1, Restricted: 1, Private: 1})},
	{"noquery/mode6", header(0, 2, 6, 6)[:8], Source{Restrict: RestrictNoQuery}, dropped(DropRestricted, Stats{Received: 1, Restricted: 1})},

	// Not observable without a configured association; classic's MATCH_ASSOC table.
	{"assoc-client/mode4", header(0, 4, 4, 6), Source{AssocMode: wire.ModeClient}, dropped(ToAssociation, Stats{Received: 1, ThisVer: 1, ToAssoc: 1})},
	{"assoc-client/mode3", header(0, 4, 3, 6), Source{AssocMode: wire.ModeClient}, served(4, 6, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	{"assoc-client/mode1", header(0, 4, 1, 6), Source{AssocMode: wire.ModeClient}, passive(4, false, Stats{Received: 1, ThisVer: 1, PassiveReplies: 1})},
	{"assoc-active/mode1", header(0, 4, 1, 6), Source{AssocMode: wire.ModeSymActive}, dropped(ToAssociation, Stats{Received: 1, ThisVer: 1, ToAssoc: 1})},
	{"assoc-active/mode2", header(0, 4, 2, 6), Source{AssocMode: wire.ModeSymActive}, dropped(ToAssociation, Stats{Received: 1, ThisVer: 1, ToAssoc: 1})},
	{"assoc-passive/mode1", header(0, 4, 1, 6), Source{AssocMode: wire.ModeSymPassive}, dropped(ToAssociation, Stats{Received: 1, ThisVer: 1, ToAssoc: 1})},
	{"assoc-passive/mode2", header(0, 4, 2, 6), Source{AssocMode: wire.ModeSymPassive}, dropped(DropDeclined, Stats{Received: 1, ThisVer: 1, Declined: 1})},
	{"assoc-bclient/mode5", header(0, 4, 5, 6), Source{AssocMode: HostModeBroadcastClient}, dropped(ToAssociation, Stats{Received: 1, ThisVer: 1, ToAssoc: 1})},
	{"assoc-bogus-mode/mode3", header(0, 4, 3, 6), Source{AssocMode: 200}, served(4, 6, Stats{Received: 1, ThisVer: 1, Replies: 1})},
	// A crypto-NAK from an association's server goes to the engine, which accepts it only
	// when the association uses a key and the NAK answers its last request.
	{"assoc-client/mode4-nak", cat(header(0, 4, 4, 6), mac(0, 0)), Source{AssocMode: wire.ModeClient}, dropped(ToAssociation, Stats{Received: 1, ThisVer: 1, ToAssoc: 1})},
	{"stranger/mode4-nak", cat(header(0, 4, 4, 6), mac(0, 0)), Source{}, dropped(DropInvalidNAK, Stats{Received: 1, ThisVer: 1, InvalidNAK: 1})},

	{"bogus-port", header(0, 4, 3, 6), Source{BogusPort: true}, dropped(DropFormat, Stats{Received: 1, BadFormat: 1, BogusPort: 1})},
}

func TestRespond(t *testing.T) {
	for _, group := range [][]respondCase{defaultCases, restrictCases} {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) {
				checkRespond(t, tc)
			})
		}
	}
}

func checkRespond(t *testing.T, tc respondCase) {
	t.Helper()
	s := New(Config{}, tStart)
	snap := unsyncSnap()
	out := make([]byte, MaxReplyLen)
	for i := range out {
		out[i] = 0xee // so that unwritten octets show
	}
	n, v := s.Respond(tc.req, tRx, snap, tc.src, out)
	if v != tc.want.verdict {
		t.Errorf("verdict = %v, want %v", v, tc.want.verdict)
	}
	if d := cmp.Diff(tc.want.stats, s.Stats(tStart)); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	if v != Replied && v != RepliedPassive {
		if n != 0 && v != KissOfDeath {
			t.Errorf("n = %d with verdict %v, want 0", n, v)
		}
		return
	}
	wantN := wire.HeaderLen
	if tc.want.nak {
		wantN += wire.NAKLen
	}
	if n != wantN {
		t.Fatalf("n = %d, want %d", n, wantN)
	}
	var got wire.Packet
	if err := wire.DecodeHeader(out[:n], &got); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	wantPkt := wire.Packet{
		Leap: wire.LeapAlarm, Version: tc.want.version, Mode: tc.want.mode, Stratum: 0,
		Poll: tc.want.poll, Precision: -24, RootDelay: 0,
		RootDisp: truncShort(snapshot.PHI * ntptime.Sub(tRx, tStart).Seconds()),
		RefID:    wire.RefIDFromString("INIT"), RefTime: 0, Org: tc.want.org, Rec: tRx, Xmt: 0,
	}
	if d := cmp.Diff(wantPkt, got); d != "" {
		t.Errorf("reply header (-want +got):\n%s", d)
	}
	if tc.want.nak {
		if k := binary.BigEndian.Uint32(out[48:52]); k != 0 {
			t.Errorf("crypto-NAK key ID = %#x, want 0", k)
		}
	}
	if !v.StampXmt() {
		t.Errorf("%v.StampXmt() = false", v)
	}
}

// TestKissOfDeath checks the RATE kiss classic sends for a rate-limited packet when a KoD is
// due: leap 3, stratum 0, refid RATE, poll max(request, 3), the request's own precision, root
// delay, root dispersion and reference time, and its transmit timestamp in org, rec and xmt.
// Mode 4 answers a client, mode 1 anyone else; a request longer than 48 octets gets a
// crypto-NAK only if its key ID was 0 (an unknown key adds nothing).
func TestKissOfDeath(t *testing.T) {
	kod := Source{Restrict: RestrictLimited | RestrictKoD}
	cases := []struct {
		name      string
		req       []byte
		vn, mode  uint8
		poll      int8
		n         int
		thisOrOld Stats
	}{
		{"v4-mode3", header(0, 4, 3, 6), 4, 4, 6, 48, Stats{ThisVer: 1}},
		{"v4-mode3-poll0", header(0, 4, 3, 0), 4, 4, 3, 48, Stats{ThisVer: 1}},
		{"v4-mode1", header(0, 4, 1, 6), 4, 1, 6, 48, Stats{ThisVer: 1}},
		{"v4-mode2", header(0, 4, 2, 6), 4, 1, 6, 48, Stats{ThisVer: 1}},
		{"v1-mode0", header(0, 1, 0, 6), 1, 4, 6, 48, Stats{OldVer: 1}},
		{"mac-md5-key1", cat(header(0, 4, 3, 6), mac(1, 16)), 4, 4, 6, 48, Stats{ThisVer: 1}},
		{"ext28", cat(header(0, 4, 3, 6), ext(0x0104, 28)), 4, 4, 6, 52, Stats{ThisVer: 1, CryptoNAKs: 1}},
		{"nak-from-client", cat(header(0, 4, 3, 6), mac(0, 0)), 4, 4, 6, 52, Stats{ThisVer: 1, CryptoNAKs: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{}, tStart)
			out := make([]byte, MaxReplyLen)
			n, v := s.Respond(tc.req, tRx, unsyncSnap(), kod, out)
			if v != KissOfDeath || n != tc.n {
				t.Fatalf("Respond = %d, %v; want %d, %v", n, v, tc.n, KissOfDeath)
			}
			if v.StampXmt() {
				t.Error("KissOfDeath.StampXmt() = true; the kiss must keep the request's timestamp")
			}
			var got, req wire.Packet
			if err := wire.DecodeHeader(out[:n], &got); err != nil {
				t.Fatal(err)
			}
			if err := wire.DecodeHeader(tc.req, &req); err != nil {
				t.Fatal(err)
			}
			want := wire.Packet{
				Leap: wire.LeapAlarm, Version: tc.vn, Mode: tc.mode, Stratum: 0, Poll: tc.poll,
				Precision: req.Precision, RootDelay: req.RootDelay, RootDisp: req.RootDisp,
				RefID: wire.RefIDFromString("RATE"), RefTime: req.RefTime,
				Org: req.Xmt, Rec: req.Xmt, Xmt: req.Xmt,
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("kiss (-want +got):\n%s", d)
			}
			if code, ok := got.KissCode(); !ok || string(code[:]) != "RATE" {
				t.Errorf("KissCode = %q, %v", code, ok)
			}
			wantStats := tc.thisOrOld
			wantStats.Received, wantStats.Limited, wantStats.KoDSent = 1, 1, 1
			if d := cmp.Diff(wantStats, s.Stats(tStart)); d != "" {
				t.Errorf("stats (-want +got):\n%s", d)
			}
		})
	}
}

// TestSynchronisedReply checks that every system variable reaches the reply, with classic's
// conversions: stratum as is, root delay and dispersion truncated to the short format, and
// the dispersion grown by PHI per second since RootDispTime.
func TestSynchronisedReply(t *testing.T) {
	refTime := ntptime.Time(0xeeb58c00_80000000)
	snap := &snapshot.Snapshot{Sys: snapshot.SysVars{
		Leap: wire.LeapNone, Stratum: 11, Precision: -23, Poll: 6,
		RefID: wire.RefIDFromString("LOCL"), RefTime: refTime,
		RootDelay: 0.0123, RootDisp: 0.0456, RootDispTime: refTime,
	}}
	rx := refTime.Add(10e9) // 10 s later
	s := New(Config{}, tStart)
	out := make([]byte, MaxReplyLen)
	n, v := s.Respond(header(0, 4, 3, 10), rx, snap, Source{}, out)
	if v != Replied || n != 48 {
		t.Fatalf("Respond = %d, %v", n, v)
	}
	var got wire.Packet
	if err := wire.DecodeHeader(out[:n], &got); err != nil {
		t.Fatal(err)
	}
	want := wire.Packet{
		Leap: 0, Version: 4, Mode: 4, Stratum: 11, Poll: 10, Precision: -23,
		RootDelay: 806,  // 0.0123 s × 65536 = 806.09, truncated
		RootDisp:  2998, // (0.0456 + 10 × 15e-6) s × 65536 = 2998.27, truncated
		RefID:     wire.RefIDFromString("LOCL"), RefTime: refTime, Org: reqXmt, Rec: rx,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("reply (-want +got):\n%s", d)
	}
	wire.PutXmt(out[:n], rx.Add(50e3))
	if err := wire.DecodeHeader(out[:n], &got); err != nil || got.Xmt != rx.Add(50e3) {
		t.Errorf("after PutXmt: xmt = %#x, %v", uint64(got.Xmt), err)
	}
}

// TestUnsynchronisedStratum checks that stratum 16 (and anything above) goes out as 0.
func TestUnsynchronisedStratum(t *testing.T) {
	for _, st := range []uint8{16, 17, 255} {
		snap := unsyncSnap()
		snap.Sys.Stratum = st
		out := make([]byte, MaxReplyLen)
		if n, _ := New(Config{}, tStart).Respond(header(0, 4, 3, 6), tRx, snap, Source{}, out); n != 48 || out[1] != 0 {
			t.Errorf("stratum %d: n = %d, wire stratum = %d, want 48, 0", st, n, out[1])
		}
	}
}

func TestMinPoll(t *testing.T) {
	s := New(Config{MinPoll: 6}, tStart)
	out := make([]byte, MaxReplyLen)
	if _, v := s.Respond(header(0, 4, 3, 4), tRx, unsyncSnap(), Source{}, out); v != Replied || int8(out[2]) != 6 {
		t.Errorf("poll 4 with MinPoll 6: verdict %v, poll %d; want 6", v, int8(out[2]))
	}
}

func TestRootDispGrowth(t *testing.T) {
	sys := snapshot.SysVars{RootDisp: 0.5, RootDispTime: tStart}
	if got := rootDispAt(&sys, tStart.Add(-5e9)); got != 0.5 {
		t.Errorf("before RootDispTime: %v, want 0.5", got)
	}
	if got, want := rootDispAt(&sys, tStart.Add(100e9)), 0.5+100*snapshot.PHI; got < want-1e-12 || got > want+1e-12 {
		t.Errorf("100 s later: %v, want %v", got, want)
	}
	sys.RootDispTime = 0
	if got := rootDispAt(&sys, tStart.Add(100e9)); got != 0.5 {
		t.Errorf("no RootDispTime: %v, want 0.5", got)
	}
}

func TestTruncShort(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want ntptime.Short
	}{
		{0, 0}, {-1, 0}, {1.0 / 65536, 1}, {1.9 / 65536, 1}, {1, 65536}, {1e9, 0xffffffff},
	} {
		if got := truncShort(c.in); got != c.want {
			t.Errorf("truncShort(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestCallerMistakes(t *testing.T) {
	s := New(Config{}, tStart)
	if n, v := s.Respond(header(0, 4, 3, 6), tRx, nil, Source{}, make([]byte, MaxReplyLen)); n != 0 || v != DropNoSnapshot {
		t.Errorf("nil snapshot: %d, %v", n, v)
	}
	if n, v := s.Respond(header(0, 4, 3, 6), tRx, unsyncSnap(), Source{}, make([]byte, 48)); n != 0 || v != DropOutShort {
		t.Errorf("short out: %d, %v", n, v)
	}
	st := s.Stats(tStart)
	if st.NoSnapshot != 1 || st.OutShort != 1 || st.Received != 2 {
		t.Errorf("stats = %+v", st)
	}
}

// TestMalformedBurst sends a mix of malformed, truncated, oversized and wrong-mode packets
// to one server and checks that none is answered and that the counters add up as classic's.
func TestMalformedBurst(t *testing.T) {
	s := New(Config{}, tStart)
	out := make([]byte, MaxReplyLen)
	burst := [][]byte{
		{}, {0x23}, header(0, 4, 3, 6)[:47], header(0, 4, 3, 6)[:12],
		cat(header(0, 4, 3, 6), junk(1)), cat(header(0, 4, 3, 6), junk(1000)),
		cat(header(0, 4, 3, 6), make([]byte, 1000)), header(0, 0, 3, 6), header(0, 6, 3, 6),
		header(0, 4, 0, 6), header(0, 4, 2, 6), header(0, 4, 4, 6), header(0, 4, 5, 6),
		header(0, 4, 7, 6), cat(header(0, 4, 3, 6), mac(0, 0)),
		cat(header(0, 4, 3, 6), extWithLen(0x0104, 16, 14), make([]byte, 16)),
	}
	for _, b := range burst {
		if n, v := s.Respond(b, tRx, unsyncSnap(), Source{}, out); n != 0 {
			t.Errorf("% x...: answered %d octets (%v)", b[:min(len(b), 4)], n, v)
		}
	}
	want := Stats{
		Received: 15, ThisVer: 9, BadFormat: 10, Declined: 1, Restricted: 3,
		Empty: 1, Short: 3, BadVersion: 2, BadMode: 1, BadTrailer: 1, BadExtLength: 2,
		BadExtOverrun: 1, InvalidNAK: 1, Private: 1,
	}
	if d := cmp.Diff(want, s.Stats(tStart)); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestStatsResetAndUptime(t *testing.T) {
	s := New(Config{}, tStart)
	out := make([]byte, MaxReplyLen)
	s.Respond(header(0, 4, 3, 6), tRx, unsyncSnap(), Source{}, out)
	s.Processed()
	st := s.Stats(tStart.Add(90e9))
	if st.Uptime != 90 || st.SinceReset != 90 || st.Received != 1 || st.Processed != 1 {
		t.Errorf("before reset: %+v", st)
	}
	s.Reset(tStart.Add(60e9))
	st = s.Stats(tStart.Add(90e9))
	if d := cmp.Diff(Stats{Uptime: 90, SinceReset: 30}, st); d != "" {
		t.Errorf("after reset (-want +got):\n%s", d)
	}
}

func TestVerdictString(t *testing.T) {
	for v := Replied; v <= DropOutShort; v++ {
		if s := v.String(); s == "" || s[0] == 'v' {
			t.Errorf("Verdict(%d) has no name: %q", v, s)
		}
	}
	if s := Verdict(0).String(); s != "verdict(0)" {
		t.Errorf("Verdict(0) = %q", s)
	}
}

// TestRespondAllocs asserts that the reply path does not allocate (an allocation count,
// not a timing).
func TestRespondAllocs(t *testing.T) {
	s := New(Config{}, tStart)
	snap := unsyncSnap()
	out := make([]byte, MaxReplyLen)
	reqs := []struct {
		req []byte
		src Source
	}{
		{header(0, 4, 3, 6), Source{}},
		{header(0, 4, 1, 6), Source{}},
		{cat(header(0, 4, 3, 6), mac(1, 16)), Source{}},
		{cat(header(0, 4, 3, 6), ext(0x0104, 28)), Source{}},
		{cat(header(0, 4, 3, 6), junk(1000)), Source{}},
		{header(0, 4, 3, 6), Source{Restrict: RestrictLimited | RestrictKoD}},
		{header(0, 4, 3, 6)[:20], Source{}},
	}
	for _, r := range reqs {
		if a := testing.AllocsPerRun(100, func() { s.Respond(r.req, tRx, snap, r.src, out) }); a != 0 {
			t.Errorf("% x...: %v allocs per Respond, want 0", r.req[:4], a)
		}
	}
}

func BenchmarkRespond(b *testing.B) {
	s := New(Config{}, tStart)
	snap := unsyncSnap()
	req := header(0, 4, 3, 6)
	out := make([]byte, MaxReplyLen)
	b.ReportAllocs()
	for b.Loop() {
		if n, _ := s.Respond(req, tRx, snap, Source{}, out); n != 48 {
			b.Fatal("no reply")
		}
	}
}

func BenchmarkRespondParallel(b *testing.B) {
	s := New(Config{}, tStart)
	snap := unsyncSnap()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := header(0, 4, 3, 6)
		out := make([]byte, MaxReplyLen)
		for pb.Next() {
			s.Respond(req, tRx, snap, Source{}, out)
		}
	})
}

// FuzzRespond checks that no datagram, restrict flags or association mode makes Respond
// panic, that a reply is 48 or 52 octets of mode 4 or 2 (a KoD: mode 4 or 1), that the
// verdict and the length agree, and that every datagram is counted once.
func FuzzRespond(f *testing.F) {
	for _, group := range [][]respondCase{defaultCases, restrictCases} {
		for _, tc := range group {
			f.Add(tc.req, uint32(tc.src.Restrict), tc.src.AssocMode, tc.src.BogusPort)
		}
	}
	s := New(Config{}, tStart)
	snap := unsyncSnap()
	out := make([]byte, MaxReplyLen)
	f.Fuzz(func(t *testing.T, req []byte, restrict uint32, assoc uint8, bogus bool) {
		before := s.Stats(tStart)
		n, v := s.Respond(req, tRx, snap, Source{Restrict: Restrict(restrict), AssocMode: assoc, BogusPort: bogus}, out)
		after := s.Stats(tStart)
		if got := (after.Received + after.Empty) - (before.Received + before.Empty); got != 1 {
			t.Fatalf("datagram counted %d times", got)
		}
		switch v {
		case Replied, RepliedPassive, KissOfDeath:
		default:
			if n != 0 {
				t.Fatalf("verdict %v with %d octets", v, n)
			}
			return
		}
		if n != 48 && n != 52 {
			t.Fatalf("verdict %v: reply of %d octets", v, n)
		}
		mode := out[0] & 7
		switch {
		case v == Replied && mode == wire.ModeServer:
		case v == RepliedPassive && mode == wire.ModeSymPassive:
		case v == KissOfDeath && (mode == wire.ModeServer || mode == wire.ModeSymActive):
		default:
			t.Fatalf("verdict %v: reply mode %d", v, mode)
		}
		if vn := out[0] >> 3 & 7; vn != req[0]>>3&7 || vn < 1 || vn > 4 {
			t.Fatalf("reply version %d for request version %d", vn, req[0]>>3&7)
		}
	})
}

func stratum(b []byte, st uint8) []byte { b[1] = st; return b }

// TestRespondNewPassive: classic receive()'s AM_NEWPASS with `disable auth`: an
// unauthenticated symmetric-active packet from a stranger mobilises a passive association
// unless `nopeer` (then a mode-2 answer without an association, as with `enable auth`) or
// `noepeer` (declined); a bad MAC gets the answer with a crypto-NAK.
func TestRespondNewPassive(t *testing.T) {
	cases := []struct {
		name    string
		req     []byte
		src     Source
		verdict Verdict
		stats   Stats
	}{
		{"plain", stratum(header(0, 4, 1, 6), 2), Source{}, NewPassive, Stats{Received: 1, ThisVer: 1, ToAssoc: 1}},
		{"nopeer", header(0, 4, 1, 6), Source{Restrict: RestrictNoPeer}, RepliedPassive, Stats{Received: 1, ThisVer: 1, PassiveReplies: 1}},
		{"noepeer", header(0, 4, 1, 6), Source{Restrict: RestrictNoEPeer}, DropDeclined, Stats{Received: 1, ThisVer: 1, Declined: 1}},
		{"bad-mac", cat(header(0, 4, 1, 6), mac(1, 16)), Source{}, RepliedPassive, Stats{Received: 1, ThisVer: 1, PassiveReplies: 1, Restricted: 1, CryptoNAKs: 1}},
		{"v3", stratum(header(0, 3, 1, 6), 2), Source{}, NewPassive, Stats{Received: 1, OldVer: 1, ToAssoc: 1}},
		{"stratum-15", stratum(header(0, 4, 1, 6), 15), Source{}, DropDeclined, Stats{Received: 1, ThisVer: 1, Declined: 1}},
		{"stratum-0-synced", stratum(header(0, 4, 1, 6), 0), Source{}, DropDeclined, Stats{Received: 1, ThisVer: 1, Declined: 1}},
		{"stratum-0-unsynced", stratum(header(3, 4, 1, 6), 0), Source{}, NewPassive, Stats{Received: 1, ThisVer: 1, ToAssoc: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{NoAuth: true}, tStart)
			out := make([]byte, MaxReplyLen)
			_, v := s.Respond(tc.req, tRx, unsyncSnap(), tc.src, out)
			if v != tc.verdict {
				t.Errorf("verdict = %v, want %v", v, tc.verdict)
			}
			if d := cmp.Diff(tc.stats, s.Stats(tStart)); d != "" {
				t.Errorf("stats (-want +got):\n%s", d)
			}
		})
	}
	// With classic's default `enable auth` the same packet only gets the mode-2 answer.
	s := New(Config{}, tStart)
	if _, v := s.Respond(header(0, 4, 1, 6), tRx, unsyncSnap(), Source{}, make([]byte, MaxReplyLen)); v != RepliedPassive {
		t.Errorf("enable auth: verdict %v, want %v", v, RepliedPassive)
	}
}

// TestRespondNewBClient: classic receive()'s AM_NEWBCL: a broadcast from a stranger goes to
// the engine only on a broadcast client, and only authenticated unless `disable auth`
// (`nopeer` makes it required anyway); a bad MAC never mobilises. Otherwise restricted.
func TestRespondNewBClient(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		req     []byte
		src     Source
		verdict Verdict
	}{
		{"not-a-client", Config{NoAuth: true}, header(0, 4, 5, 6), Source{}, DropRestricted},
		{"disable-auth", Config{NoAuth: true, BClient: true}, header(0, 4, 5, 6), Source{}, NewBClient},
		{"enable-auth", Config{BClient: true}, header(0, 4, 5, 6), Source{}, DropRestricted},
		{"nopeer", Config{NoAuth: true, BClient: true}, header(0, 4, 5, 6), Source{Restrict: RestrictNoPeer}, DropRestricted},
		{"bad-mac", Config{NoAuth: true, BClient: true}, cat(header(0, 4, 5, 6), mac(1, 16)), Source{}, DropRestricted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.cfg, tStart)
			n, v := s.Respond(tc.req, tRx, unsyncSnap(), tc.src, make([]byte, MaxReplyLen))
			if v != tc.verdict || n != 0 {
				t.Errorf("verdict = %v (%d octets), want %v and nothing sent", v, n, tc.verdict)
			}
		})
	}
}

// TestRespondManycast: classic receive()'s AM_FXMIT on a group socket and AM_MANYCAST: a
// manycast request is answered only with `manycastserver`, while synchronised at a lower
// stratum, and not by a client synchronised to us; a server reply from a stranger reaches
// the engine only with a manycast client and authenticated unless `disable auth`.
func TestRespondManycast(t *testing.T) {
	local := netip.MustParseAddr("198.18.0.3")
	mc := Source{Manycast: true, ManycastLocal: local}
	synced := unsyncSnap()
	synced.Sys.Leap, synced.Sys.Stratum = wire.LeapNone, 9
	cases := []struct {
		name    string
		cfg     Config
		req     []byte
		snap    *snapshot.Snapshot
		verdict Verdict
	}{
		{"answered", Config{ManycastServer: true, NoAuth: true}, header(0, 4, 3, 6), synced, Replied},
		{"not-a-server", Config{NoAuth: true}, header(0, 4, 3, 6), synced, DropRestricted},
		{"unsynchronised", Config{ManycastServer: true, NoAuth: true}, header(0, 4, 3, 6), unsyncSnap(), DropDeclined},
		{"client-better", Config{ManycastServer: true, NoAuth: true}, stratum(header(0, 4, 3, 6), 3), synced, DropDeclined},
		{"enable-auth", Config{ManycastServer: true}, header(0, 4, 3, 6), synced, DropRestricted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.cfg, tStart)
			_, v := s.Respond(tc.req, tRx, tc.snap, mc, make([]byte, MaxReplyLen))
			if v != tc.verdict {
				t.Errorf("verdict = %v, want %v", v, tc.verdict)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		verdict Verdict
	}{
		{"reply-to-client", Config{ManycastClient: true, NoAuth: true}, ToManycast},
		{"reply-no-client", Config{NoAuth: true}, DropRestricted},
		{"reply-enable-auth", Config{ManycastClient: true}, DropRestricted},
	} {
		s := New(tc.cfg, tStart)
		if _, v := s.Respond(stratum(header(0, 4, 4, 6), 2), tRx, unsyncSnap(), Source{}, make([]byte, MaxReplyLen)); v != tc.verdict {
			t.Errorf("%s: verdict = %v, want %v", tc.name, v, tc.verdict)
		}
	}
}
