// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"gontp/internal/keys"
	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

const authKeys = `1 MD5 md5secret
2 SHA1 0123456789abcdef0123456789abcdef01234567
3 AES128CMAC 0123456789abcdef0123456789abcdef
4 MD5 lannetonly 198.18.0.0/24
5 MD5 untrusted
6 SHA256 sha256secret
`

func authServer(t testing.TB) (*Server, *keys.Set) {
	set, errs := keys.Parse("k", strings.NewReader(authKeys))
	if set == nil {
		t.Fatal(errs)
	}
	set.Trust(1, 2, 3, 4, 6)
	s := New(Config{}, tStart)
	s.SetKeys(set)
	return s, set
}

// signed returns a client request carrying a MAC of key id (the digest flipped if bad),
// made with a key set of its own that trusts every key, so that untrusted keys sign too.
func signed(t testing.TB, _ *keys.Set, id uint32, bad bool) []byte {
	all, _ := keys.Parse("k", strings.NewReader(authKeys))
	all.Trust(1, 2, 3, 4, 5, 6)
	req := header(0, 4, 3, 6)
	out, ok := all.Sign(binary.BigEndian.AppendUint32(req, id), id, req[:wire.HeaderLen])
	if !ok {
		t.Fatalf("cannot sign with key %d", id)
	}
	if bad {
		out[len(out)-1] ^= 1
	}
	return out
}

// TestAuthenticatedReply: a request with a good MAC is answered with a MAC of the same key
// over the stamped reply, for MD5, SHA1, AES128CMAC and SHA256 (truncated to 20 octets), as
// classic's fast_xmit does, in a reply buffer of MaxReplyLen.
func TestAuthenticatedReply(t *testing.T) {
	lan := netip.MustParseAddr("198.18.0.2")
	for _, id := range []uint32{1, 2, 3, 4, 6} {
		s, set := authServer(t)
		req := signed(t, set, id, false)
		out := make([]byte, MaxReplyLen)
		n, v := s.Respond(req, tRx, unsyncSnap(), Source{Addr: lan}, out)
		if v != Replied || n != len(req) {
			t.Fatalf("key %d: %v, %d octets, want a %d-octet reply", id, v, n, len(req))
		}
		wire.PutXmt(out[:n], ntptime.Time(0x44444444_44444444))
		s.Seal(out[:n])
		if got := binary.BigEndian.Uint32(out[48:]); got != id {
			t.Fatalf("key %d: reply key ID %d", id, got)
		}
		if !set.Verify(id, out[:48], out[52:n]) {
			t.Fatalf("key %d: reply MAC does not verify", id)
		}
		if st := s.Stats(tStart); st.BadAuth != 0 || st.CryptoNAKs != 0 || st.Replies != 1 {
			t.Fatalf("key %d: stats %+v", id, st)
		}
	}
}

// TestBadAuthGetsNAK: a wrong digest, a key we do not have, a key we do not trust and a key
// whose address list excludes the client all get classic's crypto-NAK and count in
// ss_badauth.
func TestBadAuthGetsNAK(t *testing.T) {
	s, set := authServer(t)
	other := netip.MustParseAddr("192.0.2.1")
	cases := []struct {
		name string
		req  []byte
		from netip.Addr
	}{
		{"wrong digest", signed(t, set, 1, true), other},
		{"untrusted key", signed(t, set, 5, false), other},
		{"unknown key", append(header(0, 4, 3, 6), mac(77, 16)...), other},
		{"address list", signed(t, set, 4, false), other},
	}
	for i, tc := range cases {
		out := make([]byte, MaxReplyLen)
		n, v := s.Respond(tc.req, tRx, unsyncSnap(), Source{Addr: tc.from}, out)
		if v != Replied || n != wire.HeaderLen+wire.NAKLen || binary.BigEndian.Uint32(out[48:]) != 0 {
			t.Errorf("%s: %v, %d octets %x, want a crypto-NAK", tc.name, v, n, out[48:n])
		}
		if st := s.Stats(tStart); st.BadAuth != uint64(i+1) {
			t.Errorf("%s: ss_badauth %d", tc.name, st.BadAuth)
		}
	}
}

// TestNoTrust: under `restrict notrust` a request without a MAC is restricted, one with a
// good MAC answered, one with a bad MAC NAKed.
func TestNoTrust(t *testing.T) {
	s, set := authServer(t)
	src := Source{Restrict: RestrictNoTrust}
	out := make([]byte, MaxReplyLen)
	if _, v := s.Respond(header(0, 4, 3, 6), tRx, unsyncSnap(), src, out); v != DropRestricted {
		t.Errorf("no MAC: %v", v)
	}
	if n, v := s.Respond(signed(t, set, 2, false), tRx, unsyncSnap(), src, out); v != Replied || n != 72 {
		t.Errorf("good MAC: %v %d", v, n)
	}
	if n, v := s.Respond(signed(t, set, 2, true), tRx, unsyncSnap(), src, out); v != Replied || n != 52 {
		t.Errorf("bad MAC: %v %d", v, n)
	}
	// An NTS request (an authenticator field, RFC 8915 section 5.6) passes only while the NTS
	// responder runs, which then answers it authenticated or refuses it.
	// (More than 24 octets after the header, or Decode would read them as a MAC.)
	ntsReq := append(header(0, 4, 3, 6), 0x04, 0x04, 0x00, 0x20)
	ntsReq = append(ntsReq, make([]byte, 28)...)
	if _, v := s.Respond(ntsReq, tRx, unsyncSnap(), src, out); v != DropRestricted {
		t.Errorf("NTS request without the NTS responder: %v", v)
	}
	s.AcceptNTS(true)
	if _, v := s.Respond(ntsReq, tRx, unsyncSnap(), src, out); v != Replied {
		t.Errorf("NTS request with the NTS responder: %v", v)
	}
}

// TestSignedKoD: a rate-limited request with a usable key gets a signed kiss.
func TestSignedKoD(t *testing.T) {
	s, set := authServer(t)
	out := make([]byte, MaxReplyLen)
	n, v := s.Respond(signed(t, set, 1, false), tRx, unsyncSnap(), Source{Restrict: RestrictLimited | RestrictKoD}, out)
	if v != KissOfDeath || n != 68 || !set.Verify(1, out[:48], out[52:n]) {
		t.Fatalf("%v %d %x", v, n, out[:n])
	}
}

// BenchmarkRespondAuth is the authenticated reply path: verify the request's MD5 MAC, build
// the reply, stamp it and sign it (Respond, wire.PutXmt, Seal).
func BenchmarkRespondAuth(b *testing.B) {
	for _, id := range []uint32{1, 2, 3} {
		name := map[uint32]string{1: "MD5", 2: "SHA1", 3: "AES128CMAC"}[id]
		b.Run(name, func(b *testing.B) {
			s, set := authServer(b)
			req := signed(b, set, id, false)
			snap := unsyncSnap()
			out := make([]byte, MaxReplyLen)
			b.ReportAllocs()
			for b.Loop() {
				n, _ := s.Respond(req, tRx, snap, Source{}, out)
				wire.PutXmt(out[:n], tRx)
				s.Seal(out[:n])
				if n != len(req) {
					b.Fatal("no authenticated reply")
				}
			}
		})
	}
}

// FuzzRespondAuth: with keys installed, no datagram makes Respond panic; a reply carries a
// MAC only when the request verified with that key, and then the sealed reply verifies.
func FuzzRespondAuth(f *testing.F) {
	s, set := authServer(f)
	for _, id := range []uint32{1, 2, 3, 6} {
		f.Add(signed(f, set, id, false), uint32(0))
		f.Add(signed(f, set, id, true), uint32(RestrictNoTrust))
	}
	f.Add(append(header(0, 4, 1, 6), mac(0, 0)...), uint32(0))
	snap := unsyncSnap()
	out := make([]byte, MaxReplyLen)
	f.Fuzz(func(t *testing.T, req []byte, restrict uint32) {
		n, v := s.Respond(req, tRx, snap, Source{Restrict: Restrict(restrict), Addr: netip.MustParseAddr("198.18.0.2")}, out)
		if !v.StampXmt() || n <= wire.HeaderLen+wire.NAKLen {
			return
		}
		wire.PutXmt(out[:n], ntptime.Time(0x55555555_55555555))
		s.Seal(out[:n])
		id := binary.BigEndian.Uint32(out[wire.HeaderLen:])
		var p wire.Packet
		tr, err := wire.Decode(req, &p)
		if err != nil || !tr.HasMAC || tr.KeyID != id {
			t.Fatalf("reply signed with key %d the request did not use", id)
		}
		if !set.Verify(id, out[:wire.HeaderLen], out[wire.HeaderLen+wire.KeyIDLen:n]) {
			t.Fatalf("sealed reply does not verify with key %d", id)
		}
	})
}
