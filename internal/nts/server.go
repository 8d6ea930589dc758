// SPDX-License-Identifier: BSD-2-Clause

package nts

import (
	"errors"
	"io"

	"gontp/internal/siv"
	"gontp/internal/wire"
)

// MaxReplyEFs is the most octets of extension fields an NTS reply can carry: the unique
// identifier and an authenticator holding eight of the longest cookies gontp makes.
const MaxReplyEFs = UniqueIDLen + 4 + 8 + NonceLen + siv.TagSize + MaxCookies*(4+168)

// Responder answers NTS requests (section 5.7, server side). It keeps scratch buffers so that
// the only allocations per request are the two AES key schedules of the client's session
// keys; give each receive loop its own.
type Responder struct {
	Ring *KeyRing
	Rand io.Reader

	keys    CookieKeys
	c2s     siv.SIV
	s2c     siv.SIV
	plain   [2048]byte
	cookies [MaxCookies * (4 + 168)]byte
	uid     [64]byte
	uidLen  int
	nonce   [NonceLen]byte
	nCookie int
	ok      bool
}

// IsNTS reports whether a decoded request carries NTS extension fields, so that the caller
// can hand it to Verify instead of answering it as plain NTP.
func IsNTS(tr *wire.Trailer) bool {
	it := tr.Fields()
	for {
		f, ok := it.Next()
		if !ok {
			return false
		}
		if f.Type == EFUniqueID || f.Type == EFCookie || f.Type == EFAuthenticator {
			return true
		}
	}
}

// Verify checks an NTS request: exactly one unique identifier, one cookie that decrypts
// under a master key, and an authenticator, last, that verifies under the cookie's C2S key.
// It remembers what the reply needs. On ErrCookieKey, ErrCookieInvalid or ErrAuthFailed the
// caller answers with AppendNAK (when UniqueID is set); other errors mean a malformed request
// to drop.
func (r *Responder) Verify(pkt []byte, tr *wire.Trailer) error {
	r.ok, r.uidLen, r.nCookie = false, 0, 0
	var uid, cookie []byte
	var auth authenticator
	placeholders := 0
	f := newFields(pkt, tr)
	var placeholderLens [MaxCookies]int
	for {
		typ, val, off, ok := f.next()
		if !ok {
			break
		}
		if auth.present {
			auth.fieldsPast = true
		}
		switch typ {
		case EFUniqueID:
			if uid != nil {
				return ErrDupField
			}
			uid = val
		case EFCookie:
			if cookie != nil {
				return ErrDupField
			}
			cookie = val
		case EFPlaceholder:
			if placeholders < MaxCookies {
				placeholderLens[placeholders] = len(val)
			}
			placeholders++
		case EFAuthenticator:
			if auth.present {
				return ErrDupField
			}
			auth.present, auth.off = true, off
			var err error
			if auth.nonce, auth.ct, err = parseAuthenticator(val); err != nil {
				return err
			}
		}
	}
	if uid == nil {
		return ErrNoUniqueID
	}
	if len(uid) < UniqueIDLen || len(uid) > len(r.uid) {
		return ErrUniqueIDLen
	}
	r.uidLen = copy(r.uid[:], uid)
	if cookie == nil {
		return ErrNoCookie
	}
	if !auth.present {
		return ErrNoAuthenticator
	}
	if auth.fieldsPast || tr.HasMAC {
		return ErrAuthNotLast
	}
	if err := r.Ring.OpenCookie(cookie, &r.keys); err != nil {
		return err
	}
	if err := r.c2s.Init(r.keys.C2S); err != nil {
		return err
	}
	plain, err := r.c2s.Open(r.plain[:0], auth.nonce, auth.ct, pkt[:auth.off])
	if err != nil {
		clear(r.keys.buf[:]) // no session keys left behind in a pooled responder
		return ErrAuthFailed
	}
	// Placeholders count only when their length is the cookie's: the reply must not be
	// larger than the request (section 5.7, no amplification).
	n := 1
	for i := 0; i < min(placeholders, MaxCookies); i++ {
		if placeholderLens[i] == len(cookie) {
			n++
		}
	}
	walkPlain(plain, func(typ uint16, val []byte) {
		if typ == EFPlaceholder && len(val) == len(cookie) {
			n++
		}
	})
	r.nCookie = min(n, MaxCookies)
	r.ok = true
	return nil
}

// ReplyLen returns the length of the reply AppendReply will make after a header of hdr
// octets.
func (r *Responder) ReplyLen(hdr int) int {
	return hdr + r.overhead() + r.nCookie*(wire.ExtHeaderLen+CookieLen(r.keys.AEAD))
}

func (r *Responder) overhead() int {
	return efLen(r.uidLen) + efLen(4+NonceLen+siv.TagSize)
}

// FitReply lowers the number of cookies the reply carries so that it fits in room octets
// after a header of hdr octets (at least one cookie is always sent; the caller must offer
// room for it). The client asks again for what it still lacks.
func (r *Responder) FitReply(hdr, room int) {
	for r.nCookie > 1 && r.ReplyLen(hdr) > room {
		r.nCookie--
	}
}

// UniqueID returns the unique identifier of the last request Verify saw (nil if none).
func (r *Responder) UniqueID() []byte {
	if r.uidLen == 0 {
		return nil
	}
	return r.uid[:r.uidLen]
}

// ErrNotVerified: AppendReply without a successful Verify.
var ErrNotVerified = errors.New("NTS: reply without a verified request")

// AppendReply appends the NTS fields of the reply to a verified request whose 48-octet
// header is in out: the unique identifier and an authenticator whose encrypted part holds
// fresh cookies under the newest master key, one per cookie spent and placeholder sent.
func (r *Responder) AppendReply(out []byte) ([]byte, error) {
	if !r.ok {
		return out, ErrNotVerified
	}
	r.ok = false
	cs := r.cookies[:0]
	for range r.nCookie {
		var err error
		start := len(cs)
		cs = append(cs, 0, 0, 0, 0) // EF header, filled below
		if cs, err = r.Ring.AppendCookie(cs, r.keys.AEAD, r.keys.C2S, r.keys.S2C, r.Rand); err != nil {
			return out, err
		}
		l := len(cs) - start
		cs[start], cs[start+1] = EFCookie>>8, EFCookie&0xff
		cs[start+2], cs[start+3] = byte(l>>8), byte(l)
	}
	if err := r.s2c.Init(r.keys.S2C); err != nil {
		return out, err
	}
	if _, err := io.ReadFull(r.Rand, r.nonce[:]); err != nil {
		return out, err
	}
	out = appendEF(out, EFUniqueID, r.uid[:r.uidLen])
	out = appendAuthenticator(out, &r.s2c, r.nonce[:], cs)
	clear(r.keys.buf[:])
	return out, nil
}

// AppendNAK appends the unique identifier to an NTS NAK (a kiss-o'-death with code NTSN,
// stratum 0, whose header the caller wrote; section 5.7).
func (r *Responder) AppendNAK(out []byte) []byte {
	if r.uidLen == 0 {
		return out
	}
	return appendEF(out, EFUniqueID, r.uid[:r.uidLen])
}
