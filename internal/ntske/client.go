// SPDX-License-Identifier: BSD-2-Clause

// Package ntske is the NTS Key Establishment protocol (RFC 8915 section 4) over TLS 1.3: the
// client an NTS association runs before its first NTP request (and again when its cookies
// run out or the server sends an NTS NAK), and the server on TCP port 4460 that hands out
// keys and cookies. The records, the negotiation and the cookies themselves are the pure
// package internal/nts; this package does the TLS and the files.
package ntske

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"gontp/internal/nts"
)

// ALPN is the TLS application protocol of NTS-KE (section 4).
const ALPN = "ntske/1"

// DefaultTimeout bounds one whole NTS-KE exchange (connect, handshake, request, response).
const DefaultTimeout = 10 * time.Second

// ClientConfig says how to reach and trust an NTS-KE server.
type ClientConfig struct {
	// Address is host or host:port of the NTS-KE server (port 4460 when absent).
	Address string
	// ServerName is the name the certificate must carry (SNI); the host of Address when
	// empty.
	ServerName string
	// RootCAs are the trusted authorities (`nts ca FILE`); nil means the system's.
	RootCAs *x509.CertPool
	// NoVerify skips certificate verification (NTPsec's `noval`, for testing only).
	NoVerify bool
	// MinTLS and MaxTLS bound the TLS version (`nts mintls/maxtls`); NTS needs 1.3 (section
	// 3), which is also the default and the floor.
	MinTLS, MaxTLS uint16
	// AEADs are offered in this order of preference; nts.DefaultAEADs when empty.
	AEADs []uint16
	// Timeout bounds the exchange; DefaultTimeout when zero.
	Timeout time.Duration
	// Dial replaces the TCP dialer (tests).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Result is a successful NTS-KE: the session for the NTP association, and where to send NTP.
type Result struct {
	Session *nts.Session
	// NTPHost and NTPPort come from the server's negotiation records, else the NTS-KE
	// host and 123.
	NTPHost string
	NTPPort uint16
}

// Errors of the TLS part.
var (
	ErrALPN = errors.New("NTS-KE server did not agree on ALPN ntske/1")
	ErrTLS  = errors.New("NTS-KE TLS failure")
)

func tlsVersions(min, max uint16) (uint16, uint16) {
	if min < tls.VersionTLS13 {
		min = tls.VersionTLS13
	}
	if max != 0 && max < min {
		max = min
	}
	return min, max
}

// Exchange runs one NTS-KE as a client (section 4.1).
func Exchange(ctx context.Context, cfg ClientConfig) (*Result, error) {
	host, port, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		host, port = cfg.Address, strconv.Itoa(nts.DefaultKEPort)
	}
	name := cfg.ServerName
	if name == "" {
		name = host
	}
	aeads := cfg.AEADs
	if len(aeads) == 0 {
		aeads = nts.DefaultAEADs
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	min, max := tlsVersions(cfg.MinTLS, cfg.MaxTLS)
	tc := &tls.Config{
		ServerName:         name,
		RootCAs:            cfg.RootCAs,
		InsecureSkipVerify: cfg.NoVerify,
		NextProtos:         []string{ALPN},
		MinVersion:         min,
		MaxVersion:         max,
	}
	dial := cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	raw, err := dial(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("NTS-KE connect %s: %w", net.JoinHostPort(host, port), err)
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	conn := tls.Client(raw, tc)
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("%w: handshake with %s: %w", ErrTLS, cfg.Address, err)
	}
	st := conn.ConnectionState()
	if st.NegotiatedProtocol != ALPN {
		return nil, ErrALPN
	}
	if _, err := conn.Write(nts.AppendRequest(nil, aeads)); err != nil {
		return nil, fmt.Errorf("NTS-KE send: %w", err)
	}
	msg, err := ReadMessage(conn)
	if err != nil {
		return nil, err
	}
	m, err := nts.ParseMessage(msg)
	if err != nil {
		return nil, err
	}
	neg, err := nts.CheckResponse(m, aeads)
	if err != nil {
		return nil, err
	}
	kl := nts.KeyLen(neg.AEAD)
	c2s, err := st.ExportKeyingMaterial(nts.ExporterLabel, nts.ExporterContext(neg.AEAD, false), kl)
	if err != nil {
		return nil, fmt.Errorf("%w: exporter: %w", ErrTLS, err)
	}
	s2c, err := st.ExportKeyingMaterial(nts.ExporterLabel, nts.ExporterContext(neg.AEAD, true), kl)
	if err != nil {
		return nil, fmt.Errorf("%w: exporter: %w", ErrTLS, err)
	}
	sess, err := nts.NewSession(neg.AEAD, c2s, s2c, neg.Cookies)
	if err != nil {
		return nil, err
	}
	r := &Result{Session: sess, NTPHost: neg.Server, NTPPort: neg.Port}
	if r.NTPHost == "" {
		r.NTPHost = host
	}
	if r.NTPPort == 0 {
		r.NTPPort = nts.DefaultNTPPort
	}
	return r, nil
}

// ReadMessage reads one NTS-KE message (records up to End of Message) from r, refusing more
// than nts.MaxMessageLen octets.
func ReadMessage(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	var chunk [1024]byte
	for {
		n, err := r.Read(chunk[:])
		buf = append(buf, chunk[:n]...)
		if l, perr := nts.MessageLen(buf); perr != nil {
			return nil, perr
		} else if l > 0 {
			if l != len(buf) {
				return nil, nts.ErrTrailingData
			}
			return buf, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("NTS-KE message cut short after %d octets: %w", len(buf), io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("NTS-KE read: %w", err)
		}
	}
}
