// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gontp/internal/snapshot"

	"github.com/google/go-cmp/cmp"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/peer"
)

// The golden texts below are what classic ntpd 4.2.8p15 sent for the same state (one LOCAL
// refclock at stratum 10, `disable ntp`, 2 s after start): see
// testdata/classicprobe/output/classic-local.txt and testdata/classicprobe/main.go for how
// they were captured. The hand-made snapshot reproduces that state value for value.

var (
	t0      = time.Date(2026, 11, 28, 17, 44, 30, 0, time.UTC)
	client  = netip.MustParseAddrPort("198.18.0.2:40000")
	version = "ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1)"
)

func refID(s string) uint32 { return refIDFromText(s) }

func localSnapshot(now time.Time) *snapshot.Snapshot {
	v := peer.Vars{
		Addr: netip.MustParseAddrPort("127.127.1.0:123"), Status: 0x9014, Leap: 0, Stratum: 10,
		Precision: -24, RootDisp: 0.010, RefID: refID("LOCL"),
		Rec: ntptime.Time(0xeeb59182275a4ac5), Reach: 1, HMode: 3, PMode: 4, HPoll: 6, PPoll: 6,
		Disp: 7.9375, Timer: 63 * time.Second, Received: 1, Sent: 1,
		TimeReceived: now.Add(-time.Second), TimeReachable: now.Add(-time.Second),
	}
	v.FiltDisp = [8]float64{0, 16, 16, 16, 16, 16, 16, 16}
	return &snapshot.Snapshot{
		Sys: snapshot.SysVars{Leap: 3, Stratum: 16, Precision: -24, Poll: 3, RefID: refID("INIT"),
			RootDispTime: ntptime.FromTime(now.Add(-2 * time.Second))},
		SysEvent: 6, SysEventCount: 1,
		Peers: []snapshot.Peer{{ID: 45431, Refclock: "LOCAL(0)", Vars: v,
			Clock: &snapshot.ClockVars{Type: 1, Description: "Undisciplined local clock",
				Polls: 1, Stratum: 10, RefID: "LOCL"}}},
	}
}

func newServer(snap *snapshot.Snapshot, src Sources) *Server {
	src.Snapshot = func() *snapshot.Snapshot { return snap }
	return New(Config{Version: version, Processor: "x86_64", System: "Linux/6.18.44-fc-v669",
		NonceSecret: [16]byte{1, 2, 3}}, src)
}

func request(op uint8, seq, assoc uint16, data string) []byte {
	b := make([]byte, wire.ControlLen(len(data)))
	h := wire.ControlHeader{Version: 2, Opcode: op, Sequence: seq, AssocID: assoc, Count: uint16(len(data))}
	h.Encode(b)
	copy(b[wire.ControlHeaderLen:], data)
	return b
}

type frag struct {
	h    wire.ControlHeader
	data string
	raw  []byte
}

func exchange(t *testing.T, s *Server, req []byte, src netip.AddrPort, res Restrict, now time.Time) []frag {
	t.Helper()
	var out []frag
	s.Handle(req, src, res, now, func(b []byte) {
		h, d, _, err := wire.DecodeControl(b)
		if err != nil {
			t.Fatalf("reply does not decode: %v (% x)", err, b)
		}
		if len(b)%4 != 0 || h.Count > wire.ControlMaxData {
			t.Fatalf("reply length %d count %d", len(b), h.Count)
		}
		out = append(out, frag{h, string(d), bytes.Clone(b)})
	})
	return out
}

func text(fs []frag) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.data)
	}
	return b.String()
}

const classicPeerText = "srcadr=127.127.1.0, srcport=123, dstadr=127.0.0.1, dstport=123, leap=0,\r\nstratum=10, precision=-24, rootdelay=0.000, rootdisp=10.000, refid=LOCL,\r\nreftime=0x00000000.00000000, rec=0xeeb59182.275a4ac5, reach=0x1,\r\nunreach=0, hmode=3, pmode=4, hpoll=6, ppoll=6, headway=0, flash=0x0,\r\nkeyid=0, ttl=0, offset=0.000, delay=0.000, dispersion=7937.500,\r\njitter=0.000, filtdelay= 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00,\r\nfiltoffset= 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00,\r\nfiltdisp= 0.00 16000.00 16000.00 16000.00 16000.00 16000.00 16000.00 16000.00\r\n"

// TestReadVarPeerClassic checks the default peer variables byte for byte against classic,
// including where classic splits the two fragments (466 + 82 octets, mid-line).
func TestReadVarPeerClassic(t *testing.T) {
	s := newServer(localSnapshot(t0), Sources{})
	for _, op := range []uint8{OpReadVar, OpReadStat} {
		fs := exchange(t, s, request(op, 21, 45431, ""), client, 0, t0)
		if len(fs) != 2 {
			t.Fatalf("op %d: %d fragments, want 2", op, len(fs))
		}
		if d := cmp.Diff(classicPeerText, text(fs)); d != "" {
			t.Errorf("op %d text (-classic +gontp):\n%s", op, d)
		}
		want := []struct {
			b0, b1      byte
			off, count  uint16
			status, seq uint16
		}{{0xd6, 0xa0 | op, 0, 466, 0x9014, 21}, {0xd6, 0x80 | op, 466, 82, 0x9014, 21}}
		for i, f := range fs {
			w := want[i]
			if f.raw[0] != w.b0 || f.raw[1] != w.b1 || f.h.Offset != w.off || f.h.Count != w.count ||
				f.h.Status != w.status || f.h.Sequence != w.seq || f.h.AssocID != 45431 {
				t.Errorf("op %d fragment %d: header % x, want b0 %02x b1 %02x off %d count %d",
					op, i, f.raw[:12], w.b0, w.b1, w.off, w.count)
			}
		}
	}
}

func TestReadVarSysClassic(t *testing.T) {
	s := newServer(localSnapshot(t0), Sources{})
	fs := exchange(t, s, request(OpReadVar, 6, 0, ""), client, 0, t0)
	clock := ntptime.FromTime(t0)
	want := "version=\"ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1)\",\r\nprocessor=\"x86_64\", system=\"Linux/6.18.44-fc-v669\", leap=3, stratum=16,\r\nprecision=-24, rootdelay=0.000, rootdisp=0.030, refid=INIT,\r\nreftime=0x00000000.00000000, clock=" +
		fmt.Sprintf("0x%08x.%08x", clock.Seconds(), clock.Fraction()) +
		", peer=0, tc=3,\r\nmintc=3, offset=0.000000, frequency=0.000, sys_jitter=0.000000,\r\nclk_jitter=0.000, clk_wander=0.000\r\n"
	if len(fs) != 1 || fs[0].h.Status != 0xc016 || fs[0].raw[0] != 0xd6 || fs[0].raw[1] != 0x82 {
		t.Fatalf("fragments %d, header % x", len(fs), fs[0].raw[:12])
	}
	if d := cmp.Diff(want, text(fs)); d != "" {
		t.Errorf("(-classic +gontp):\n%s", d)
	}
}

func TestReadVarNamed(t *testing.T) {
	stats := ServerStats{Uptime: 2, SinceReset: 2, Received: 12}
	s := newServer(localSnapshot(t0), Sources{ServerStats: func(ntptime.Time) ServerStats { return stats }})
	for _, c := range []struct{ req, want string }{
		{"version,stratum,offset", "stratum=16, offset=0.000000,\r\nversion=\"ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1)\"\r\n"},
		{"ss_uptime,ss_reset,ss_received,ss_thisver,ss_oldver,ss_badformat,ss_badauth,ss_declined,ss_restricted,ss_limited,ss_kodsent,ss_processed,ss_lamport,ss_tsrounding",
			"ss_uptime=2, ss_reset=2, ss_received=12, ss_thisver=0, ss_oldver=0,\r\nss_badformat=0, ss_badauth=0, ss_declined=0, ss_restricted=0,\r\nss_limited=0, ss_kodsent=0, ss_processed=0, ss_lamport=0,\r\nss_tsrounding=0\r\n"},
		{"peeradr,peermode,leap,stratum,precision,rootdelay,rootdisp,refid,reftime,sys_jitter,clk_jitter,clk_wander,bcastdelay,authdelay",
			"leap=3, stratum=16, precision=-24, rootdelay=0.000, rootdisp=0.030,\r\nrefid=INIT, reftime=0x00000000.00000000, sys_jitter=0.000000,\r\nclk_jitter=0.000, clk_wander=0.000, peeradr=0.0.0.0:0, peermode=0,\r\nbcastdelay=0.000, authdelay=0.000\r\n"},
		{"stratum=" + strings.Repeat("x", 200), ""}, // classic stops parsing: default list
		{"stratum,,precision", "stratum=16, precision=-24\r\n"},
		{"stratum, stratum", "stratum=16\r\n"},
		{"precision=5", "precision=-24\r\n"},
		{" stratum", "stratum=16\r\n"},
		{"stratum,\tprecision", "stratum=16, precision=-24\r\n"},
		{strings.Repeat("stratum,", 62), "stratum=16\r\n"},
	} {
		fs := exchange(t, s, request(OpReadVar, 9, 0, c.req), client, 0, t0)
		got := text(fs)
		if c.want == "" {
			if !strings.HasPrefix(got, "version=") {
				t.Errorf("%.30q: got %q, want the default list", c.req, got)
			}
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%.30q (-classic +gontp):\n%s", c.req, d)
		}
	}
	fs := exchange(t, s, request(OpReadVar, 9, 45431, "srcadr,srcport,dstadr,dstport,timerec,timer,timereach,sent,received,badauth,bogusorg,oldpkt,seldisp,selbroken,candidate"), client, 0, t0)
	want := "srcadr=127.127.1.0, srcport=123, dstadr=127.0.0.1, dstport=123,\r\ntimer=63, received=1, sent=1, timerec=1, timereach=1, badauth=0,\r\nbogusorg=0, oldpkt=0, seldisp=0, selbroken=0, candidate=0\r\n"
	if d := cmp.Diff(want, text(fs)); d != "" {
		t.Errorf("pstats (-classic +gontp):\n%s", d)
	}
}

func TestReadClockClassic(t *testing.T) {
	s := newServer(localSnapshot(t0), Sources{})
	want := "device=\"Undisciplined local clock\", timecode=\"\", poll=1, noreply=0,\r\nbadformat=0, baddata=0, stratum=10, refid=LOCL, flags=0\r\n"
	for _, id := range []uint16{0, 45431} {
		fs := exchange(t, s, request(OpReadClock, 1, id, ""), client, 0, t0)
		if len(fs) != 1 || fs[0].h.Status != 0 || fs[0].raw[1] != 0x84 {
			t.Fatalf("assoc %d: %d fragments", id, len(fs))
		}
		if d := cmp.Diff(want, text(fs)); d != "" {
			t.Errorf("assoc %d (-classic +gontp):\n%s", id, d)
		}
	}
	fs := exchange(t, s, request(OpReadClock, 1, 0, "clock_var_list,type,fudgetime1,refid"), client, 0, t0)
	want = "type=1, fudgetime1=0.000, refid=LOCL,\r\nclock_var_list=\"type,timecode,poll,noreply,badformat,baddata,fudgetime1,fudgetime2,stratum,refid,flags,device,clock_var_list,minjitter\"\r\n"
	if d := cmp.Diff(want, text(fs)); d != "" {
		t.Errorf("named (-classic +gontp):\n%s", d)
	}
}

func TestReadStat(t *testing.T) {
	snap := localSnapshot(t0)
	s := newServer(snap, Sources{})
	fs := exchange(t, s, request(OpReadStat, 1, 0, ""), client, 0, t0)
	if len(fs) != 1 || fs[0].data != "\xb1\x77\x90\x14" || fs[0].h.Status != 0xc016 ||
		!bytes.Equal(fs[0].raw[:2], []byte{0xd6, 0x81}) || len(fs[0].raw) != 16 {
		t.Fatalf("got % x", fs[0].raw)
	}
	// 300 associations: 117 records per fragment, never split, newest first.
	snap.Peers = nil
	for i := 0; i < 300; i++ {
		snap.Peers = append(snap.Peers, snapshot.Peer{ID: uint16(1000 + i), Vars: peer.Vars{Status: 0x8011}})
	}
	fs = exchange(t, s, request(OpReadStat, 1, 0, ""), client, 0, t0)
	if len(fs) != 3 || fs[0].h.Count != 468 || fs[1].h.Offset != 468 || fs[2].h.Count != 66*4 || !fs[0].h.More || fs[2].h.More {
		t.Fatalf("%d fragments", len(fs))
	}
	all := text(fs)
	if binary.BigEndian.Uint16([]byte(all)) != 1299 || binary.BigEndian.Uint16([]byte(all[len(all)-4:])) != 1000 {
		t.Errorf("order: first %d", binary.BigEndian.Uint16([]byte(all)))
	}
}

// TestErrorsClassic checks every refusal against what classic answered
// (testdata/classicprobe/output/classic-local.txt): the first two octets and the status.
func TestErrorsClassic(t *testing.T) {
	s := newServer(localSnapshot(t0), Sources{})
	raw := func(b0, b1 byte, off uint16, data string, count int, pad bool) []byte {
		b := make([]byte, 12, 64)
		b[0], b[1] = b0, b1
		binary.BigEndian.PutUint16(b[2:], 7)
		binary.BigEndian.PutUint16(b[8:], off)
		if count < 0 {
			count = len(data)
		}
		binary.BigEndian.PutUint16(b[10:], uint16(count))
		b = append(b, data...)
		for pad && len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	for _, c := range []struct {
		name  string
		req   []byte
		reply string // "" = no reply; else "b0 b1 status"
	}{
		{"unspec-0", request(0, 7, 0, ""), "d6 80 c016"},
		{"unspec-bad", request(0, 7, 1, ""), "d6 c0 0400"},
		{"readvar-unknown", request(2, 7, 0, "stratum,nosuchvar"), "d6 c2 0500"},
		{"readvar-space-before-comma", request(2, 7, 0, "stratum ,precision"), "d6 c2 0500"},
		{"readvar-dup", request(2, 7, 0, "stratum, stratum ,,precision=5"), "d6 c2 0500"},
		{"readvar-prefix", request(2, 7, 0, "strat"), "d6 c2 0500"},
		{"readvar-bad-assoc", request(2, 7, 1, ""), "d6 c2 0400"},
		{"readclock-bad", request(4, 7, 1, ""), "d6 c4 0400"},
		{"writevar", request(3, 7, 0, "leap=1"), "d6 c3 0100"},
		{"writevar-peer", request(3, 7, 45431, "leap=1"), "d6 c3 0100"},
		{"writeclock", request(5, 7, 0, "flags=1"), "d6 c5 0100"},
		{"settrap", request(6, 7, 0, ""), "d6 c6 0100"},
		{"asyncmsg", request(7, 7, 0, ""), "d6 c7 0300"},
		{"configure", request(8, 7, 0, "disable monitor"), "d6 c8 0100"},
		{"saveconfig", request(9, 7, 0, "x.conf"), "d6 c9 0100"},
		{"readmru-nononce", request(10, 7, 0, "frags=32"), ""},
		{"readmru-badnonce", request(10, 7, 0, "nonce=000000000000000000000000, frags=32"), ""},
		{"ordlist", request(11, 7, 0, ""), "d6 cb 0100"},
		{"ordlist-res", request(11, 7, 0, "addr_restrictions"), "d6 cb 0100"},
		{"op13", request(13, 7, 0, ""), "d6 cd 0300"},
		{"op30", request(30, 7, 0, ""), "d6 de 0300"},
		{"unsettrap", request(31, 7, 0, ""), "d6 df 0100"},
		{"count-too-big", raw(0x16, 2, 0, "stratum", 20, true), "d6 c2 0200"},
		{"misaligned", raw(0x16, 2, 0, "stratum", -1, false), "d6 c2 0200"},
		{"r-bit", raw(0x16, 0x82, 0, "", 0, true), ""},
		{"m-bit", raw(0x16, 0x22, 0, "", 0, true), ""},
		{"offset", raw(0x16, 2, 4, "", 0, true), ""},
		{"vn0", raw(0x06, 2, 0, "", 0, true), ""},
		{"vn5", raw(0x2e, 2, 0, "", 0, true), ""},
		{"mode7", raw(0x17, 2, 0, "", 0, true), ""},
		{"short", []byte{0x16, 2, 0, 1}, ""},
		{"vn4-li3", raw(0xe6, 2, 0, "stratum", -1, true), "e6 82 c016"},
		{"vn1", raw(0x0e, 2, 0, "stratum", -1, true), "ce 82 c016"},
	} {
		fs := exchange(t, s, c.req, client, 0, t0)
		got := ""
		if len(fs) > 0 {
			got = fmt.Sprintf("%02x %02x %04x", fs[0].raw[0], fs[0].raw[1], fs[0].h.Status)
			if fs[0].h.Sequence != 7 {
				t.Errorf("%s: sequence %d", c.name, fs[0].h.Sequence)
			}
		}
		if len(fs) > 1 || got != c.reply {
			t.Errorf("%s: got %d replies %q, classic %q", c.name, len(fs), got, c.reply)
		}
	}
	st := s.Stats()
	if st.Permission != 9 || st.BadOp != 3 || st.BadFormat != 2 || st.BadNonce != 2 ||
		st.BadHeader != 3 || st.BadVersion != 2 || st.NotControl != 1 || st.Short != 1 ||
		st.BadAssoc != 3 || st.UnknownVar != 4 {
		t.Errorf("counters %+v", st)
	}
}

func TestNoQuery(t *testing.T) {
	s := newServer(localSnapshot(t0), Sources{})
	for _, res := range []Restrict{RestrictNoQuery, RestrictIgnore} {
		if fs := exchange(t, s, request(OpReadVar, 1, 0, ""), client, res, t0); len(fs) != 0 {
			t.Errorf("restrict %#x: %d replies", res, len(fs))
		}
	}
	if s.Stats().Restricted != 2 {
		t.Errorf("restricted %d", s.Stats().Restricted)
	}
}

func mruList(n int, now time.Time) []MRUEntry {
	var l []MRUEntry
	for i := 0; i < n; i++ {
		last := ntptime.FromTime(now.Add(time.Duration(i-n) * time.Second))
		l = append(l, MRUEntry{
			Addr:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 123),
			First: last - 1<<36, Last: last, Count: uint64(i + 1), Mode: 3, Version: 4,
			Restrict: 0x380,
		})
	}
	return l
}

func seqOf(l []MRUEntry) func() iter.Seq[MRUEntry] {
	return func() iter.Seq[MRUEntry] {
		return func(yield func(MRUEntry) bool) {
			for _, e := range l {
				if !yield(e) {
					return
				}
			}
		}
	}
}

func nonce(t *testing.T, s *Server, src netip.AddrPort, now time.Time) string {
	t.Helper()
	fs := exchange(t, s, request(OpReqNonce, 1, 0, ""), src, 0, now)
	if len(fs) != 1 || fs[0].h.Status != 0 || !strings.HasPrefix(fs[0].data, "nonce=") ||
		len(fs[0].data) != 32 || !strings.HasSuffix(fs[0].data, "\r\n") {
		t.Fatalf("nonce reply %q", text(fs))
	}
	return strings.TrimSpace(fs[0].data)
}

func TestMRU(t *testing.T) {
	list := mruList(3, t0)
	s := newServer(localSnapshot(t0), Sources{MRU: seqOf(list)})
	n := nonce(t, s, client, t0)
	fs := exchange(t, s, request(OpReadMRU, 2, 0, n+", frags=32"), client, 0, t0.Add(time.Second))
	got := text(fs)
	for _, w := range []string{"addr.0=198.18.0.0:123", "ct.2=3", "mv.0=35", "rs.1=0x380",
		"now=0x", "last.newest=0x"} {
		if !strings.Contains(got, w) {
			t.Errorf("reply lacks %q:\n%s", w, got)
		}
	}
	// The nonce is bound to the address and expires.
	other := netip.MustParseAddrPort("198.18.0.3:40000")
	if fs := exchange(t, s, request(OpReadMRU, 2, 0, n+", frags=32"), other, 0, t0); len(fs) != 0 {
		t.Error("nonce accepted from another address")
	}
	if fs := exchange(t, s, request(OpReadMRU, 2, 0, n+", frags=32"), client, 0, t0.Add(20*time.Second)); len(fs) != 0 {
		t.Error("expired nonce accepted")
	}
	for _, bad := range []string{", frags=0", ", frags=200", ", limit=300", ", frags=x"} {
		fs := exchange(t, s, request(OpReadMRU, 2, 0, n+bad), client, 0, t0)
		if len(fs) != 1 || fs[0].h.Status != 0x0600 || !fs[0].h.Error {
			t.Errorf("%s: want BADVALUE", bad)
		}
	}
	if fs := exchange(t, s, request(OpReadMRU, 2, 0, n+", limit=1"), client, 0, t0); !strings.Contains(text(fs), "addr.0=") || strings.Contains(text(fs), "addr.1=") || strings.Contains(text(fs), "now=") {
		t.Errorf("limit=1: %q", text(fs))
	}
	// Resume after the first entry.
	req := fmt.Sprintf("%s, frags=32, addr.0=198.18.0.0:123, last.0=0x%08x.%08x", n, list[0].Last.Seconds(), list[0].Last.Fraction())
	got = text(exchange(t, s, request(OpReadMRU, 2, 0, req), client, 0, t0))
	if !strings.Contains(got, "addr.older=198.18.0.0:123") || !strings.Contains(got, "addr.0=198.18.0.1:123") || strings.Contains(got, "addr.2=") {
		t.Errorf("resume: %q", got)
	}
	req = n + ", frags=32, addr.0=198.18.9.9:123, last.0=0x1.2"
	if fs := exchange(t, s, request(OpReadMRU, 2, 0, req), client, 0, t0); len(fs) != 1 || fs[0].h.Status != 0x0500 {
		t.Errorf("stale resume point: want UNKNOWNVAR")
	}
}

// TestMRUBounded checks that no request draws more than its frags (at most 128, classic's
// limit) worth of fragments however long the list is.
func TestMRUBounded(t *testing.T) {
	s := newServer(localSnapshot(t0), Sources{MRU: seqOf(mruList(5000, t0))})
	n := nonce(t, s, client, t0)
	for _, frags := range []int{1, 4, 32, 128} {
		fs := exchange(t, s, request(OpReadMRU, 2, 0, fmt.Sprintf("%s, frags=%d", n, frags)), client, 0, t0)
		if len(fs) > frags || len(fs) == 0 {
			t.Errorf("frags=%d: %d fragments", frags, len(fs))
		}
		if strings.Contains(text(fs), "now=") {
			t.Errorf("frags=%d: list reported complete", frags)
		}
	}
}

func TestFragmentLines(t *testing.T) {
	// Many setvars force several fragments; every fragment but the last is full, lines stay
	// within 72 characters, and offsets are contiguous.
	snap := localSnapshot(t0)
	var sv []SetVar
	for i := 0; i < 60; i++ {
		sv = append(sv, SetVar{Name: fmt.Sprintf("var%d", i), Value: strings.Repeat("v", i), Default: true})
	}
	s := New(Config{Version: version, SetVars: sv}, Sources{Snapshot: func() *snapshot.Snapshot { return snap }})
	fs := exchange(t, s, request(OpReadVar, 3, 0, ""), client, 0, t0)
	off := 0
	for i, f := range fs {
		if int(f.h.Offset) != off || f.h.More != (i < len(fs)-1) {
			t.Fatalf("fragment %d offset %d more %v", i, f.h.Offset, f.h.More)
		}
		if i < len(fs)-1 && f.h.Count < 460 {
			t.Errorf("fragment %d only %d octets", i, f.h.Count)
		}
		off += int(f.h.Count)
	}
	for _, line := range strings.Split(text(fs), "\r\n") {
		if len(line) > 72 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	if !strings.Contains(text(fs), "var59="+strings.Repeat("v", 59)) {
		t.Error("last setvar missing")
	}
}

func TestAllocations(t *testing.T) {
	s := newServer(localSnapshot(t0), Sources{})
	req := request(OpReadVar, 1, 45431, "")
	out := func([]byte) {}
	n := testing.AllocsPerRun(100, func() { s.Handle(req, client, 0, t0, out) })
	if n > 0 {
		t.Errorf("peer readvar allocates %.0f times", n)
	}
}

func BenchmarkReadVarPeer(b *testing.B) {
	s := newServer(localSnapshot(t0), Sources{})
	req := request(OpReadVar, 1, 45431, "")
	out := func([]byte) {}
	b.ReportAllocs()
	for b.Loop() {
		s.Handle(req, client, 0, t0, out)
	}
}

func BenchmarkReadVarSys(b *testing.B) {
	s := newServer(localSnapshot(t0), Sources{})
	req := request(OpReadVar, 1, 0, "")
	out := func([]byte) {}
	b.ReportAllocs()
	for b.Loop() {
		s.Handle(req, client, 0, t0, out)
	}
}

func FuzzHandle(f *testing.F) {
	f.Add(request(OpReadVar, 1, 0, "stratum,offset"))
	f.Add(request(OpReadVar, 1, 45431, ""))
	f.Add(request(OpReadMRU, 1, 0, "nonce=00, frags=32, addr.0=1.2.3.4:5, last.0=0x1.2, mincount=1, resall=0x10, laddr=::1"))
	f.Add(request(OpReadClock, 1, 0, "type"))
	f.Add(request(OpReadOrdList, 1, 0, "ifstats"))
	list := mruList(50, t0)
	s := newServer(localSnapshot(t0), Sources{MRU: seqOf(list)})
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		s.Handle(b, client, 0, t0, func(p []byte) {
			total++
			h, _, _, err := wire.DecodeControl(p)
			if err != nil || !h.Response || h.Count > wire.ControlMaxData || len(p)%4 != 0 {
				t.Fatalf("bad reply % x: %v", p, err)
			}
		})
		if total > mruFragsLimit {
			t.Fatalf("%d fragments", total)
		}
	})
}

// TestSetVarClassic compares with classicprobe/output/classic-local-setvar.txt, where the
// configuration had `setvar myvar = "hello world" default`.
func TestSetVarClassic(t *testing.T) {
	snap := localSnapshot(t0)
	s := New(Config{Version: version, Processor: "x86_64", System: "Linux/6.18.44-fc-v669",
		SetVars: []SetVar{{Name: "myvar", Value: "hello world", Default: true}}},
		Sources{Snapshot: func() *snapshot.Snapshot { return snap }})
	got := text(exchange(t, s, request(OpReadVar, 6, 0, ""), client, 0, t0))
	if !strings.HasSuffix(got, "\r\nclk_jitter=0.000, clk_wander=0.000, myvar=hello world\r\n") {
		t.Errorf("default list: %q", got)
	}
	if got := text(exchange(t, s, request(OpReadVar, 6, 0, "myvar"), client, 0, t0)); got != "myvar=hello world\r\n" {
		t.Errorf("named: %q", got)
	}
}

func TestSysVarListClassic(t *testing.T) {
	s := newServer(localSnapshot(t0), Sources{})
	got := text(exchange(t, s, request(OpReadVar, 6, 0, "sys_var_list"), client, 0, t0))
	want := `sys_var_list="leap,stratum,precision,rootdelay,rootdisp,refid,reftime,tc,peer,offset,frequency,sys_jitter,clk_jitter,clock,processor,system,version,clk_wander,sys_var_list,tai,leapsec,expire,mintc,mru_enabled,mru_depth,mru_deepest,mru_mindepth,mru_maxage,mru_maxdepth,mru_mem,mru_maxmem,ss_uptime,ss_reset,ss_received,ss_thisver,ss_oldver,ss_badformat,ss_badauth,ss_declined,ss_restricted,ss_limited,ss_kodsent,ss_processed,ss_lamport,ss_tsrounding,peeradr,peermode"` + "\r\n"
	if got != want {
		t.Errorf("(-classic +gontp):\n%s", cmp.Diff(want, got))
	}
}
