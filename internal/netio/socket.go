// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxPacket is the receive buffer size the Serve loop uses. It holds the largest NTP packet
// classic handles (header, extension fields and a MAC; its RX_BUFF_SIZE is 1000 octets) with
// room to spare; longer datagrams are counted as truncated and dropped.
const MaxPacket = 2048

// RecvBuffer is the receive buffer size asked for on every socket (SO_RCVBUF).
const RecvBuffer = 1 << 20

// oobSize holds one SCM_TIMESTAMPNS control message (16 + 16 octets on 64-bit Linux) and
// leaves room should the kernel add another.
const oobSize = 128

// ErrFamily is returned when a destination's address family does not match the socket's.
var ErrFamily = errors.New("destination address family differs from the socket's")

// Packet is one received datagram. Data aliases the caller's buffer and is valid until the
// next read into that buffer.
type Packet struct {
	Data   []byte
	RxTime time.Time // kernel receive time (SO_TIMESTAMPNS), else the time read after recvmsg
	Kernel bool      // RxTime came from the kernel
	Source netip.AddrPort
	Socket *Socket // the local socket it arrived on; reply through it
	// WantTxTime is set by a ReplyHandler whose reply's real transmit time it wants to
	// learn (Set.OnTxTime; the interleaved mode, replystamp.go).
	WantTxTime bool
}

// TxHook is called with the outgoing datagram and the current time immediately before the
// sendto system call, so that the transmit timestamp (and a MAC covering it) is as late as
// possible (RFC 5905 section 8: T3 should be taken as close to the wire as possible). It must
// not retain b.
type TxHook func(b []byte, now time.Time)

// Socket is one bound UDP socket: a local address, or a wildcard address.
// Index, Name, Local, Flags and Wildcard never change after opening.
//
// The sockets are plain descriptors, not the standard library's connections: those are
// registered with the runtime's network poller, which then wakes up for every datagram
// received and every reply sent, even when the receive loop reads the socket itself (a
// measured third of the CPU time per reply under load). Blocking waits (ReadPacket, a full
// send buffer, the batched loops) use ppoll on the socket and on an eventfd that Close
// signals.
type Socket struct {
	Index    int            // classic's interface number (ntpq ifstats "#")
	Name     string         // interface name or label; "v4wildcard"/"v6wildcard"
	Local    netip.AddrPort // bound address and port
	Flags    uint32         // Flag* bits
	Wildcard bool
	// Broadcast is the IPv4 broadcast address of the socket's interface (Address.Broadcast).
	Broadcast netip.Addr
	ifIndex   int // interface index, 0 for wildcards
	castMu    sync.Mutex
	castOpts  castState // the broadcast/multicast send options set so far (cast.go)
	// castRx marks a socket bound to a broadcast address or a multicast group
	// (ListenCast): it only receives, and rescans keep it.
	castRx bool

	action atomic.Int32 // Listen or Drop
	opened time.Time
	now    func() time.Time

	// fdMu is held for reading around every use of fd and members, for writing by Close,
	// so that a descriptor number is never used after it was closed (and perhaps reused).
	fdMu sync.RWMutex
	fd   int // -1 once closed
	// members are the other sockets of fd's SO_REUSEPORT group (Config.ReceiveLoops),
	// bound to the same address; each is read by a goroutine or loop of its own. Replies
	// and other sends go out through fd or through the member that received the request:
	// all have the same local address.
	members []int

	loopMu    sync.Mutex // guards the fields below
	stopFd    int        // eventfd, readable once Close was called; -1 once closed
	loops     int        // batched receive loops running (each owns a duplicate descriptor)
	closing   bool
	fdsClosed bool

	received, sent, sendErrors, dropped, truncated, fallbacks atomic.Uint64

	readMu sync.Mutex // one reader at a time owns rd and oob
	rd     reader
	oob    []byte

	sendMu   sync.Mutex // guards the fields below, used by SendTo and SendToStamped
	sa4      unix.SockaddrInet4
	sa6      unix.SockaddrInet6
	txStamps uint8  // SO_TIMESTAMPING: 0 not tried, 1 on, 2 unavailable
	txKey    uint32 // the kernel's counter (SOF_TIMESTAMPING_OPT_ID) for the next stamped send
}

// SocketStats are one socket's counters (ntpq ifstats, and classic's "Deleting interface" line).
type SocketStats struct {
	Received           uint64 // datagrams handed on
	Sent               uint64
	SendErrors         uint64
	Dropped            uint64 // datagrams discarded because the address is "drop"
	Truncated          uint64 // datagrams longer than the receive buffer, discarded
	TimestampFallbacks uint64 // datagrams without a kernel timestamp
	Opened             time.Time
}

// Stats returns a snapshot of the socket's counters.
func (s *Socket) Stats() SocketStats {
	return SocketStats{
		Received:           s.received.Load(),
		Sent:               s.sent.Load(),
		SendErrors:         s.sendErrors.Load(),
		Dropped:            s.dropped.Load(),
		Truncated:          s.truncated.Load(),
		TimestampFallbacks: s.fallbacks.Load(),
		Opened:             s.opened,
	}
}

// Action returns whether the socket's datagrams are processed (Listen) or discarded (Drop).
func (s *Socket) Action() Action { return Action(s.action.Load()) }

// String names the socket like classic's log lines: "2 lo 127.0.0.1:123".
func (s *Socket) String() string {
	return strconv.Itoa(s.Index) + " " + s.Name + " " + s.Local.String()
}

// ReadPacket blocks until a datagram to process arrives and fills p. Datagrams on a "drop"
// socket and truncated ones are counted and skipped. It does not allocate. Only one goroutine
// at a time may read a socket (others wait). It reads only the first socket of a
// SO_REUSEPORT group (Config.ReceiveLoops above 1), which gets only some of the datagrams:
// Serve and ServeBatch read them all. After Close it returns an error wrapping
// net.ErrClosed.
func (s *Socket) ReadPacket(p *Packet, buf []byte) error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	return s.read(0, &s.rd, s.oob, p, buf)
}

// reader is the message header of single-datagram reads, kept off the stack (the kernel
// writes through its pointers) and reused.
type reader struct {
	hdr   unix.Msghdr
	iov   unix.Iovec
	name  unix.RawSockaddrInet6
	zones map[uint32]string
}

// receivers is the number of sockets that receive the datagrams sent to the socket's
// address: 1 + the other members of its group.
func (s *Socket) receivers() int {
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	return 1 + len(s.members)
}

// read is ReadPacket on receive socket i (0: fd, else members[i-1]) with r and oob.
func (s *Socket) read(i int, r *reader, oob []byte, p *Packet, buf []byte) error {
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	if s.fd < 0 {
		return fmt.Errorf("receive on %s: %w", s.Local, net.ErrClosed)
	}
	fd := s.fd
	if i > 0 {
		fd = s.members[i-1]
	}
	for {
		r.iov.Base = &buf[0]
		r.iov.SetLen(len(buf))
		r.hdr.Iov = &r.iov
		r.hdr.SetIovlen(1)
		r.hdr.Name = (*byte)(unsafe.Pointer(&r.name))
		r.hdr.Namelen = uint32(unsafe.Sizeof(r.name))
		r.hdr.Control = &oob[0]
		r.hdr.SetControllen(len(oob))
		r.hdr.Flags = 0
		n, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.hdr)), unix.MSG_DONTWAIT)
		switch errno {
		case 0:
		case unix.EAGAIN, unix.EINTR:
			stop, err := s.wait(fd, unix.POLLIN)
			if err != nil {
				return fmt.Errorf("receive on %s: %w", s.Local, err)
			}
			if stop {
				return fmt.Errorf("receive on %s: %w", s.Local, net.ErrClosed)
			}
			continue
		default:
			return fmt.Errorf("receive on %s: %w", s.Local, errno)
		}
		if s.Action() == Drop {
			s.dropped.Add(1)
			continue
		}
		if r.hdr.Flags&unix.MSG_TRUNC != 0 {
			s.truncated.Add(1)
			continue
		}
		src, ok := source(&r.name, &r.zones)
		if !ok {
			continue
		}
		rx, kernel := rxTimestamp(oob[:r.hdr.Controllen])
		if !kernel {
			rx = s.now()
			s.fallbacks.Add(1)
		}
		s.received.Add(1)
		p.Data = buf[:n]
		p.RxTime = rx
		p.Kernel = kernel
		p.Source = src
		p.Socket = s
		return nil
	}
}

// wait blocks until fd has the events or Close was called (true). The caller holds fdMu
// for reading, so the eventfd is open.
func (s *Socket) wait(fd int, events int16) (stop bool, err error) {
	pfd := [2]unix.PollFd{{Fd: int32(fd), Events: events}, {Fd: int32(s.stopFd), Events: unix.POLLIN}}
	stop, err = ppoll(&pfd)
	if pfd[0].Revents&unix.POLLERR != 0 {
		// A transmit timestamp SendToStamped no longer waits for (txstamp.go): left on
		// the error queue it would wake every ppoll at once.
		s.drainTxStamps(fd)
	}
	return stop, err
}

// ppoll waits for the first descriptor's events or for the second (an eventfd) to become
// readable (true). It goes through the runtime's blocking system call entry, so other
// goroutines run on other threads meanwhile.
func ppoll(pfd *[2]unix.PollFd) (stop bool, err error) {
	for {
		pfd[0].Revents, pfd[1].Revents = 0, 0
		_, _, errno := unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd[0])), 2, 0, 0, 0, 0)
		switch errno {
		case 0:
			return pfd[1].Revents != 0, nil
		case unix.EINTR, unix.EAGAIN:
			continue
		default:
			return false, fmt.Errorf("ppoll: %w", errno)
		}
	}
}

// source decodes a sender's address; zones caches the names of IPv6 scopes.
func source(raw *unix.RawSockaddrInet6, zones *map[uint32]string) (netip.AddrPort, bool) {
	switch raw.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), ntohs(sa.Port)), true
	case unix.AF_INET6:
		a := netip.AddrFrom16(raw.Addr).Unmap()
		if raw.Scope_id != 0 && a.Is6() {
			a = a.WithZone(zoneName(raw.Scope_id, zones))
		}
		return netip.AddrPortFrom(a, ntohs(raw.Port)), true
	}
	return netip.AddrPort{}, false
}

// zoneName names an interface index the way the standard library's receive path does (the
// interface name, else the number), cached: link-local sources are few.
func zoneName(index uint32, zones *map[uint32]string) string {
	if z, ok := (*zones)[index]; ok {
		return z
	}
	z := strconv.FormatUint(uint64(index), 10)
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		z = ifi.Name
	}
	if *zones == nil || len(*zones) > 64 {
		*zones = map[uint32]string{}
	}
	(*zones)[index] = z
	return z
}

// ntohs reads a port stored in network byte order in a sockaddr.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

const ptrSize = int(unsafe.Sizeof(uintptr(0)))

func cmsgAlign(n int) int { return (n + ptrSize - 1) &^ (ptrSize - 1) }

// rxTimestamp finds SCM_TIMESTAMPNS in the control data. It walks the cmsg headers itself
// because unix.ParseSocketControlMessage allocates a slice per datagram.
func rxTimestamp(oob []byte) (time.Time, bool) {
	hdr := cmsgAlign(unix.SizeofCmsghdr)
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return time.Time{}, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && l >= hdr+int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[hdr]))
			return time.Unix(int64(ts.Sec), int64(ts.Nsec)), true
		}
		next := cmsgAlign(l)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return time.Time{}, false
}

// SendTo sends b to dst from this socket's local address. If hook is not nil it is called
// with b and the time source's current time immediately before the system call (and again
// should the socket buffer be full and the send be retried). It does not allocate when dst
// is not link-local or its zone is numeric or this socket is link-local.
func (s *Socket) SendTo(b []byte, dst netip.AddrPort, hook TxHook) error {
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	if s.fd < 0 {
		s.sendErrors.Add(1)
		return fmt.Errorf("send from %s to %s: %w", s.Local, dst, net.ErrClosed)
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	to, err := s.dest(dst)
	if err != nil {
		s.sendErrors.Add(1)
		return err
	}
	for {
		// Stamp, then sendto, nothing in between.
		if hook != nil {
			hook(b, s.now())
		}
		err := unix.Sendto(s.fd, b, unix.MSG_DONTWAIT, to)
		if err == unix.EAGAIN || err == unix.EINTR {
			// The send buffer is full: wait until writable, then stamp again.
			stop, werr := s.wait(s.fd, unix.POLLOUT)
			if werr == nil && !stop {
				continue
			}
			err = werr
			if stop {
				err = net.ErrClosed
			}
		}
		if err != nil {
			s.sendErrors.Add(1)
			return fmt.Errorf("send from %s to %s: %w", s.Local, dst, err)
		}
		s.sent.Add(1)
		return nil
	}
}

// dest is dst as a socket address for this socket. The caller holds sendMu (the
// addresses are the socket's own, reused).
func (s *Socket) dest(dst netip.AddrPort) (unix.Sockaddr, error) {
	a := dst.Addr().Unmap()
	if s.Local.Addr().Is4() {
		if !a.Is4() {
			return nil, fmt.Errorf("send from %s to %s: %w", s.Local, dst, ErrFamily)
		}
		s.sa4.Addr = a.As4()
		s.sa4.Port = int(dst.Port())
		return &s.sa4, nil
	}
	if !a.Is6() {
		return nil, fmt.Errorf("send from %s to %s: %w", s.Local, dst, ErrFamily)
	}
	s.sa6.Addr = a.As16()
	s.sa6.Port = int(dst.Port())
	s.sa6.ZoneId = 0
	if a.IsMulticast() && s.ifIndex != 0 {
		// A group (CastSockets): out through this socket's own interface.
		s.sa6.ZoneId = uint32(s.ifIndex)
	} else if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
		z, err := s.zoneIndex(a.Zone())
		if err != nil {
			return nil, fmt.Errorf("send from %s to %s: %w", s.Local, dst, err)
		}
		s.sa6.ZoneId = uint32(z)
	}
	return &s.sa6, nil
}

// zoneIndex turns a destination zone into an interface index. Replies to link-local
// sources from a link-local socket go out on that socket's own interface.
func (s *Socket) zoneIndex(zone string) (int, error) {
	if s.ifIndex != 0 && s.Local.Addr().IsLinkLocalUnicast() {
		return s.ifIndex, nil
	}
	if zone == "" {
		return 0, errors.New("link-local destination without zone")
	}
	if n, err := strconv.Atoi(zone); err == nil {
		return n, nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return ifi.Index, nil
}

// Close closes the socket and the other members of its group; a blocked ReadPacket returns
// an error wrapping net.ErrClosed, and the batched receive loops end (Set.Close waits for
// them). Closing a closed socket returns an error wrapping net.ErrClosed.
func (s *Socket) Close() error {
	s.signalStop()
	s.fdMu.Lock()
	if s.fd < 0 {
		s.fdMu.Unlock()
		return fmt.Errorf("close %s: %w", s.Local, net.ErrClosed)
	}
	var errs []error
	for _, fd := range append(s.members, s.fd) {
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", s.Local, err))
		}
	}
	s.fd, s.members = -1, nil
	s.fdMu.Unlock()
	s.loopMu.Lock()
	s.fdsClosed = true
	if s.loops == 0 && s.stopFd >= 0 {
		unix.Close(s.stopFd)
		s.stopFd = -1
	}
	s.loopMu.Unlock()
	return errors.Join(errs...)
}

// signalStop makes the eventfd readable, for good: every loop or reader polling it wakes
// up, now or at its next wait.
func (s *Socket) signalStop() {
	s.loopMu.Lock()
	defer s.loopMu.Unlock()
	s.closing = true
	if s.stopFd >= 0 {
		var one [8]byte
		one[0], one[7] = 1, 1 // nonzero in either byte order
		_, _ = unix.Write(s.stopFd, one[:])
	}
}

// bindOptions are the socket options set before bind.
type bindOptions struct {
	reuseAddr bool
	// reusePort puts the socket in a SO_REUSEPORT group with the other sockets bound to the
	// same address with it. The kernel spreads the datagrams over the group by a hash of
	// their addresses and ports, so each member's receive loop (and CPU) gets a share.
	//
	// Joining a group is a security matter: a process in our group would receive part of
	// our clients' requests. Linux lets a socket join only if it also sets SO_REUSEPORT and
	// belongs to the same effective user ID as the group's sockets (the user that created
	// them), and port 123 needs CAP_NET_BIND_SERVICE besides. The daemon opens its sockets
	// as root before it drops its privileges, so only another root process could join,
	// and root can read our traffic anyway; after the drop the daemon itself (another user)
	// could not join them. Sockets a later interface rescan opens belong to the daemon's
	// user, and joining them needs that user and the capability: the daemon itself. The
	// wildcard sockets never use SO_REUSEPORT, so a second daemon still fails to bind them
	// (Open), as with classic.
	reusePort bool
	dscp      int // -1: leave the default
}

// bindUDP opens a non-blocking UDP socket bound to ap (ifIndex: the interface of a
// link-local address) with SO_TIMESTAMPNS on, IPV6_V6ONLY on IPv6 sockets (so :: does not
// also take IPv4, as classic), and the DSCP in the TOS/traffic class (classic's `dscp`,
// default 46 = EF).
func bindUDP(ap netip.AddrPort, ifIndex int, o bindOptions) (int, error) {
	a := ap.Addr().Unmap()
	family := unix.AF_INET
	if a.Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, fmt.Errorf("socket for %s: %w", ap, err)
	}
	var serr error
	set := func(level, opt, v int, what string) {
		if serr == nil {
			if e := unix.SetsockoptInt(fd, level, opt, v); e != nil {
				serr = fmt.Errorf("setsockopt %s: %w", what, e)
			}
		}
	}
	if o.reuseAddr {
		set(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR")
	}
	if o.reusePort {
		set(unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT")
	}
	set(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS")
	// A deeper receive queue than the kernel's default (about 200 KiB, a few hundred
	// requests) rides out scheduling pauses under heavy load instead of dropping requests.
	// Best effort: SO_RCVBUFFORCE needs CAP_NET_ADMIN, SO_RCVBUF is capped by
	// net.core.rmem_max.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, RecvBuffer) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, RecvBuffer)
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET6 {
		set(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1, "IPV6_V6ONLY")
		if o.dscp >= 0 {
			set(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, o.dscp<<2, "IPV6_TCLASS")
		}
		sa6 := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
		if a.Zone() != "" || a.IsLinkLocalUnicast() {
			sa6.ZoneId = uint32(ifIndex)
			if sa6.ZoneId == 0 && a.Zone() != "" {
				if n, err := strconv.Atoi(a.Zone()); err == nil {
					sa6.ZoneId = uint32(n)
				} else if ifi, err := net.InterfaceByName(a.Zone()); err == nil {
					sa6.ZoneId = uint32(ifi.Index)
				}
			}
		}
		sa = sa6
	} else {
		if o.dscp >= 0 {
			set(unix.IPPROTO_IP, unix.IP_TOS, o.dscp<<2, "IP_TOS")
		}
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	if serr == nil {
		if err := unix.Bind(fd, sa); err != nil {
			serr = fmt.Errorf("bind %s: %w", ap, err)
		}
	}
	if serr != nil {
		unix.Close(fd)
		return -1, serr
	}
	return fd, nil
}

// setReuseAddr turns SO_REUSEADDR on after bind. The wildcard sockets bind without it so that
// the bind fails if anything at all holds the port (another NTP daemon), then allow the
// per-address sockets to bind beside them.
func setReuseAddr(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
}

// newSocket takes over fd and members (closing them if it fails).
func newSocket(fd int, members []int, index int, name string, local netip.AddrPort, ifIndex int, flags uint32, wildcard bool, act Action, now func() time.Time) (*Socket, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		for _, m := range append(members, fd) {
			unix.Close(m)
		}
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	s := &Socket{
		Index: index, Name: name, Local: local, Flags: flags, Wildcard: wildcard,
		ifIndex: ifIndex, opened: now(), now: now, fd: fd, members: members, stopFd: efd,
		oob: make([]byte, oobSize),
	}
	s.action.Store(int32(act))
	return s, nil
}

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
