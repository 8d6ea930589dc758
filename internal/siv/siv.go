// SPDX-License-Identifier: BSD-2-Clause

// Package siv implements AES-SIV (RFC 5297): deterministic and nonce-based authenticated
// encryption built from AES-CMAC (the S2V pseudo-random function, RFC 5297 section 2.4) and
// AES in counter mode. Network Time Security (RFC 8915 section 5.1) requires
// AEAD_AES_SIV_CMAC_256 (IANA AEAD id 15, a 32-octet key) for its NTP extension fields and
// its cookies; the 48- and 64-octet keys of AEAD_AES_SIV_CMAC_384 and _512 work too.
//
// The standard library has AES and constant-time comparison but no SIV, and the project takes
// no third-party crypto module, so the mode is written here on crypto/aes and crypto/subtle.
// A SIV value keeps its scratch state inside itself so that sealing and opening do not
// allocate; it is therefore not safe for concurrent use (give each goroutine its own, or
// pool them).
package siv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
	"gontp/internal/cmac"
)

// TagSize is the length of the synthetic IV that Seal puts in front of the ciphertext.
const TagSize = 16

// maxComponents bounds the associated-data strings of one call: S2V is defined for at most
// 126 of them (RFC 5297 section 2.6, the plaintext being the 127th).
const maxComponents = 126

// Errors.
var (
	// ErrKeySize: the key is not 32, 48 or 64 octets (two AES keys of 128, 192 or 256 bits).
	ErrKeySize = errors.New("siv: key must be 32, 48 or 64 octets")
	// ErrOpen: the ciphertext is shorter than a tag or does not authenticate.
	ErrOpen = errors.New("siv: message authentication failed")
	// ErrComponents: more associated-data strings than S2V allows.
	ErrComponents = errors.New("siv: more than 126 associated-data strings")
)

// SIV is one AES-SIV key: the first half keys S2V (CMAC), the second half the CTR encryption
// (RFC 5297 section 2.2, K1 and K2).
type SIV struct {
	mac cmac.Stream
	ctr cipher.Block
	// scratch for CTR and S2V, kept here so that interface calls on the AES block do not
	// make stack buffers escape.
	d, t, ks, q [TagSize]byte
}

// New returns an AES-SIV instance for key (32, 48 or 64 octets).
func New(key []byte) (*SIV, error) {
	s := new(SIV)
	if err := s.Init(key); err != nil {
		return nil, err
	}
	return s, nil
}

// Init (re)keys s in place. It allocates the two AES key schedules and nothing else.
func (s *SIV) Init(key []byte) error {
	switch len(key) {
	case 32, 48, 64:
	default:
		return fmt.Errorf("%w (got %d)", ErrKeySize, len(key))
	}
	h := len(key) / 2
	b1, err := aes.NewCipher(key[:h])
	if err != nil {
		return fmt.Errorf("siv: %w", err)
	}
	b2, err := aes.NewCipher(key[h:])
	if err != nil {
		return fmt.Errorf("siv: %w", err)
	}
	s.mac.Init(b1)
	s.ctr = b2
	return nil
}

// Overhead is the number of octets Seal adds to the plaintext.
func (s *SIV) Overhead() int { return TagSize }

// NonceSize is the nonce length NTS uses with AES-SIV (RFC 8915 section 5.6 lets the sender
// choose; chrony and NTPsec send 16 octets). Seal and Open accept any length.
func (s *SIV) NonceSize() int { return 16 }

// Seal encrypts plaintext as the RFC 5116 AEAD that RFC 5297 section 6 defines: the S2V
// components are the associated data, then the nonce (when not empty), then the plaintext.
// It appends the 16-octet synthetic IV and the ciphertext to dst and returns the result.
// The appended octets must not overlap plaintext.
func (s *SIV) Seal(dst, nonce, plaintext, ad []byte) []byte {
	var comps [2][]byte
	n := 0
	comps[n] = ad
	n++
	if len(nonce) > 0 {
		comps[n] = nonce
		n++
	}
	out, _ := s.seal(dst, plaintext, comps[:n])
	return out
}

// Open authenticates and decrypts what Seal produced with the same nonce and associated
// data, appending the plaintext to dst. It returns ErrOpen, and appends nothing, if any bit
// of ciphertext, nonce or associated data differs.
func (s *SIV) Open(dst, nonce, ciphertext, ad []byte) ([]byte, error) {
	var comps [2][]byte
	n := 0
	comps[n] = ad
	n++
	if len(nonce) > 0 {
		comps[n] = nonce
		n++
	}
	return s.open(dst, ciphertext, comps[:n])
}

// SealComponents is the general form of RFC 5297 section 2.6: any number (up to 126) of
// associated-data strings, in order (a nonce, when used, is simply the last of them).
func (s *SIV) SealComponents(dst, plaintext []byte, ad [][]byte) ([]byte, error) {
	return s.seal(dst, plaintext, ad)
}

// OpenComponents is the inverse of SealComponents (RFC 5297 section 2.7).
func (s *SIV) OpenComponents(dst, ciphertext []byte, ad [][]byte) ([]byte, error) {
	return s.open(dst, ciphertext, ad)
}

func (s *SIV) seal(dst, plaintext []byte, ad [][]byte) ([]byte, error) {
	if len(ad) > maxComponents {
		return dst, ErrComponents
	}
	s.s2v(ad, plaintext)
	ret, out := sliceForAppend(dst, TagSize+len(plaintext))
	copy(out, s.t[:])
	s.xorCTR(out[TagSize:], plaintext, &s.t)
	return ret, nil
}

func (s *SIV) open(dst, ciphertext []byte, ad [][]byte) ([]byte, error) {
	if len(ad) > maxComponents {
		return dst, ErrComponents
	}
	if len(ciphertext) < TagSize {
		return dst, ErrOpen
	}
	var v [TagSize]byte
	copy(v[:], ciphertext[:TagSize])
	ret, out := sliceForAppend(dst, len(ciphertext)-TagSize)
	s.xorCTR(out, ciphertext[TagSize:], &v)
	s.s2v(ad, out)
	if subtle.ConstantTimeCompare(s.t[:], v[:]) != 1 {
		clear(out)
		return dst, ErrOpen
	}
	return ret, nil
}

// s2v computes S2V(K1, ad..., p) into s.t (RFC 5297 section 2.4).
func (s *SIV) s2v(ad [][]byte, p []byte) {
	m := &s.mac
	// D = AES-CMAC(K, <zero>)
	m.Reset()
	var zero [TagSize]byte
	m.Write(zero[:])
	m.Sum(&s.d)
	for _, a := range ad {
		cmac.Double(&s.d, &s.d)
		m.Reset()
		m.Write(a)
		m.Sum(&s.q)
		subtle.XORBytes(s.d[:], s.d[:], s.q[:])
	}
	m.Reset()
	if len(p) >= TagSize {
		// T = Sn xorend D: the last 16 octets of Sn are xored with D.
		k := len(p) - TagSize
		m.Write(p[:k])
		subtle.XORBytes(s.q[:], p[k:], s.d[:])
		m.Write(s.q[:])
	} else {
		// T = dbl(D) xor pad(Sn)
		cmac.Double(&s.d, &s.d)
		s.q = [TagSize]byte{}
		copy(s.q[:], p)
		s.q[len(p)] = 0x80
		subtle.XORBytes(s.q[:], s.q[:], s.d[:])
		m.Write(s.q[:])
	}
	m.Sum(&s.t)
}

// xorCTR runs AES-CTR with K2 from the counter Q = V with bits 63 and 31 cleared (RFC 5297
// section 2.5), incrementing the whole 128-bit block as a big-endian integer.
func (s *SIV) xorCTR(dst, src []byte, v *[TagSize]byte) {
	s.q = *v
	s.q[8] &= 0x7f
	s.q[12] &= 0x7f
	for len(src) > 0 {
		s.ctr.Encrypt(s.ks[:], s.q[:])
		n := subtle.XORBytes(dst, src, s.ks[:])
		dst, src = dst[n:], src[n:]
		for i := TagSize - 1; i >= 0; i-- {
			s.q[i]++
			if s.q[i] != 0 {
				break
			}
		}
	}
}

func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
