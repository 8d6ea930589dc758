// SPDX-License-Identifier: BSD-2-Clause

// Package nts holds the pure parts of Network Time Security for NTPv4 (RFC 8915): the NTS-KE
// record codec (section 4), the NTS extension fields of NTP packets (section 5), the
// server's cookies and master keys (section 6), and the client's per-association cookie
// jar. It does no I/O and reads no clock: the TLS connections live in internal/ntske, the
// sockets in internal/netio; time and randomness are passed in.
package nts

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// NTS-KE record types (RFC 8915 section 4 and the IANA "Network Time Security Key
// Establishment Record Types" registry).
const (
	RecEndOfMessage  = 0
	RecNextProtocol  = 1
	RecError         = 2
	RecWarning       = 3
	RecAEAD          = 4
	RecNewCookie     = 5
	RecServer        = 6
	RecPort          = 7
	recCriticalBit   = 0x8000
	recordHeaderLen  = 4
	ProtocolNTPv4    = 0 // NTS Next Protocol ID of NTPv4
	DefaultKEPort    = 4460
	DefaultNTPPort   = 123
	MaxMessageLen    = 16384 // the most gontp reads of one NTS-KE message (records and EOM)
	MaxCookieLen     = 1024  // longer cookies are refused: no server needs them
	MaxCookies       = 8     // cookies a server gives and a client keeps (section 4.1.6)
	MaxServerNameLen = 255
)

// NTS-KE error codes (section 4.1.3).
const (
	ErrCodeUnrecognizedCritical = 0
	ErrCodeBadRequest           = 1
	ErrCodeInternalServer       = 2
)

// Errors of the record codec. Each names one defect so that it can be counted.
var (
	ErrRecordShort       = errors.New("NTS-KE record truncated")
	ErrMessageTooLong    = errors.New("NTS-KE message longer than 16384 octets")
	ErrNoEndOfMessage    = errors.New("NTS-KE message without End of Message record")
	ErrTrailingData      = errors.New("NTS-KE data after the End of Message record")
	ErrUnknownCritical   = errors.New("NTS-KE unrecognised critical record")
	ErrDuplicateRecord   = errors.New("NTS-KE record repeated")
	ErrRecordBody        = errors.New("NTS-KE record body has a wrong length")
	ErrMissingRecord     = errors.New("NTS-KE required record missing")
	ErrCookieSize        = errors.New("NTS-KE cookie empty or longer than 1024 octets")
	ErrServerName        = errors.New("NTS-KE server negotiation record not printable ASCII or too long")
	ErrEOMNotCritical    = errors.New("NTS-KE End of Message record without the critical bit")
	ErrNewCookieCritical = errors.New("NTS-KE New Cookie record with the critical bit")
)

// Record is one NTS-KE record (section 4: a critical bit, a 15-bit type, a 16-bit body
// length and the body). Body points into the parsed buffer.
type Record struct {
	Critical bool
	Type     uint16
	Body     []byte
}

// ParseRecord reads the record at the start of b and returns it and its length.
func ParseRecord(b []byte) (Record, int, error) {
	if len(b) < recordHeaderLen {
		return Record{}, 0, ErrRecordShort
	}
	h := binary.BigEndian.Uint16(b)
	n := int(binary.BigEndian.Uint16(b[2:]))
	if len(b) < recordHeaderLen+n {
		return Record{}, 0, ErrRecordShort
	}
	return Record{
		Critical: h&recCriticalBit != 0,
		Type:     h &^ recCriticalBit,
		Body:     b[recordHeaderLen : recordHeaderLen+n : recordHeaderLen+n],
	}, recordHeaderLen + n, nil
}

// AppendRecord appends one record to dst.
func AppendRecord(dst []byte, critical bool, typ uint16, body []byte) []byte {
	h := typ &^ recCriticalBit
	if critical {
		h |= recCriticalBit
	}
	dst = binary.BigEndian.AppendUint16(dst, h)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(body)))
	return append(dst, body...)
}

// MessageLen returns the length of the complete message at the start of b (up to and
// including its End of Message record), or 0 and nil when more octets are needed. It lets a
// stream reader know when a message is complete without parsing it twice.
func MessageLen(b []byte) (int, error) {
	off := 0
	for {
		if off > MaxMessageLen {
			return 0, ErrMessageTooLong
		}
		r, n, err := ParseRecord(b[off:])
		if err != nil {
			if len(b)-off >= recordHeaderLen && off+recordHeaderLen+int(binary.BigEndian.Uint16(b[off+2:])) > MaxMessageLen {
				return 0, ErrMessageTooLong
			}
			return 0, nil
		}
		off += n
		if off > MaxMessageLen {
			return 0, ErrMessageTooLong
		}
		if r.Type == RecEndOfMessage {
			return off, nil
		}
	}
}

// Message is an NTS-KE request or response, the records gontp knows collected (section
// 4.1). Lists keep the peer's order.
type Message struct {
	// NextProtocols is the body of the Next Protocol Negotiation record; HasNextProtocol
	// says whether the record was there (it may be empty in a response: no protocol in
	// common).
	NextProtocols   []uint16
	HasNextProtocol bool
	// AEADs is the AEAD Algorithm Negotiation record (empty in a response: none in common).
	AEADs   []uint16
	HasAEAD bool
	// Errors and Warnings are the codes of Error and Warning records.
	Errors   []uint16
	Warnings []uint16
	// Cookies are the New Cookie for NTPv4 records, in order.
	Cookies [][]byte
	// Server and Port are the NTPv4 Server and Port Negotiation records (empty and 0 when
	// absent).
	Server string
	Port   uint16
	// UnknownCritical lists unrecognised critical record types (section 4: the receiver
	// must fail; a server answers with error 0).
	UnknownCritical []uint16
}

// ParseMessage parses one whole message: records up to and including End of Message, nothing
// after it. Unrecognised non-critical records are skipped; unrecognised critical ones are
// collected in UnknownCritical (the caller decides how to answer) — every other defect is an
// error. Cookies are copied, so the result does not alias b.
func ParseMessage(b []byte) (*Message, error) {
	if len(b) > MaxMessageLen {
		return nil, ErrMessageTooLong
	}
	m := &Message{}
	seen := map[uint16]bool{}
	off := 0
	for {
		if off == len(b) {
			return nil, ErrNoEndOfMessage
		}
		r, n, err := ParseRecord(b[off:])
		if err != nil {
			return nil, err
		}
		off += n
		switch r.Type {
		case RecEndOfMessage, RecNextProtocol, RecAEAD, RecServer, RecPort:
			if seen[r.Type] {
				return nil, fmt.Errorf("%w: type %d", ErrDuplicateRecord, r.Type)
			}
			seen[r.Type] = true
		}
		switch r.Type {
		case RecEndOfMessage:
			if !r.Critical {
				return nil, ErrEOMNotCritical
			}
			if len(r.Body) != 0 {
				return nil, fmt.Errorf("%w: End of Message with %d octets", ErrRecordBody, len(r.Body))
			}
			if off != len(b) {
				return nil, ErrTrailingData
			}
			return m, nil
		case RecNextProtocol:
			if m.NextProtocols, err = uint16s(r.Body); err != nil {
				return nil, err
			}
			m.HasNextProtocol = true
		case RecAEAD:
			if m.AEADs, err = uint16s(r.Body); err != nil {
				return nil, err
			}
			m.HasAEAD = true
		case RecError, RecWarning:
			if len(r.Body) != 2 {
				return nil, fmt.Errorf("%w: error or warning of %d octets", ErrRecordBody, len(r.Body))
			}
			c := binary.BigEndian.Uint16(r.Body)
			if r.Type == RecError {
				m.Errors = append(m.Errors, c)
			} else {
				m.Warnings = append(m.Warnings, c)
			}
		case RecNewCookie:
			if r.Critical {
				return nil, ErrNewCookieCritical
			}
			if len(r.Body) == 0 || len(r.Body) > MaxCookieLen {
				return nil, ErrCookieSize
			}
			m.Cookies = append(m.Cookies, append([]byte(nil), r.Body...))
		case RecServer:
			if len(r.Body) == 0 || len(r.Body) > MaxServerNameLen {
				return nil, ErrServerName
			}
			for _, c := range r.Body {
				if c <= ' ' || c > '~' {
					return nil, ErrServerName
				}
			}
			m.Server = string(r.Body)
		case RecPort:
			if len(r.Body) != 2 {
				return nil, fmt.Errorf("%w: port of %d octets", ErrRecordBody, len(r.Body))
			}
			m.Port = binary.BigEndian.Uint16(r.Body)
		default:
			if r.Critical {
				m.UnknownCritical = append(m.UnknownCritical, r.Type)
			}
		}
	}
}

func uint16s(b []byte) ([]uint16, error) {
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("%w: odd length %d of a list of 16-bit values", ErrRecordBody, len(b))
	}
	v := make([]uint16, len(b)/2)
	for i := range v {
		v[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return v, nil
}

func appendUint16s(dst []byte, v []uint16) []byte {
	for _, x := range v {
		dst = binary.BigEndian.AppendUint16(dst, x)
	}
	return dst
}

// AppendRequest appends a client's request (section 4.1.1): Next Protocol NTPv4 and the
// AEAD algorithms in order of preference, both critical, then End of Message.
func AppendRequest(dst []byte, aeads []uint16) []byte {
	dst = AppendRecord(dst, true, RecNextProtocol, appendUint16s(nil, []uint16{ProtocolNTPv4}))
	dst = AppendRecord(dst, true, RecAEAD, appendUint16s(nil, aeads))
	return AppendRecord(dst, true, RecEndOfMessage, nil)
}

// AppendMessage encodes m as a server's response: Error and Warning records first, then Next
// Protocol and AEAD (critical), Server and Port when set, the cookies, End of Message.
func AppendMessage(dst []byte, m *Message) []byte {
	var body []byte
	for _, e := range m.Errors {
		dst = AppendRecord(dst, true, RecError, binary.BigEndian.AppendUint16(body[:0], e))
	}
	for _, w := range m.Warnings {
		dst = AppendRecord(dst, true, RecWarning, binary.BigEndian.AppendUint16(body[:0], w))
	}
	if m.HasNextProtocol {
		dst = AppendRecord(dst, true, RecNextProtocol, appendUint16s(body[:0], m.NextProtocols))
	}
	if m.HasAEAD {
		dst = AppendRecord(dst, true, RecAEAD, appendUint16s(body[:0], m.AEADs))
	}
	if m.Server != "" {
		dst = AppendRecord(dst, true, RecServer, []byte(m.Server))
	}
	if m.Port != 0 {
		dst = AppendRecord(dst, true, RecPort, binary.BigEndian.AppendUint16(body[:0], m.Port))
	}
	for _, c := range m.Cookies {
		dst = AppendRecord(dst, false, RecNewCookie, c)
	}
	return AppendRecord(dst, true, RecEndOfMessage, nil)
}
