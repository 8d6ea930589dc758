// SPDX-License-Identifier: BSD-2-Clause

package wire

import (
	"encoding/binary"
	"errors"
)

// Sizes of what may follow the 48-octet header of an NTP time packet.
const (
	// ExtMinLen is the shortest extension field RFC 7822 section 3 allows (type, length and
	// at least 12 octets of value and padding).
	ExtMinLen = 16
	// ExtHeaderLen is the type and length words at the start of every extension field.
	ExtHeaderLen = 4
	// KeyIDLen is the key identifier in front of a legacy MAC digest.
	KeyIDLen = 4
	// NAKLen is a crypto-NAK: a key identifier (zero) with no digest (RFC 5905 section 7.4).
	NAKLen = KeyIDLen
	// MD5DigestLen and SHA1DigestLen are the digest sizes of the two legacy MACs in use
	// (ntp.keys types MD5 and SHA1; classic also truncates other OpenSSL digests to 20).
	MD5DigestLen  = 16
	SHA1DigestLen = 20
	// MaxMACLen is the longest trailer that is read as a MAC rather than as an extension
	// field: key ID plus a 20-octet digest. This is classic ntpd's MAX_MAC_LEN and the
	// boundary RFC 7822 section 7.5 draws: 24 octets or fewer after the last extension field
	// are a MAC.
	MaxMACLen = KeyIDLen + SHA1DigestLen
)

// Errors for what follows the header. Each names one defect so that the receiver can count
// it; classic ntpd counts all of them as "bad length or format" (sys_badlength) and drops the
// packet silently.
var (
	// ErrControlMode is returned by Decode for modes 6 and 7, which are not time packets and
	// have their own layout (DecodeControl; mode 7 is never answered).
	ErrControlMode = errors.New("mode 6 or 7 is not an NTP time packet")
	// ErrTrailerAlign: the octets after the header (or after the last extension field) are not
	// a whole number of 32-bit words (ntpd: "bad post-packet length").
	ErrTrailerAlign = errors.New("length after the NTP header is not a multiple of 4 octets")
	// ErrExtLength: an extension field's length word is not a multiple of 4 or is below 16
	// (RFC 7822 section 3).
	ErrExtLength = errors.New("extension field length not a multiple of 4 or shorter than 16 octets")
	// ErrExtOverrun: an extension field's length runs past the end of the datagram (ntpd:
	// "bad EF length").
	ErrExtOverrun = errors.New("extension field runs past the end of the packet")
)

// Trailer describes what follows the 48-octet header: extension fields (RFC 7822) and the
// legacy MAC (RFC 5905 section 7.3, figure 8). Its slices point into the decoded datagram;
// nothing is copied.
type Trailer struct {
	// NumExt is the number of extension fields.
	NumExt int
	// Ext holds all extension fields back to back (a sub-slice of the packet); walk it with
	// Fields.
	Ext []byte
	// AuthLen is the number of octets a MAC covers: the header and all extension fields. It
	// is also the offset of the key ID when HasMAC is set, and the whole length otherwise.
	AuthLen int
	// HasMAC says that a key ID follows the extension fields: 4 to 24 octets were left.
	HasMAC bool
	// KeyID is the key identifier of the MAC (zero in a crypto-NAK).
	KeyID uint32
	// Digest is the MAC digest (a sub-slice of the packet). It is 16 (MD5) or 20 (SHA-1,
	// or any longer digest truncated) octets for a MAC that can verify. Like classic ntpd,
	// Decode also accepts 0, 4, 8 and 12 octets: such a MAC is not a length error but a MAC
	// that fails authentication (ntpd answers a client sending one with a crypto-NAK and
	// counts it as bad authentication); the key store rejects digests of the wrong size.
	Digest []byte
	// IsNAK marks the shape of a crypto-NAK (RFC 5905 section 7.4): exactly 4 octets, the key
	// ID alone, directly after the header. Classic ntpd's valid_NAK accepts one only with key
	// ID zero, from a server the receiver authenticates with, answering its last request; it
	// drops every other packet of this shape (even a client request, whatever its key ID),
	// logging "Invalid-NAK error". Observed with classic ntpd 4.2.8p15, see
	// testdata/golden/README.md.
	IsNAK bool
}

// Decode fills p from the header of b (DecodeHeader) and then walks what follows it, the way
// classic ntpd's receive() does and RFC 7822 section 7.5 prescribes:
//
//   - nothing left: no MAC;
//   - 4 to 24 octets left (a multiple of 4): a MAC (key ID and digest) or a crypto-NAK;
//   - more than 24 octets left: an extension field (type 16 bits, length 16 bits covering the
//     whole field, a multiple of 4 and at least 16), skipped, and the walk repeats.
//
// Anything else is an error naming the defect (ErrTrailerAlign, ErrExtLength, ErrExtOverrun).
// The walk does not look at the version: ntpd 4.2.8p15 applies the same rule to versions
// 1 to 4. One deliberate difference from ntpd: it walks over fields as short as 4 octets,
// Decode keeps RFC 7822's minimum of 16 (no implementation sends shorter ones). Modes 6 and 7
// give ErrControlMode. On error the Trailer is zero. Decode does not allocate.
func Decode(b []byte, p *Packet) (Trailer, error) {
	var t Trailer
	if err := DecodeHeader(b, p); err != nil {
		return t, err
	}
	if p.Mode == ModeControl || p.Mode == ModePrivate {
		return t, ErrControlMode
	}
	off := HeaderLen
	for {
		rest := len(b) - off
		if rest == 0 {
			break
		}
		if rest%4 != 0 {
			return Trailer{}, ErrTrailerAlign
		}
		if rest <= MaxMACLen {
			t.HasMAC = true
			t.KeyID = binary.BigEndian.Uint32(b[off:])
			t.Digest = b[off+KeyIDLen : len(b) : len(b)]
			t.IsNAK = rest == NAKLen && off == HeaderLen
			break
		}
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n%4 != 0 || n < ExtMinLen {
			return Trailer{}, ErrExtLength
		}
		if n > rest {
			return Trailer{}, ErrExtOverrun
		}
		off += n
		t.NumExt++
	}
	t.AuthLen = off
	if t.NumExt > 0 {
		t.Ext = b[HeaderLen:off:off]
	}
	return t, nil
}

// ExtField is one extension field, as a view into the packet.
type ExtField struct {
	// Type is the 16-bit field type (RFC 7822 section 3; RFC 5906 and RFC 8915 assign them).
	Type uint16
	// Value is the field after its type and length words, padding included.
	Value []byte
}

// ExtIter walks the extension fields of a decoded packet without allocating.
type ExtIter struct {
	rest []byte
}

// Fields returns an iterator over t's extension fields. Decode has already checked every
// length, so Next yields exactly NumExt fields.
func (t *Trailer) Fields() ExtIter { return ExtIter{rest: t.Ext} }

// Next returns the next extension field and true, or false when there are no more.
func (it *ExtIter) Next() (ExtField, bool) {
	if len(it.rest) < ExtHeaderLen {
		return ExtField{}, false
	}
	n := int(binary.BigEndian.Uint16(it.rest[2:]))
	if n < ExtHeaderLen || n > len(it.rest) { // only possible for a Trailer not made by Decode
		it.rest = nil
		return ExtField{}, false
	}
	f := ExtField{Type: binary.BigEndian.Uint16(it.rest), Value: it.rest[ExtHeaderLen:n:n]}
	it.rest = it.rest[n:]
	return f, true
}

// ExtNTSAuthenticator is the type of RFC 8915's "NTS Authenticator and Encrypted Extension
// Fields" field (section 5.6), which makes a request an NTS one.
const ExtNTSAuthenticator = 0x0404

// HasNTSAuthenticator reports whether t holds an NTS authenticator field. It says nothing of
// whether the field verifies: the NTS responder decides that.
func (t *Trailer) HasNTSAuthenticator() bool {
	it := t.Fields()
	for f, ok := it.Next(); ok; f, ok = it.Next() {
		if f.Type == ExtNTSAuthenticator {
			return true
		}
	}
	return false
}

// ModeOf returns the mode bits of a datagram's first octet (0 for an empty one), so that a
// receiver can dispatch to Decode or DecodeControl before decoding either.
func ModeOf(b []byte) uint8 {
	if len(b) == 0 {
		return ModeReserved
	}
	return b[0] & 7
}

// IsMode7 reports whether b is a mode-7 (ntpdc private) request. gontp never answers those,
// as ntpd 4.2.8p15 does not by default (mode7 disabled); the receiver only counts them.
func IsMode7(b []byte) bool { return ModeOf(b) == ModePrivate }
