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
		if sock.Wildcard || sock.castRx || sock.Action() != Listen {
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

// ListenCast opens the receive sockets of a broadcast or multicast client (classic
// `broadcastclient`, `multicastclient`): one bound to the broadcast address of every
// listening IPv4 interface that has one ("Listen for broadcasts to 198.18.0.255 on
// interface #3 eth0", as classic's socket_broadcast_bind), when broadcast is set, and
// one bound to each group of groups, which joins the group on every multicast-capable
// interface that is not loopback ("Listen normally on 6 multicast 224.0.1.1:123", as
// classic). A socket bound to a unicast address never sees broadcasts or group traffic,
// and the wildcard sockets drop what they receive. The sockets are read like the others
// (Serve, ServeBatch) and kept across rescans; nothing is sent from them. A group that
// cannot be joined is an error naming it; the sockets opened so far stay.
func (s *Set) ListenCast(broadcast bool, groups []netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ifaces []*Socket
	for _, sock := range s.sockets {
		if !sock.Wildcard && !sock.castRx && sock.Action() == Listen && sock.Flags&FlagLoopback == 0 {
			ifaces = append(ifaces, sock)
		}
	}
	if broadcast {
		seen := map[netip.Addr]bool{}
		for _, in := range ifaces {
			b := in.Broadcast
			if !b.IsValid() || seen[b] {
				continue
			}
			seen[b] = true
			fd, err := bindUDP(netip.AddrPortFrom(b, s.cfg.Port), in.ifIndex, bindOptions{reuseAddr: true, dscp: -1})
			if err != nil {
				return fmt.Errorf("netio: broadcast socket for %s on %s: %w", b, in.Name, err)
			}
			if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, devName(in.Name)); err != nil {
				unix.Close(fd)
				return fmt.Errorf("netio: SO_BINDTODEVICE %s for broadcasts to %s: %w", in.Name, b, err)
			}
			if err := s.addCast(fd, in.Name, netip.AddrPortFrom(b, s.cfg.Port), in.ifIndex); err != nil {
				return err
			}
			s.log.Info(fmt.Sprintf("Listen for broadcasts to %s on interface #%d %s", b, in.Index, in.Name))
		}
	}
	for _, g := range groups {
		g = g.Unmap()
		if !g.IsMulticast() {
			return fmt.Errorf("netio: multicastclient %s: not a multicast group", g)
		}
		fd, err := bindUDP(netip.AddrPortFrom(g, s.cfg.Port), 0, bindOptions{reuseAddr: true, dscp: -1})
		if err != nil {
			return fmt.Errorf("netio: socket for group %s: %w", g, err)
		}
		joined := 0
		for _, in := range ifaces {
			if in.Local.Addr().Is4() != g.Is4() || in.Flags&FlagMulticast == 0 {
				continue
			}
			var jerr error
			if g.Is4() {
				jerr = unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
					&unix.IPMreqn{Multiaddr: g.As4(), Ifindex: int32(in.ifIndex)})
			} else {
				jerr = unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP,
					&unix.IPv6Mreq{Multiaddr: g.As16(), Interface: uint32(in.ifIndex)})
			}
			if jerr == nil {
				joined++
			} else if jerr != unix.EADDRINUSE { // already joined through another address
				unix.Close(fd)
				return fmt.Errorf("netio: joining group %s on %s: %w", g, in.Name, jerr)
			}
		}
		if joined == 0 {
			unix.Close(fd)
			return fmt.Errorf("netio: multicastclient %s: no multicast-capable interface to join it on", g)
		}
		if err := s.addCast(fd, "multicast", netip.AddrPortFrom(g, s.cfg.Port), 0); err != nil {
			return err
		}
		s.log.Info(fmt.Sprintf("Listen normally on %d multicast %s", s.nextIndex-1, netip.AddrPortFrom(g, s.cfg.Port)))
	}
	return nil
}

// devName is the interface name of a socket's name, without an IPv4 label's ":1".
func devName(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == ':' {
			return name[:i]
		}
	}
	return name
}

// addCast adds a broadcast or group receive socket. Called with mu held.
func (s *Set) addCast(fd int, name string, local netip.AddrPort, ifIndex int) error {
	index := s.nextIndex
	s.nextIndex++
	sock, err := newSocket(fd, nil, index, name, local, ifIndex, FlagUp, false, Listen, s.cfg.Now)
	if err != nil {
		return fmt.Errorf("netio: %s: %w", local, err)
	}
	sock.castRx = true
	s.sockets = append(s.sockets, sock)
	switch {
	case s.handler != nil:
		s.startReader(sock)
	case s.batchHandler != nil:
		s.startBatchReader(sock)
	}
	return nil
}
