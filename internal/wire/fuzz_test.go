// SPDX-License-Identifier: BSD-2-Clause

package wire

import (
	"bytes"
	"errors"
	"testing"
)

// seedGolden adds every golden packet to the fuzz corpus.
func seedGolden(f *testing.F) {
	for _, g := range loadGolden(f) {
		f.Add(g.b)
	}
}

// FuzzDecode checks that Decode never panics, that what it accepts re-encodes to the same
// header (the one rewrite being NTPv1 mode 0, read as mode 3), decodes again to the same
// Packet and Trailer, and that the trailer's parts tile the datagram exactly.
func FuzzDecode(f *testing.F) {
	seedGolden(f)
	f.Add(request(4, 3, ef(0x0104, 28, -1), mac(9, 16)))
	f.Add(request(4, 4, mac(0, 0)))
	f.Add(request(1, 0))
	f.Add(request(4, 3, ef(1, 30, 28)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		tr, err := Decode(b, &p)
		if err != nil {
			if tr.NumExt != 0 || tr.HasMAC || tr.Ext != nil || tr.Digest != nil {
				t.Fatalf("error %v with non-zero trailer %+v", err, tr)
			}
			return
		}
		var out [HeaderLen]byte
		p.Encode(out[:])
		want := b[:HeaderLen]
		if b[0]&0x3f == 1<<3 { // version 1, mode 0 -> mode 3
			want = append([]byte{b[0] | ModeClient}, b[1:HeaderLen]...)
		}
		if !bytes.Equal(out[:], want) {
			t.Fatalf("re-encoded header\n%x\nwant\n%x", out, want)
		}
		// Decode the re-encoded header with the original trailer.
		again := append(out[:], b[HeaderLen:]...)
		var p2 Packet
		tr2, err := Decode(again, &p2)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if p2 != p {
			t.Fatalf("re-decoded packet %+v, first %+v", p2, p)
		}
		if tr2.NumExt != tr.NumExt || tr2.AuthLen != tr.AuthLen || tr2.HasMAC != tr.HasMAC ||
			tr2.KeyID != tr.KeyID || tr2.IsNAK != tr.IsNAK || !bytes.Equal(tr2.Digest, tr.Digest) ||
			!bytes.Equal(tr2.Ext, tr.Ext) {
			t.Fatalf("re-decoded trailer %+v, first %+v", tr2, tr)
		}
		// The parts tile the datagram: header, fields, then key ID and digest or nothing.
		if HeaderLen+len(tr.Ext) != tr.AuthLen {
			t.Fatalf("header %d + ext %d != AuthLen %d", HeaderLen, len(tr.Ext), tr.AuthLen)
		}
		end := tr.AuthLen
		if tr.HasMAC {
			end += KeyIDLen + len(tr.Digest)
			if len(tr.Digest) > MaxMACLen-KeyIDLen {
				t.Fatalf("digest of %d octets", len(tr.Digest))
			}
		}
		if end != len(b) {
			t.Fatalf("parts end at %d, datagram is %d", end, len(b))
		}
		n, total := 0, 0
		it := tr.Fields()
		for fld, ok := it.Next(); ok; fld, ok = it.Next() {
			n++
			total += ExtHeaderLen + len(fld.Value)
			if ExtHeaderLen+len(fld.Value) < ExtMinLen {
				t.Fatalf("field of %d octets", ExtHeaderLen+len(fld.Value))
			}
		}
		if n != tr.NumExt || total != len(tr.Ext) {
			t.Fatalf("iterator: %d fields, %d octets; NumExt %d, Ext %d", n, total, tr.NumExt, len(tr.Ext))
		}
	})
}

// FuzzDecodeControl checks that DecodeControl never panics, that a decoded header re-encodes
// to the same 12 octets (modulo the mode bits, always 6), and that EncodeControl of the header
// and data decodes back to the same header and data.
func FuzzDecodeControl(f *testing.F) {
	seedGolden(f)
	f.Add(cat([]byte{0x16, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x11}, []byte("stratum,precision"), make([]byte, 3), mac(1, 16)))
	f.Add([]byte{0x16, 0xc2, 0x00, 0x07, 0x04, 0x00, 0x30, 0x39, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, data, auth, err := DecodeControl(b)
		switch {
		case errors.Is(err, ErrControlCount), errors.Is(err, ErrControlAlign):
			if data != nil || auth != nil {
				t.Fatalf("%v with data or auth", err)
			}
			// the header is still valid: fall through to the encode check
		case err != nil:
			if h != (ControlHeader{}) || data != nil || auth != nil {
				t.Fatalf("%v with non-zero results", err)
			}
			return
		}
		var out [ControlHeaderLen]byte
		h.Encode(out[:])
		if !bytes.Equal(out[:], b[:ControlHeaderLen]) {
			t.Fatalf("re-encoded header\n%x\nwant\n%x", out, b[:ControlHeaderLen])
		}
		if err != nil {
			return
		}
		if len(data) != int(h.Count) {
			t.Fatalf("data %d octets, count %d", len(data), h.Count)
		}
		if auth != nil {
			if len(auth) < KeyIDLen || len(auth) > MaxMACLen || ControlAuthLen(len(data))+len(auth) != len(b) {
				t.Fatalf("auth of %d octets in a %d-octet packet with %d data", len(auth), len(b), len(data))
			}
		}
		if len(data) > ControlMaxData {
			return
		}
		buf := make([]byte, ControlLen(len(data)))
		n, err := EncodeControl(buf, h, data)
		if err != nil {
			t.Fatal(err)
		}
		h2, data2, auth2, err := DecodeControl(buf[:n])
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if h2 != h || !bytes.Equal(data2, data) || auth2 != nil {
			t.Fatalf("re-decoded %+v %q %x, first %+v %q", h2, data2, auth2, h, data)
		}
	})
}
