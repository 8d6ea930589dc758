// SPDX-License-Identifier: BSD-2-Clause

package peer

import (
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/system"
)

// RefID returns the reference ID that stands for addr (ntpd addr2refid, RFC 5905 section
// 7.3): the IPv4 address itself, or the first four octets of the MD5 digest of an IPv6
// address. A server puts its system peer's RefID in its packets, so comparing that with our
// own addresses' RefIDs detects a synchronisation loop (TEST12); the orphan-parent election
// compares them as metrics.
func RefID(addr netip.Addr) uint32 {
	addr = addr.Unmap()
	if addr.Is4() {
		b := addr.As4()
		return binary.BigEndian.Uint32(b[:])
	}
	if !addr.IsValid() {
		return 0
	}
	b := addr.As16()
	sum := md5.Sum(b[:])
	return binary.BigEndian.Uint32(sum[:4])
}

// rootDistance is the root synchronisation distance Λ of RFC 5905 section 11.2 (ntpd
// root_distance): half the total round trip to the primary source plus every dispersion
// and the jitter, aged by PHI since the last filter update, and never below mindist so that
// very precise sources do not make the clock hop among themselves.
func (a *Assoc) rootDistance(now time.Time, sys *system.State) float64 {
	d := (a.delay+a.rootdelay)/2 + a.disp + a.rootdisp + PHI*now.Sub(a.update).Seconds() +
		a.jitter
	return max(d, sys.Tos.MinDist)
}

// unfit runs the peer tests (ntpd peer_unfit), stores them in the flash bits and returns
// them; non-zero means the association cannot be selected.
func (a *Assoc) unfit(now time.Time, sys *system.State) uint16 {
	var r uint16
	if a.leap == wire.LeapAlarm || a.stratum < sys.Tos.Floor || a.stratum >= sys.Tos.Ceiling {
		r |= FlashPeerStratum
	}
	if a.rootDistance(now, sys) >= sys.Tos.MaxDist+PHI*log2s(a.hpoll) {
		r |= FlashPeerDist
	}
	// Classic excludes the loopback refid: an orphan parent sends 127.0.0.1, which is
	// one of our own addresses too, and is no loop.
	if a.stratum > 1 && a.refid != LoopbackRefID && slices.Contains(sys.LocalRefIDs, a.refid) {
		r |= FlashPeerLoop
	}
	if a.reach == 0 || a.noselect {
		r |= FlashPeerUnreach
	}
	a.flash = a.flash&^PeerTests | r
	return r
}

// LoopbackRefID is 127.0.0.1, the refid an orphan parent above stratum 1 serves (classic
// LOOPBACKADR).
const LoopbackRefID uint32 = 0x7f000001

// Candidate runs the peer tests and returns what Select needs to know of the association
// at now, with the RefID of its address for the orphan-parent election. For orphan mode
// the engine fills in LocalRefID, the RefID of our address towards this peer.
func (a *Assoc) Candidate(now time.Time, sys *system.State) system.Candidate {
	return system.Candidate{
		Offset:    a.offset,
		Jitter:    a.jitter,
		RootDist:  a.rootDistance(now, sys),
		Stratum:   a.stratum,
		Leap:      a.leap,
		Epoch:     a.epoch,
		Unfit:     a.unfit(now, sys),
		Prefer:    a.prefer,
		True:      a.trueFlg,
		Refclock:  a.refclock,
		AddrRefID: a.addrRefID,
		PPS:       a.pps,
	}
}

// SetSelection stores the selection code that Select gave the association. Survivors of
// the selection (candidate and system peer) have their unreach counter reset, as in
// ntpd's clock_select.
func (a *Assoc) SetSelection(code system.SelCode) {
	a.sel = code & 7
	if code == system.SelCandidate || code == system.SelSysPeer {
		a.unreach = 0
	}
}

// Selection returns the selection code last set.
func (a *Assoc) Selection() system.SelCode { return a.sel }

// Status returns the peer status word (compat.md 1.7, ntpd ctlpeerstatus): flags, selection
// code, event counter and last event.
func (a *Assoc) Status() uint16 {
	s := uint16(a.sel) << 8
	if a.configured {
		s |= StatusConf
	}
	if a.keyid != 0 || a.nts {
		s |= StatusAuthEnb
	}
	if a.authentic {
		s |= StatusAuth
	}
	if a.reach != 0 {
		s |= StatusReach
	}
	if a.hmode == wire.ModeBroadcast {
		s |= StatusBcast
	}
	return s | uint16(a.nevents)<<4 | uint16(a.lastEvt&0xf)
}

// Score is ntpd's preemption score (score()): one point each for passing TEST10, TEST13,
// TEST12 and TEST11, for having survived the intersection, and for not being a backup.
// Among preemptible associations that time out, the engine removes the one with the
// lowest score.
func (a *Assoc) Score() int {
	s := 0
	for _, t := range [...]uint16{FlashPeerStratum, FlashPeerUnreach, FlashPeerLoop, FlashPeerDist} {
		if a.flash&t == 0 {
			s++
		}
	}
	if a.sel >= system.SelOutlier {
		s++
	}
	if a.sel != system.SelBackup {
		s++
	}
	return s
}

// Vars is a snapshot of the peer variables that ntpq reads (compat.md 2.2), as plain
// values. Times in seconds; the control server converts to milliseconds.
type Vars struct {
	Addr      netip.AddrPort
	Status    uint16
	Leap      uint8
	Stratum   uint8 // 16 when unsynchronised
	Precision int8
	RootDelay float64
	RootDisp  float64
	RefID     uint32
	RefTime   ntptime.Time
	Rec       ntptime.Time // our receive time of the last packet ("rec", for `when`); 0 if none
	Org       ntptime.Time // our last transmit timestamp while no reply matched it ("org")
	Xmt       ntptime.Time // the peer's transmit timestamp of its last packet
	Reach     uint8
	Unreach   int
	HMode     uint8
	PMode     uint8
	HPoll     int8
	PPoll     int8
	MinPoll   int8
	MaxPoll   int8
	Version   uint8
	Headway   int
	Flash     uint16
	KeyID     uint32
	Offset    float64
	Delay     float64
	Disp      float64
	Jitter    float64
	// The clock filter stages, newest first; unused stages show delay and offset 0 and
	// dispersion MaxDisp, as ntpd's do.
	FiltDelay, FiltOffset, FiltDisp [NStages]float64
	Timer                           time.Duration // until the next poll
	Selection                       system.SelCode
	Configured, Preempt             bool
	Prefer, NoSelect, True          bool
	IBurst, Burst                   bool
	Authentic                       bool
	// Xleave is classic's peer variable `xleave`, s: how long after the transmit timestamp
	// written into our last request the kernel sent it; kept for `xleave` associations
	// (peer/xleave.go), 0 otherwise. Interleaved says the last reply used was interleaved.
	Xleave      float64
	Interleaved bool
	// Counters of `ntpq -c pstats`.
	Sent, Received, BadAuth, BogusOrg, OldPkt, SelDisp, SelBroken uint64
	TimeReceived, TimeReachable, Update, Epoch                    time.Time
}

// Vars returns the peer variables at now.
func (a *Assoc) Vars(now time.Time) Vars {
	v := Vars{
		Addr: a.addr, Status: a.Status(), Leap: a.leap, Stratum: a.stratum,
		Precision: a.precision, RootDelay: a.rootdelay, RootDisp: a.rootdisp,
		RefID: a.refid, RefTime: a.reftime, Rec: a.dst, Org: a.aorg, Xmt: a.xmt,
		Reach: a.reach, Unreach: a.unreach, HMode: a.hmode, PMode: a.pmode,
		HPoll: a.hpoll, PPoll: a.ppoll, MinPoll: a.minpoll, MaxPoll: a.maxpoll,
		Version: a.version, Headway: a.headwayAt(now), Flash: a.flash, KeyID: a.keyid,
		Offset: a.offset, Delay: a.delay, Disp: a.disp, Jitter: a.jitter,
		Timer: max(a.nextdate.Sub(now), 0), Selection: a.sel,
		Configured: a.configured, Preempt: a.preempt, Prefer: a.prefer,
		NoSelect: a.noselect, True: a.trueFlg, IBurst: a.iburst, Burst: a.burstOn,
		Authentic: a.authentic, Interleaved: a.xl.interleaved,
		Xleave: a.xl.lag,
		Sent:   a.sent, Received: a.received, BadAuth: a.badauth, BogusOrg: a.bogusorg,
		OldPkt: a.oldpkt, SelDisp: a.seldisp, SelBroken: a.selbroken,
		TimeReceived: a.timereceived, TimeReachable: a.timereachable, Update: a.update,
		Epoch: a.epoch,
	}
	i := a.next
	for n := 0; n < NStages; n++ {
		i = (i + NStages - 1) % NStages
		f := &a.filter[i]
		v.FiltDelay[n], v.FiltOffset[n], v.FiltDisp[n] = f.delay, f.offset, f.disp
	}
	return v
}

// RootDistance returns the root distance at now, for the engine's system variables.
func (a *Assoc) RootDistance(now time.Time, sys *system.State) float64 {
	return a.rootDistance(now, sys)
}
