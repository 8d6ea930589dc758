// SPDX-License-Identifier: BSD-2-Clause

package peer

import "time"

// Protocol constants of RFC 5905 section 7.2 with the values classic ntpd 4.2.8p15 uses
// (include/ntp.h there).
const (
	// MinPoll and MaxPoll bound the poll exponent that a configuration may give (classic
	// accepts 3..17).
	MinPoll = 3
	MaxPoll = 17
	// DefMinPoll and DefMaxPoll are the defaults of the minpoll and maxpoll options
	// (64 s and 1024 s).
	DefMinPoll = 6
	DefMaxPoll = 10

	// NStages is the number of stages of the clock filter shift register (NTP_SHIFT).
	NStages = 8
	// MaxDisp is the dispersion that marks a sample or an association as worthless
	// (MAXDISPERSE, 16 s).
	MaxDisp = 16.0
	// PHI is the frequency tolerance (15 ppm) by which dispersion grows each second.
	PHI = 15e-6
	// SGate is the popcorn-spike gate: a new sample whose offset differs from the last one
	// by more than SGate times the peer jitter is dropped (ntpd CLOCK_SGATE).
	SGate = 3.0

	// IBurst is the number of packets ntpd sends in a burst while a server with `iburst`
	// answers for the first time (NTP_IBURST; the classic manual page says eight, the
	// 4.2.8p15 code sends six, which is what the real daemon does and what we copy).
	IBurst = 6
	// Burst is the upper bound of a `burst` volley while reachable (NTP_SHIFT).
	Burst = 8
	// retries is how many polls an armed burst waits for a first reply (NTP_RETRY).
	retries = 3
	// PoolQuiet is how many polls in a row a pool member may leave unanswered before
	// gontp demobilises it so that its pool solicits a replacement. Classic ntpd drops an
	// unreachable pool server only while there are more than `tos maxclock`
	// associations, so a pool that has filled up keeps dark servers for ever; gontp
	// replaces them after this many misses, polled at minpoll once the first reply is
	// missing (pollUpdate), so a server gone dark is replaced within minutes. Three
	// misses in a row at random 10 % loss happen once in a thousand polls.
	PoolQuiet = 3
	// Unreach is the number of polls without a reply after which ntpd backs off the poll
	// interval and removes ephemeral associations (NTP_UNREACH).
	Unreach = 10
	// minPkt is the minimum spacing of packets to one server, seconds (NTP_MINPKT); it is
	// also the spacing of burst packets.
	minPkt = 2
	// passiveDelay is the first-poll delay of a new symmetric passive association
	// (ntp_minpkt in peer_clear).
	passiveDelay = minPkt * time.Second
	// HModeBClient is the host mode of a broadcast client association (ntpd
	// MODE_BCLIENT, 6): it receives mode-5 packets and sends nothing.
	HModeBClient uint8 = 6
)

// Flash bits: the result of the packet tests (TEST1..TEST9, reset on each packet) and of
// the peer tests (TEST10..TEST13, computed by Unfit for the selection), as classic ntpd
// numbers them and as ntpq shows them in the `flash` variable (compat.md 2.4).
const (
	FlashDup         uint16 = 0x0001 // TEST1 duplicate packet (replay of the last one)
	FlashBogus       uint16 = 0x0002 // TEST2 origin timestamp does not match our transmit
	FlashUnsync      uint16 = 0x0004 // TEST3 protocol unsynchronised (zero timestamps)
	FlashDenied      uint16 = 0x0008 // TEST4 access denied (DENY or RSTR kiss)
	FlashAuth        uint16 = 0x0010 // TEST5 authentication failed
	FlashStratum     uint16 = 0x0020 // TEST6 server unsynchronised or stratum out of range
	FlashHeader      uint16 = 0x0040 // TEST7 root delay/dispersion out of range
	FlashAutokey     uint16 = 0x0080 // TEST8 Autokey (never set: Autokey is not supported)
	FlashCrypto      uint16 = 0x0100 // TEST9 crypto (never set: Autokey is not supported)
	FlashPeerStratum uint16 = 0x0200 // TEST10 peer unsynchronised or stratum out of range
	FlashPeerDist    uint16 = 0x0400 // TEST11 root distance above tos maxdist
	FlashPeerLoop    uint16 = 0x0800 // TEST12 peer synchronised to us
	FlashPeerUnreach uint16 = 0x1000 // TEST13 unreachable or noselect

	// PacketTests is the mask of the per-packet tests; any of them discards the packet.
	PacketTests uint16 = 0x01ff
	// PeerTests is the mask of the tests that make an association unfit for selection.
	PeerTests uint16 = 0x1e00
)

// Event is a peer event code, the low four bits of the peer status word (compat.md 1.7).
type Event uint8

// Peer event codes (PEVNT_*).
const (
	EvMobilize    Event = 1
	EvDemobilize  Event = 2
	EvUnreachable Event = 3
	EvReachable   Event = 4
	EvRestart     Event = 5
	EvNoReply     Event = 6
	EvRate        Event = 7
	EvDenied      Event = 8
	EvLeapArmed   Event = 9
	EvSysPeer     Event = 10
	EvClock       Event = 11
	EvBadAuth     Event = 12
	EvPopcorn     Event = 13
	EvXleave      Event = 14
	EvXerr        Event = 15
)

var eventNames = [16]string{"", "mobilize", "demobilize", "unreachable", "reachable",
	"restart", "no_reply", "rate_exceeded", "access_denied", "leap_armed", "sys_peer",
	"clock_event", "bad_auth", "popcorn", "interleave_mode", "interleave_error"}

// String returns the name ntpq uses for the event.
func (e Event) String() string {
	if int(e) < len(eventNames) && e != 0 {
		return eventNames[e]
	}
	return "unspecified"
}

// Status word flag bits of the high octet (CTL_PST_*), as shifted into the word.
const (
	StatusConf    uint16 = 0x8000 // configured (persistent) association
	StatusAuthEnb uint16 = 0x4000 // a key is configured
	StatusAuth    uint16 = 0x2000 // the last packet was authenticated
	StatusReach   uint16 = 0x1000 // reach register is not zero
	StatusBcast   uint16 = 0x0800 // transmit-only association (pool prototype, broadcast)
)

// maxEvents is where the event counter of the status word saturates; further reports of
// the same event are dropped, as ntpd does (CTL_PEER_MAXEVENTS).
const maxEvents = 15

// maxTxLag bounds how much later than the packet's own transmit timestamp the kernel's
// transmit time (Assoc.TxTimestamp) may be, s: beyond it the two are not of the same send.
const maxTxLag = 0.1

// txLagSlack is how much more than the least lag of the last txLagWindow requests a kernel
// transmit time may lag the packet's own stamp before T1 is held to that bound, s
// (Assoc.lateBound). On a sound driver the lag varies by a few microseconds; User-Mode
// Linux's stamps after its write to the host and lagged 80-600 µs there.
const txLagSlack = 20e-6

// txLagWindow is how many requests' lags the bound is taken over: the clock filter's eight.
const txLagWindow = 8
