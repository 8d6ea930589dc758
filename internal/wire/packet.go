// SPDX-License-Identifier: BSD-2-Clause

// Package wire encodes and decodes NTP packets (RFC 5905 section 7.3, versions 1 to 4) and the
// mode-6 control messages (RFC 9327) without allocating. It does no I/O: callers hand it the
// bytes of one datagram.
package wire

import (
	"encoding/binary"
	"errors"

	"gontp/internal/ntptime"
)

// HeaderLen is the length of the fixed NTP header (RFC 5905 figure 8).
const HeaderLen = 48

// Association modes (RFC 5905 figure 10).
const (
	ModeReserved     = 0
	ModeSymActive    = 1
	ModeSymPassive   = 2
	ModeClient       = 3
	ModeServer       = 4
	ModeBroadcast    = 5
	ModeControl      = 6
	ModePrivate      = 7
	VersionMin       = 1
	VersionMax       = 4
	LeapNone         = 0
	LeapAddSecond    = 1
	LeapDelSecond    = 2
	LeapAlarm        = 3 // clock not synchronised
	StratumUnspec    = 0 // on the wire: unspecified or Kiss-o'-Death
	StratumMaxNTP    = 15
	StratumUnsynched = 16 // the value ntpd keeps internally; sent as 0 (RFC 5905 figure 11)
)

// Errors returned by Decode. They are sentinels so that callers can count each kind.
var (
	ErrShort   = errors.New("packet shorter than the 48-octet NTP header")
	ErrVersion = errors.New("NTP version outside 1..4")
	ErrMode    = errors.New("mode 0 (reserved) in an NTP version 2-4 packet")
)

// Packet is the fixed NTP header, field by field as RFC 5905 figure 8 names them.
type Packet struct {
	Leap      uint8 // LI, 2 bits
	Version   uint8 // VN, 3 bits
	Mode      uint8 // 3 bits
	Stratum   uint8
	Poll      int8 // log2 seconds
	Precision int8 // log2 seconds
	RootDelay ntptime.Short
	RootDisp  ntptime.Short
	RefID     uint32
	RefTime   ntptime.Time
	Org       ntptime.Time // origin timestamp T1
	Rec       ntptime.Time // receive timestamp T2
	Xmt       ntptime.Time // transmit timestamp T3
}

// DecodeHeader fills p from the first 48 octets of b. It checks only what every receiver must:
// the length, a version in 1..4 and a non-zero mode. What follows the header (extension fields,
// a MAC) is left to Decode.
//
// One legacy exception: NTP version 1 (RFC 1059) had no client mode, and a version-1 client
// sent mode 0. Classic ntpd's receive() (ntp_proto.c, 4.2.8p15) treats a version-1 mode-0
// packet as a client request and drops mode 0 for every other version; DecodeHeader does the
// same and reports such a packet with Mode = ModeClient. Re-encoding it therefore yields mode 3.
func DecodeHeader(b []byte, p *Packet) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	p.Leap = b[0] >> 6
	p.Version = (b[0] >> 3) & 7
	p.Mode = b[0] & 7
	if p.Version < VersionMin || p.Version > VersionMax {
		return ErrVersion
	}
	if p.Mode == ModeReserved {
		if p.Version != 1 {
			return ErrMode
		}
		p.Mode = ModeClient
	}
	p.Stratum = b[1]
	p.Poll = int8(b[2])
	p.Precision = int8(b[3])
	p.RootDelay = ntptime.Short(binary.BigEndian.Uint32(b[4:]))
	p.RootDisp = ntptime.Short(binary.BigEndian.Uint32(b[8:]))
	p.RefID = binary.BigEndian.Uint32(b[12:])
	p.RefTime = ntptime.Time(binary.BigEndian.Uint64(b[16:]))
	p.Org = ntptime.Time(binary.BigEndian.Uint64(b[24:]))
	p.Rec = ntptime.Time(binary.BigEndian.Uint64(b[32:]))
	p.Xmt = ntptime.Time(binary.BigEndian.Uint64(b[40:]))
	return nil
}

// Encode writes the 48-octet header into b, which must be at least HeaderLen long, and returns
// HeaderLen. Fields are masked to their widths.
func (p *Packet) Encode(b []byte) int {
	_ = b[HeaderLen-1]
	b[0] = (p.Leap&3)<<6 | (p.Version&7)<<3 | p.Mode&7
	b[1] = p.Stratum
	b[2] = byte(p.Poll)
	b[3] = byte(p.Precision)
	binary.BigEndian.PutUint32(b[4:], uint32(p.RootDelay))
	binary.BigEndian.PutUint32(b[8:], uint32(p.RootDisp))
	binary.BigEndian.PutUint32(b[12:], p.RefID)
	binary.BigEndian.PutUint64(b[16:], uint64(p.RefTime))
	binary.BigEndian.PutUint64(b[24:], uint64(p.Org))
	binary.BigEndian.PutUint64(b[32:], uint64(p.Rec))
	binary.BigEndian.PutUint64(b[40:], uint64(p.Xmt))
	return HeaderLen
}

// PutXmt overwrites the transmit timestamp of an encoded packet in place. The sender calls it
// at the last moment before the send so that T3 is as late, and so as accurate, as possible.
func PutXmt(b []byte, t ntptime.Time) {
	binary.BigEndian.PutUint64(b[40:48], uint64(t))
}

// PutOrg writes the origin timestamp into an encoded packet b (an interleaved reply's,
// which echoes the request's receive field instead of its transmit timestamp).
func PutOrg(b []byte, t ntptime.Time) {
	binary.BigEndian.PutUint64(b[24:32], uint64(t))
}

// KissCode returns the four ASCII characters of the reference ID of a Kiss-o'-Death packet
// (stratum 0, RFC 5905 section 7.4) and whether p is one.
func (p *Packet) KissCode() (code [4]byte, ok bool) {
	if p.Stratum != StratumUnspec {
		return code, false
	}
	binary.BigEndian.PutUint32(code[:], p.RefID)
	return code, true
}

// RefIDFromString packs up to four ASCII characters into a reference ID, NUL-padded, as used
// for kiss codes and for the reference identifiers of stratum-1 sources (".GPS.", "LOCL").
func RefIDFromString(s string) uint32 {
	var b [4]byte
	copy(b[:], s)
	return binary.BigEndian.Uint32(b[:])
}
