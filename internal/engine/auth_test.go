// SPDX-License-Identifier: BSD-2-Clause

package engine

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	ntpkeys "gontp/internal/keys"
	"gontp/internal/ntptime"
	"gontp/internal/wire"
	"gontp/peer"
)

// authWorld answers the engine's requests as a server with its own key set: a reply signed
// with the request's key when the server has it, a crypto-NAK when it does not, or a
// reply whose digest is broken.
type authWorld struct {
	*world
	server *ntpkeys.Set
	broken bool
	// answerKey, when set, is the key the server signs with whatever the request used.
	answerKey uint32
}

func (w *authWorld) deliver(sends []Send) {
	for len(sends) > 0 {
		s := sends[0]
		sends = sends[1:]
		w.sent[s.To]++
		rx := w.now.Add(time.Millisecond)
		reply := wire.Packet{Leap: wire.LeapNone, Version: 4, Mode: wire.ModeServer, Stratum: 2,
			Poll: s.Packet.Poll, Precision: -20, RootDelay: ntptime.ShortFromSeconds(0.01),
			RootDisp: ntptime.ShortFromSeconds(0.01), RefID: wire.RefIDFromString("GPS"),
			RefTime: ntptime.FromTime(w.now.Add(-time.Minute)), Org: s.Packet.Xmt,
			Rec: ntptime.FromTime(rx), Xmt: ntptime.FromTime(rx)}
		b := make([]byte, wire.HeaderLen, wire.HeaderLen+wire.MaxMACLen)
		reply.Encode(b)
		if s.KeyID != 0 {
			id := s.KeyID
			if w.answerKey != 0 {
				id = w.answerKey
			}
			if w.server.Trusted(s.KeyID) {
				b, _ = w.server.Sign(binary.BigEndian.AppendUint32(b, id), id, b[:wire.HeaderLen])
				if w.broken {
					b[len(b)-1] ^= 1
				}
			} else {
				b = binary.BigEndian.AppendUint32(b, 0) // crypto-NAK
			}
		}
		w.now = w.now.Add(2 * time.Millisecond)
		sends = append(sends, w.e.Receive(b, s.To, w.now, w.now)...)
	}
}

func (w *authWorld) run(limit time.Duration) {
	end := w.now.Add(limit)
	for w.now.Before(end) {
		if next := w.e.Next(); next.After(w.now) {
			w.now = next
		}
		w.deliver(w.e.Timer(w.now))
	}
}

func keySet(t *testing.T, file string, trust ...uint32) *ntpkeys.Set {
	t.Helper()
	s, errs := ntpkeys.Parse("k", strings.NewReader(file))
	if s == nil {
		t.Fatal(errs)
	}
	s.Trust(trust...)
	return s
}

// TestAuthenticatedAssociation: `server ... key N` signs its polls and becomes reachable and
// authentic only with replies whose MAC verifies; a wrong digest fails TEST5 (flash 0x10,
// badauth); a crypto-NAK leaves no trace; an untrusted key sends nothing.
func TestAuthenticatedAssociation(t *testing.T) {
	client := keySet(t, "1 MD5 shared\n2 AES128CMAC 00112233445566778899aabbccddeeff\n3 MD5 notrusted\n", 1, 2)
	for _, tc := range []struct {
		name      string
		key       uint32
		server    *ntpkeys.Set
		broken    bool
		answerKey uint32
		reach     bool
		authentic bool
		flash     uint16
		sent      bool
	}{
		{"MD5", 1, keySet(t, "1 MD5 shared\n", 1), false, 0, true, true, 0, true},
		{"AES128CMAC", 2, keySet(t, "2 AES128CMAC 00112233445566778899aabbccddeeff\n", 2), false, 0, true, true, 0, true},
		{"wrong digest", 1, keySet(t, "1 MD5 shared\n", 1), true, 0, false, false, peer.FlashAuth, true},
		{"server lacks the key", 1, keySet(t, "9 MD5 other\n", 9), false, 0, false, false, 0, true},
		{"untrusted key", 3, keySet(t, "3 MD5 notrusted\n", 3), false, 0, false, false, peer.FlashAuth, false},
		// A valid MAC of another key we trust is not the association's key: refused.
		{"another trusted key", 1, keySet(t, "1 MD5 shared\n2 AES128CMAC 00112233445566778899aabbccddeeff\n", 1, 2), false, 2, false, false, peer.FlashAuth, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &authWorld{world: newWorld(t, Config{Servers: []peer.Config{{Addr: netip.AddrPortFrom(addr(2), 123),
				Mode: wire.ModeClient, MinPoll: 4, MaxPoll: 4, IBurst: true, KeyID: tc.key}}}), server: tc.server, broken: tc.broken, answerKey: tc.answerKey}
			w.e.SetKeys(client)
			w.run(3 * time.Minute)
			p := members(w.e.Snapshot())[addr(2)]
			if got := p.Vars.Reach != 0; got != tc.reach {
				t.Errorf("reach %#o", p.Vars.Reach)
			}
			if p.Vars.Authentic != tc.authentic {
				t.Errorf("authentic %v", p.Vars.Authentic)
			}
			if p.Vars.Flash&peer.PacketTests != tc.flash {
				t.Errorf("flash %#x, want packet tests %#x", p.Vars.Flash, tc.flash)
			}
			if got := w.sent[netip.AddrPortFrom(addr(2), 123)] > 0; got != tc.sent {
				t.Errorf("sent %d packets", w.sent[netip.AddrPortFrom(addr(2), 123)])
			}
			if !tc.sent && !strings.Contains(w.log.String(), "no key") {
				t.Errorf("no \"no key\" event logged:\n%s", w.log)
			}
		})
	}
}

// TestManycastWithKey: a `manycastclient GROUP key 2` prototype signs its solicitations with
// key 2 and mobilises an association (with key 2) only for a server whose reply is signed
// with it: an unsigned reply, or one signed with another trusted key, is declined. Without a
// trusted key nothing is sent (classic's "no key").
func TestManycastWithKey(t *testing.T) {
	set := keySet(t, "1 MD5 one\n2 SHA1 two\n", 1, 2)
	group := netip.MustParseAddrPort("224.0.1.1:123")
	w := newWorld(t, Config{Pools: []Pool{{Name: "224.0.1.1", Group: group.Addr(),
		Peer: peer.Config{Mode: wire.ModeClient, MinPoll: 3, MaxPoll: 3, KeyID: 2}}}})
	w.e.SetKeys(set)
	var sol *Send
	for i := 0; i < 10 && sol == nil; i++ {
		w.now = w.e.Next()
		for _, s := range w.e.Timer(w.now) {
			if s.To.Addr() == group.Addr() {
				sol = &s
			}
		}
	}
	if sol == nil {
		t.Fatal("no solicitation")
	}
	if sol.KeyID != 2 || !sol.Cast {
		t.Fatalf("solicitation key %d cast %v; want key 2, cast", sol.KeyID, sol.Cast)
	}
	reply := func(from int, key uint32) {
		rx := w.now.Add(time.Millisecond)
		p := wire.Packet{Leap: wire.LeapNone, Version: 4, Mode: wire.ModeServer, Stratum: 2, Poll: 3,
			Precision: -20, RootDisp: ntptime.ShortFromSeconds(0.01), RefID: wire.RefIDFromString("GPS"),
			RefTime: ntptime.FromTime(w.now.Add(-time.Minute)), Org: sol.Packet.Xmt,
			Rec: ntptime.FromTime(rx), Xmt: ntptime.FromTime(rx)}
		b := make([]byte, wire.HeaderLen, wire.HeaderLen+wire.MaxMACLen)
		p.Encode(b)
		if key != 0 {
			b, _ = set.Sign(binary.BigEndian.AppendUint32(b, key), key, b[:wire.HeaderLen])
		}
		w.e.Receive(b, netip.AddrPortFrom(addr(from), 123), rx, rx)
	}
	reply(7, 0) // unsigned
	reply(8, 1) // another trusted key
	reply(9, 2) // the line's key
	var found []string
	for _, p := range w.e.Snapshot().Peers {
		if p.Vars.Addr.Addr() != group.Addr() {
			found = append(found, p.Vars.Addr.String())
			if p.Vars.KeyID != 2 {
				t.Errorf("association for %v has key %d; want 2", p.Vars.Addr, p.Vars.KeyID)
			}
		}
	}
	if len(found) != 1 || found[0] != netip.AddrPortFrom(addr(9), 123).String() {
		t.Errorf("associations mobilised for %v; want only the signed reply's server %v", found, addr(9))
	}

	// Without a trusted key: no solicitation.
	w2 := newWorld(t, Config{Pools: []Pool{{Name: "224.0.1.1", Group: group.Addr(),
		Peer: peer.Config{Mode: wire.ModeClient, MinPoll: 3, MaxPoll: 3, KeyID: 5}}}})
	w2.e.SetKeys(set)
	for i := 0; i < 10; i++ {
		w2.now = w2.e.Next()
		for _, s := range w2.e.Timer(w2.now) {
			if s.To.Addr() == group.Addr() {
				t.Fatalf("solicitation sent with the untrusted key 5")
			}
		}
	}
}
