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
