// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gontp/internal/keys"
	"gontp/internal/wire"
)

// fakeWriter records what the control server asked the daemon to do.
type fakeWriter struct {
	configured []string
	saved      []string
	nomodify   netip.Addr
}

func (w *fakeWriter) Configure(text string, _ netip.AddrPort) ConfigResult {
	w.configured = append(w.configured, text)
	if strings.HasPrefix(text, "sever") {
		return ConfigResult{Errors: 1, Text: "sever 198.18.0.9\n^\ncolumn 0 syntax error"}
	}
	return ConfigResult{Text: "Config Succeeded"}
}

func (w *fakeWriter) SaveConfig(name string, _ netip.AddrPort) string {
	w.saved = append(w.saved, name)
	return "Configuration saved to '" + name + "'"
}

func (w *fakeWriter) NoModify(from netip.AddrPort) bool { return from.Addr() == w.nomodify }

// signedRequest is a mode-6 request with a MAC of key id from set.
func signedRequest(t *testing.T, set *keys.Set, op uint8, id uint32, data string) []byte {
	t.Helper()
	n := wire.ControlAuthLen(len(data))
	b := make([]byte, n, n+wire.MaxMACLen)
	h := wire.ControlHeader{Version: 2, Opcode: op, Sequence: 7, Count: uint16(len(data))}
	h.Encode(b)
	copy(b[wire.ControlHeaderLen:], data)
	b = binary.BigEndian.AppendUint32(b, id)
	b, ok := set.Sign(b, id, b[:n])
	if !ok {
		t.Fatalf("cannot sign with key %d", id)
	}
	return b
}

// TestWritesNeedTheControlKey: :config, saveconfig and writevar are carried out only with a
// MAC of the controlkey from a source without nomodify, with classic's replies otherwise.
func TestWritesNeedTheControlKey(t *testing.T) {
	set, _ := keys.Parse("k", strings.NewReader("1 MD5 controlsecret\n2 MD5 othersecret\n"))
	set.Trust(1, 2)
	wrong, _ := keys.Parse("k", strings.NewReader("1 MD5 guessed\n"))
	wrong.Trust(1)
	w := &fakeWriter{nomodify: netip.MustParseAddr("198.18.0.66")}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s := newServer(localSnapshot(now), Sources{Keys: set, ControlKey: 1, Writer: w})
	from := netip.MustParseAddrPort("198.18.0.5:40000")
	nomod := netip.MustParseAddrPort("198.18.0.66:40000")

	for _, tc := range []struct {
		name string
		req  []byte
		src  netip.AddrPort
		want string // reply text, or "E<code>" for an error reply
	}{
		{"no MAC", request(OpConfigure, 7, 0, "server 198.18.0.9"), from, "E1"},
		{"wrong secret", signedRequest(t, wrong, OpConfigure, 1, "server 198.18.0.9"), from, "E1"},
		{"trusted key but not the controlkey", signedRequest(t, set, OpConfigure, 2, "server 198.18.0.9"), from, "E1"},
		{"controlkey", signedRequest(t, set, OpConfigure, 1, "server 198.18.0.9"), from, "Config Succeeded\r\n"},
		{"syntax error", signedRequest(t, set, OpConfigure, 1, "sever 198.18.0.9"), from, "sever 198.18.0.9\n^\ncolumn 0 syntax error\r\n"},
		{"nomodify", signedRequest(t, set, OpConfigure, 1, "server 198.18.0.10"), nomod, "runtime configuration prohibited by restrict ... nomodify\r\n"},
		{"unprintable", signedRequest(t, set, OpConfigure, 1, "server \x01"), from, "runtime configuration failed: request contains an unprintable character\r\n"},
		{"saveconfig", signedRequest(t, set, OpSaveConfig, 1, "x.conf"), from, "Configuration saved to 'x.conf'\r\n"},
		{"saveconfig nomodify", signedRequest(t, set, OpSaveConfig, 1, "y.conf"), nomod, "saveconfig prohibited by restrict ... nomodify\r\n"},
		{"writevar builtin", signedRequest(t, set, OpWriteVar, 1, "leap=01"), from, "E0"},
		{"writevar unknown", signedRequest(t, set, OpWriteVar, 1, "nosuch=1"), from, "E5"},
		{"writevar nomodify", signedRequest(t, set, OpWriteVar, 1, "leap=01"), nomod, "E1"},
	} {
		fs := exchange(t, s, tc.req, tc.src, 0, now)
		if len(fs) != 1 {
			t.Errorf("%s: %d replies", tc.name, len(fs))
			continue
		}
		got := text(fs)
		if fs[0].h.Error {
			got = "E" + string(rune('0'+fs[0].h.Status>>8))
		}
		if got != tc.want {
			t.Errorf("%s: reply %q, want %q", tc.name, got, tc.want)
		}
	}
	if strings.Join(w.configured, "|") != "server 198.18.0.9|sever 198.18.0.9" || strings.Join(w.saved, "|") != "x.conf" {
		t.Errorf("writer saw %q and %q", w.configured, w.saved)
	}
}
