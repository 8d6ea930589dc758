package netio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
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
}

// TxHook is called with the outgoing datagram and the current time immediately before the
// sendto system call, so that the transmit timestamp (and a MAC covering it) is as late as
// possible (RFC 5905 section 8: T3 should be taken as close to the wire as possible). It must
// not retain b.
type TxHook func(b []byte, now time.Time)

// Socket is one bound UDP socket: a local address, or a wildcard address.
// Index, Name, Local, Flags and Wildcard never change after opening.
type Socket struct {
	Index    int            // classic's interface number (ntpq ifstats "#")
	Name     string         // interface name or label; "v4wildcard"/"v6wildcard"
	Local    netip.AddrPort // bound address and port
	Flags    uint32         // Flag* bits
	Wildcard bool
	ifIndex  int // interface index, 0 for wildcards

	action atomic.Int32 // Listen or Drop
	opened time.Time
	now    func() time.Time

	conn *net.UDPConn
	raw  syscall.RawConn

	received, sent, sendErrors, dropped, truncated, fallbacks atomic.Uint64

	readMu sync.Mutex // one reader at a time owns oob
	oob    []byte

	sendMu  sync.Mutex // guards the fields below, used by sendOnce
	sendFn  func(fd uintptr) bool
	sBuf    []byte
	sHook   TxHook
	sTo     unix.Sockaddr
	sa4     unix.SockaddrInet4
	sa6     unix.SockaddrInet6
	sendErr error
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
// at a time may read a socket (others wait).
func (s *Socket) ReadPacket(p *Packet, buf []byte) error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for {
		n, oobn, flags, src, err := s.conn.ReadMsgUDPAddrPort(buf, s.oob)
		if err != nil {
			return fmt.Errorf("receive on %s: %w", s.Local, err)
		}
		if s.Action() == Drop {
			s.dropped.Add(1)
			continue
		}
		if flags&unix.MSG_TRUNC != 0 {
			s.truncated.Add(1)
			continue
		}
		rx, ok := rxTimestamp(s.oob[:oobn])
		if !ok {
			rx = s.now()
			s.fallbacks.Add(1)
		}
		s.received.Add(1)
		p.Data = buf[:n]
		p.RxTime = rx
		p.Kernel = ok
		p.Source = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		p.Socket = s
		return nil
	}
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
	a := dst.Addr().Unmap()
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.Local.Addr().Is4() {
		if !a.Is4() {
			s.sendErrors.Add(1)
			return fmt.Errorf("send from %s to %s: %w", s.Local, dst, ErrFamily)
		}
		s.sa4.Addr = a.As4()
		s.sa4.Port = int(dst.Port())
		s.sTo = &s.sa4
	} else {
		if !a.Is6() {
			s.sendErrors.Add(1)
			return fmt.Errorf("send from %s to %s: %w", s.Local, dst, ErrFamily)
		}
		s.sa6.Addr = a.As16()
		s.sa6.Port = int(dst.Port())
		s.sa6.ZoneId = 0
		if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
			z, err := s.zoneIndex(a.Zone())
			if err != nil {
				s.sendErrors.Add(1)
				return fmt.Errorf("send from %s to %s: %w", s.Local, dst, err)
			}
			s.sa6.ZoneId = uint32(z)
		}
		s.sTo = &s.sa6
	}
	s.sBuf, s.sHook, s.sendErr = b, hook, nil
	err := s.raw.Write(s.sendFn)
	if err == nil {
		err = s.sendErr
	}
	s.sBuf, s.sHook = nil, nil
	if err != nil {
		s.sendErrors.Add(1)
		return fmt.Errorf("send from %s to %s: %w", s.Local, dst, err)
	}
	s.sent.Add(1)
	return nil
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

// sendOnce runs inside RawConn.Write: stamp, then sendto, nothing in between.
func (s *Socket) sendOnce(fd uintptr) bool {
	if s.sHook != nil {
		s.sHook(s.sBuf, s.now())
	}
	err := unix.Sendto(int(fd), s.sBuf, 0, s.sTo)
	if err == unix.EAGAIN {
		return false // wait until writable, then stamp again
	}
	s.sendErr = err
	return true
}

// Close closes the socket; a blocked ReadPacket or batched receive loop returns an error
// wrapping net.ErrClosed.
func (s *Socket) Close() error { return s.conn.Close() }

// bindOptions are the socket options set before bind.
type bindOptions struct {
	reuseAddr bool
	dscp      int // -1: leave the default
}

// bindUDP opens a UDP socket bound to ap with SO_TIMESTAMPNS on, IPV6_V6ONLY on IPv6
// sockets (so :: does not also take IPv4, as classic), and the DSCP in the TOS/traffic class
// (classic's `dscp`, default 46 = EF).
func bindUDP(ap netip.AddrPort, o bindOptions) (*net.UDPConn, error) {
	network := "udp4"
	if ap.Addr().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			set := func(level, opt, v int, what string) {
				if serr == nil {
					if e := unix.SetsockoptInt(int(fd), level, opt, v); e != nil {
						serr = fmt.Errorf("setsockopt %s: %w", what, e)
					}
				}
			}
			if o.reuseAddr {
				set(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR")
			}
			set(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS")
			// A deeper receive queue than the kernel's default (about 200 KiB, a few
			// hundred requests) rides out scheduling pauses under heavy load instead of
			// dropping requests. Best effort: SO_RCVBUFFORCE needs CAP_NET_ADMIN, SO_RCVBUF
			// is capped by net.core.rmem_max.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, RecvBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, RecvBuffer)
			}
			if network == "udp6" {
				set(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1, "IPV6_V6ONLY")
				if o.dscp >= 0 {
					set(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, o.dscp<<2, "IPV6_TCLASS")
				}
			} else if o.dscp >= 0 {
				set(unix.IPPROTO_IP, unix.IP_TOS, o.dscp<<2, "IP_TOS")
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, ap.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// setReuseAddr turns SO_REUSEADDR on after bind. The wildcard sockets bind without it so that
// the bind fails if anything at all holds the port (another NTP daemon), then allow the
// per-address sockets to bind beside them.
func setReuseAddr(c *net.UDPConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}

func newSocket(c *net.UDPConn, index int, name string, local netip.AddrPort, ifIndex int, flags uint32, wildcard bool, act Action, now func() time.Time) (*Socket, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &Socket{
		Index: index, Name: name, Local: local, Flags: flags, Wildcard: wildcard,
		ifIndex: ifIndex, opened: now(), now: now, conn: c, raw: raw,
		oob: make([]byte, oobSize),
	}
	s.action.Store(int32(act))
	s.sendFn = s.sendOnce
	return s, nil
}

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
