// SPDX-License-Identifier: BSD-2-Clause

// Package mode7 answers classic ntpd's private (mode 7, ntpdc) requests, a read-only subset
// of them, from the engine's snapshot: the peer list (REQ_PEER_LIST), the peer summary
// (REQ_PEER_LIST_SUM, ntpdc's `peers` and collectd's ntpd plugin), peer details
// (REQ_PEER_INFO, `showpeer`), the system variables (REQ_SYS_INFO), the time server's
// counters (REQ_SYS_STATS) and the kernel discipline (REQ_GET_KERNEL). It follows classic
// 4.2.8p15's ntpd/ntp_request.c: the same packet checks, error replies and data layouts (in
// the byte order of the x86 builds ntpdc talks to, for the few fields classic leaves in host
// order).
//
// Everything that changes the daemon (classic's AUTH requests: config, unconfig, flags,
// restrict, keys, traps, fudge, reset) is refused with INFO_ERR_AUTH, the reply classic gives
// without the request key; every other request classic knows (monlist above all, the DDoS
// amplifier; loop, I/O, memory and timer statistics; the restrict list; clock info) gets
// INFO_ERR_REQ, "unimplemented request code". The daemon only calls Handle after `enable
// mode7`, and never for a source restricted by `noquery` or `ignore`.
//
// Like internal/control it does no I/O: the daemon hands it a datagram, the time and a
// send function.
package mode7

import (
	"encoding/binary"
	"math"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"

	"gontp/clock"
	"gontp/internal/ntptime"
	"gontp/internal/snapshot"
	"gontp/internal/wire"
	"gontp/system"
)

// Implementation numbers (ntp_request.h).
const (
	implUniv     = 0
	implXntpdOld = 2 // ntpdc before IPv6: the short, IPv4-only items
	implXntpd    = 3
)

// Request codes (ntp_request.h).
const (
	ReqPeerList    = 0
	ReqPeerListSum = 1
	ReqPeerInfo    = 2
	ReqSysInfo     = 4
	ReqSysStats    = 5
	ReqGetKernel   = 38
	ReqMonGetList  = 20
	ReqMonGetList1 = 42
)

// Error codes of a response (ntp_request.h).
const (
	ErrOkay   = 0
	ErrImpl   = 1 // incompatible implementation number
	ErrReq    = 2 // unimplemented request code
	ErrFmt    = 3 // format error
	ErrNoData = 4 // no data available
	ErrAuth   = 7 // authentication failure
)

const (
	hdrLen    = 8   // REQ_LEN_HDR, RESP_HEADER_SIZE
	dataSize  = 500 // RESP_DATA_SIZE
	maxSeq    = 127 // MAXSEQ
	respBit   = 0x80
	moreBit   = 0x40
	shiftSize = 8 // NTP_SHIFT
)

// request is one entry of classic's request table (ntp_request.c ntp_codes): whether it
// needs the request key (a write), and the size of one request item for an IPv4-only
// (implementation 2) and a full client; 0 for requests without data. The sizes are those of
// classic's x86-64 build (u_long is 8 octets).
type request struct {
	auth     bool
	v4, full int
}

var classicCodes = map[uint8]request{
	ReqPeerList: {}, ReqPeerListSum: {}, ReqPeerInfo: {false, 8, 32}, 3: {false, 8, 32},
	ReqSysInfo: {}, ReqSysStats: {}, 6: {}, 7: {}, 8: {}, 9: {},
	10: {true, 144, 168}, 11: {true, 4, 24}, 12: {true, 4, 4}, 13: {true, 4, 4},
	16: {}, 17: {true, 12, 48}, 18: {true, 12, 48}, 19: {true, 12, 48},
	ReqMonGetList: {}, ReqMonGetList1: {},
	21: {true, 4, 0}, 22: {true, 4, 24}, 23: {true, 0, 0}, 26: {true, 8, 8}, 27: {true, 8, 8},
	28: {}, 29: {}, 30: {true, 12, 48}, 31: {true, 12, 48}, 32: {true, 8, 8}, 33: {true, 8, 8},
	34: {}, ReqGetKernel: {}, 36: {false, 4, 4}, 37: {true, 20, 20}, 39: {false, 4, 4},
	44: {true, 0, 0}, 45: {true, 0, 0},
}

// answered are the requests gontp answers; the other read requests classic knows get
// "unimplemented request code".
var answered = map[uint8]bool{ReqPeerList: true, ReqPeerListSum: true, ReqPeerInfo: true, ReqSysInfo: true,
	ReqSysStats: true, ReqGetKernel: true}

// payloadLimit is classic's MODE7_PAYLOAD_LIM, the data area of a request; maxPeerItems is
// the most peers classic's ntpdc asks about in one request.
const (
	payloadLimit = 176
	maxPeerItems = 4
)

// reqTailMin is classic's REQ_TAIL_MIN: the time stamp, key ID and a 16-octet digest that an
// authenticated request carries after its items.
const reqTailMin = 8 + 4 + 16

// SysStats are the time server's counters that REQ_SYS_STATS carries (classic's sys_stat).
type SysStats struct {
	Uptime, SinceReset                                  uint64
	Denied, OldVersion, NewVersion, Declined, BadLength uint64
	Processed, BadAuth, Received, Limited               uint64
}

// Flags are the system flags of REQ_SYS_INFO (enable/disable).
type Flags struct {
	BClient, Auth, NTP, Kernel, Monitor, Stats, Calibrate, PPS bool
}

// Sources is where the answers come from.
type Sources struct {
	Snapshot func() *snapshot.Snapshot
	Stats    func(now time.Time) SysStats
	Flags    func() Flags
	// Kernel reads the kernel discipline (adjtimex with modes 0); ok false answers
	// REQ_GET_KERNEL with "no data", as classic without kernel discipline.
	Kernel func() (tx clock.Timex, ok bool)
	// BroadcastDelay is classic's sys_bdelay (s).
	BroadcastDelay float64
}

// Counters are what the server counts.
type Counters struct {
	Requests, Responses, Dropped, Refused atomic.Uint64
}

// Server answers mode-7 requests.
type Server struct {
	src Sources
	C   Counters
}

// New returns a server over src.
func New(src Sources) *Server { return &Server{src: src} }

// Handle answers one request datagram, calling send once per response packet. A request
// that fails classic's drop tests gets no answer at all.
func (s *Server) Handle(req []byte, now time.Time, send func([]byte)) {
	s.C.Requests.Add(1)
	if len(req) < hdrLen {
		s.C.Dropped.Add(1)
		return
	}
	vn := req[0] >> 3 & 7
	errN := binary.BigEndian.Uint16(req[4:6])
	mbz := binary.BigEndian.Uint16(req[6:8])
	if req[0]&respBit != 0 || req[0]&moreBit != 0 || vn > wire.VersionMax || vn < wire.VersionMin ||
		req[1]&0x7f != 0 || errN>>12 != 0 || mbz>>12 != 0 {
		s.C.Dropped.Add(1)
		return
	}
	r := &reply{s: s, send: send, version: vn, impl: req[2], code: req[3]}
	switch req[2] {
	case implXntpd, implXntpdOld:
	case implUniv:
		r.ack(ErrReq)
		return
	default:
		r.ack(ErrImpl)
		return
	}
	proc, known := classicCodes[req[3]]
	if !known {
		r.ack(ErrReq)
		return
	}
	// The checks of classic's process_private, in its order.
	itemSize := int(mbz & 0xfff)
	nitems := int(errN & 0xfff)
	if itemSize != proc.v4 && itemSize != proc.full && !(req[2] == implXntpd && req[3] == 10 && itemSize == 16) {
		r.ack(ErrFmt)
		return
	}
	if proc.v4 != 0 && itemSize*nitems > len(req)-hdrLen {
		r.ack(ErrFmt)
		return
	}
	if !proc.auth && proc.v4 != 0 && (itemSize*nitems > payloadLimit || nitems > maxPeerItems) {
		// More items than classic's ntpdc ever sends (four peers) or its request data area
		// holds: classic would answer each, up to 128 packets for one datagram; gontp
		// refuses, so that a request cannot buy more than four replies.
		r.ack(ErrFmt)
		return
	}
	if proc.auth {
		// Every write is refused: gontp has no request key (classic's requestkey), so it
		// answers as classic does a request without it.
		s.C.Refused.Add(1)
		if len(req) < hdrLen+itemSize*nitems+reqTailMin {
			r.ack(ErrFmt)
			return
		}
		r.ack(ErrAuth)
		return
	}
	if !answered[req[3]] {
		s.C.Refused.Add(1)
		r.ack(ErrReq)
		return
	}
	r.v6 = req[2] == implXntpd
	snap := s.src.Snapshot()
	switch req[3] {
	case ReqPeerList:
		s.peerList(r, snap)
	case ReqPeerListSum:
		s.peerSummary(r, snap)
	case ReqPeerInfo:
		s.peerInfo(r, snap, req[hdrLen:], itemSize, nitems, now)
	case ReqSysInfo:
		s.sysInfo(r, snap, now)
	case ReqSysStats:
		s.sysStats(r, now)
	case ReqGetKernel:
		s.kernel(r)
	}
}

// reply builds a response as classic's prepare_pkt, more_pkt and flush_pkt do: items packed
// into 500-octet data areas, the more bit on every packet but the last, at most 128 packets.
type reply struct {
	s        *Server
	send     func([]byte)
	version  uint8
	impl     uint8
	code     uint8
	v6       bool
	itemSize int
	items    [][]byte
}

func (r *reply) header(more bool, seq, err, nitems, itemSize int) []byte {
	b := make([]byte, hdrLen, hdrLen+dataSize)
	b[0] = respBit | r.version<<3 | wire.ModePrivate
	if more {
		b[0] |= moreBit
	}
	b[1] = byte(seq & 0x7f)
	b[2] = r.impl
	b[3] = r.code
	binary.BigEndian.PutUint16(b[4:], uint16(err&0xf)<<12|uint16(nitems&0xfff))
	binary.BigEndian.PutUint16(b[6:], uint16(itemSize))
	return b
}

// ack is classic's req_ack: a header with an error code and no data.
func (r *reply) ack(code int) {
	r.send(r.header(false, 0, code, 0, 0))
	r.s.C.Responses.Add(1)
}

func (r *reply) add(item []byte) { r.items = append(r.items, item) }

// flush sends the items; none at all is "no data", as classic's flush_pkt says.
func (r *reply) flush() {
	if len(r.items) == 0 {
		r.ack(ErrNoData)
		return
	}
	per := dataSize / r.itemSize
	for seq := 0; len(r.items) > 0 && seq <= maxSeq; seq++ {
		n := min(per, len(r.items))
		last := n == len(r.items) || seq == maxSeq
		b := r.header(!last, seq, 0, n, r.itemSize)
		for _, it := range r.items[:n] {
			b = append(b, it...)
		}
		r.items = r.items[n:]
		r.send(b)
		r.s.C.Responses.Add(1)
	}
}

// size picks the item size for the client: the full one, or the IPv4-only part for an
// implementation-2 client.
func (r *reply) size(v4, full int) int {
	if r.v6 {
		return full
	}
	return v4
}

// Fixed-point conversions as classic's DTOFP, DTOUFP and DTOLFP.
func sfp(d float64) uint32    { return uint32(int32(d * 65536)) }
func ufp(d float64) uint32    { return uint32(d * 65536) }
func lfp(d float64) uint64    { return uint64(int64(math.Round(d * (1 << 32)))) }
func le32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }

// Peer flags of the replies (INFO_FLAG_*).
const (
	flagConfig    = 0x1
	flagSysPeer   = 0x2
	flagBurst     = 0x4
	flagRefclock  = 0x8
	flagPrefer    = 0x10
	flagCandidate = 0x40
	flagShortlist = 0x80
)

func peerFlags(p *snapshot.Peer, sysPeer uint16) uint8 {
	var f uint8
	v := &p.Vars
	if p.ID == sysPeer && sysPeer != 0 {
		f |= flagSysPeer
	}
	if v.Configured {
		f |= flagConfig
	}
	if p.Refclock != "" {
		f |= flagRefclock
	}
	if v.Prefer {
		f |= flagPrefer
	}
	if v.Burst {
		f |= flagBurst
	}
	if v.Selection == system.SelCandidate {
		f |= flagCandidate
	}
	if v.Selection >= system.SelSysPeer {
		f |= flagShortlist
	}
	return f
}

// addr4 is an address as a 4-octet IPv4 field (0 for IPv6 and the unspecified address).
func addr4(a netip.Addr) [4]byte {
	if a.Is4() || a.Is4In6() {
		return a.Unmap().As4()
	}
	return [4]byte{}
}

// remote is the peer's address as classic's srcadr holds it: a reference clock's is its
// 127.127.t.u pseudo address.
func remote(p *snapshot.Peer) netip.AddrPort { return p.Vars.Addr }

// peerList is classic's list_peers: info_peer_list items (32 octets; 8 for old clients,
// which do not get IPv6 peers).
func (s *Server) peerList(r *reply, snap *snapshot.Snapshot) {
	r.itemSize = r.size(8, 32)
	for i := range snap.Peers {
		p := &snap.Peers[i]
		a := remote(p)
		it := make([]byte, r.itemSize)
		if a.Addr().Is6() && !a.Addr().Is4In6() {
			if !r.v6 {
				continue
			}
			a16 := a.Addr().As16()
			copy(it[16:32], a16[:])
			le32(it[8:], 1)
		} else {
			a4 := addr4(a.Addr())
			copy(it[0:4], a4[:])
		}
		binary.BigEndian.PutUint16(it[4:], a.Port())
		it[6] = p.Vars.HMode
		var f uint8
		if p.Vars.Configured {
			f |= flagConfig
		}
		if p.ID == snap.SysPeer && snap.SysPeer != 0 {
			f |= flagSysPeer
		}
		if p.Vars.Selection == system.SelCandidate {
			f |= flagCandidate
		}
		if p.Vars.Selection >= system.SelSysPeer {
			f |= flagShortlist
		}
		it[7] = f
		r.add(it)
	}
	r.flush()
}

// peerSummary is classic's list_peers_sum: info_peer_summary items (72 octets; 32 for old
// clients). The dispersion field carries the square root of the peer dispersion, as in
// classic.
func (s *Server) peerSummary(r *reply, snap *snapshot.Snapshot) {
	r.itemSize = r.size(32, 72)
	for i := range snap.Peers {
		p := &snap.Peers[i]
		v := &p.Vars
		a := remote(p)
		it := make([]byte, r.itemSize)
		if a.Addr().Is6() && !a.Addr().Is4In6() {
			if !r.v6 {
				continue
			}
			le32(it[32:], 1)
			if p.Local.Addr().Is6() {
				d := p.Local.Addr().As16()
				copy(it[40:56], d[:])
			}
			s16 := a.Addr().As16()
			copy(it[56:72], s16[:])
		} else {
			d := addr4(p.Local.Addr())
			copy(it[0:4], d[:])
			s4 := addr4(a.Addr())
			copy(it[4:8], s4[:])
		}
		binary.BigEndian.PutUint16(it[8:], a.Port())
		it[10] = v.Stratum
		it[11] = byte(v.HPoll)
		it[12] = byte(v.PPoll)
		it[13] = v.Reach
		it[14] = peerFlags(p, snap.SysPeer)
		it[15] = v.HMode
		binary.BigEndian.PutUint32(it[16:], sfp(v.Delay))
		binary.BigEndian.PutUint64(it[20:], lfp(v.Offset))
		binary.BigEndian.PutUint32(it[28:], ufp(math.Sqrt(v.Disp)))
		r.add(it)
	}
	r.flush()
}

// peerInfo is classic's peer_info: an info_peer item (280 octets; 240 for old clients) for
// each requested address that has an association.
func (s *Server) peerInfo(r *reply, snap *snapshot.Snapshot, data []byte, itemSize, nitems int, now time.Time) {
	r.itemSize = r.size(240, 280)
	for n := 0; n < nitems; n++ {
		item := make([]byte, 32)
		copy(item, data[n*itemSize:(n+1)*itemSize])
		port := binary.BigEndian.Uint16(item[4:6])
		var want netip.AddrPort
		if r.v6 && binary.LittleEndian.Uint32(item[8:12]) != 0 {
			want = netip.AddrPortFrom(netip.AddrFrom16([16]byte(item[16:32])), port)
		} else {
			want = netip.AddrPortFrom(netip.AddrFrom4([4]byte(item[0:4])), port)
		}
		for i := range snap.Peers {
			p := &snap.Peers[i]
			if remote(p) != want {
				continue
			}
			r.add(s.infoPeer(r, p, snap, now))
			break
		}
	}
	r.flush()
}

func (s *Server) infoPeer(r *reply, p *snapshot.Peer, snap *snapshot.Snapshot, now time.Time) []byte {
	v := &p.Vars
	a := remote(p)
	it := make([]byte, r.itemSize)
	if a.Addr().Is6() && !a.Addr().Is4In6() {
		if p.Local.Addr().Is6() {
			d := p.Local.Addr().As16()
			copy(it[248:264], d[:])
		}
		s16 := a.Addr().As16()
		copy(it[264:280], s16[:])
		le32(it[240:], 1)
	} else {
		d := addr4(p.Local.Addr())
		copy(it[0:4], d[:])
		s4 := addr4(a.Addr())
		copy(it[4:8], s4[:])
	}
	binary.BigEndian.PutUint16(it[8:], a.Port())
	it[10] = peerFlags(p, snap.SysPeer)
	it[11] = v.Leap
	it[12] = v.HMode
	it[13] = v.PMode
	it[14] = v.Stratum
	it[15] = byte(v.PPoll)
	it[16] = byte(v.HPoll)
	it[17] = byte(v.Precision)
	it[18] = v.Version
	it[20] = v.Reach
	it[21] = byte(v.Unreach)
	it[22] = byte(v.Flash)
	binary.LittleEndian.PutUint16(it[24:], v.Flash)
	binary.BigEndian.PutUint16(it[26:], p.ID)
	le32(it[28:], v.KeyID)
	binary.BigEndian.PutUint32(it[36:], v.RefID)
	binary.BigEndian.PutUint32(it[44:], ufp(v.RootDelay))
	binary.BigEndian.PutUint32(it[48:], ufp(v.RootDisp))
	binary.BigEndian.PutUint64(it[52:], uint64(v.RefTime))
	binary.BigEndian.PutUint64(it[60:], uint64(v.Org))
	binary.BigEndian.PutUint64(it[68:], uint64(v.Rec))
	binary.BigEndian.PutUint64(it[76:], uint64(v.Xmt))
	// The filter stages, newest first, and their order by delay (the age of the i-th best
	// sample, classic's order[]); unused stages sort last.
	idx := make([]int, shiftSize)
	for i := range idx {
		idx[i] = i
		binary.BigEndian.PutUint32(it[84+4*i:], sfp(v.FiltDelay[i]))
		binary.BigEndian.PutUint64(it[116+8*i:], lfp(v.FiltOffset[i]))
	}
	sort.SliceStable(idx, func(x, y int) bool {
		dx, dy := v.FiltDelay[idx[x]], v.FiltDelay[idx[y]]
		if (dx == 0) != (dy == 0) {
			return dy == 0
		}
		return dx < dy
	})
	for i, j := range idx {
		it[180+i] = byte(j)
	}
	binary.BigEndian.PutUint32(it[188:], sfp(v.Delay))
	binary.BigEndian.PutUint32(it[192:], ufp(math.Sqrt(v.Disp)))
	binary.BigEndian.PutUint64(it[196:], lfp(v.Offset))
	binary.BigEndian.PutUint32(it[204:], ufp(math.Sqrt(v.Jitter)))
	binary.BigEndian.PutUint32(it[236:], sfp(v.Delay))
	_ = now
	return it
}

// sysInfo is classic's sys_info: one info_sys item (80 octets; 56 for old clients). As in
// classic, the field ntpdc calls "jitter" carries the system jitter and "stability" the
// clock wander (ppm).
func (s *Server) sysInfo(r *reply, snap *snapshot.Snapshot, now time.Time) {
	r.itemSize = r.size(56, 80)
	it := make([]byte, r.itemSize)
	for i := range snap.Peers {
		p := &snap.Peers[i]
		if p.ID != snap.SysPeer || snap.SysPeer == 0 {
			continue
		}
		a := remote(p).Addr()
		if a.Is4() || a.Is4In6() {
			a4 := addr4(a)
			copy(it[0:4], a4[:])
		} else if r.v6 {
			a16 := a.As16()
			copy(it[64:80], a16[:])
			le32(it[56:], 1)
		}
		it[4] = p.Vars.HMode
	}
	sys := &snap.Sys
	it[5] = sys.Leap
	it[6] = sys.Stratum
	it[7] = byte(sys.Precision)
	binary.BigEndian.PutUint32(it[8:], sfp(sys.RootDelay))
	rootDisp := sys.RootDisp
	if sys.RootDispTime != 0 {
		// classic's sys_rootdisp grows by PHI a second between updates (snapshot.SysVars).
		if el := ntptime.Sub(ntptime.FromTime(now), sys.RootDispTime).Seconds(); el > 0 {
			rootDisp += snapshot.PHI * el
		}
	}
	binary.BigEndian.PutUint32(it[12:], ufp(rootDisp))
	binary.BigEndian.PutUint32(it[16:], sys.RefID)
	binary.BigEndian.PutUint64(it[20:], uint64(sys.RefTime))
	le32(it[28:], uint32(int32(sys.Poll)))
	var f uint8
	if s.src.Flags != nil {
		fl := s.src.Flags()
		for _, x := range []struct {
			on  bool
			bit uint8
		}{{fl.BClient, 0x1}, {fl.Auth, 0x2}, {fl.NTP, 0x4}, {fl.Kernel, 0x8}, {fl.Calibrate, 0x10}, {fl.PPS, 0x20}, {fl.Monitor, 0x40}, {fl.Stats, 0x80}} {
			if x.on {
				f |= x.bit
			}
		}
	}
	it[32] = f
	binary.BigEndian.PutUint32(it[36:], sfp(s.src.BroadcastDelay))
	binary.BigEndian.PutUint32(it[40:], sfp(snap.Jitter))
	binary.BigEndian.PutUint32(it[52:], ufp(snap.ClkWander))
	r.add(it)
	r.flush()
}

// sysStats is classic's sys_stats: one info_sys_stats item of 4.2.8p15 (52 octets). Its last
// two counters (Lamport violations and timestamp roundings) are zero: gontp's time server
// keeps neither.
func (s *Server) sysStats(r *reply, now time.Time) {
	r.itemSize = 52
	st := s.src.Stats(now)
	it := make([]byte, 0, 52)
	for _, v := range []uint64{st.Uptime, st.SinceReset, st.Denied, st.OldVersion, st.NewVersion, st.Declined,
		st.BadLength, st.Processed, st.BadAuth, st.Received, st.Limited, 0, 0} {
		it = binary.BigEndian.AppendUint32(it, uint32(v))
	}
	r.add(it)
	r.flush()
}

// kernel is classic's get_kernel_info: the timex fields as the kernel gives them (60 octets).
// The PPS fields are zero: gontp does not use kernel PPS discipline.
func (s *Server) kernel(r *reply) {
	if s.src.Kernel == nil {
		r.ack(ErrNoData)
		return
	}
	tx, ok := s.src.Kernel()
	if !ok {
		r.ack(ErrNoData)
		return
	}
	r.itemSize = 60
	it := make([]byte, 0, 60)
	put := func(v int64) { it = binary.BigEndian.AppendUint32(it, uint32(int32(v))) }
	put(tx.Offset)
	put(tx.Freq)
	put(tx.MaxError)
	put(tx.EstError)
	it = binary.BigEndian.AppendUint16(it, uint16(tx.Status))
	it = binary.BigEndian.AppendUint16(it, 0) // shift
	put(tx.Constant)
	put(tx.Precision)
	put(tx.Tolerance)
	for range 7 { // ppsfreq, jitter, stabil, jitcnt, calcnt, errcnt, stbcnt
		put(0)
	}
	r.add(it)
	r.flush()
}
