// SPDX-License-Identifier: BSD-2-Clause

package mode7

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"gontp/clock"
	"gontp/internal/snapshot"
	"gontp/peer"
	"gontp/system"
)

func fixture(npeers int) *Server {
	snap := &snapshot.Snapshot{SysPeer: 1}
	snap.Sys.Leap, snap.Sys.Stratum, snap.Sys.Precision, snap.Sys.RefID = 0, 3, -20, 0xc6120002
	for i := 0; i < npeers; i++ {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(2 + i)}), 123)
		if i == npeers-1 && npeers > 1 {
			a = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::7"), 123)
		}
		sel := system.SelCandidate
		if i == 0 {
			sel = system.SelSysPeer
		}
		snap.Peers = append(snap.Peers, snapshot.Peer{ID: uint16(1 + i), Vars: peer.Vars{Addr: a, Stratum: 2, HMode: 3,
			HPoll: 6, PPoll: 6, Reach: 0377, Delay: 0.25, Offset: -0.5, Disp: 0.0625, Configured: true, Selection: sel}})
	}
	return New(Sources{
		Snapshot: func() *snapshot.Snapshot { return snap },
		Stats:    func(time.Time) SysStats { return SysStats{Uptime: 100, Received: 7} },
		Flags:    func() Flags { return Flags{NTP: true, Kernel: true} },
		Kernel:   func() (clock.Timex, bool) { return clock.Timex{Offset: -5, Status: 0x2001}, true },
	})
}

func newRequest(impl, code byte) []byte {
	b := make([]byte, 192)
	b[0], b[2], b[3] = 0x17, impl, code
	return b
}

func ask(s *Server, req []byte) [][]byte {
	var out [][]byte
	s.Handle(req, time.Unix(1800000000, 0), func(b []byte) { out = append(out, append([]byte(nil), b...)) })
	return out
}

// TestPeerSummaryLayout: info_peer_summary as classic lays it out, for a v6-capable and an
// old (implementation 2) client, which does not get the IPv6 peer.
func TestPeerSummaryLayout(t *testing.T) {
	s := fixture(2)
	out := ask(s, newRequest(implXntpd, ReqPeerListSum))
	if len(out) != 1 {
		t.Fatalf("%d packets", len(out))
	}
	p := out[0]
	if p[0] != 0x97 || binary.BigEndian.Uint16(p[4:]) != 2 || binary.BigEndian.Uint16(p[6:]) != 72 || len(p) != 8+2*72 {
		t.Fatalf("header % x, length %d", p[:8], len(p))
	}
	it := p[8:80]
	if string(it[4:8]) != string([]byte{198, 18, 0, 2}) || binary.BigEndian.Uint16(it[8:]) != 123 || it[10] != 2 ||
		it[13] != 0377 || it[14] != flagConfig|flagSysPeer|flagShortlist || it[15] != 3 {
		t.Errorf("first item % x", it)
	}
	if d := binary.BigEndian.Uint32(it[16:]); d != 0x4000 {
		t.Errorf("delay %#x, want 0.25 as s_fp", d)
	}
	if o := int64(binary.BigEndian.Uint64(it[20:])); o != -1<<31 {
		t.Errorf("offset %#x, want -0.5 as l_fp", o)
	}
	if d := binary.BigEndian.Uint32(it[28:]); d != 0x4000 {
		t.Errorf("dispersion %#x, want sqrt(0.0625) = 0.25", d)
	}
	v6 := p[80:]
	if binary.LittleEndian.Uint32(v6[32:]) != 1 || netip.AddrFrom16([16]byte(v6[56:72])) != netip.MustParseAddr("2001:db8::7") {
		t.Errorf("IPv6 item % x", v6)
	}
	old := ask(s, newRequest(implXntpdOld, ReqPeerListSum))
	if len(old) != 1 || binary.BigEndian.Uint16(old[0][4:]) != 1 || binary.BigEndian.Uint16(old[0][6:]) != 32 {
		t.Errorf("old client: % x", old)
	}
}

// TestManyPeersSplit: items go 6 to a 500-octet packet, the more bit on all but the last,
// sequence numbers counting up (classic's more_pkt).
func TestManyPeersSplit(t *testing.T) {
	out := ask(fixture(20), newRequest(implXntpd, ReqPeerListSum))
	if len(out) != 4 {
		t.Fatalf("%d packets, want 4", len(out))
	}
	total := 0
	for i, p := range out {
		more := p[0]&moreBit != 0
		if more != (i < 3) || int(p[1]) != i {
			t.Errorf("packet %d: more %v, seq %d", i, more, p[1])
		}
		total += int(binary.BigEndian.Uint16(p[4:]) & 0xfff)
	}
	if total != 20 {
		t.Errorf("%d items, want 20", total)
	}
}

// TestRefusals: writes get INFO_ERR_AUTH, monlist INFO_ERR_REQ, malformed requests nothing,
// and no request changes anything or returns more than an error header.
func TestRefusals(t *testing.T) {
	s := fixture(1)
	for _, c := range []struct {
		name string
		req  []byte
		err  int
	}{
		{"monlist", newRequest(implXntpd, ReqMonGetList1), ErrReq},
		{"monlist old", newRequest(implXntpd, ReqMonGetList), ErrReq},
		{"reread keys", newRequest(implXntpd, 23), ErrAuth},
		{"unknown implementation", newRequest(9, 0), ErrImpl},
		{"unknown code", newRequest(implXntpd, 200), ErrReq},
	} {
		out := ask(s, c.req)
		if len(out) != 1 || len(out[0]) != 8 || int(out[0][4]>>4) != c.err {
			t.Errorf("%s: % x, want error %d", c.name, out, c.err)
		}
	}
	for name, req := range map[string][]byte{
		"short":     {0x17, 0, 3},
		"response":  append([]byte{0x97}, newRequest(implXntpd, 4)[1:]...),
		"version 5": append([]byte{0x2f}, newRequest(implXntpd, 4)[1:]...),
		"mbz":       append(newRequest(implXntpd, 4)[:6], append([]byte{0x10, 0}, make([]byte, 184)...)...),
	} {
		if out := ask(s, req); len(out) != 0 {
			t.Errorf("%s: answered % x", name, out)
		}
	}
	if s.C.Dropped.Load() != 4 || s.C.Refused.Load() != 3 {
		t.Errorf("dropped %d, refused %d", s.C.Dropped.Load(), s.C.Refused.Load())
	}
}

// TestSysInfoStatsKernel: the fixed items.
func TestSysInfoStatsKernel(t *testing.T) {
	s := fixture(1)
	si := ask(s, newRequest(implXntpd, ReqSysInfo))[0][8:]
	if len(si) != 80 || string(si[0:4]) != string([]byte{198, 18, 0, 2}) || si[4] != 3 || si[6] != 3 || int8(si[7]) != -20 || si[32] != 0x4|0x8 {
		t.Errorf("sysinfo % x", si)
	}
	st := ask(s, newRequest(implXntpd, ReqSysStats))[0][8:]
	if len(st) != 52 || binary.BigEndian.Uint32(st[0:]) != 100 || binary.BigEndian.Uint32(st[36:]) != 7 {
		t.Errorf("sysstats % x", st)
	}
	k := ask(s, newRequest(implXntpd, ReqGetKernel))[0][8:]
	if len(k) != 60 || int32(binary.BigEndian.Uint32(k[0:])) != -5 || binary.BigEndian.Uint16(k[16:]) != 0x2001 {
		t.Errorf("kerninfo % x", k)
	}
}

// FuzzHandle: no request, however malformed, panics the server or gets more than a few
// well-formed replies.
func FuzzHandle(f *testing.F) {
	for _, code := range []byte{0, 1, 2, 4, 5, 10, 20, 38, 42} {
		f.Add(newRequest(implXntpd, code))
	}
	f.Add([]byte{0x17, 0, 3, 2, 0, 5, 0, 32})
	s := fixture(3)
	f.Fuzz(func(t *testing.T, req []byte) {
		out := ask(s, req)
		if len(out) > 4 {
			t.Fatalf("%d replies to a %d-octet request", len(out), len(req))
		}
		for _, p := range out {
			if len(p) < 8 || len(p) > 8+dataSize || p[0]&0x87 != 0x87 {
				t.Fatalf("bad reply % x", p)
			}
		}
	})
}

// TestPeerInfoItemLimit: more peers than classic's request data area holds is a format error.
func TestPeerInfoItemLimit(t *testing.T) {
	s := fixture(1)
	req := make([]byte, 8+6*32)
	copy(req, []byte{0x17, 0, implXntpd, ReqPeerInfo, 0, 6, 0, 32})
	for i := 0; i < 6; i++ {
		copy(req[8+32*i:], []byte{198, 18, 0, 2, 0, 123})
	}
	if out := ask(s, req); len(out) != 1 || out[0][4]>>4 != ErrFmt {
		t.Errorf("6 items: % x", out)
	}
	req = req[:8+4*32]
	req[5] = 4
	if out := ask(s, req); len(out) != 4 || len(out[0]) != 8+280 {
		t.Errorf("4 items: %d packets", len(out))
	}
}
