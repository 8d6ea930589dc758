// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"time"

	"gontp/internal/snapshot"

	"gontp/internal/wire"
)

// maxLine is where classic breaks text lines (MAXDATALINELEN): an item that would make the
// line reach 72 characters starts a new one after ",\r\n".
const maxLine = 72

// reply builds one response and sends it fragment by fragment, exactly as classic ntpd's
// ctl_putdata and ctl_flushpkt do (compat.md 1.3 and 1.8): items are separated by ", " or
// ",\r\n", a fragment holds at most 468 data octets and may end in the middle of an item,
// the line length carries over fragment boundaries, and the last fragment of a text reply
// ends with "\r\n" when there is room for it.
type reply struct {
	s    *Server
	out  func([]byte)
	snap *snapshot.Snapshot
	now  time.Time
	hdr  wire.ControlHeader

	auth  bool
	keyID uint32
	keys  Keys // the key set the request was verified with, for signing the reply

	// pkt holds the header, the data (up to 468 octets plus the 3 separator octets that may
	// be written before a fragment is flushed), padding and a MAC.
	pkt     [wire.ControlHeaderLen + wire.ControlMaxData + 64]byte
	n       int // data octets in the current fragment
	offset  int // octets already sent in earlier fragments
	lineLen int
	sent    bool // an item was written (no separator before the first)
	text    bool
	frags   int
	// limit, when non-zero, is the most data octets the whole reply may carry (mrulist's
	// frags); callers check room() before adding items.
	limit int
	// scratch is where one item is formatted before it is put.
	scratch [600]byte
}

// reset prepares a pooled reply for a new request.
func (r *reply) reset(s *Server, out func([]byte), snap *snapshot.Snapshot, now time.Time) {
	r.s, r.out, r.snap, r.now = s, out, snap, now
	r.hdr = wire.ControlHeader{}
	r.auth, r.keyID, r.keys = false, 0, nil
	r.n, r.offset, r.lineLen, r.frags, r.limit = 0, 0, 0, 0, 0
	r.sent, r.text = false, false
}

// release drops the references of a finished reply and returns it to the pool.
func (r *reply) release() {
	r.s, r.out, r.snap = nil, nil, nil
	replyPool.Put(r)
}

func (r *reply) data() []byte { return r.pkt[wire.ControlHeaderLen:] }

// put appends one text item (name=value).
func (r *reply) put(item []byte) {
	r.text = true
	d := r.data()
	if r.sent {
		d[r.n] = ','
		r.n++
		r.lineLen++
		if len(item)+r.lineLen+1 >= maxLine {
			d[r.n], d[r.n+1] = '\r', '\n'
			r.n += 2
			r.lineLen = 0
		} else {
			d[r.n] = ' '
			r.n++
			r.lineLen++
		}
	}
	for len(item)+3+r.n > wire.ControlMaxData {
		c := min(len(item), wire.ControlMaxData-r.n)
		copy(d[r.n:], item[:c])
		r.n += c
		r.lineLen += c
		item = item[c:]
		r.flush(true)
	}
	copy(d[r.n:], item)
	r.n += len(item)
	r.lineLen += len(item)
	r.sent = true
}

// putBinary appends binary data (readstat records) without separators, flushing first when
// the record does not fit whole.
func (r *reply) putBinary(b []byte) {
	if r.n+len(b) > wire.ControlMaxData {
		r.flush(true)
	}
	copy(r.data()[r.n:], b)
	r.n += len(b)
}

// written is the number of data octets of the reply so far.
func (r *reply) written() int { return r.offset + r.n }

// flush sends the current fragment; more says whether others follow.
func (r *reply) flush(more bool) {
	d := r.data()
	if !more && r.text && r.n+2 < wire.ControlMaxData {
		d[r.n], d[r.n+1] = '\r', '\n'
		r.n += 2
	}
	h := r.hdr
	h.More = more
	h.Offset = uint16(r.offset)
	h.Count = uint16(r.n)
	h.Encode(r.pkt[:])
	end := wire.ControlLen(r.n)
	if r.auth {
		end = r.sign(wire.ControlHeaderLen + r.n)
		if end == 0 {
			return
		}
	} else {
		clear(r.pkt[wire.ControlHeaderLen+r.n : end])
	}
	r.out(r.pkt[:end])
	r.s.c.fragments.Add(1)
	if !more {
		r.s.c.responses.Add(1)
	}
	r.frags++
	r.offset += r.n
	r.n = 0
}

// sign pads the packet to a multiple of 8, appends the key ID and the digest, and returns
// the packet length, or 0 when the key cannot sign (then nothing is sent).
func (r *reply) sign(n int) int {
	proper := (n + 7) &^ 7
	clear(r.pkt[n:proper])
	k := r.keyID
	r.pkt[proper], r.pkt[proper+1], r.pkt[proper+2], r.pkt[proper+3] =
		byte(k>>24), byte(k>>16), byte(k>>8), byte(k)
	out, ok := r.keys.Sign(r.pkt[:proper+4], k, r.pkt[:proper])
	if !ok || len(out) > len(r.pkt) || &out[0] != &r.pkt[0] {
		// The digest did not fit in place; refuse rather than allocate a larger packet.
		return 0
	}
	return len(out)
}

// fail sends an error reply: E set, the code in the high octet of the status, no data
// (classic ctl_error; the leap bits are the system's).
func (r *reply) fail(code uint8) {
	c := &r.s.c
	switch code {
	case ErrPermission:
		c.permission.Add(1)
	case ErrBadFormat:
		// counted by the caller
	case ErrBadOp:
		c.badOp.Add(1)
	case ErrBadAssoc:
		c.badAssoc.Add(1)
	case ErrUnknownVar:
		c.unknownVar.Add(1)
	case ErrBadValue:
		c.badValue.Add(1)
	}
	c.errors.Add(1)
	r.n = 0
	r.offset = 0
	r.text = false
	r.hdr.Error = true
	r.hdr.Status = uint16(code) << 8
	r.flush(false)
}
