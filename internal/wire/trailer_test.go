// SPDX-License-Identifier: BSD-2-Clause

package wire

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// request returns an NTP header with the given version and mode followed by trailer.
func request(version, mode uint8, trailer ...[]byte) []byte {
	b := make([]byte, HeaderLen, 128)
	b[0] = version<<3 | mode
	binary.BigEndian.PutUint64(b[40:], 0xeeb58bc10a3cb817)
	for _, t := range trailer {
		b = append(b, t...)
	}
	return b
}

// ef returns an extension field of type typ whose length word says n, cut or padded to size
// octets (size < 0 means n).
func ef(typ uint16, n, size int) []byte {
	if size < 0 {
		size = n
	}
	b := make([]byte, max(size, 4))
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	for i := 4; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b[:size]
}

// mac returns a key ID followed by a digest of n octets.
func mac(keyID uint32, n int) []byte {
	b := make([]byte, 4+n)
	binary.BigEndian.PutUint32(b, keyID)
	for i := 4; i < len(b); i++ {
		b[i] = 0xa0 + byte(i)
	}
	return b
}

// TestDecodeTrailer follows the probes of classic ntpd 4.2.8p15 recorded in
// testdata/golden/README.md: every packet ntpd counted as "bad length or format" is an error
// here, every packet it answered decodes, with one documented exception (extension fields
// shorter than 16 octets, which RFC 7822 forbids and ntpd walks over).
func TestDecodeTrailer(t *testing.T) {
	type want struct {
		NumExt, AuthLen, DigestLen int
		HasMAC, IsNAK              bool
		KeyID                      uint32
	}
	tests := []struct {
		name string
		b    []byte
		err  error
		want want
	}{
		{"plain v4", request(4, 3), nil, want{AuthLen: 48}},
		{"v3 server reply", request(3, 4), nil, want{AuthLen: 48}},
		{"v1 mode 0 is a client request", request(1, 0), nil, want{AuthLen: 48}},
		{"v2 mode 0", request(2, 0), ErrMode, want{}},
		{"v5", request(5, 3), ErrVersion, want{}},
		{"v0", request(0, 3), ErrVersion, want{}},
		{"short", request(4, 3)[:47], ErrShort, want{}},
		{"mode 6", request(2, 6), ErrControlMode, want{}},
		{"mode 7", request(2, 7), ErrControlMode, want{}},
		{"2 octets after header", request(4, 3, []byte{0, 0}), ErrTrailerAlign, want{}},
		{"crypto-NAK", request(4, 4, mac(0, 0)), nil, want{AuthLen: 48, HasMAC: true, IsNAK: true}},
		{"4 octets, key 7", request(4, 3, mac(7, 0)), nil, want{AuthLen: 48, HasMAC: true, IsNAK: true, KeyID: 7}},
		{"8 octets: MAC that cannot verify", request(4, 3, mac(7, 4)), nil, want{AuthLen: 48, HasMAC: true, KeyID: 7, DigestLen: 4}},
		{"MD5 MAC", request(4, 3, mac(7, 16)), nil, want{AuthLen: 48, HasMAC: true, KeyID: 7, DigestLen: 16}},
		{"SHA1 MAC", request(4, 3, mac(65535, 20)), nil, want{AuthLen: 48, HasMAC: true, KeyID: 65535, DigestLen: 20}},
		{"one EF of 28", request(4, 3, ef(0x0104, 28, -1)), nil, want{NumExt: 1, AuthLen: 76}},
		{"EF 28 + MD5", request(4, 3, ef(0x0104, 28, -1), mac(9, 16)), nil, want{NumExt: 1, AuthLen: 76, HasMAC: true, KeyID: 9, DigestLen: 16}},
		{"EF 16 + EF 28", request(4, 3, ef(1, 16, -1), ef(2, 28, -1)), nil, want{NumExt: 2, AuthLen: 92}},
		{"EF 16 + EF 16 + SHA1", request(4, 3, ef(1, 16, -1), ef(2, 16, -1), mac(3, 20)), nil, want{NumExt: 2, AuthLen: 80, HasMAC: true, KeyID: 3, DigestLen: 20}},
		{"EF 28 + NAK shape is a MAC, not a NAK", request(4, 3, ef(1, 28, -1), mac(0, 0)), nil, want{NumExt: 1, AuthLen: 76, HasMAC: true}},
		{"version 3 walks EFs like ntpd", request(3, 3, ef(1, 28, -1)), nil, want{NumExt: 1, AuthLen: 76}},
		// A last field of 16 to 24 octets reads as a MAC (RFC 7822 section 7.5; ntpd the same).
		{"lone EF of 16 reads as MAC", request(4, 3, ef(1, 16, -1)), nil, want{AuthLen: 48, HasMAC: true, KeyID: 0x00010010, DigestLen: 12}},
		{"EF overruns packet", request(4, 3, ef(1, 32, 28)), ErrExtOverrun, want{}},
		{"EF length unaligned", request(4, 3, ef(1, 30, 28)), ErrExtLength, want{}},
		{"EF 28 + 2", request(4, 3, ef(1, 28, -1), []byte{0, 0}), ErrTrailerAlign, want{}},
		{"EF length 0", request(4, 3, ef(1, 0, 28)), ErrExtLength, want{}},
		// Divergence from ntpd, which walks fields down to 4 octets: RFC 7822 section 3.
		{"EF of 8 (RFC 7822 minimum is 16)", request(4, 3, ef(1, 8, -1), ef(2, 28, -1)), ErrExtLength, want{}},
		{"EF 28 + EF claims 4 then MAC-size rest", request(4, 3, ef(1, 28, -1), ef(2, 12, -1), mac(1, 16)), ErrExtLength, want{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			tr, err := Decode(tc.b, &p)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Decode error = %v, want %v", err, tc.err)
			}
			if err != nil {
				if diff := cmp.Diff(Trailer{}, tr); diff != "" {
					t.Errorf("Trailer not zero on error (-want +got):\n%s", diff)
				}
				return
			}
			got := want{NumExt: tr.NumExt, AuthLen: tr.AuthLen, DigestLen: len(tr.Digest),
				HasMAC: tr.HasMAC, IsNAK: tr.IsNAK, KeyID: tr.KeyID}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Trailer mismatch (-want +got):\n%s", diff)
			}
			if len(tr.Digest) > 0 && &tr.Digest[0] != &tc.b[tr.AuthLen+KeyIDLen] {
				t.Error("Digest is not a sub-slice of the packet at AuthLen+4")
			}
			if tr.HasMAC && tr.AuthLen+KeyIDLen+len(tr.Digest) != len(tc.b) {
				t.Errorf("AuthLen %d + 4 + digest %d != length %d", tr.AuthLen, len(tr.Digest), len(tc.b))
			}
			n := 0
			it := tr.Fields()
			for {
				f, ok := it.Next()
				if !ok {
					break
				}
				n++
				if len(f.Value) < ExtMinLen-ExtHeaderLen {
					t.Errorf("field %d: value of %d octets", n, len(f.Value))
				}
			}
			if n != tr.NumExt {
				t.Errorf("Fields yielded %d fields, NumExt = %d", n, tr.NumExt)
			}
		})
	}
}

func TestExtIterFields(t *testing.T) {
	b := request(4, 3, ef(0x0104, 16, -1), ef(0x0204, 32, -1), mac(5, 20))
	var p Packet
	tr, err := Decode(b, &p)
	if err != nil {
		t.Fatal(err)
	}
	it := tr.Fields()
	type field struct {
		Type  uint16
		Value []byte
	}
	var got []field
	for f, ok := it.Next(); ok; f, ok = it.Next() {
		got = append(got, field{f.Type, f.Value})
	}
	want := []field{
		{0x0104, ef(0x0104, 16, -1)[4:]},
		{0x0204, ef(0x0204, 32, -1)[4:]},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestDecodeHeaderVersion1Mode0(t *testing.T) {
	var p Packet
	if err := DecodeHeader(request(1, 0), &p); err != nil {
		t.Fatal(err)
	}
	if p.Mode != ModeClient || p.Version != 1 {
		t.Errorf("got version %d mode %d, want version 1 mode 3 (ntpd's NTPv1 rule)", p.Version, p.Mode)
	}
	for v := uint8(2); v <= 4; v++ {
		if err := DecodeHeader(request(v, 0), &p); !errors.Is(err, ErrMode) {
			t.Errorf("version %d mode 0: error %v, want ErrMode", v, err)
		}
	}
}

func TestModeOf(t *testing.T) {
	if ModeOf(nil) != ModeReserved || IsMode7(nil) {
		t.Error("empty datagram")
	}
	if !IsMode7([]byte{0x17}) || IsMode7([]byte{0x16}) {
		t.Error("IsMode7 wrong")
	}
	if ModeOf([]byte{0xe3}) != ModeClient {
		t.Error("ModeOf(0xe3) != 3")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	in := Packet{Leap: LeapAlarm, Version: 4, Mode: ModeServer, Stratum: 2, Poll: 6,
		Precision: -24, RootDelay: 0x00012345, RootDisp: 0x00000042, RefID: RefIDFromString("GPS"),
		RefTime: 1, Org: 2, Rec: 3, Xmt: 0xeeb58bc10a3cb817}
	var b [HeaderLen]byte
	if n := in.Encode(b[:]); n != HeaderLen {
		t.Fatalf("Encode returned %d", n)
	}
	var out Packet
	tr, err := Decode(b[:], &out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	if tr.AuthLen != HeaderLen || tr.HasMAC || tr.NumExt != 0 {
		t.Errorf("bare header trailer = %+v", tr)
	}
}

// TestDecodeNoAllocs asserts that decoding and encoding allocate nothing; the receive path
// runs for every datagram.
func TestDecodeNoAllocs(t *testing.T) {
	b := request(4, 3, ef(0x0104, 28, -1), mac(9, 20))
	ctl := append([]byte{0x16, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x11}, "stratum,precision\x00\x00\x00"...)
	var p Packet
	var out [HeaderLen]byte
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		tr, err := Decode(b, &p)
		if err != nil {
			panic(err)
		}
		it := tr.Fields()
		for f, ok := it.Next(); ok; f, ok = it.Next() {
			sink += len(f.Value)
		}
		sink += p.Encode(out[:])
		h, data, _, err := DecodeControl(ctl)
		if err != nil {
			panic(err)
		}
		sink += len(data) + h.Encode(out[:])
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decode/encode, want 0", allocs)
	}
	_ = sink
}

func BenchmarkDecode(b *testing.B) {
	pkt := request(4, 3, mac(9, 20))
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := Decode(pkt, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	p := Packet{Leap: LeapNone, Version: 4, Mode: ModeServer, Stratum: 2, Poll: 6, Precision: -24,
		RootDelay: 0x1234, RootDisp: 0x42, RefID: 0x7f7f0101, RefTime: 1, Org: 2, Rec: 3, Xmt: 4}
	var out [HeaderLen]byte
	b.ReportAllocs()
	b.SetBytes(HeaderLen)
	for b.Loop() {
		p.Encode(out[:])
		PutXmt(out[:], 5)
	}
}
