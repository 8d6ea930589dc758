// SPDX-License-Identifier: BSD-2-Clause

package nts

import (
	"encoding/binary"
	"errors"

	"gontp/internal/siv"
	"gontp/internal/wire"
)

// NTS extension field types (section 5.7 and the IANA "NTP Extension Field Types" registry).
const (
	EFUniqueID      = 0x0104
	EFCookie        = 0x0204
	EFPlaceholder   = 0x0304
	EFAuthenticator = 0x0404
	// UniqueIDLen is the length of the unique identifier gontp sends; section 5.3 asks for
	// at least 32 octets.
	UniqueIDLen = 32
	// NonceLen is the length of the AES-SIV nonce gontp sends (section 5.6: at least 16).
	NonceLen = 16
)

// KissNTSN is the kiss code of an NTS NAK (section 5.7).
var KissNTSN = [4]byte{'N', 'T', 'S', 'N'}

// Errors of the extension fields, one per defect so that each can be counted.
var (
	ErrNoUniqueID       = errors.New("NTS: no unique identifier extension field")
	ErrUniqueIDLen      = errors.New("NTS: unique identifier shorter than 32 octets")
	ErrDupField         = errors.New("NTS: unique identifier, cookie or authenticator repeated")
	ErrNoCookie         = errors.New("NTS: request without cookie")
	ErrNoAuthenticator  = errors.New("NTS: no authenticator extension field")
	ErrAuthNotLast      = errors.New("NTS: extension field after the authenticator")
	ErrAuthFormat       = errors.New("NTS: malformed authenticator extension field")
	ErrAuthFailed       = errors.New("NTS: authenticator does not verify")
	ErrUniqueIDMismatch = errors.New("NTS: reply's unique identifier does not match the request")
	ErrNAK              = errors.New("NTS: NTS NAK (kiss code NTSN) from the server")
	ErrNoPending        = errors.New("NTS: reply to no outstanding NTS request")
	ErrJarEmpty         = errors.New("NTS: no cookie left, a new NTS-KE is needed")
	ErrPlaceholderLen   = errors.New("NTS: cookie placeholder of another length than the cookie")
	ErrBufferShort      = errors.New("NTS: buffer too short")
)

// efLen is the length of an extension field with a body of n octets padded to 4 octets, and
// at least 16 octets (RFC 7822 section 3).
func efLen(n int) int {
	l := (wire.ExtHeaderLen + n + 3) &^ 3
	return max(l, wire.ExtMinLen)
}

// appendEF appends an extension field: type, length, body, zero padding.
func appendEF(dst []byte, typ uint16, body []byte) []byte {
	l := efLen(len(body))
	dst = binary.BigEndian.AppendUint16(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, uint16(l))
	dst = append(dst, body...)
	for i := wire.ExtHeaderLen + len(body); i < l; i++ {
		dst = append(dst, 0)
	}
	return dst
}

// appendZeroEF appends an extension field of n zero octets (a cookie placeholder).
func appendZeroEF(dst []byte, typ uint16, n int) []byte {
	l := efLen(n)
	dst = binary.BigEndian.AppendUint16(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, uint16(l))
	for i := wire.ExtHeaderLen; i < l; i++ {
		dst = append(dst, 0)
	}
	return dst
}

// appendAuthenticator appends the NTS Authenticator and Encrypted Extension Fields field
// (section 5.6): nonce length, ciphertext length, nonce and ciphertext each padded to 4
// octets. The associated data is everything in dst before the field; the plaintext
// (encrypted extension fields) may be empty.
func appendAuthenticator(dst []byte, a *siv.SIV, nonce, plaintext []byte) []byte {
	start := len(dst)
	ctLen := len(plaintext) + siv.TagSize
	body := 4 + (len(nonce)+3)&^3 + (ctLen+3)&^3
	l := efLen(body)
	dst = binary.BigEndian.AppendUint16(dst, EFAuthenticator)
	dst = binary.BigEndian.AppendUint16(dst, uint16(l))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(nonce)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(ctLen))
	dst = append(dst, nonce...)
	for len(dst)%4 != 0 {
		dst = append(dst, 0)
	}
	nOff := start + 8
	dst = a.Seal(dst, dst[nOff:nOff+len(nonce)], plaintext, dst[:start])
	for len(dst) < start+l {
		dst = append(dst, 0)
	}
	return dst
}

// authenticator is a parsed authenticator field.
type authenticator struct {
	off        int // offset of the field in the packet: the end of the associated data
	nonce, ct  []byte
	fieldEnd   int
	present    bool
	fieldsPast bool // an extension field follows it
}

func parseAuthenticator(v []byte) (nonce, ct []byte, err error) {
	if len(v) < 4 {
		return nil, nil, ErrAuthFormat
	}
	nl := int(binary.BigEndian.Uint16(v))
	cl := int(binary.BigEndian.Uint16(v[2:]))
	np := (nl + 3) &^ 3
	cp := (cl + 3) &^ 3
	if nl < NonceLen || cl < siv.TagSize || 4+np+cp > len(v) {
		return nil, nil, ErrAuthFormat
	}
	return v[4 : 4+nl], v[4+np : 4+np+cl], nil
}

// fields walks the extension fields of a decoded packet with their offsets.
type fields struct {
	b   []byte
	off int
	end int
}

func newFields(pkt []byte, tr *wire.Trailer) fields {
	return fields{b: pkt, off: wire.HeaderLen, end: wire.HeaderLen + len(tr.Ext)}
}

func (f *fields) next() (typ uint16, val []byte, off int, ok bool) {
	if f.end-f.off < wire.ExtHeaderLen {
		return 0, nil, 0, false
	}
	n := int(binary.BigEndian.Uint16(f.b[f.off+2:]))
	if n < wire.ExtHeaderLen || f.off+n > f.end {
		return 0, nil, 0, false
	}
	off = f.off
	typ = binary.BigEndian.Uint16(f.b[off:])
	val = f.b[off+wire.ExtHeaderLen : off+n : off+n]
	f.off += n
	return typ, val, off, true
}

// walkPlain walks extension fields inside a decrypted plaintext.
func walkPlain(b []byte, fn func(typ uint16, val []byte)) bool {
	for len(b) > 0 {
		if len(b) < wire.ExtHeaderLen {
			return false
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n < wire.ExtHeaderLen || n%4 != 0 || n > len(b) {
			return false
		}
		fn(binary.BigEndian.Uint16(b), b[wire.ExtHeaderLen:n])
		b = b[n:]
	}
	return true
}
