// SPDX-License-Identifier: BSD-2-Clause

package keys

import (
	"crypto/md5"
	"crypto/sha256"
	"net/netip"
	"strings"
	"testing"
)

// classicFile is the key file that classic ntpd 4.2.8p15 was run with (every digest name
// tried, see TestParseAsClassic); the comments say what the real program logged.
const classicFile = `# ntp.keys
1 MD5 md5secret
2 M mdsecret2
3 SHA1 0123456789abcdef0123456789abcdef01234567
4 SHA sha0secret                       # no algorithm for key 4
5 SHA256 sha256secret
6 SHA384 sha384secret
7 SHA512 sha512secret
8 AES128CMAC 0123456789abcdef0123456789abcdef
9 AES-128-CMAC 0123456789abcdef0123456789abcdef   # invalid type for key 9
10 SHA224 sha224secret
11 MD4 md4secret
12 RMD160 rmdsecret                    # invalid type for key 12
14 SHA3-256 sha3secret
15 MDC2 mdc2                           # no algorithm for key 15
17 BLAKE2s256 b2secret                 # invalid type for key 17
18 NONE xx                             # invalid type for key 18
19 md5 lowercase
20 sha1 lowercasesha
21 SHA-1 dashsha                       # invalid type for key 21
22 MD5 secret 198.18.0.2,198.18.0.0/24
23 MD5 0123456789abcdef0123456789abcdef0123456789
24 AES128CMAC shortkey
25 MD5 a234567890123456789012345678901234567890a
27 SHA512-224 x
28 Mfoo x
29 aes128cmac 0123456789abcdef0123456789abcdef
30 SHAKE128 x
31 MD5-SHA1 x
`

func TestParseAsClassic(t *testing.T) {
	s, errs := Parse("/etc/ntp.keys", strings.NewReader(classicFile))
	if s == nil {
		t.Fatalf("file rejected: %v", errs)
	}
	want := []string{
		"/etc/ntp.keys:5: authreadkeys: no algorithm for key 4",
		"/etc/ntp.keys:10: authreadkeys: invalid type for key 9",
		"/etc/ntp.keys:13: authreadkeys: invalid type for key 12",
		"/etc/ntp.keys:15: authreadkeys: no algorithm for key 15",
		"/etc/ntp.keys:16: authreadkeys: invalid type for key 17",
		"/etc/ntp.keys:17: authreadkeys: invalid type for key 18",
		"/etc/ntp.keys:20: authreadkeys: invalid type for key 21",
	}
	if len(errs) != len(want) {
		t.Fatalf("problems:\n%v\nwant %d", errs, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w+" (") {
			t.Errorf("problem %d = %q, want %q", i, errs[i], w)
		}
	}
	if !strings.Contains(errs[1].Error(), "AES128CMAC") || !strings.Contains(errs[2].Error(), "RMD160") {
		t.Errorf("the problems do not say what to do: %v / %v", errs[1], errs[2])
	}
	types := map[uint32]string{1: "MD5", 2: "MD5", 3: "SHA1", 5: "SHA256", 6: "SHA384", 7: "SHA512", 8: "AES128CMAC",
		10: "SHA224", 11: "MD4", 14: "SHA3-256", 19: "MD5", 20: "SHA1", 22: "MD5", 23: "MD5", 24: "AES128CMAC", 25: "MD5",
		27: "SHA512-224", 28: "MD5", 29: "AES128CMAC", 30: "SHAKE128", 31: "MD5-SHA1"}
	if s.Len() != len(types) {
		t.Errorf("%d keys, want %d", s.Len(), len(types))
	}
	for id, typ := range types {
		if k := s.Key(id); k == nil || k.Type != typ {
			t.Errorf("key %d = %+v, want type %s", id, k, typ)
		}
	}
	if n := len(s.Key(3).Secret); n != 20 {
		t.Errorf("40 hex digits gave %d octets", n)
	}
	if n := len(s.Key(25).Secret); n != 20 {
		t.Errorf("41 hex digits gave %d octets, classic drops the odd one", n)
	}
	if got := s.Key(22).Allow; len(got) != 2 || got[0] != netip.MustParsePrefix("198.18.0.2/32") || got[1] != netip.MustParsePrefix("198.18.0.0/24") {
		t.Errorf("address list %v", got)
	}
}

func TestParseRejectsFile(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"1 M a\nx M bad\n", "k:2: authreadkeys: cannot change key x"},
		{"0 M a\n", "k:1: authreadkeys: cannot change key 0"},
		{"65536 M a\n", "k:1: authreadkeys: key 65536 > 65535 reserved for Autokey"},
		{"5\n", "k:1: authreadkeys: no key type for key 5"},
		{"5 M\n", "k:1: authreadkeys: no key for key 5"},
		{"5 SHA1 0123456789abcdef0123456789abcdef0123456g\n", "k:1: authreadkeys: invalid hex digit for key 5"},
		{"5 M abc 198.18.0.300\n", "k:1: authreadkeys: invalid IP address <198.18.0.300> for key 5"},
		{"5 M abc 198.18.0.0/2x\n", "k:1: authreadkeys: Invalid character in subnet specification for <198.18.0.0/2x> for key 5"},
	} {
		s, errs := Parse("k", strings.NewReader(tc.file))
		if s != nil || len(errs) < 2 {
			t.Errorf("%q: accepted (%v)", tc.file, errs)
			continue
		}
		if errs[0].Error() != tc.want {
			t.Errorf("%q: %v, want %s", tc.file, errs[0], tc.want)
		}
		if last := errs[len(errs)-1].Error(); last != "k: authreadkeys: rejecting file 'k' after 1 error(s)" {
			t.Errorf("%q: last problem %q", tc.file, last)
		}
	}
	// More than 15 errors stop the reading.
	_, errs := Parse("k", strings.NewReader(strings.Repeat("x M a\n", 40)))
	if len(errs) != 17 || !strings.HasSuffix(errs[16].Error(), "after 16 error(s) (emergency break)") {
		t.Errorf("emergency break: %d problems, last %v", len(errs), errs[len(errs)-1])
	}
}

func TestSignVerify(t *testing.T) {
	s, _ := Parse("k", strings.NewReader(classicFile))
	msg := []byte("a mode 6 request, padded")
	if _, ok := s.Sign(nil, 1, msg); ok {
		t.Fatal("signed with an untrusted key")
	}
	s.Trust(1, 3, 5, 8, 22, 31)
	d, ok := s.Sign(nil, 1, msg)
	want := md5.Sum(append([]byte("md5secret"), msg...))
	if !ok || string(d) != string(want[:]) {
		t.Fatalf("MD5 MAC %x, want %x", d, want)
	}
	if !s.Verify(1, msg, d) || s.Verify(1, append(msg, 0), d) || s.Verify(2, msg, d) || s.Verify(1, msg, d[:15]) {
		t.Fatal("verify accepts a wrong message, key or length")
	}
	// SHA256 is truncated to 20 octets as classic truncates it.
	d5, _ := s.Sign(nil, 5, msg)
	w5 := sha256.Sum256(append([]byte("sha256secret"), msg...))
	if string(d5) != string(w5[:20]) || !s.Verify(5, msg, d5) || s.Verify(5, msg, w5[:]) {
		t.Fatalf("SHA256 MAC %x, want %x", d5, w5[:20])
	}
	for _, id := range []uint32{3, 8, 31} {
		d, ok := s.Sign(nil, id, msg)
		if !ok || len(d) != s.Size(id) || !s.Verify(id, msg, d) {
			t.Errorf("key %d: MAC %x (size %d)", id, d, s.Size(id))
		}
		d[0] ^= 1
		if s.Verify(id, msg, d) {
			t.Errorf("key %d: a flipped bit verifies", id)
		}
	}
	if s.Size(8) != 16 || s.Size(3) != 20 || s.Size(31) != 20 {
		t.Errorf("sizes %d %d %d", s.Size(8), s.Size(3), s.Size(31))
	}
	if !s.TrustedFrom(22, netip.MustParseAddr("198.18.0.77")) || s.TrustedFrom(22, netip.MustParseAddr("198.19.0.2")) ||
		!s.TrustedFrom(22, netip.MustParseAddr("::ffff:198.18.0.2")) || !s.TrustedFrom(1, netip.MustParseAddr("10.0.0.1")) {
		t.Error("address list not applied")
	}
	st := s.Stats()
	if st.Keys != 21 || st.Encrypts != 5 || st.Decrypts == 0 || st.NotFound == 0 || st.Lookups < st.Encrypts+st.Decrypts {
		t.Errorf("counters %+v", st)
	}
}

func TestAdd(t *testing.T) {
	s := NewSet()
	if err := s.Add(7, "aes128cmac", []byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	for id, typ := range map[uint32]string{8: "RIPEMD160", 10: "MD4", 11: "SM3"} {
		if err := s.Add(id, typ, []byte("x")); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	if err := s.Add(9, "", []byte("x")); err == nil {
		t.Fatal("empty type accepted")
	}
}

func TestSignAllocations(t *testing.T) {
	s, _ := Parse("k", strings.NewReader(classicFile))
	s.Trust(1, 3, 8)
	msg := make([]byte, 48)
	buf := make([]byte, 0, 64)
	for _, id := range []uint32{1, 3, 8} {
		if n := testing.AllocsPerRun(50, func() {
			out, _ := s.Sign(buf, id, msg)
			s.Verify(id, msg, out)
		}); n != 0 {
			t.Errorf("key %d: %v allocations per sign and verify", id, n)
		}
	}
}

func BenchmarkVerifyMD5(b *testing.B) {
	s, _ := Parse("k", strings.NewReader(classicFile))
	s.Trust(1)
	msg := make([]byte, 48)
	d, _ := s.Sign(nil, 1, msg)
	b.ReportAllocs()
	for b.Loop() {
		s.Verify(1, msg, d)
	}
}

// TestSignInPlace: a MAC is written into the caller's buffer when it has room for the key
// ID and the (truncated) digest, whatever the full digest's length: the daemon signs packets
// in buffers of exactly that size.
func TestSignInPlace(t *testing.T) {
	s, _ := Parse("k", strings.NewReader(classicFile))
	for id, k := range s.keys {
		s.Trust(id)
		pkt := make([]byte, 48+4+s.Size(id))
		out, ok := s.Sign(pkt[:52], id, pkt[:48])
		if !ok || len(out) != len(pkt) || &out[0] != &pkt[0] {
			t.Errorf("key %d (%s): MAC not written in place", id, k.Type)
		}
	}
}
