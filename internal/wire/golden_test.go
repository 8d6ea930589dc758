// SPDX-License-Identifier: BSD-2-Clause

package wire

import (
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type golden struct {
	name string // file name without .hex
	b    []byte
}

// loadGolden reads every testdata/golden/*.hex file (hex digits, whitespace ignored).
func loadGolden(tb testing.TB) []golden {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.hex"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no golden packets in testdata/golden")
	}
	var out []golden
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, golden{strings.TrimSuffix(filepath.Base(f), ".hex"), b})
	}
	return out
}

// What is known about each captured packet (testdata/golden/README.md says how each was made).
var goldenTime = map[string]struct {
	leap, version, mode, stratum uint8
	poll, precision              int8
	refid                        string // "" = not checked
	request                      string // the request this reply answers: Org must equal its Xmt
}{
	"sntp-request":          {leap: 3, version: 4, mode: ModeClient, poll: 8},
	"ntpdate-request":       {leap: 3, version: 4, mode: ModeClient, poll: 3, precision: -6},
	"chronyd-request":       {leap: 0, version: 4, mode: ModeClient, poll: 6, precision: 32},
	"ntpd-unsync-request":   {leap: 3, version: 4, mode: ModeClient, poll: 8},
	"ntpd-unsync-reply":     {leap: 3, version: 4, mode: ModeServer, stratum: 0, poll: 8, precision: -24, refid: "INIT", request: "ntpd-unsync-request"},
	"chronyd-reply-request": {leap: 3, version: 4, mode: ModeClient, poll: 8},
	"chronyd-reply":         {leap: 0, version: 4, mode: ModeServer, stratum: 10, poll: 8, precision: -25, request: "chronyd-reply-request"},
	"ntpd-v1-mode0-request": {leap: 0, version: 1, mode: ModeClient},
	"ntpd-v1-mode0-reply":   {leap: 3, version: 1, mode: ModeServer, stratum: 0, poll: 3, precision: -24, refid: "INIT", request: "ntpd-v1-mode0-request"},
	"ntpd-ef-request":       {leap: 0, version: 4, mode: ModeClient},
	"ntpd-ef-reply":         {leap: 3, version: 4, mode: ModeServer, stratum: 0, poll: 3, precision: -24, refid: "INIT", request: "ntpd-ef-request"},
}

var goldenControl = map[string]struct {
	response bool
	opcode   uint8
	leap     uint8
	request  string // the request this reply answers: sequence and opcode echoed
}{
	"ntpq-readstat-request": {opcode: 1},
	"ntpq-readvar-request":  {opcode: 2},
	"ntpd-readstat-reply":   {response: true, opcode: 1, leap: 3, request: "ntpq-readstat-request"},
	"ntpd-readvar-reply":    {response: true, opcode: 2, leap: 3, request: "ntpq-readvar-request"},
}

func TestGolden(t *testing.T) {
	all := loadGolden(t)
	byName := map[string][]byte{}
	for _, g := range all {
		byName[g.name] = g.b
	}
	for _, g := range all {
		t.Run(g.name, func(t *testing.T) {
			if want, ok := goldenTime[g.name]; ok {
				var p Packet
				tr, err := Decode(g.b, &p)
				if err != nil {
					t.Fatal(err)
				}
				if p.Leap != want.leap || p.Version != want.version || p.Mode != want.mode ||
					p.Stratum != want.stratum || p.Poll != want.poll || p.Precision != want.precision {
					t.Errorf("got LI %d VN %d mode %d stratum %d poll %d precision %d, want %+v",
						p.Leap, p.Version, p.Mode, p.Stratum, p.Poll, p.Precision, want)
				}
				if want.refid != "" && p.RefID != RefIDFromString(want.refid) {
					t.Errorf("refid %08x, want %q", p.RefID, want.refid)
				}
				if want.request != "" {
					req, ok := byName[want.request]
					if !ok {
						t.Fatalf("request %s.hex missing", want.request)
					}
					if xmt := binary.BigEndian.Uint64(req[40:]); uint64(p.Org) != xmt {
						t.Errorf("origin %016x, request transmit %016x", uint64(p.Org), xmt)
					}
				}
				t.Logf("%d octets, %d ext fields, MAC %v key %d digest %d, NAK shape %v",
					len(g.b), tr.NumExt, tr.HasMAC, tr.KeyID, len(tr.Digest), tr.IsNAK)
				return
			}
			if want, ok := goldenControl[g.name]; ok {
				h, data, auth, err := DecodeControl(g.b)
				if err != nil {
					t.Fatal(err)
				}
				if h.Response != want.response || h.Opcode != want.opcode || h.Leap != want.leap || h.More || h.Error {
					t.Errorf("header %+v, want %+v", h, want)
				}
				if auth != nil {
					t.Errorf("unexpected auth trailer %x", auth)
				}
				if want.request != "" {
					req, _, _, err := DecodeControl(byName[want.request])
					if err != nil {
						t.Fatalf("request %s: %v", want.request, err)
					}
					if h.Sequence != req.Sequence || h.Opcode != req.Opcode || h.Version != req.Version || h.AssocID != req.AssocID {
						t.Errorf("reply %+v does not echo request %+v", h, req)
					}
				}
				switch {
				case want.opcode == 1 && want.response:
					if len(data)%4 != 0 || len(data) == 0 {
						t.Errorf("READSTAT data of %d octets, want 4 per association", len(data))
					}
				case want.opcode == 2 && want.response:
					if !strings.HasSuffix(string(data), "\r\n") || !strings.Contains(string(data), "version=\"ntpd 4.2.8p15") {
						t.Errorf("READVAR text %q", data)
					}
				}
				return
			}
			t.Errorf("golden packet %s.hex has no expectation in golden_test.go", g.name)
		})
	}
}

// TestGoldenClassicUnsync pins what classic ntpd 4.2.8p15 sends while unsynchronised, which
// the server reproduces: LI 3, stratum 0, refid INIT, reference time and root delay zero, and
// for a request carrying anything after the header (here one extension field, no MAC) a
// 52-octet reply ending in a zero key ID.
func TestGoldenClassicUnsync(t *testing.T) {
	byName := map[string][]byte{}
	for _, g := range loadGolden(t) {
		byName[g.name] = g.b
	}
	for _, name := range []string{"ntpd-unsync-reply", "ntpd-v1-mode0-reply", "ntpd-ef-reply"} {
		var p Packet
		tr, err := Decode(byName[name], &p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.RefTime != 0 || p.RootDelay != 0 || p.Stratum != 0 || p.Leap != LeapAlarm || p.RefID != RefIDFromString("INIT") {
			t.Errorf("%s: %+v", name, p)
		}
		if code, ok := p.KissCode(); !ok || string(code[:]) != "INIT" {
			t.Errorf("%s: KissCode = %q, %v", name, code, ok)
		}
		if wantNAK := name == "ntpd-ef-reply"; tr.IsNAK != wantNAK || tr.HasMAC != wantNAK {
			t.Errorf("%s: trailer %+v", name, tr)
		}
	}
}
