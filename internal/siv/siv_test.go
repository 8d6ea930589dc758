// SPDX-License-Identifier: BSD-2-Clause

package siv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC5297 runs the two examples of RFC 5297 appendix A and the empty-input case.
func TestRFC5297(t *testing.T) {
	for _, c := range []struct {
		name, key string
		ad        []string
		pt, out   string
	}{
		{
			name: "A.1 deterministic",
			key:  "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
			ad:   []string{"101112131415161718191a1b1c1d1e1f2021222324252627"},
			pt:   "112233445566778899aabbccddee",
			out:  "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c",
		},
		{
			name: "A.2 nonce-based",
			key:  "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f",
			ad: []string{
				"00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100",
				"102030405060708090a0",
				"09f911029d74e35bd84156c5635688c0",
			},
			pt: "7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553",
			out: "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17" +
				"dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d",
		},
		{
			name: "empty",
			key:  "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
			out:  "f2007a5beb2b8900c588a7adf599f172",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(unhex(t, c.key))
			if err != nil {
				t.Fatal(err)
			}
			var ad [][]byte
			for _, a := range c.ad {
				ad = append(ad, unhex(t, a))
			}
			pt := unhex(t, c.pt)
			got, err := s.SealComponents(nil, pt, ad)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != c.out {
				t.Fatalf("seal = %x, want %s", got, c.out)
			}
			back, err := s.OpenComponents(nil, got, ad)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("open = %x, %v; want %x", back, err, pt)
			}
			got[len(got)-1] ^= 1
			if _, err := s.OpenComponents(nil, got, ad); !errors.Is(err, ErrOpen) {
				t.Fatalf("open of altered ciphertext: %v, want ErrOpen", err)
			}
		})
	}
}

// TestAEADForm checks that the nonce-based AEAD form (RFC 5297 section 6: associated data,
// nonce, plaintext) is the A.2 construction with one associated-data string.
func TestAEADForm(t *testing.T) {
	key := unhex(t, "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f")
	ad := unhex(t, "00112233445566778899aabbccddeeff")
	nonce := unhex(t, "09f911029d74e35bd84156c5635688c0")
	pt := []byte("NTS extension fields")
	s, _ := New(key)
	a := s.Seal(nil, nonce, pt, ad)
	b, _ := s.SealComponents(nil, pt, [][]byte{ad, nonce})
	if !bytes.Equal(a, b) {
		t.Fatalf("Seal %x != SealComponents %x", a, b)
	}
	if p, err := s.Open(nil, nonce, a, ad); err != nil || !bytes.Equal(p, pt) {
		t.Fatalf("Open = %q, %v", p, err)
	}
	if _, err := s.Open(nil, nonce[:15], a, ad); !errors.Is(err, ErrOpen) {
		t.Fatalf("Open with another nonce: %v", err)
	}
}

func TestKeySizes(t *testing.T) {
	for n := 0; n <= 80; n++ {
		_, err := New(make([]byte, n))
		ok := n == 32 || n == 48 || n == 64
		if (err == nil) != ok {
			t.Errorf("key of %d octets: err = %v", n, err)
		}
	}
}

func TestNoAlloc(t *testing.T) {
	s, _ := New(make([]byte, 32))
	nonce := make([]byte, 16)
	pt := make([]byte, 100)
	ad := make([]byte, 200)
	buf := make([]byte, 0, 256)
	out := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		c := s.Seal(buf[:0], nonce, pt, ad)
		if _, err := s.Open(out[:0], nonce, c, ad); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per Seal+Open", n)
	}
}

// FuzzRoundTrip checks that every sealed message opens to its plaintext and that changing
// any single bit of the ciphertext, the nonce or the associated data makes Open fail.
func FuzzRoundTrip(f *testing.F) {
	f.Add(make([]byte, 32), []byte("nonce"), []byte("plaintext"), []byte("ad"))
	f.Add(make([]byte, 64), []byte{}, []byte{}, []byte{})
	f.Add(make([]byte, 48), bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 33), []byte{})
	f.Fuzz(func(t *testing.T, key, nonce, pt, ad []byte) {
		s, err := New(key)
		if err != nil {
			return
		}
		if len(pt) > 512 || len(ad) > 512 || len(nonce) > 64 {
			return
		}
		c := s.Seal(nil, nonce, pt, ad)
		if len(c) != len(pt)+TagSize {
			t.Fatalf("sealed length %d for %d octets", len(c), len(pt))
		}
		p, err := s.Open(nil, nonce, c, ad)
		if err != nil || !bytes.Equal(p, pt) {
			t.Fatalf("round trip: %x, %v; want %x", p, err, pt)
		}
		flip := func(b []byte, what string) {
			for i := 0; i < len(b)*8; i++ {
				b[i/8] ^= 1 << (i % 8)
				if _, err := s.Open(nil, nonce, c, ad); err == nil {
					t.Fatalf("%s with bit %d flipped opened", what, i)
				}
				b[i/8] ^= 1 << (i % 8)
			}
		}
		flip(c, "ciphertext")
		flip(ad, "associated data")
		if len(nonce) > 0 {
			flip(nonce, "nonce")
		}
	})
}

func BenchmarkSealOpen(b *testing.B) {
	s, _ := New(make([]byte, 32))
	nonce := make([]byte, 16)
	pt := make([]byte, 104) // an NTS reply's encrypted cookie field
	ad := make([]byte, 84)
	buf := make([]byte, 0, 256)
	out := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		c := s.Seal(buf[:0], nonce, pt, ad)
		if _, err := s.Open(out[:0], nonce, c, ad); err != nil {
			b.Fatal(err)
		}
	}
}
