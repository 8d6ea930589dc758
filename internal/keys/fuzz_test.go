// SPDX-License-Identifier: BSD-2-Clause

package keys

import (
	"strings"
	"testing"
)

// FuzzParse: any key file is read without a panic, every key it yields can sign and verify
// its own MAC, and a rejected file yields no keys.
func FuzzParse(f *testing.F) {
	f.Add(classicFile)
	f.Add("1 M a 198.18.0.0/24,::1/200\n2 SHA1 " + strings.Repeat("f", 70) + "\n")
	f.Add("-1 M\n99999999999999999999 M x\n")
	f.Fuzz(func(t *testing.T, file string) {
		s, errs := Parse("f", strings.NewReader(file))
		if s == nil {
			if len(errs) == 0 {
				t.Fatal("rejected without a reason")
			}
			return
		}
		for id, k := range s.keys {
			if k.ID != id || id < 1 || id > MaxKeyID || len(k.Secret) > maxSecret && len(k.Secret) > 20 {
				t.Fatalf("key %d: %+v", id, k)
			}
			s.Trust(id)
			d, ok := s.Sign(nil, id, []byte(file))
			if !ok || len(d) != s.Size(id) || !s.Verify(id, []byte(file), d) {
				t.Fatalf("key %d (%s): own MAC does not verify", id, k.Type)
			}
		}
	})
}

// FuzzVerify: MAC verification never panics, and accepts a digest only when it is the MAC.
func FuzzVerify(f *testing.F) {
	s, _ := Parse("k", strings.NewReader(classicFile))
	s.Trust(1, 3, 5, 8, 24, 31)
	f.Add(uint32(1), []byte("msg"), []byte("0123456789abcdef"))
	f.Add(uint32(8), []byte(""), []byte{})
	f.Add(uint32(70000), []byte("x"), []byte("y"))
	f.Fuzz(func(t *testing.T, id uint32, msg, digest []byte) {
		ok := s.Verify(id, msg, digest)
		want, signed := s.Sign(nil, id, msg)
		if ok != (signed && string(want) == string(digest)) {
			t.Fatalf("Verify(%d, %x, %x) = %v, MAC %x", id, msg, digest, ok, want)
		}
	})
}
