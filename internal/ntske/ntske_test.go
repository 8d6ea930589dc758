// SPDX-License-Identifier: BSD-2-Clause

package ntske

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gontp/internal/nts"
	"gontp/internal/ntske/testca"
	"gontp/internal/wire"
)

func startServer(t *testing.T, mod func(*Server)) (*Server, string, *testca.Files) {
	t.Helper()
	ca := testca.New(t, "localhost", "127.0.0.1")
	ring := nts.NewKeyRing()
	if _, err := ring.Rotate(time.Now(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	s := &Server{
		TLS:  &tls.Config{Certificates: []tls.Certificate{ca.Pair}},
		Ring: ring, Rand: rand.Reader,
	}
	if mod != nil {
		mod(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s, ln.Addr().String(), ca
}

// TestExchange: a full NTS-KE over loopback, then NTS-protected NTP packets between the
// session it gave and a responder using the server's key ring: the exported keys agree.
func TestExchange(t *testing.T) {
	s, addr, ca := startServer(t, func(s *Server) { s.NTPHost, s.NTPPort = "127.0.0.1", 1123 })
	res, err := Exchange(context.Background(), ClientConfig{Address: addr, ServerName: "localhost", RootCAs: ca.Pool})
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.Cookies() != nts.MaxCookies || res.Session.AEAD != nts.AEADAESSIVCMAC256 {
		t.Fatalf("session: %d cookies, AEAD %d", res.Session.Cookies(), res.Session.AEAD)
	}
	if res.NTPHost != "127.0.0.1" || res.NTPPort != 1123 {
		t.Fatalf("NTP at %s:%d", res.NTPHost, res.NTPPort)
	}
	if s.Stats.Serves.Load() != 1 {
		t.Fatalf("serves = %d", s.Stats.Serves.Load())
	}
	r := &nts.Responder{Ring: s.Ring, Rand: rand.Reader}
	for range 3 {
		h := make([]byte, wire.HeaderLen, 1500)
		(&wire.Packet{Version: 4, Mode: wire.ModeClient}).Encode(h)
		req, err := res.Session.AppendRequest(h, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		var p wire.Packet
		tr, _ := wire.Decode(req, &p)
		if err := r.Verify(req, &tr); err != nil {
			t.Fatalf("server: %v", err)
		}
		out := make([]byte, wire.HeaderLen, 1500)
		(&wire.Packet{Version: 4, Mode: wire.ModeServer, Stratum: 1}).Encode(out)
		rep, err := r.AppendReply(out)
		if err != nil {
			t.Fatal(err)
		}
		tr, _ = wire.Decode(rep, &p)
		if err := res.Session.CheckResponse(rep, &p, &tr); err != nil {
			t.Fatalf("client: %v", err)
		}
	}
}

func TestUntrustedCertificate(t *testing.T) {
	s, addr, _ := startServer(t, nil)
	other := testca.New(t, "localhost")
	_, err := Exchange(context.Background(), ClientConfig{Address: addr, ServerName: "localhost", RootCAs: other.Pool})
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("untrusted certificate: %v", err)
	}
	// noval accepts it.
	if _, err := Exchange(context.Background(), ClientConfig{Address: addr, NoVerify: true}); err != nil {
		t.Fatalf("noval: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if s.Stats.TLSFail.Load() != 1 {
		t.Errorf("TLS failures counted %d, want 1", s.Stats.TLSFail.Load())
	}
}

func TestNoCommonAEAD(t *testing.T) {
	_, addr, ca := startServer(t, func(s *Server) { s.AEADs = []uint16{nts.AEADAESSIVCMAC512} })
	_, err := Exchange(context.Background(), ClientConfig{Address: addr, RootCAs: ca.Pool, ServerName: "localhost",
		AEADs: []uint16{nts.AEADAESSIVCMAC256}})
	if !errors.Is(err, nts.ErrNoAEAD) {
		t.Fatalf("no common AEAD: %v", err)
	}
}

// rawExchange sends raw bytes after a handshake and returns the server's answer.
func rawExchange(t *testing.T, addr string, send []byte) []byte {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{ALPN}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write(send)
	msg, err := ReadMessage(conn)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return msg
}

func TestBadRequests(t *testing.T) {
	s, addr, _ := startServer(t, nil)
	for _, c := range []struct {
		name string
		send []byte
		code uint16
	}{
		{"unknown critical", append(nts.AppendRecord(nil, true, 99, nil), nts.AppendRequest(nil, nts.DefaultAEADs)...), 0},
		{"no AEAD record", nts.AppendRecord(nts.AppendRecord(nil, true, nts.RecNextProtocol, []byte{0, 0}), true, nts.RecEndOfMessage, nil), 1},
		{"odd AEAD list", nts.AppendRecord(nts.AppendRecord(nts.AppendRecord(nil, true, nts.RecNextProtocol, []byte{0, 0}), true, nts.RecAEAD, []byte{0}), true, nts.RecEndOfMessage, nil), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := nts.ParseMessage(rawExchange(t, addr, c.send))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Errors) != 1 || m.Errors[0] != c.code || len(m.Cookies) != 0 {
				t.Fatalf("answer %+v, want error %d", m, c.code)
			}
		})
	}
	if s.Stats.BadRequest.Load() != 3 {
		t.Errorf("bad requests counted %d, want 3", s.Stats.BadRequest.Load())
	}
}

// TestOversizedRequest: a request that never ends is cut at 16 KiB with a bad-request error.
func TestOversizedRequest(t *testing.T) {
	_, addr, _ := startServer(t, nil)
	big := bytes.Repeat(nts.AppendRecord(nil, false, 1000, make([]byte, 4000)), 5)
	m, err := nts.ParseMessage(rawExchange(t, addr, big))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Errors) != 1 || m.Errors[0] != nts.ErrCodeBadRequest {
		t.Fatalf("answer %+v", m)
	}
}

// TestSlowAndManyClients: connections that never handshake are dropped after the timeout,
// and beyond the limit new ones are refused at once; a normal client gets through after.
func TestSlowAndManyClients(t *testing.T) {
	s, addr, ca := startServer(t, func(s *Server) { s.MaxHandshakes = 2; s.Timeout = 500 * time.Millisecond })
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats.Busy.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Stats.Busy.Load() != 1 {
		t.Fatalf("busy refusals %d, want 1", s.Stats.Busy.Load())
	}
	for s.Stats.TLSFail.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Stats.TLSFail.Load() != 2 {
		t.Fatalf("timed-out handshakes %d, want 2", s.Stats.TLSFail.Load())
	}
	if _, err := Exchange(context.Background(), ClientConfig{Address: addr, RootCAs: ca.Pool, ServerName: "localhost"}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ntskeys")
	kf := &KeyFile{Path: path, Ring: nts.NewKeyRing(), Rand: rand.Reader}
	if err := kf.Load(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if changed, err := kf.Rotate(now); err != nil || !changed {
		t.Fatal(changed, err)
	}
	c, _ := kf.Ring.AppendCookie(nil, nts.AEADAESSIVCMAC256, make([]byte, 32), make([]byte, 32), rand.Reader)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", fi, err)
	}
	again := &KeyFile{Path: path, Ring: nts.NewKeyRing(), Rand: rand.Reader}
	if err := again.Load(); err != nil {
		t.Fatal(err)
	}
	if changed, _ := again.Rotate(now.Add(time.Minute)); changed {
		t.Fatal("restart rotated a fresh key")
	}
	var k nts.CookieKeys
	if err := again.Ring.OpenCookie(c, &k); err != nil {
		t.Fatalf("cookie after restart: %v", err)
	}
	os.WriteFile(path, []byte("garbage"), 0o600)
	if err := again.Load(); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("bad file: %v", err)
	}
}
