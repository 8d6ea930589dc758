// SPDX-License-Identifier: BSD-2-Clause

package ntske

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"gontp/internal/nts"
)

// Defaults of the NTS-KE server. A handshake that has not completed its exchange within
// DefaultServerTimeout is dropped; at most DefaultMaxHandshakes run at once, further
// connections are closed at once (and counted) so that a flood of slow clients cannot tie
// up the daemon.
const (
	DefaultServerTimeout = 5 * time.Second
	DefaultMaxHandshakes = 32
)

// Stats are the NTS-KE server's counters (NTPsec's ntsinfo "KE" lines).
type Stats struct {
	Serves     atomic.Uint64 // exchanges that handed out cookies
	NoAEAD     atomic.Uint64 // answered without cookies: no protocol or AEAD in common
	BadRequest atomic.Uint64 // malformed or oversized requests (answered with an error record)
	TLSFail    atomic.Uint64 // handshakes that failed or timed out
	Busy       atomic.Uint64 // connections refused over the concurrency limit
}

// Server answers NTS-KE requests (section 4.1, server side).
type Server struct {
	// TLS carries the certificate and key (`nts cert`, `nts key`); Serve adds ALPN and the
	// TLS 1.3 floor.
	TLS *tls.Config
	// Ring makes the cookies.
	Ring *nts.KeyRing
	// Rand is the randomness of cookie nonces (crypto/rand.Reader).
	Rand io.Reader
	// AEADs the server accepts; nts.DefaultAEADs when empty.
	AEADs []uint16
	// NTPHost and NTPPort, when set, are sent as Server and Port Negotiation records.
	NTPHost string
	NTPPort uint16
	// MaxHandshakes and Timeout: see the defaults.
	MaxHandshakes int
	Timeout       time.Duration
	Log           *slog.Logger
	Stats         Stats

	once sync.Once
	sem  chan struct{}
	tc   *tls.Config
	wg   sync.WaitGroup
}

func (s *Server) init() {
	n := s.MaxHandshakes
	if n <= 0 {
		n = DefaultMaxHandshakes
	}
	s.sem = make(chan struct{}, n)
	if s.Timeout <= 0 {
		s.Timeout = DefaultServerTimeout
	}
	if len(s.AEADs) == 0 {
		s.AEADs = nts.DefaultAEADs
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.tc = s.TLS.Clone()
	s.tc.NextProtos = []string{ALPN}
	if s.tc.MinVersion < tls.VersionTLS13 {
		s.tc.MinVersion = tls.VersionTLS13
	}
}

// Serve accepts connections on ln until it is closed, then waits for the exchanges in
// progress to end.
func (s *Server) Serve(ln net.Listener) error {
	s.once.Do(s.init)
	defer s.wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.Stats.Busy.Add(1)
			s.Log.Warn("NTS-KE: too many handshakes in progress, connection refused", "client", c.RemoteAddr().String())
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.handle(c)
		}()
	}
}

func (s *Server) handle(raw net.Conn) {
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(s.Timeout))
	client := raw.RemoteAddr().String()
	conn := tls.Server(raw, s.tc)
	if err := conn.Handshake(); err != nil {
		s.Stats.TLSFail.Add(1)
		s.Log.Info("NTS-KE: TLS handshake failed", "client", client, "err", err)
		return
	}
	if conn.ConnectionState().NegotiatedProtocol != ALPN {
		s.Stats.TLSFail.Add(1)
		s.Log.Info("NTS-KE: client did not offer ALPN ntske/1", "client", client)
		return
	}
	resp, err := s.respond(conn)
	if err != nil {
		s.Log.Info("NTS-KE: bad request", "client", client, "err", err)
	}
	if _, err := conn.Write(resp); err != nil {
		s.Log.Info("NTS-KE: sending the response failed", "client", client, "err", err)
		return
	}
	conn.Close()
}

// respond reads the request and makes the response; the error, if any, says why the
// response is an error record.
func (s *Server) respond(conn *tls.Conn) ([]byte, error) {
	msg, err := ReadMessage(conn)
	var req *nts.Message
	if err == nil {
		req, err = nts.ParseRequest(msg)
	}
	if err != nil {
		s.Stats.BadRequest.Add(1)
		code := uint16(nts.ErrCodeBadRequest)
		if errors.Is(err, nts.ErrRequestCritical) {
			code = nts.ErrCodeUnrecognizedCritical
		}
		return nts.AppendMessage(nil, &nts.Message{Errors: []uint16{code}}), err
	}
	ch := nts.Choose(req, s.AEADs)
	m := ch.Response
	if len(m.Errors) > 0 {
		s.Stats.BadRequest.Add(1)
		return nts.AppendMessage(nil, &m), errors.New("request lacks a Next Protocol or AEAD record")
	}
	if ch.AEAD == 0 {
		s.Stats.NoAEAD.Add(1)
		return nts.AppendMessage(nil, &m), nil
	}
	st := conn.ConnectionState()
	kl := nts.KeyLen(ch.AEAD)
	c2s, err1 := st.ExportKeyingMaterial(nts.ExporterLabel, nts.ExporterContext(ch.AEAD, false), kl)
	s2c, err2 := st.ExportKeyingMaterial(nts.ExporterLabel, nts.ExporterContext(ch.AEAD, true), kl)
	if err := errors.Join(err1, err2); err != nil {
		return nts.AppendMessage(nil, &nts.Message{Errors: []uint16{nts.ErrCodeInternalServer}}), err
	}
	for range nts.MaxCookies {
		c, err := s.Ring.AppendCookie(nil, ch.AEAD, c2s, s2c, s.Rand)
		if err != nil {
			return nts.AppendMessage(nil, &nts.Message{Errors: []uint16{nts.ErrCodeInternalServer}}), err
		}
		m.Cookies = append(m.Cookies, c)
	}
	m.Server, m.Port = s.NTPHost, s.NTPPort
	s.Stats.Serves.Add(1)
	s.Log.Info("NTS-KE: served", "client", conn.RemoteAddr().String(), "aead", nts.AEADName(ch.AEAD), "cookies", len(m.Cookies))
	return nts.AppendMessage(nil, &m), nil
}
