// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/snapshot"
	"gontp/internal/wire"
	"gontp/peer"
)

// activePeer is a remote symmetric active peer in virtual time: it sends a mode-1 packet
// every 16 s echoing the last packet it received from us, as classic's peer_xmit does.
type activePeer struct {
	addr     netip.AddrPort
	org, rec ntptime.Time // our last transmit timestamp and its receive time of it
	stratum  uint8
}

func (p *activePeer) packet(now time.Time) []byte {
	pkt := wire.Packet{Leap: wire.LeapNone, Version: 4, Mode: wire.ModeSymActive, Stratum: p.stratum,
		Poll: 4, Precision: -20, RootDelay: ntptime.ShortFromSeconds(0.01), RootDisp: ntptime.ShortFromSeconds(0.01),
		RefID: wire.RefIDFromString("GPS"), RefTime: ntptime.FromTime(now.Add(-time.Minute)),
		Org: p.org, Rec: p.rec, Xmt: ntptime.FromTime(now)}
	var b [wire.HeaderLen]byte
	pkt.Encode(b[:])
	return b[:]
}

// TestNewPassiveMobilisesAndTimesOut: a symmetric-active packet the server let through
// (server.NewPassive) mobilises a symmetric passive association that answers in mode 2,
// reaches the peer and selects it; when the peer goes silent the association is
// demobilised after Unreach polls, as classic's ephemeral associations are.
func TestNewPassiveMobilisesAndTimesOut(t *testing.T) {
	w := newWorld(t, Config{})
	p := &activePeer{addr: netip.AddrPortFrom(addr(5), 123), stratum: 2}
	silentAt := t0.Add(10 * time.Minute)
	var lastFromUs time.Time
	next := t0
	first := true
	checked := false
	for w.now.Before(t0.Add(2 * time.Hour)) {
		if !w.now.Before(next) && w.now.Before(silentAt) {
			var sends []Send
			if first {
				sends = w.e.NewPassive(p.packet(w.now), p.addr, w.now, w.now)
				first = false
			} else {
				sends = w.e.Receive(p.packet(w.now), p.addr, w.now, w.now)
			}
			w.collect(p, sends, &lastFromUs)
			next = w.now.Add(16 * time.Second)
		}
		step := w.e.Next()
		if w.now.Before(silentAt) && next.Before(step) {
			step = next
		}
		if step.After(w.now) {
			w.now = step
		} else {
			w.now = w.now.Add(time.Second) // nothing due: Next names a time already past
		}
		w.collect(p, w.e.Timer(w.now), &lastFromUs)
		if w.now.Before(silentAt) && !w.now.Before(silentAt.Add(-time.Minute)) {
			checked = true
			s := w.e.Snapshot()
			pv, ok := findAssoc(s.Peers, p.addr.Addr())
			if !ok || pv.HMode != wire.ModeSymPassive || pv.PMode != wire.ModeSymActive || pv.Reach == 0 || pv.Configured {
				t.Fatalf("before the peer went silent: found %v %+v", ok, pv)
			}
			if s.Sys.Stratum != 3 || s.SysPeer == 0 {
				t.Errorf("stratum %d sys peer %d, want 3 and the passive peer", s.Sys.Stratum, s.SysPeer)
			}
		}
	}
	if !checked {
		t.Fatal("the association was never checked before the peer went silent")
	}
	if lastFromUs.IsZero() {
		t.Fatal("the passive association never sent")
	}
	if _, ok := findAssoc(w.e.Snapshot().Peers, p.addr.Addr()); ok {
		t.Errorf("the passive association is still there two hours after its peer went silent")
	}
	if !strings.Contains(w.log.String(), "demobilized: timeout") {
		t.Errorf("no demobilisation logged:\n%s", w.log)
	}
}

// collect plays the network from us to the active peer: it notes our mode-2 packets.
func (w *world) collect(p *activePeer, sends []Send, last *time.Time) {
	for _, s := range sends {
		if s.To != p.addr {
			continue
		}
		if s.Packet.Mode != wire.ModeSymPassive {
			w.t.Errorf("passive association sent mode %d", s.Packet.Mode)
		}
		p.org = s.Packet.Xmt
		p.rec = ntptime.FromTime(w.now.Add(time.Millisecond))
		*last = w.now
	}
}

// TestNewPassiveStratumGate: a synchronised peer at or above `tos ceiling` gets no
// association (classic: "no help").
func TestNewPassiveStratumGate(t *testing.T) {
	w := newWorld(t, Config{})
	p := &activePeer{addr: netip.AddrPortFrom(addr(6), 123), stratum: 15}
	w.e.NewPassive(p.packet(w.now), p.addr, w.now, w.now)
	if _, ok := findAssoc(w.e.Snapshot().Peers, p.addr.Addr()); ok {
		t.Error("a stratum-15 peer mobilised a passive association")
	}
	// Stratum 0 with leap 0 counts as stratum 16 (classic PKT_TO_STRATUM).
	p.stratum = 0
	w.e.NewPassive(p.packet(w.now), p.addr, w.now, w.now)
	if _, ok := findAssoc(w.e.Snapshot().Peers, p.addr.Addr()); ok {
		t.Error("a synchronised stratum-0 peer mobilised a passive association")
	}
}

func findAssoc(ps []snapshot.Peer, a netip.Addr) (peer.Vars, bool) {
	for _, p := range ps {
		if p.Vars.Addr.Addr() == a {
			return p.Vars, true
		}
	}
	return peer.Vars{}, false
}
