// SPDX-License-Identifier: BSD-2-Clause

// Package cmac implements the AES-CMAC message authentication code of RFC 4493 (NIST SP
// 800-38B) on crypto/aes. Classic ntpd's AES128CMAC key type (ntp.keys(5)) is CMAC with a
// 128-bit AES key; AES-SIV (RFC 5297, used by NTS) builds on the same primitive, which is why
// it lives in a package of its own.
package cmac

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"hash"
	"sync"
)

// Size is the length of a CMAC tag: one AES block (RFC 4493 section 2.4 step 6 keeps all of it).
const Size = aes.BlockSize

// rb is R_128 of RFC 4493 section 2.3: the constant folded into a subkey when doubling
// overflows.
const rb = 0x87

// Key is an expanded key: the block cipher and the two subkeys of RFC 4493 section 2.3.
// It is read-only after NewKey, so one Key may sign in many goroutines at once.
type Key struct {
	block  cipher.Block
	k1, k2 [Size]byte
}

// NewKey expands a 16-, 24- or 32-octet AES key (AES-128, -192 or -256).
func NewKey(key []byte) (*Key, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	k := &Key{block: b}
	// RFC 4493 section 2.3, Generate_Subkey: L = AES(K, 0); K1 = L<<1 (^ Rb); K2 = K1<<1 (^ Rb).
	var l [Size]byte
	b.Encrypt(l[:], l[:])
	double(&k.k1, &l)
	double(&k.k2, &k.k1)
	return k, nil
}

// double sets dst to src shifted left by one bit in GF(2^128), folding in Rb when the top bit
// falls off. It runs in constant time with respect to the key.
func double(dst, src *[Size]byte) {
	var carry byte
	for i := Size - 1; i >= 0; i-- {
		b := src[i]
		dst[i] = b<<1 | carry
		carry = b >> 7
	}
	dst[Size-1] ^= byte(subtle.ConstantTimeSelect(int(carry), rb, 0))
}

// scratch holds chaining values. The block cipher is an interface, so whatever it encrypts
// escapes to the heap; taking the 16 octets from a pool keeps Sum free of allocations.
var scratch = sync.Pool{New: func() any { return new([Size]byte) }}

// Sum appends the CMAC tag of msg to dst (RFC 4493 section 2.4). It does not allocate when
// dst has room for the tag.
func (k *Key) Sum(dst, msg []byte) []byte {
	x := scratch.Get().(*[Size]byte)
	clear(x[:])
	// Every complete block but the last is chained with plain CBC.
	for len(msg) > Size {
		subtle.XORBytes(x[:], x[:], msg[:Size])
		k.block.Encrypt(x[:], x[:])
		msg = msg[Size:]
	}
	// The last block (possibly empty): complete blocks take K1, padded ones (10^i) K2.
	sub := &k.k1
	if len(msg) < Size {
		sub = &k.k2
		x[len(msg)] ^= 0x80
	}
	subtle.XORBytes(x[:len(msg)], x[:len(msg)], msg)
	subtle.XORBytes(x[:], x[:], sub[:])
	k.block.Encrypt(x[:], x[:])
	dst = append(dst, x[:]...)
	scratch.Put(x)
	return dst
}

// New returns a hash.Hash computing AES-CMAC under key. It buffers the message, which the
// one-shot Key.Sum does not; use Sum on hot paths.
func New(key []byte) (hash.Hash, error) {
	k, err := NewKey(key)
	if err != nil {
		return nil, err
	}
	return &digest{k: k}, nil
}

// digest adapts Key to hash.Hash. CMAC needs to know which block is the last one before it
// can finish it, so the streaming form keeps the message until Sum.
type digest struct {
	k   *Key
	msg []byte
}

func (d *digest) Write(p []byte) (int, error) { d.msg = append(d.msg, p...); return len(p), nil }
func (d *digest) Sum(b []byte) []byte         { return d.k.Sum(b, d.msg) }
func (d *digest) Reset()                      { d.msg = d.msg[:0] }
func (d *digest) Size() int                   { return Size }
func (d *digest) BlockSize() int              { return Size }

// Double sets dst to src doubled in GF(2^128) with the polynomial x^128+x^7+x^2+x+1: the
// subkey step of RFC 4493 section 2.3, which AES-SIV's S2V uses too (RFC 5297 section 2.3,
// "dbl"). dst and src may be the same array.
func Double(dst, src *[Size]byte) { double(dst, src) }

// Stream is an AES-CMAC fed in pieces, for a caller that MACs several strings without joining
// them (AES-SIV's S2V, RFC 5297 section 2.4). Its state is inline, so it allocates nothing:
// Init it once from the block cipher, Reset it before each message.
type Stream struct {
	b      cipher.Block
	k1, k2 [Size]byte
	x      [Size]byte // the running CBC value
	buf    [Size]byte // the last block, possibly partial, not yet chained
	n      int        // octets in buf
}

// Init keys s with b and derives the subkeys (RFC 4493 section 2.3).
func (s *Stream) Init(b cipher.Block) {
	s.b = b
	// L = AES(K, 0) is computed in k1 itself: a local array handed to the block cipher (an
	// interface) would escape to the heap.
	s.k1 = [Size]byte{}
	b.Encrypt(s.k1[:], s.k1[:])
	double(&s.k1, &s.k1)
	double(&s.k2, &s.k1)
	s.Reset()
}

// Reset starts a new message.
func (s *Stream) Reset() {
	s.x = [Size]byte{}
	s.n = 0
}

// Write feeds p. A full block is chained only when more data follows, because the last block
// is finished differently (Sum).
func (s *Stream) Write(p []byte) {
	for len(p) > 0 {
		if s.n == Size {
			subtle.XORBytes(s.x[:], s.x[:], s.buf[:])
			s.b.Encrypt(s.x[:], s.x[:])
			s.n = 0
		}
		k := copy(s.buf[s.n:], p)
		s.n += k
		p = p[k:]
	}
}

// Sum writes the tag of the message fed since Reset into out: a complete last block is xored
// with K1, a partial one (or the empty message) padded with 10* and xored with K2.
func (s *Stream) Sum(out *[Size]byte) {
	if s.n == Size {
		subtle.XORBytes(s.buf[:], s.buf[:], s.k1[:])
	} else {
		s.buf[s.n] = 0x80
		clear(s.buf[s.n+1:])
		subtle.XORBytes(s.buf[:], s.buf[:], s.k2[:])
	}
	subtle.XORBytes(s.x[:], s.x[:], s.buf[:])
	s.b.Encrypt(out[:], s.x[:])
}
