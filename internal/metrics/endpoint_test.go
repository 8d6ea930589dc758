// SPDX-License-Identifier: BSD-2-Clause

package metrics

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// TestEndpointApply: the endpoint listens exactly where the configuration says, and a
// reload that removes a line closes that listener while the others keep serving.
func TestEndpointApply(t *testing.T) {
	e := NewEndpoint(fixture(), slog.New(slog.DiscardHandler))
	defer e.Close()
	a, b := freeAddr(t), freeAddr(t)
	get := func(ap netip.AddrPort) (string, error) {
		resp, err := http.Get("http://" + ap.String() + "/metrics")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	e.Apply([]Listen{{Addr: a, Pos: "ntp.conf:1:1"}, {Addr: b, Pos: "ntp.conf:2:1"}})
	for _, ap := range []netip.AddrPort{a, b} {
		if body, err := get(ap); err != nil || !strings.Contains(body, `ntp_build_info{version="gontp-test"} 1`) {
			t.Errorf("%v: %v\n%.300s", ap, err, body)
		}
	}
	e.Apply([]Listen{{Addr: b, Pos: "ntp.conf:1:1"}})
	if _, err := get(a); err == nil {
		t.Errorf("%v still serves after its line was removed", a)
	}
	if _, err := get(b); err != nil {
		t.Errorf("%v: %v", b, err)
	}
}
