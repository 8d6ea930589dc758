// SPDX-License-Identifier: BSD-2-Clause

package wire

import (
	"encoding/binary"
	"errors"
)

// Mode-6 control message layout (RFC 9327 section 2; RFC 1305 appendix B; compat.md 1.2).
const (
	// ControlHeaderLen is the fixed mode-6 header.
	ControlHeaderLen = 12
	// ControlMaxData is the most data octets one mode-6 packet carries (ntpd's
	// CTL_MAX_DATA_LEN). Responses are split into fragments of at most this size; requests
	// must fit in one packet.
	ControlMaxData = 468
	// ControlMaxFrags is the most fragments a classic or NTPsec ntpq accepts for one response.
	ControlMaxFrags = 32

	// Bits of octet 1.
	ControlResponse = 0x80 // R: this is a response
	ControlErrorBit = 0x40 // E: the status carries an error code in its high octet
	ControlMoreBit  = 0x20 // M: more fragments follow
	ControlOpMask   = 0x1f
)

// Errors returned by DecodeControl, one per defect so that the control server can count them
// (compat.md 1.2, "server checks on a request"). ErrControlShort, ErrNotControl and
// ErrControlVersion come before a header exists and are silent drops in ntpd;
// ErrControlCount and ErrControlAlign are answered with CERR_BADFMT, so DecodeControl still
// returns the decoded header with them.
var (
	ErrControlShort   = errors.New("mode-6 packet shorter than its 12-octet header")
	ErrNotControl     = errors.New("not a mode-6 packet")
	ErrControlVersion = errors.New("mode-6 packet version outside 1..4")
	ErrControlCount   = errors.New("mode-6 count exceeds the data present in the packet")
	ErrControlAlign   = errors.New("mode-6 packet length not a multiple of 4 octets")
	// ErrControlFlags comes from CheckRequest: a request with R, E or M set or a non-zero
	// offset, which ntpd drops silently and counts as a bad packet.
	ErrControlFlags = errors.New("mode-6 request with response, error or more bit set, or non-zero offset")
	// ErrControlTooLong comes from EncodeControl when the data exceed one fragment.
	ErrControlTooLong = errors.New("mode-6 data longer than 468 octets")
	// ErrControlBuffer comes from EncodeControl when the output buffer is too small.
	ErrControlBuffer = errors.New("buffer too small for the mode-6 packet")
)

// ControlHeader is the 12-octet mode-6 header. The R, E and M bits are separate fields;
// Opcode holds the low 5 bits of octet 1.
type ControlHeader struct {
	Leap     uint8 // LI: ignored in requests; the daemon's leap indicator in responses
	Version  uint8 // VN: echoed by the daemon
	Response bool  // R
	Error    bool  // E: Status >> 8 is the error code (CERR_*)
	More     bool  // M: not the last fragment
	Opcode   uint8
	Sequence uint16
	Status   uint16
	AssocID  uint16
	Offset   uint16 // octet offset of this fragment's data in the whole response
	Count    uint16 // data octets in this packet, padding not counted
}

// DecodeControl decodes a mode-6 packet into its header, its data (b[12:12+Count]) and its
// authentication trailer (key ID and digest) if one is present. Nothing is copied.
//
// The trailer is found the way ntpd's process_control does (compat.md 1.4): the header and
// data are padded to a multiple of 8, and if what is left after that is 4 to 24 octets and the
// packet length is a multiple of 4, it is the key ID and digest. Any other excess octets are
// padding and ignored.
//
// For ErrControlCount and ErrControlAlign the returned header is valid (ntpd answers those
// requests with CERR_BADFMT, echoing sequence and opcode); data and auth are nil.
func DecodeControl(b []byte) (h ControlHeader, data, auth []byte, err error) {
	if len(b) < ControlHeaderLen {
		return h, nil, nil, ErrControlShort
	}
	if b[0]&7 != ModeControl {
		return h, nil, nil, ErrNotControl
	}
	h.Leap = b[0] >> 6
	h.Version = (b[0] >> 3) & 7
	if h.Version < VersionMin || h.Version > VersionMax {
		return ControlHeader{}, nil, nil, ErrControlVersion
	}
	h.Response = b[1]&ControlResponse != 0
	h.Error = b[1]&ControlErrorBit != 0
	h.More = b[1]&ControlMoreBit != 0
	h.Opcode = b[1] & ControlOpMask
	h.Sequence = binary.BigEndian.Uint16(b[2:])
	h.Status = binary.BigEndian.Uint16(b[4:])
	h.AssocID = binary.BigEndian.Uint16(b[6:])
	h.Offset = binary.BigEndian.Uint16(b[8:])
	h.Count = binary.BigEndian.Uint16(b[10:])
	end := ControlHeaderLen + int(h.Count)
	if end > len(b) {
		return h, nil, nil, ErrControlCount
	}
	if len(b)%4 != 0 {
		return h, nil, nil, ErrControlAlign
	}
	data = b[ControlHeaderLen:end:end]
	proper := (end + 7) &^ 7
	if mac := len(b) - proper; mac >= KeyIDLen && mac <= MaxMACLen {
		auth = b[proper:len(b):len(b)]
	}
	return h, data, auth, nil
}

// CheckRequest applies ntpd's checks on a request header (compat.md 1.2 step 2): R, E and M
// clear and Offset zero. A failing request is dropped without an answer.
func (h *ControlHeader) CheckRequest() error {
	if h.Response || h.Error || h.More || h.Offset != 0 {
		return ErrControlFlags
	}
	return nil
}

// ErrorCode returns the CERR_* code of an error response (status bits 15..8) and whether h
// is one.
func (h *ControlHeader) ErrorCode() (code uint8, ok bool) {
	return uint8(h.Status >> 8), h.Error
}

// Encode writes the 12-octet header into b, which must be at least ControlHeaderLen long, and
// returns ControlHeaderLen. Mode is always 6; fields are masked to their widths.
func (h *ControlHeader) Encode(b []byte) int {
	_ = b[ControlHeaderLen-1]
	b[0] = (h.Leap&3)<<6 | (h.Version&7)<<3 | ModeControl
	b1 := h.Opcode & ControlOpMask
	if h.Response {
		b1 |= ControlResponse
	}
	if h.Error {
		b1 |= ControlErrorBit
	}
	if h.More {
		b1 |= ControlMoreBit
	}
	b[1] = b1
	binary.BigEndian.PutUint16(b[2:], h.Sequence)
	binary.BigEndian.PutUint16(b[4:], h.Status)
	binary.BigEndian.PutUint16(b[6:], h.AssocID)
	binary.BigEndian.PutUint16(b[8:], h.Offset)
	binary.BigEndian.PutUint16(b[10:], h.Count)
	return ControlHeaderLen
}

// ControlLen returns the length of a mode-6 packet carrying n data octets without a MAC: the
// header plus data padded with NULs to a multiple of 4 (compat.md 1.2).
func ControlLen(n int) int { return (ControlHeaderLen + n + 3) &^ 3 }

// ControlAuthLen returns the offset of the key ID in an authenticated mode-6 packet carrying
// n data octets: header plus data padded to a multiple of 8 (compat.md 1.4).
func ControlAuthLen(n int) int { return (ControlHeaderLen + n + 7) &^ 7 }

// EncodeControl writes a complete unauthenticated mode-6 packet into b: h with Count set to
// len(data), the data, and NUL padding to a multiple of 4. It returns the packet length. Data
// longer than ControlMaxData is refused, since neither ntpq accepts it in one packet.
func EncodeControl(b []byte, h ControlHeader, data []byte) (int, error) {
	if len(data) > ControlMaxData {
		return 0, ErrControlTooLong
	}
	n := ControlLen(len(data))
	if len(b) < n {
		return 0, ErrControlBuffer
	}
	h.Count = uint16(len(data))
	h.Encode(b)
	copy(b[ControlHeaderLen:], data)
	clear(b[ControlHeaderLen+len(data) : n])
	return n, nil
}
