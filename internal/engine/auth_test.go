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
