// SPDX-License-Identifier: BSD-2-Clause

package digest

import (
	"encoding/hex"
	"strings"
	"testing"
)

// The published test vectors: RFC 1320 appendix A.5 for MD4, the RIPEMD-160 authors' page for
// RIPEMD-160, and GB/T 32905-2016 appendix A for SM3.
func TestVectors(t *testing.T) {
	alpha := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	digits := strings.Repeat("1234567890", 8)
	md4 := map[string]string{
		"":                           "31d6cfe0d16ae931b73c59d7e0c089c0",
		"a":                          "bde52cb31de33e46245e05fbdbd6fb24",
		"abc":                        "a448017aaf21d8525fc10ae87aa6729d",
		"message digest":             "d9130a8164549fe818874806e1c7014b",
		"abcdefghijklmnopqrstuvwxyz": "d79e1c308aa5bbcdeea8ed63df412da9",
		alpha:                        "043f8582f241db351ce627e153e7f0e4",
		digits:                       "e33b4ddc9c38f2199c3e7b164fcc0536",
	}
	for in, want := range md4 {
		if got := MD4([]byte(in)); hex.EncodeToString(got[:]) != want {
			t.Errorf("MD4(%q) = %x, want %s", in, got, want)
		}
	}
	rmd := map[string]string{
		"":                           "9c1185a5c5e9fc54612808977ee8f548b2258d31",
		"a":                          "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe",
		"abc":                        "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc",
		"message digest":             "5d0689ef49d2fae572b881b123a85ffa21595f36",
		"abcdefghijklmnopqrstuvwxyz": "f71c27109c692c1b56bbdceb5b9d2865b3708dbc",
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq": "12a053384a9c0c88e405a06c27dcf49ada62eb2b",
		alpha:  "b0e20b6e3116640286ed3a87a5713079b21f5189",
		digits: "9b752e45573d4b39f4dbd3323cab82bf63326bfb",
	}
	for in, want := range rmd {
		if got := RIPEMD160([]byte(in)); hex.EncodeToString(got[:]) != want {
			t.Errorf("RIPEMD160(%q) = %x, want %s", in, got, want)
		}
	}
	sm3 := map[string]string{
		"abc":                      "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
		strings.Repeat("abcd", 16): "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
	}
	for in, want := range sm3 {
		if got := SM3([]byte(in)); hex.EncodeToString(got[:]) != want {
			t.Errorf("SM3(%q) = %x, want %s", in, got, want)
		}
	}
}

// TestNoAllocation: a MAC is computed for every authenticated packet; the digests allocate
// nothing.
func TestNoAllocation(t *testing.T) {
	msg := make([]byte, 68)
	if n := testing.AllocsPerRun(100, func() {
		_ = MD4(msg)
		_ = RIPEMD160(msg)
		_ = SM3(msg)
	}); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func BenchmarkDigests(b *testing.B) {
	msg := make([]byte, 68) // key and an NTP header, as a MAC hashes
	for i := 0; i < b.N; i++ {
		_ = MD4(msg)
		_ = RIPEMD160(msg)
		_ = SM3(msg)
	}
}
