// SPDX-License-Identifier: BSD-2-Clause

package keys

import (
	"crypto/md5"
	"strings"
	"testing"
)

const file = `# ntp.keys
1 M secret1
2 MD5 anothersecret   # comment
3 SHA1 0123456789abcdef0123456789abcdef01234567
4 AES128CMAC 0123456789abcdef
x M bad
5 M
`

func TestParse(t *testing.T) {
	s, errs := Parse("/etc/ntp.keys", strings.NewReader(file))
	if s.Len() != 3 {
		t.Fatalf("%d keys, want 3", s.Len())
	}
	if len(errs) != 3 {
		t.Fatalf("errors %v, want 3", errs)
	}
	for i, want := range []string{"/etc/ntp.keys:5: key 4: digest type \"AES128CMAC\" is not supported", "/etc/ntp.keys:6: key id \"x\"", "/etc/ntp.keys:7: want"} {
		if !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %d = %v, want %q", i, errs[i], want)
		}
	}
	if len(s.keys[3].Secret) != 20 {
		t.Fatalf("hex key decoded to %d bytes", len(s.keys[3].Secret))
	}
}

func TestSignVerify(t *testing.T) {
	s, _ := Parse("k", strings.NewReader(file))
	msg := []byte("a mode 6 request, padded")
	if _, ok := s.Sign(nil, 1, msg); ok {
		t.Fatal("signed with an untrusted key")
	}
	s.Trust(1, 3)
	d, ok := s.Sign(nil, 1, msg)
	want := md5.Sum(append([]byte("secret1"), msg...))
	if !ok || string(d) != string(want[:]) {
		t.Fatalf("MD5 MAC %x, want %x", d, want)
	}
	if !s.Verify(1, msg, d) || s.Verify(1, append(msg, 0), d) || s.Verify(2, msg, d) {
		t.Fatal("verify accepts a wrong message or key")
	}
	d3, _ := s.Sign(nil, 3, msg)
	if len(d3) != 20 || !s.Verify(3, msg, d3) {
		t.Fatal("SHA1 MAC")
	}
}
