// SPDX-License-Identifier: BSD-2-Clause

package nts

import (
	"bytes"
	"fmt"
	"io"

	"gontp/internal/siv"
	"gontp/internal/wire"
)

// Session is the NTS state of one client association after a successful NTS-KE: the two
// session keys and the cookie jar (section 5.7). Each request spends one cookie, never used
// again, and asks for enough new ones (cookie placeholders) to refill the jar to eight; each
// reply must echo the request's unique identifier and authenticate under the S2C key. It is
// not safe for concurrent use (an association is one goroutine's state).
type Session struct {
	AEAD     uint16
	c2s, s2c siv.SIV
	jar      [][]byte
	uid      [UniqueIDLen]byte
	pending  bool
	plain    []byte // scratch for decrypted extension fields
}

// NewSession starts a session from a negotiated AEAD, the exported keys and the cookies.
func NewSession(aead uint16, c2sKey, s2cKey []byte, cookies [][]byte) (*Session, error) {
	if KeyLen(aead) == 0 || len(c2sKey) != KeyLen(aead) || len(s2cKey) != KeyLen(aead) {
		return nil, fmt.Errorf("%w %d", ErrAEAD, aead)
	}
	s := &Session{AEAD: aead, plain: make([]byte, 0, 2048)}
	if err := s.c2s.Init(c2sKey); err != nil {
		return nil, err
	}
	if err := s.s2c.Init(s2cKey); err != nil {
		return nil, err
	}
	for _, c := range cookies {
		if len(c) > 0 && len(c) <= MaxCookieLen && len(s.jar) < MaxCookies {
			s.jar = append(s.jar, c)
		}
	}
	return s, nil
}

// Cookies returns the number of unused cookies in the jar.
func (s *Session) Cookies() int { return len(s.jar) }

// AppendRequest appends the NTS extension fields to a client request whose 48-octet header is
// already in pkt (section 5.7): a fresh unique identifier, one cookie taken out of the jar,
// placeholders to refill the jar, and the authenticator over all of it. rnd supplies the
// unique identifier and the nonce (crypto/rand in the daemon). ErrJarEmpty means a new
// NTS-KE is needed.
func (s *Session) AppendRequest(pkt []byte, rnd io.Reader) ([]byte, error) {
	if len(pkt) != wire.HeaderLen {
		return pkt, fmt.Errorf("%w: request header of %d octets", ErrBufferShort, len(pkt))
	}
	if len(s.jar) == 0 {
		return pkt, ErrJarEmpty
	}
	var nonce [NonceLen]byte
	if _, err := io.ReadFull(rnd, s.uid[:]); err != nil {
		return pkt, fmt.Errorf("NTS unique identifier: %w", err)
	}
	if _, err := io.ReadFull(rnd, nonce[:]); err != nil {
		return pkt, fmt.Errorf("NTS nonce: %w", err)
	}
	cookie := s.jar[0]
	s.jar[0] = nil
	s.jar = s.jar[1:]
	pkt = appendEF(pkt, EFUniqueID, s.uid[:])
	pkt = appendEF(pkt, EFCookie, cookie)
	for range MaxCookies - 1 - len(s.jar) {
		pkt = appendZeroEF(pkt, EFPlaceholder, len(cookie))
	}
	pkt = appendAuthenticator(pkt, &s.c2s, nonce[:], nil)
	s.pending = true
	return pkt, nil
}

// CheckResponse verifies a reply to the last request (section 5.7): pkt is the whole
// datagram, p and tr what wire.Decode made of it. A verified reply's cookies go into the
// jar. An NTS NAK answering the outstanding request gives ErrNAK (the caller must re-key);
// every other failure means the reply must be dropped without taking time from it.
func (s *Session) CheckResponse(pkt []byte, p *wire.Packet, tr *wire.Trailer) error {
	if !s.pending {
		return ErrNoPending
	}
	var uid []byte
	var auth authenticator
	f := newFields(pkt, tr)
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
	if !bytes.Equal(uid, s.uid[:]) {
		return ErrUniqueIDMismatch
	}
	if code, ok := p.KissCode(); ok && code == KissNTSN {
		s.pending = false
		return ErrNAK
	}
	if !auth.present {
		return ErrNoAuthenticator
	}
	if auth.fieldsPast || tr.HasMAC {
		return ErrAuthNotLast
	}
	plain, err := s.s2c.Open(s.plain[:0], auth.nonce, auth.ct, pkt[:auth.off])
	if err != nil {
		return ErrAuthFailed
	}
	s.pending = false
	walkPlain(plain, func(typ uint16, val []byte) {
		if typ == EFCookie && len(val) > 0 && len(val) <= MaxCookieLen && len(s.jar) < MaxCookies {
			s.jar = append(s.jar, bytes.Clone(val))
		}
	})
	return nil
}
