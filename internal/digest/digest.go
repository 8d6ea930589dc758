// SPDX-License-Identifier: BSD-2-Clause

// Package digest computes the three message digests that classic ntpd 4.2.8p15 accepts for
// symmetric keys through OpenSSL and Go's standard library lacks: MD4 (RFC 1320), RIPEMD-160
// (Dobbertin, Bosselaers and Preneel, 1996) and SM3 (GB/T 32905-2016). They exist here only so
// that an ntp.keys file written for classic keeps working; none of them is recommended for
// new keys (MD4 is broken outright). Each Sum works on one message in memory, without
// allocating, which is all a MAC over an NTP packet needs.
package digest

import (
	"encoding/binary"
	"math/bits"
)

// blocks returns the whole 64-octet blocks of msg, and its padded end in buf: the rest of
// msg, 0x80, zeros, and the message length in bits as 8 octets, little- or big-endian (one
// block, or two when fewer than 9 octets are left in the last).
func blocks(msg []byte, bigEndian bool, buf *[128]byte) (whole, last []byte) {
	n := len(msg)
	whole = msg[:n&^63]
	k := copy(buf[:], msg[n&^63:])
	buf[k] = 0x80
	end := 64
	if k >= 56 {
		end = 128
	}
	if bigEndian {
		binary.BigEndian.PutUint64(buf[end-8:end], uint64(n)<<3)
	} else {
		binary.LittleEndian.PutUint64(buf[end-8:end], uint64(n)<<3)
	}
	return whole, buf[:end]
}

// MD4 returns the MD4 digest of msg (RFC 1320).
func MD4(msg []byte) [16]byte {
	h := [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	var buf [128]byte
	whole, last := blocks(msg, false, &buf)
	for _, part := range [2][]byte{whole, last} {
		for ; len(part) >= 64; part = part[64:] {
			md4Block(&h, part[:64])
		}
	}
	var out [16]byte
	for i, v := range h {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// md4Block is MD4's compression of one block into h.
func md4Block(h *[4]uint32, b []byte) {
	var x [16]uint32
	for i := range x {
		x[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	a, bb, c, d := h[0], h[1], h[2], h[3]
	// Round 1: F(b,c,d) = b&c | ^b&d, words in order, shifts 3 7 11 19.
	for i := 0; i < 16; i += 4 {
		a = bits.RotateLeft32(a+(bb&c|^bb&d)+x[i], 3)
		d = bits.RotateLeft32(d+(a&bb|^a&c)+x[i+1], 7)
		c = bits.RotateLeft32(c+(d&a|^d&bb)+x[i+2], 11)
		bb = bits.RotateLeft32(bb+(c&d|^c&a)+x[i+3], 19)
	}
	// Round 2: G = majority, words by column, shifts 3 5 9 13.
	for i := 0; i < 4; i++ {
		a = bits.RotateLeft32(a+(bb&c|bb&d|c&d)+x[i]+0x5a827999, 3)
		d = bits.RotateLeft32(d+(a&bb|a&c|bb&c)+x[i+4]+0x5a827999, 5)
		c = bits.RotateLeft32(c+(d&a|d&bb|a&bb)+x[i+8]+0x5a827999, 9)
		bb = bits.RotateLeft32(bb+(c&d|c&a|d&a)+x[i+12]+0x5a827999, 13)
	}
	// Round 3: H = parity, words in the order 0 8 4 12 2 10 6 14 ..., shifts 3 9 11 15.
	for _, i := range [4]int{0, 2, 1, 3} {
		a = bits.RotateLeft32(a+(bb^c^d)+x[i]+0x6ed9eba1, 3)
		d = bits.RotateLeft32(d+(a^bb^c)+x[i+8]+0x6ed9eba1, 9)
		c = bits.RotateLeft32(c+(d^a^bb)+x[i+4]+0x6ed9eba1, 11)
		bb = bits.RotateLeft32(bb+(c^d^a)+x[i+12]+0x6ed9eba1, 15)
	}
	h[0] += a
	h[1] += bb
	h[2] += c
	h[3] += d
}

// The RIPEMD-160 tables: message word and rotation for each of the 80 steps of the left (r,
// s) and right (rr, sr) lines.
var (
	ripemdR = [80]uint8{
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
		3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
		1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
		4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13}
	ripemdRR = [80]uint8{
		5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
		6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
		15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
		8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
		12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11}
	ripemdS = [80]uint8{
		11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
		7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
		11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
		11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
		9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6}
	ripemdSR = [80]uint8{
		8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
		9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
		9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
		15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
		8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11}
	ripemdK  = [5]uint32{0x00000000, 0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xa953fd4e}
	ripemdKR = [5]uint32{0x50a28be6, 0x5c4dd124, 0x6d703ef3, 0x7a6d76e9, 0x00000000}
)

// ripemdF is the boolean function of round j/16 (0..4).
func ripemdF(round int, x, y, z uint32) uint32 {
	switch round {
	case 0:
		return x ^ y ^ z
	case 1:
		return x&y | ^x&z
	case 2:
		return (x | ^y) ^ z
	case 3:
		return x&z | y&^z
	}
	return x ^ (y | ^z)
}

// RIPEMD160 returns the RIPEMD-160 digest of msg.
func RIPEMD160(msg []byte) [20]byte {
	h := [5]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}
	var buf [128]byte
	whole, last := blocks(msg, false, &buf)
	for _, part := range [2][]byte{whole, last} {
		for ; len(part) >= 64; part = part[64:] {
			ripemdBlock(&h, part[:64])
		}
	}
	var out [20]byte
	for i, v := range h {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// ripemdBlock is RIPEMD-160's compression of one block into h.
func ripemdBlock(h *[5]uint32, b []byte) {
	var x [16]uint32
	for i := range x {
		x[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	a, bb, c, d, e := h[0], h[1], h[2], h[3], h[4]
	ar, br, cr, dr, er := a, bb, c, d, e
	for j := 0; j < 80; j++ {
		round := j / 16
		t := bits.RotateLeft32(a+ripemdF(round, bb, c, d)+x[ripemdR[j]]+ripemdK[round], int(ripemdS[j])) + e
		a, e, d, c, bb = e, d, bits.RotateLeft32(c, 10), bb, t
		// The right line runs the functions in the opposite order.
		t = bits.RotateLeft32(ar+ripemdF(4-round, br, cr, dr)+x[ripemdRR[j]]+ripemdKR[round], int(ripemdSR[j])) + er
		ar, er, dr, cr, br = er, dr, bits.RotateLeft32(cr, 10), br, t
	}
	t := h[1] + c + dr
	h[1] = h[2] + d + er
	h[2] = h[3] + e + ar
	h[3] = h[4] + a + br
	h[4] = h[0] + bb + cr
	h[0] = t
}

// SM3 returns the SM3 digest of msg (GB/T 32905-2016).
func SM3(msg []byte) [32]byte {
	v := [8]uint32{0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e}
	var buf [128]byte
	whole, last := blocks(msg, true, &buf)
	for _, part := range [2][]byte{whole, last} {
		for ; len(part) >= 64; part = part[64:] {
			sm3Block(&v, part[:64])
		}
	}
	var out [32]byte
	for i, x := range v {
		binary.BigEndian.PutUint32(out[4*i:], x)
	}
	return out
}

// sm3P0 and sm3P1 are SM3's permutations.
func sm3P0(x uint32) uint32 { return x ^ bits.RotateLeft32(x, 9) ^ bits.RotateLeft32(x, 17) }
func sm3P1(x uint32) uint32 { return x ^ bits.RotateLeft32(x, 15) ^ bits.RotateLeft32(x, 23) }

// sm3Block is SM3's expansion and compression of one block into v.
func sm3Block(v *[8]uint32, b []byte) {
	var w [68]uint32
	for i := 0; i < 16; i++ {
		w[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	for j := 16; j < 68; j++ {
		w[j] = sm3P1(w[j-16]^w[j-9]^bits.RotateLeft32(w[j-3], 15)) ^ bits.RotateLeft32(w[j-13], 7) ^ w[j-6]
	}
	a, bb, c, d, e, f, g, hh := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	for j := 0; j < 64; j++ {
		t, ff, gg := uint32(0x79cc4519), a^bb^c, e^f^g
		if j >= 16 {
			t, ff, gg = 0x7a879d8a, a&bb|a&c|bb&c, e&f|^e&g
		}
		ss1 := bits.RotateLeft32(bits.RotateLeft32(a, 12)+e+bits.RotateLeft32(t, j%32), 7)
		ss2 := ss1 ^ bits.RotateLeft32(a, 12)
		tt1 := ff + d + ss2 + (w[j] ^ w[j+4])
		tt2 := gg + hh + ss1 + w[j]
		d, c, bb, a = c, bits.RotateLeft32(bb, 9), a, tt1
		hh, g, f, e = g, bits.RotateLeft32(f, 19), e, sm3P0(tt2)
	}
	v[0] ^= a
	v[1] ^= bb
	v[2] ^= c
	v[3] ^= d
	v[4] ^= e
	v[5] ^= f
	v[6] ^= g
	v[7] ^= hh
}
