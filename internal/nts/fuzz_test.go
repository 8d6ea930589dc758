// SPDX-License-Identifier: BSD-2-Clause

package nts

import (
	"bytes"
	"crypto/rand"
	"testing"

	"gontp/internal/wire"
)

// FuzzParseMessage: the NTS-KE record parser never panics, and what it accepts re-encodes
// (as a response) to a message that parses to the same records.
func FuzzParseMessage(f *testing.F) {
	f.Add(AppendRequest(nil, DefaultAEADs))
	f.Add(AppendMessage(nil, &Message{HasNextProtocol: true, NextProtocols: []uint16{0},
		HasAEAD: true, AEADs: []uint16{15}, Cookies: [][]byte{{1, 2, 3, 4}}, Server: "a.example", Port: 123}))
	f.Add(AppendMessage(nil, &Message{Errors: []uint16{1}}))
	f.Add([]byte{0x80, 0, 0, 0})
	f.Add([]byte{0x80, 9, 0, 0, 0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := MessageLen(b); err == nil && n > len(b) {
			t.Fatalf("MessageLen %d beyond %d octets", n, len(b))
		}
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		again, err := ParseMessage(AppendMessage(nil, m))
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if len(again.Cookies) != len(m.Cookies) || again.Server != m.Server || again.Port != m.Port ||
			len(again.AEADs) != len(m.AEADs) || len(again.Errors) != len(m.Errors) {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
		_ = Choose(m, DefaultAEADs)
		_, _ = CheckResponse(m, DefaultAEADs)
	})
}

// FuzzExtensionFields: the server's Verify and the client's CheckResponse never panic on any
// datagram, and never accept one that was not made with the session's keys.
func FuzzExtensionFields(f *testing.F) {
	s, r := pair(f, AEADAESSIVCMAC256)
	req, _ := s.AppendRequest(header(wire.ModeClient), rand.Reader)
	f.Add(bytes.Clone(req))
	var p wire.Packet
	tr, _ := wire.Decode(req, &p)
	r.Verify(req, &tr)
	rep, _ := r.AppendReply(header(wire.ModeServer))
	f.Add(bytes.Clone(rep))
	f.Add(header(wire.ModeClient))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wire.Packet
		tr, err := wire.Decode(b, &p)
		if err != nil {
			return
		}
		if err := r.Verify(b, &tr); err == nil && !bytes.Equal(b, req) {
			t.Fatalf("server verified a request it was not sent")
		}
		s.pending = true
		if err := s.CheckResponse(b, &p, &tr); err == nil && !bytes.Equal(b, rep) {
			t.Fatalf("client accepted a reply the server did not make")
		}
	})
}
