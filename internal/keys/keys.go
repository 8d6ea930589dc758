// SPDX-License-Identifier: BSD-2-Clause

// Package keys reads ntpd's symmetric key file (ntp.keys(5): "keyid type key" lines) and
// computes the legacy MACs that classic ntpd and ntpq put after a packet: the digest of the
// secret followed by the message (RFC 5905 appendix A's MD5 scheme, generalised by ntpd to
// SHA-1).
package keys

import (
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// Key is one symmetric key.
type Key struct {
	ID     uint32
	Type   string // "MD5" or "SHA1"
	Secret []byte
}

// Set is the keys of a key file and which of them are trusted (ntp.conf trustedkey).
type Set struct {
	keys    map[uint32]Key
	trusted map[uint32]bool
}

// maxKeyID is the largest key id ntpd accepts (NTP_MAXKEY).
const maxKeyID = 65535

// Parse reads a key file. name is used in error messages ("/etc/ntp.keys:3: ..."). Every bad
// line is reported; the good ones are kept, as ntpd does.
func Parse(name string, r io.Reader) (*Set, []error) {
	s := &Set{keys: map[uint32]Key{}, trusted: map[uint32]bool{}}
	var errs []error
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			errs = append(errs, fmt.Errorf("%s:%d: want \"keyid type key\", got %q", name, line, strings.TrimSpace(text)))
			continue
		}
		id, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil || id < 1 || id > maxKeyID {
			errs = append(errs, fmt.Errorf("%s:%d: key id %q must be a number from 1 to %d", name, line, f[0], maxKeyID))
			continue
		}
		typ := strings.ToUpper(f[1])
		switch typ {
		case "M", "MD5":
			typ = "MD5"
		case "SHA1", "SHA-1":
			typ = "SHA1"
		default:
			errs = append(errs, fmt.Errorf("%s:%d: key %d: digest type %q is not supported by gontp (MD5 and SHA1 are)", name, line, id, f[1]))
			continue
		}
		// ntpd: a key of up to 20 characters is ASCII; a longer one is hex.
		secret := []byte(f[2])
		if len(f[2]) > 20 {
			b, err := hex.DecodeString(f[2])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: key %d: a key longer than 20 characters must be hex: %v", name, line, id, err))
				continue
			}
			secret = b
		}
		s.keys[uint32(id)] = Key{ID: uint32(id), Type: typ, Secret: secret}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return s, errs
}

// Trust marks key ids as trusted (ntp.conf trustedkey).
func (s *Set) Trust(ids ...uint32) {
	for _, id := range ids {
		s.trusted[id] = true
	}
}

// Len is the number of keys.
func (s *Set) Len() int { return len(s.keys) }

// Trusted reports whether id is a known, trusted key.
func (s *Set) Trusted(id uint32) bool {
	_, ok := s.keys[id]
	return ok && s.trusted[id]
}

func (k Key) hash() hash.Hash {
	if k.Type == "SHA1" {
		return sha1.New()
	}
	return md5.New()
}

// Sign appends the digest of msg under key id to dst. ok is false for an unknown or
// untrusted key.
func (s *Set) Sign(dst []byte, id uint32, msg []byte) ([]byte, bool) {
	if !s.Trusted(id) {
		return dst, false
	}
	k := s.keys[id]
	h := k.hash()
	h.Write(k.Secret)
	h.Write(msg)
	return h.Sum(dst), true
}

// Verify reports whether digest is msg's MAC under the trusted key id.
func (s *Set) Verify(id uint32, msg, digest []byte) bool {
	var buf [sha1.Size]byte
	want, ok := s.Sign(buf[:0], id, msg)
	return ok && len(digest) == len(want) && subtle.ConstantTimeCompare(digest, want) == 1
}
