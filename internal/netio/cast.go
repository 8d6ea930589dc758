// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// castState records the broadcast and multicast send options already set on a socket, so
// that each poll of a `broadcast` association costs no system call beyond the send.
type castState struct {
	broadcast bool // SO_BROADCAST on
	mcastIf   bool // IP_MULTICAST_IF / IPV6_MULTICAST_IF set to the socket's interface, loop off
	ttl       int  // IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS set; 0: the kernel's default (1)
}

// IsBroadcast reports whether dst is the IPv4 broadcast address of one of the open sockets'
// interfaces (a `broadcast` line names it) or the limited broadcast 255.255.255.255.
func (s *Set) IsBroadcast(dst netip.Addr) bool {
	dst = dst.Unmap()
	if !dst.Is4() {
		return false
	}
	if dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sock := range s.sockets {
		if sock.Broadcast == dst {
			return true
		}
	}
	return false
}

// CastSockets returns the sockets a packet for the broadcast or multicast address dst
// leaves from, with the send options it needs set on each, as classic's broadcast
// association (ntp_io.c findbcastinter, socket_broadcast_enable, enable_multicast_if,
// sendpkt):
//
//   - an IPv4 broadcast address: the sockets of the interfaces whose broadcast address it
//     is, with SO_BROADCAST (without it the kernel refuses the send with EACCES);
//   - a multicast group: one socket per multicast-capable interface that is not loopback
//     (its first address of dst's family), with the outgoing interface set to it, loopback
//     of our own packets off (the daemon would hear itself), and ttl as the
//     IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS when positive (0 leaves the kernel's 1: the
//     group stays on the link, classic's default too).
//
// Only sockets that listen (not "drop", not wildcards) are used.
func (s *Set) CastSockets(dst netip.Addr, ttl int) ([]*Socket, error) {
	dst = dst.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Socket
	seen := map[int]bool{}
	for _, sock := range s.sockets {
		if sock.Wildcard || sock.Action() != Listen {
			continue
		}
		la := sock.Local.Addr()
		switch {
		case dst.IsMulticast():
			if la.Is4() != dst.Is4() || sock.Flags&FlagMulticast == 0 || sock.Flags&FlagLoopback != 0 || seen[sock.ifIndex] {
				continue
			}
			if err := sock.enableMulticast(ttl); err != nil {
				return nil, err
			}
			seen[sock.ifIndex] = true
		case dst.Is4() && (sock.Broadcast == dst || (dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) && sock.Flags&FlagBroadcast != 0)):
			if err := sock.enableBroadcast(); err != nil {
				return nil, err
			}
		default:
			continue
		}
		out = append(out, sock)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("netio: no interface to send to %s from (not the broadcast address of a listening interface, nor a group of a multicast one)", dst)
	}
	return out, nil
}

// enableBroadcast sets SO_BROADCAST once.
func (s *Socket) enableBroadcast() error {
	s.castMu.Lock()
	defer s.castMu.Unlock()
	if s.castOpts.broadcast {
		return nil
	}
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	if s.fd < 0 {
		return fmt.Errorf("netio: SO_BROADCAST on %s: socket closed", s.Local)
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
		return fmt.Errorf("netio: SO_BROADCAST on %s: %w", s.Local, err)
	}
	s.castOpts.broadcast = true
	return nil
}

// enableMulticast points the socket's multicast sends at its own interface, turns their
// loopback off and sets the TTL (hop limit) when ttl > 0.
func (s *Socket) enableMulticast(ttl int) error {
	s.castMu.Lock()
	defer s.castMu.Unlock()
	if s.castOpts.mcastIf && (ttl <= 0 || s.castOpts.ttl == ttl) {
		return nil
	}
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	if s.fd < 0 {
		return fmt.Errorf("netio: multicast options on %s: socket closed", s.Local)
	}
	wrap := func(what string, err error) error {
		return fmt.Errorf("netio: %s on %s: %w", what, s.Local, err)
	}
	if s.Local.Addr().Is4() {
		if !s.castOpts.mcastIf {
			mreq := &unix.IPMreqn{Address: s.Local.Addr().As4(), Ifindex: int32(s.ifIndex)}
			if err := unix.SetsockoptIPMreqn(s.fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, mreq); err != nil {
				return wrap("IP_MULTICAST_IF", err)
			}
			if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0); err != nil {
				return wrap("IP_MULTICAST_LOOP", err)
			}
		}
		if ttl > 0 {
			if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl); err != nil {
				return wrap("IP_MULTICAST_TTL", err)
			}
		}
	} else {
		if !s.castOpts.mcastIf {
			if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, s.ifIndex); err != nil {
				return wrap("IPV6_MULTICAST_IF", err)
			}
			if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0); err != nil {
				return wrap("IPV6_MULTICAST_LOOP", err)
			}
		}
		if ttl > 0 {
			if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, ttl); err != nil {
				return wrap("IPV6_MULTICAST_HOPS", err)
			}
		}
	}
	s.castOpts.mcastIf = true
	if ttl > 0 {
		s.castOpts.ttl = ttl
	}
	return nil
}
