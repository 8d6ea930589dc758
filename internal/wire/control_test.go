// SPDX-License-Identifier: BSD-2-Clause

package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestDecodeControl(t *testing.T) {
	// Bytes from compat.md 1.2 (classic ntpq and ntpd, "rv 0 stratum,precision").
	rvReq := cat([]byte{0x16, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x11}, []byte("stratum,precision"), make([]byte, 3))
	rvResp := cat([]byte{0xd6, 0x82, 0x00, 0x01, 0xc6, 0x16, 0, 0, 0, 0, 0x00, 0x1a}, []byte("stratum=2, precision=-24\r\n"), make([]byte, 2))
	// The same request authenticated: padded to 8 (32 octets), key ID 1, MD5 or SHA-1 digest.
	authMD5 := cat(rvReq, mac(1, 16))
	authSHA1 := cat(rvReq, mac(65535, 20))
	// compat.md 1.5: an error response, CERR_BADASSOC in the high octet of the status.
	errResp := []byte{0x16, 0xc2, 0x00, 0x07, 0x04, 0x00, 0x30, 0x39, 0, 0, 0, 0}
	tests := []struct {
		name string
		b    []byte
		err  error
		h    ControlHeader
		data []byte
		auth []byte
	}{
		{"rv request", rvReq, nil,
			ControlHeader{Version: 2, Opcode: 2, Sequence: 1, Count: 17}, []byte("stratum,precision"), nil},
		{"rv response", rvResp, nil,
			ControlHeader{Leap: 3, Version: 2, Response: true, Opcode: 2, Sequence: 1, Status: 0xc616, Count: 26},
			[]byte("stratum=2, precision=-24\r\n"), nil},
		{"MD5-authenticated request", authMD5, nil,
			ControlHeader{Version: 2, Opcode: 2, Sequence: 1, Count: 17}, []byte("stratum,precision"), mac(1, 16)},
		{"SHA1-authenticated request", authSHA1, nil,
			ControlHeader{Version: 2, Opcode: 2, Sequence: 1, Count: 17}, []byte("stratum,precision"), mac(65535, 20)},
		{"error response", errResp, nil,
			ControlHeader{Version: 2, Response: true, Error: true, Opcode: 2, Sequence: 7, Status: 0x0400, AssocID: 12345}, []byte{}, nil},
		{"28 octets of excess are padding, not a MAC", cat(rvReq, make([]byte, 28)), nil,
			ControlHeader{Version: 2, Opcode: 2, Sequence: 1, Count: 17}, []byte("stratum,precision"), nil},
		{"empty readstat", []byte{0x16, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, nil,
			ControlHeader{Version: 2, Opcode: 1, Sequence: 1}, []byte{}, nil},
		{"short", rvReq[:11], ErrControlShort, ControlHeader{}, nil, nil},
		{"mode 3", request(4, 3), ErrNotControl, ControlHeader{}, nil, nil},
		{"version 0", cat([]byte{0x06}, rvReq[1:]), ErrControlVersion, ControlHeader{}, nil, nil},
		{"version 5", cat([]byte{0x2e}, rvReq[1:]), ErrControlVersion, ControlHeader{}, nil, nil},
		// Unpadded (as facebook/time's client sends it): ntpd answers CERR_BADFMT, so the
		// header must come back.
		{"unpadded", rvReq[:29], ErrControlAlign,
			ControlHeader{Version: 2, Opcode: 2, Sequence: 1, Count: 17}, nil, nil},
		{"count beyond packet", cat(rvReq[:10], []byte{0, 100}, rvReq[12:]), ErrControlCount,
			ControlHeader{Version: 2, Opcode: 2, Sequence: 1, Count: 100}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, data, auth, err := DecodeControl(tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.h, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if !bytes.Equal(data, tc.data) || (data == nil) != (tc.data == nil) {
				t.Errorf("data = %q, want %q", data, tc.data)
			}
			if !bytes.Equal(auth, tc.auth) {
				t.Errorf("auth = %x, want %x", auth, tc.auth)
			}
			if err != nil {
				return
			}
			// Re-encoding the header reproduces the first 12 octets, except LI/VN/mode
			// which are canonical already in these cases.
			var out [ControlHeaderLen]byte
			h.Encode(out[:])
			if !bytes.Equal(out[:], tc.b[:ControlHeaderLen]) {
				t.Errorf("Encode = %x, want %x", out, tc.b[:ControlHeaderLen])
			}
		})
	}
}

func TestControlCheckRequest(t *testing.T) {
	ok := ControlHeader{Version: 2, Opcode: 2}
	if err := ok.CheckRequest(); err != nil {
		t.Errorf("plain request: %v", err)
	}
	for _, h := range []ControlHeader{
		{Response: true}, {Error: true}, {More: true}, {Offset: 4},
	} {
		if err := h.CheckRequest(); !errors.Is(err, ErrControlFlags) {
			t.Errorf("%+v: error %v, want ErrControlFlags", h, err)
		}
	}
	e := ControlHeader{Error: true, Status: 0x0500}
	if code, isErr := e.ErrorCode(); !isErr || code != 5 {
		t.Errorf("ErrorCode = %d, %v; want 5, true", code, isErr)
	}
	if _, isErr := ok.ErrorCode(); isErr {
		t.Error("ErrorCode on a non-error header says error")
	}
}

func TestEncodeControl(t *testing.T) {
	var b [ControlHeaderLen + ControlMaxData + 8]byte
	for i := range b {
		b[i] = 0xff // padding must be written, not assumed
	}
	h := ControlHeader{Leap: 3, Version: 2, Response: true, Opcode: 2, Sequence: 1, Status: 0xc616, Count: 999}
	n, err := EncodeControl(b[:], h, []byte("stratum=2, precision=-24\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := cat([]byte{0xd6, 0x82, 0x00, 0x01, 0xc6, 0x16, 0, 0, 0, 0, 0x00, 0x1a}, []byte("stratum=2, precision=-24\r\n"), make([]byte, 2))
	if !bytes.Equal(b[:n], want) {
		t.Errorf("EncodeControl =\n%x\nwant\n%x", b[:n], want)
	}
	for _, n := range []int{0, 1, 2, 3, 4, 5, 468} {
		if got, want := ControlLen(n), 12+(n+3)/4*4; got != want {
			t.Errorf("ControlLen(%d) = %d, want %d", n, got, want)
		}
		if got, want := ControlAuthLen(n), (12+n+7)/8*8; got != want {
			t.Errorf("ControlAuthLen(%d) = %d, want %d", n, got, want)
		}
	}
	if _, err := EncodeControl(b[:], h, make([]byte, ControlMaxData+1)); !errors.Is(err, ErrControlTooLong) {
		t.Errorf("469 octets: error %v, want ErrControlTooLong", err)
	}
	if _, err := EncodeControl(b[:15], h, []byte("abcd")); !errors.Is(err, ErrControlBuffer) {
		t.Errorf("small buffer: error %v, want ErrControlBuffer", err)
	}
	n, err = EncodeControl(b[:], ControlHeader{Version: 2, Opcode: 1}, nil)
	if err != nil || n != ControlHeaderLen {
		t.Errorf("empty data: n %d err %v", n, err)
	}
}

func BenchmarkDecodeControl(b *testing.B) {
	pkt := cat([]byte{0x16, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x11}, []byte("stratum,precision"), make([]byte, 3), mac(1, 16))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, _, err := DecodeControl(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
