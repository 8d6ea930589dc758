// SPDX-License-Identifier: BSD-2-Clause

package siv

import (
	"crypto/cipher"
	"crypto/subtle"
)

// cmac is AES-CMAC (RFC 4493, NIST SP 800-38B) as S2V needs it: streamed in pieces without
// allocating. It is unexported on purpose: the project's shared CMAC for NTP MACs lives in
// its own package; this one is the minimal form the SIV construction uses.
type cmac struct {
	b      cipher.Block
	k1, k2 [TagSize]byte
	x      [TagSize]byte // running CBC state
	buf    [TagSize]byte // the last, possibly partial, block not yet processed
	n      int           // octets in buf
}

// init derives the subkeys K1 = dbl(L) and K2 = dbl(K1), L = AES(K, 0) (RFC 4493 section
// 2.3).
func (c *cmac) init(b cipher.Block) {
	c.b = b
	c.k1 = [TagSize]byte{}
	b.Encrypt(c.k1[:], c.k1[:])
	dbl(&c.k1)
	c.k2 = c.k1
	dbl(&c.k2)
	c.reset()
}

func (c *cmac) reset() {
	c.x = [TagSize]byte{}
	c.n = 0
}

// write feeds p. A full buffer is processed only when more data arrives, because the last
// block is treated specially by sum.
func (c *cmac) write(p []byte) {
	for len(p) > 0 {
		if c.n == TagSize {
			subtle.XORBytes(c.x[:], c.x[:], c.buf[:])
			c.b.Encrypt(c.x[:], c.x[:])
			c.n = 0
		}
		k := copy(c.buf[c.n:], p)
		c.n += k
		p = p[k:]
	}
}

// sum finishes the MAC into out: a complete last block is xored with K1, an incomplete one
// (including the empty message) is padded with 10* and xored with K2.
func (c *cmac) sum(out *[TagSize]byte) {
	if c.n == TagSize {
		subtle.XORBytes(c.buf[:], c.buf[:], c.k1[:])
	} else {
		c.buf[c.n] = 0x80
		clear(c.buf[c.n+1:])
		subtle.XORBytes(c.buf[:], c.buf[:], c.k2[:])
	}
	subtle.XORBytes(c.x[:], c.x[:], c.buf[:])
	c.b.Encrypt(out[:], c.x[:])
}
