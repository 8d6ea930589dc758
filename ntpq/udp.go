// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// UDPConn is a connected UDP socket to a server's port 123. Being connected, it sees only the
// server's replies, and an ICMP port unreachable surfaces as "connection refused" on read, as
// with classic ntpq.
type UDPConn struct{ c *net.UDPConn }

// Dial connects to host (name or address) on port 123. network is "udp", "udp4" or "udp6".
// It returns the connection and the numeric address it chose.
func Dial(network, host string) (*UDPConn, string, error) {
	ra, err := net.ResolveUDPAddr(network, net.JoinHostPort(host, "123"))
	if err != nil {
		return nil, "", err
	}
	c, err := net.DialUDP(network, nil, ra)
	if err != nil {
		return nil, "", err
	}
	return &UDPConn{c: c}, ra.IP.String(), nil
}

// Send writes one packet.
func (u *UDPConn) Send(pkt []byte) error {
	_, err := u.c.Write(pkt)
	return err
}

// Recv reads one packet, ErrTimeout after deadline.
func (u *UDPConn) Recv(buf []byte, deadline time.Time) (int, error) {
	if err := u.c.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := u.c.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, ErrTimeout
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return 0, &ReadError{Errno: errno}
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Close closes the socket.
func (u *UDPConn) Close() error { return u.c.Close() }

// ReadError is a socket error on receive, typically ECONNREFUSED from an ICMP port
// unreachable when no daemon listens; ntpq reports it as classic does ("read: Connection
// refused").
type ReadError struct{ Errno syscall.Errno }

func (e *ReadError) Error() string {
	s := e.Errno.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return "read: " + s
}
