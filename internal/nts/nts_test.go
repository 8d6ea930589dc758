// SPDX-License-Identifier: BSD-2-Clause

package nts

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"gontp/internal/wire"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func newRing(t testing.TB) *KeyRing {
	r := NewKeyRing()
	if _, err := r.Rotate(t0, rand.Reader); err != nil {
		t.Fatal(err)
	}
	return r
}

// pair makes a client session and a server responder that share session keys, as after an
// NTS-KE, with the server's cookies in the client's jar.
func pair(t testing.TB, aead uint16) (*Session, *Responder) {
	ring := newRing(t)
	kl := KeyLen(aead)
	c2s, s2c := make([]byte, kl), make([]byte, kl)
	rand.Read(c2s)
	rand.Read(s2c)
	var cookies [][]byte
	for range MaxCookies {
		c, err := ring.AppendCookie(nil, aead, c2s, s2c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != CookieLen(aead) {
			t.Fatalf("cookie of %d octets, want %d", len(c), CookieLen(aead))
		}
		cookies = append(cookies, c)
	}
	s, err := NewSession(aead, c2s, s2c, cookies)
	if err != nil {
		t.Fatal(err)
	}
	return s, &Responder{Ring: ring, Rand: rand.Reader}
}

func header(mode uint8) []byte {
	p := wire.Packet{Version: 4, Mode: mode, Stratum: 2, Xmt: 0x1234}
	b := make([]byte, wire.HeaderLen, 2048)
	p.Encode(b)
	return b
}

// exchange sends one request through the responder and returns the reply.
func exchange(t testing.TB, s *Session, r *Responder) []byte {
	req, err := s.AppendRequest(header(wire.ModeClient), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var p wire.Packet
	tr, err := wire.Decode(req, &p)
	if err != nil {
		t.Fatalf("request does not decode: %v", err)
	}
	if !IsNTS(&tr) {
		t.Fatal("request not seen as NTS")
	}
	if err := r.Verify(req, &tr); err != nil {
		t.Fatalf("server Verify: %v", err)
	}
	rep, err := r.AppendReply(header(wire.ModeServer))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) > len(req) {
		t.Errorf("reply of %d octets larger than the request's %d", len(rep), len(req))
	}
	return rep
}

func check(s *Session, rep []byte) error {
	var p wire.Packet
	tr, err := wire.Decode(rep, &p)
	if err != nil {
		return err
	}
	return s.CheckResponse(rep, &p, &tr)
}

func TestExchange(t *testing.T) {
	for _, aead := range DefaultAEADs {
		t.Run(AEADName(aead), func(t *testing.T) {
			s, r := pair(t, aead)
			for i := range 20 {
				rep := exchange(t, s, r)
				if err := check(s, rep); err != nil {
					t.Fatalf("exchange %d: %v", i, err)
				}
				if s.Cookies() != MaxCookies {
					t.Fatalf("jar holds %d cookies after exchange %d, want 8", s.Cookies(), i)
				}
				// A replay of the same reply is refused: nothing is outstanding.
				if err := check(s, rep); !errors.Is(err, ErrNoPending) {
					t.Fatalf("replayed reply: %v, want ErrNoPending", err)
				}
			}
		})
	}
}

// TestLostReplies: requests whose replies are lost drain the jar, each asking for more; the
// next answered request refills it, and an empty jar asks for a new NTS-KE.
func TestLostReplies(t *testing.T) {
	s, r := pair(t, AEADAESSIVCMAC256)
	seen := map[string]bool{}
	for i := range 3 {
		req, err := s.AppendRequest(header(wire.ModeClient), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		var p wire.Packet
		tr, _ := wire.Decode(req, &p)
		it := tr.Fields()
		ph := 0
		for {
			f, ok := it.Next()
			if !ok {
				break
			}
			if f.Type == EFCookie {
				if seen[string(f.Value)] {
					t.Fatal("cookie sent twice")
				}
				seen[string(f.Value)] = true
			}
			if f.Type == EFPlaceholder {
				ph++
			}
		}
		if ph != i {
			t.Errorf("request %d has %d placeholders, want %d", i, ph, i)
		}
	}
	rep := exchange(t, s, r)
	if err := check(s, rep); err != nil {
		t.Fatal(err)
	}
	if s.Cookies() != MaxCookies {
		t.Fatalf("jar %d after refill", s.Cookies())
	}
	for s.Cookies() > 0 {
		if _, err := s.AppendRequest(header(wire.ModeClient), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendRequest(header(wire.ModeClient), rand.Reader); !errors.Is(err, ErrJarEmpty) {
		t.Fatalf("empty jar: %v", err)
	}
}

// TestReplyTampering: every single-bit change of a reply's extension fields, and every octet
// of its header, makes the client refuse it.
func TestReplyTampering(t *testing.T) {
	s, r := pair(t, AEADAESSIVCMAC256)
	rep := exchange(t, s, r)
	for i := 0; i < len(rep)*8; i++ {
		s.pending = true
		b := bytes.Clone(rep)
		b[i/8] ^= 1 << (i % 8)
		if err := check(s, b); err == nil {
			t.Fatalf("reply with bit %d flipped accepted", i)
		}
	}
	s.pending = true
	if err := check(s, rep); err != nil {
		t.Fatalf("untouched reply: %v", err)
	}
}

func TestRequestTampering(t *testing.T) {
	s, r := pair(t, AEADAESSIVCMAC256)
	req, _ := s.AppendRequest(header(wire.ModeClient), rand.Reader)
	for i := 0; i < len(req)*8; i += 7 {
		b := bytes.Clone(req)
		b[i/8] ^= 1 << (i % 8)
		var p wire.Packet
		tr, err := wire.Decode(b, &p)
		if err != nil {
			continue
		}
		if err := r.Verify(b, &tr); err == nil {
			t.Fatalf("request with bit %d flipped verified", i)
		}
	}
}

func TestNAK(t *testing.T) {
	s, r := pair(t, AEADAESSIVCMAC256)
	req, _ := s.AppendRequest(header(wire.ModeClient), rand.Reader)
	// The server lost its keys: the cookie is unknown.
	r.Ring = newRing(t)
	var p wire.Packet
	tr, _ := wire.Decode(req, &p)
	if err := r.Verify(req, &tr); !errors.Is(err, ErrCookieKey) {
		t.Fatalf("Verify with foreign keys: %v", err)
	}
	nak := wire.Packet{Version: 4, Mode: wire.ModeServer, Stratum: 0, RefID: 0x4e54534e}
	b := make([]byte, wire.HeaderLen)
	nak.Encode(b)
	b = r.AppendNAK(b)
	if err := check(s, b); !errors.Is(err, ErrNAK) {
		t.Fatalf("NAK: %v", err)
	}
	// A NAK for another request is not believed.
	s.AppendRequest(header(wire.ModeClient), rand.Reader)
	if err := check(s, b); !errors.Is(err, ErrUniqueIDMismatch) {
		t.Fatalf("stale NAK: %v", err)
	}
}

// TestUnauthenticatedReply: a plain NTP reply, or one with the right unique identifier but no
// authenticator, is refused once NTS is in use.
func TestUnauthenticatedReply(t *testing.T) {
	s, r := pair(t, AEADAESSIVCMAC256)
	rep := exchange(t, s, r)
	if err := check(s, rep[:wire.HeaderLen]); !errors.Is(err, ErrNoUniqueID) {
		t.Fatalf("plain reply: %v", err)
	}
	uidOnly := rep[:wire.HeaderLen+4+UniqueIDLen]
	if err := check(s, uidOnly); !errors.Is(err, ErrNoAuthenticator) {
		t.Fatalf("reply without authenticator: %v", err)
	}
}

func TestKeyRing(t *testing.T) {
	ring := newRing(t)
	c2s, s2c := make([]byte, 32), make([]byte, 32)
	old, _ := ring.AppendCookie(nil, AEADAESSIVCMAC256, c2s, s2c, rand.Reader)
	now := t0
	for day := 1; day <= KeepKeys+1; day++ {
		now = now.Add(RotatePeriod)
		changed, err := ring.Rotate(now, rand.Reader)
		if err != nil || !changed {
			t.Fatalf("day %d: rotate %v %v", day, changed, err)
		}
		var k CookieKeys
		err = ring.OpenCookie(old, &k)
		if day < KeepKeys && err != nil {
			t.Fatalf("day %d: cookie of day 0 refused: %v", day, err)
		}
		if day >= KeepKeys && !errors.Is(err, ErrCookieKey) {
			t.Fatalf("day %d: cookie of day 0: %v, want ErrCookieKey", day, err)
		}
	}
	if changed, _ := ring.Rotate(now.Add(time.Hour), rand.Reader); changed {
		t.Fatal("rotated after an hour")
	}
	if changed, _ := ring.Rotate(now.Add(-time.Minute), rand.Reader); changed {
		t.Fatal("rotated after the clock was stepped back a minute")
	}
	text, _ := ring.MarshalText()
	again := NewKeyRing()
	if err := again.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	c, _ := ring.AppendCookie(nil, AEADAESSIVCMAC256, c2s, s2c, rand.Reader)
	var k CookieKeys
	if err := again.OpenCookie(c, &k); err != nil {
		t.Fatalf("cookie refused after reload: %v", err)
	}
	for _, bad := range []string{"", "nope\n", keyFileMagic + "\n1 2\n", keyFileMagic + "\n1 2 abcd\n"} {
		if err := again.UnmarshalText([]byte(bad)); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestResponderAllocs: the server side allocates only the two AES key schedules of the
// client's session keys (siv.Init), per request.
func TestResponderAllocs(t *testing.T) {
	s, r := pair(t, AEADAESSIVCMAC256)
	req, _ := s.AppendRequest(header(wire.ModeClient), rand.Reader)
	out := header(wire.ModeServer)
	n := testing.AllocsPerRun(50, func() {
		var p wire.Packet
		tr, _ := wire.Decode(req, &p)
		if err := r.Verify(req, &tr); err != nil {
			t.Fatal(err)
		}
		if _, err := r.AppendReply(out[:wire.HeaderLen]); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%v allocations per NTS reply", n)
	if n > 4 {
		t.Errorf("%v allocations per NTS reply; only the AES key schedules should allocate", n)
	}
}

// BenchmarkNTSReply measures the server's work for one NTS request: verify the cookie and
// authenticator, make a new cookie, encrypt the reply.
func BenchmarkNTSReply(b *testing.B) {
	s, r := pair(b, AEADAESSIVCMAC256)
	req, _ := s.AppendRequest(header(wire.ModeClient), rand.Reader)
	out := header(wire.ModeServer)
	b.ReportAllocs()
	for b.Loop() {
		var p wire.Packet
		tr, _ := wire.Decode(req, &p)
		if err := r.Verify(req, &tr); err != nil {
			b.Fatal(err)
		}
		if _, err := r.AppendReply(out[:wire.HeaderLen]); err != nil {
			b.Fatal(err)
		}
	}
}
