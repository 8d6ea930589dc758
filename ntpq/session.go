// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"gontp/internal/keys"
	"gontp/internal/wire"
)

// Mode-6 opcodes (compat.md 1.6).
const (
	OpReadStat     = 1
	OpReadVar      = 2
	OpWriteVar     = 3
	OpReadClock    = 4
	OpWriteClock   = 5
	OpConfigure    = 8
	OpSaveConfig   = 9
	OpReadMRU      = 10
	OpReadOrdlistA = 11
	OpReqNonce     = 12
)

// Conn carries mode-6 packets to one server. Recv returns ErrTimeout when nothing arrived
// before the deadline. A connected UDP socket is the real one (see Dial); tests replay
// recorded replies through the same interface.
type Conn interface {
	Send(pkt []byte) error
	Recv(buf []byte, deadline time.Time) (int, error)
}

// ErrTimeout is returned by Conn.Recv when the deadline passed.
var ErrTimeout = errors.New("timed out")

// ServerError is an error response from the daemon: E bit set, the CERR_* code in the status
// word's high octet (compat.md 1.5).
type ServerError struct{ Code uint8 }

// Error returns classic ntpq's message for the code, without the "***" prefix.
func (e *ServerError) Error() string {
	switch e.Code {
	case 0:
		return "Server returned an unspecified error"
	case 1:
		return "Server disallowed request (authentication?)"
	case 2:
		return "Server reports a bad format request packet"
	case 3:
		return "Server reports a bad opcode in request"
	case 4:
		return "Association ID %d unknown to server" // formatted by the caller
	case 5:
		return "A request variable unknown to the server"
	case 6:
		return "Server indicates a request variable was bad"
	}
	return fmt.Sprintf("Server returned error code %d", e.Code)
}

// Client-side failures, with classic ntpq's messages.
var (
	ErrIncomplete = errors.New("Response from server was incomplete")
	ErrTimedOut   = errors.New("Request timed out")
	ErrTooMuch    = errors.New("Buffer size exceeded for returned data")
	ErrNoKey      = errors.New("Keyid not set")
)

// Timeouts of classic ntpq: 5 s for the first fragment, 3 s between fragments.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultFragDelay = 3 * time.Second
	// maxResponse is classic's response buffer: 32 fragments of 480 octets.
	maxResponse = wire.ControlMaxFrags * 480
)

// Key is a symmetric key for authenticated requests (ntp.keys style): any digest type of
// internal/keys (MD5, SHA1, AES128CMAC, SHA256, ...).
type Key struct {
	ID     uint32
	Type   string // "md5", "sha1", "aes128cmac", ...; "" means MD5
	Secret []byte
}

// sign appends the key ID and the MAC of pkt, as internal/keys computes it for the daemon.
func (k *Key) sign(pkt []byte) ([]byte, error) {
	typ := k.Type
	if typ == "" {
		typ = "MD5"
	}
	set := keys.NewSet()
	if err := set.Add(k.ID, typ, k.Secret); err != nil {
		return nil, fmt.Errorf("ntpq: %w", err)
	}
	set.Trust(k.ID)
	out, _ := set.Sign(binary.BigEndian.AppendUint32(pkt, k.ID), k.ID, pkt)
	return out, nil
}

// Session is a mode-6 conversation with one server: sequence numbers, retries and fragment
// reassembly, as classic ntpq does them (compat.md 1.2, 1.3).
type Session struct {
	Conn      Conn
	Version   uint8 // packet version sent; classic default 2
	Timeout   time.Duration
	FragDelay time.Duration
	Key       *Key // for requests that need authentication
	// Now returns the current time for deadlines; nil means time.Now.
	Now func() time.Time

	seq uint16
	buf []byte
}

// NewSession returns a session with classic ntpq's defaults.
func NewSession(c Conn) *Session {
	return &Session{Conn: c, Version: 2, Timeout: DefaultTimeout, FragDelay: DefaultFragDelay}
}

// Response is a reassembled mode-6 response.
type Response struct {
	Status uint16
	Data   []byte
}

// Query sends one request and returns the reassembled response. auth signs the request with
// s.Key (ErrNoKey without one). Like classic ntpq it retries once: with the same sequence
// number after a timeout with nothing received, with a new one after an incomplete response.
func (s *Session) Query(op uint8, assoc uint16, data []byte, auth bool) (Response, error) {
	if len(data) > wire.ControlMaxData {
		return Response{}, fmt.Errorf("ntpq: request data of %d octets exceed %d", len(data), wire.ControlMaxData)
	}
	if auth && s.Key == nil {
		return Response{}, ErrNoKey
	}
	s.seq++
	for attempt := 0; ; attempt++ {
		pkt, err := s.request(op, assoc, data, auth)
		if err != nil {
			return Response{}, err
		}
		if err := s.Conn.Send(pkt); err != nil {
			return Response{}, fmt.Errorf("ntpq: send: %w", err)
		}
		r, err := s.collect(op, assoc)
		if attempt == 0 && (errors.Is(err, ErrTimedOut) || errors.Is(err, ErrIncomplete)) {
			if errors.Is(err, ErrIncomplete) {
				s.seq++
			}
			continue
		}
		return r, err
	}
}

// request builds the request packet: header, data padded to 4 (or, signed, to 8 followed by
// key ID and digest over everything before it; compat.md 1.4).
func (s *Session) request(op uint8, assoc uint16, data []byte, auth bool) ([]byte, error) {
	h := wire.ControlHeader{Version: s.Version, Opcode: op, Sequence: s.seq, AssocID: assoc}
	n := wire.ControlLen(len(data))
	if auth {
		n = wire.ControlAuthLen(len(data))
	}
	pkt := make([]byte, n, n+4+20)
	if _, err := wire.EncodeControl(pkt, h, data); err != nil {
		return nil, fmt.Errorf("ntpq: %w", err)
	}
	if !auth {
		return pkt, nil
	}
	return s.Key.sign(pkt)
}

// collect receives fragments until the response is complete.
func (s *Session) collect(op uint8, assoc uint16) (Response, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if s.buf == nil {
		s.buf = make([]byte, 2048)
	}
	var a Assembler
	deadline := now().Add(s.Timeout)
	for {
		n, err := s.Conn.Recv(s.buf, deadline)
		if errors.Is(err, ErrTimeout) {
			if a.Fragments() == 0 {
				return Response{}, ErrTimedOut
			}
			return Response{}, ErrIncomplete
		}
		if err != nil {
			return Response{}, err
		}
		h, data, ok := s.check(s.buf[:n], op)
		if !ok {
			continue
		}
		if h.Error {
			return Response{}, &ServerError{Code: uint8(h.Status >> 8)}
		}
		done, err := a.Add(h, data)
		if err != nil {
			return Response{}, err
		}
		if done {
			return a.Response(), nil
		}
		deadline = now().Add(s.FragDelay)
	}
}

// check applies classic ntpq's validity tests to a received packet (compat.md 1.3): those
// that fail are ignored, as a stray or late packet would be.
func (s *Session) check(b []byte, op uint8) (wire.ControlHeader, []byte, bool) {
	if len(b) < wire.ControlHeaderLen || len(b)%4 != 0 {
		return wire.ControlHeader{}, nil, false
	}
	h, data, _, err := wire.DecodeControl(b)
	if err != nil || !h.Response || h.Sequence != s.seq || h.Opcode != op {
		return wire.ControlHeader{}, nil, false
	}
	return h, data, true
}

// Assembler puts a fragmented response back together by offset: fragments may come in any
// order, duplicates are dropped, overlapping ones ignored, and the response is complete once the
// last fragment (M clear) has been seen and there are no holes from offset 0 (compat.md 1.3).
type Assembler struct {
	frags  []frag
	last   bool
	end    int
	status uint16
}

type frag struct {
	off  int
	data []byte
}

// Fragments returns how many distinct fragments have been accepted.
func (a *Assembler) Fragments() int { return len(a.frags) }

// Add takes one fragment and reports whether the response is now complete. Errors are
// ErrTooMuch (beyond classic's 32 fragments or 15360 octets).
func (a *Assembler) Add(h wire.ControlHeader, data []byte) (bool, error) {
	off, cnt := int(h.Offset), len(data)
	if off+cnt > maxResponse {
		return false, ErrTooMuch
	}
	if cnt == 0 && h.More {
		return false, nil
	}
	for _, f := range a.frags {
		if off < f.off+len(f.data) && f.off < off+cnt || off == f.off {
			return a.complete(), nil // duplicate or overlap: ignored
		}
	}
	if len(a.frags) >= wire.ControlMaxFrags {
		return false, ErrTooMuch
	}
	a.frags = append(a.frags, frag{off: off, data: append([]byte(nil), data...)})
	if !h.More {
		a.last = true
		a.end = off + cnt
		a.status = h.Status
	} else if !a.last {
		a.status = h.Status
	}
	return a.complete(), nil
}

func (a *Assembler) complete() bool {
	if !a.last {
		return false
	}
	covered := 0
	for _, f := range a.frags {
		if f.off+len(f.data) > a.end {
			return false // data beyond the final fragment: inconsistent, wait
		}
		covered += len(f.data)
	}
	return covered == a.end
}

// Response returns the reassembled data and the status word of the final fragment.
func (a *Assembler) Response() Response {
	out := make([]byte, a.end)
	for _, f := range a.frags {
		copy(out[f.off:], f.data)
	}
	return Response{Status: a.status, Data: out}
}
