// SPDX-License-Identifier: BSD-2-Clause

package cmac

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
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

// The test vectors of RFC 4493 section 4 (AES-128).
const (
	rfcKey = "2b7e151628aed2a6abf7158809cf4f3c"
	rfcMsg = "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
		"30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710"
)

func TestRFC4493(t *testing.T) {
	key := unhex(t, rfcKey)
	k, err := NewKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Section 4, subkey generation.
	if got := hex.EncodeToString(k.k1[:]); got != "fbeed618357133667c85e08f7236a8de" {
		t.Errorf("K1 = %s", got)
	}
	if got := hex.EncodeToString(k.k2[:]); got != "f7ddac306ae266ccf90bc11ee46d513b" {
		t.Errorf("K2 = %s", got)
	}
	msg := unhex(t, rfcMsg)
	for _, tc := range []struct {
		n   int
		tag string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		if got := hex.EncodeToString(k.Sum(nil, msg[:tc.n])); got != tc.tag {
			t.Errorf("AES-CMAC(%d octets) = %s, want %s", tc.n, got, tc.tag)
		}
		h, _ := New(key)
		h.Write(msg[:tc.n/2])
		h.Write(msg[tc.n/2 : tc.n])
		if got := hex.EncodeToString(h.Sum([]byte("x"))[1:]); got != tc.tag {
			t.Errorf("hash.Hash CMAC(%d octets) = %s, want %s", tc.n, got, tc.tag)
		}
	}
}

func TestSumAppends(t *testing.T) {
	k, _ := NewKey(unhex(t, rfcKey))
	prefix := []byte{1, 2, 3}
	out := k.Sum(prefix, nil)
	if !bytes.Equal(out[:3], []byte{1, 2, 3}) || len(out) != 3+Size {
		t.Fatalf("Sum did not append: %x", out)
	}
	if _, err := NewKey(make([]byte, 15)); err == nil {
		t.Fatal("a 15-octet key was accepted")
	}
}

func TestSumAllocations(t *testing.T) {
	k, _ := NewKey(unhex(t, rfcKey))
	msg := unhex(t, rfcMsg)[:48]
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { k.Sum(buf, msg) }); n != 0 {
		t.Fatalf("%v allocations per Sum", n)
	}
}

func BenchmarkSum48(b *testing.B) {
	k, _ := NewKey(unhex(b, rfcKey))
	msg := unhex(b, rfcMsg)[:48]
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		k.Sum(buf, msg)
	}
}

// TestStream checks the streaming CMAC against RFC 4493 section 4 (NIST SP 800-38B examples),
// fed in one piece and byte by byte.
func TestStream(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"+
		"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, c := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{20, "7d85449ea6ea19c823a7bf78837dfade"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		b, _ := aes.NewCipher(key)
		var m Stream
		m.Init(b)
		var out [Size]byte
		m.Write(msg[:c.n])
		m.Sum(&out)
		if got := hex.EncodeToString(out[:]); got != c.want {
			t.Errorf("CMAC of %d octets = %s, want %s", c.n, got, c.want)
		}
		m.Reset()
		for i := 0; i < c.n; i++ {
			m.Write(msg[i : i+1])
		}
		m.Sum(&out)
		if got := hex.EncodeToString(out[:]); got != c.want {
			t.Errorf("CMAC of %d octets fed byte by byte = %s, want %s", c.n, got, c.want)
		}
	}
}
