package netio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BatchSize is the most datagrams a batched receive loop takes with one recvmmsg call, and
// the most replies it sends with one sendmmsg call.
const BatchSize = 32

// MaxReply is the size of the reply buffer a ReplyHandler gets.
const MaxReply = 512

// ReplyHandler processes one received datagram, like Handler, and may write one reply to its
// source into reply, returning the reply's length (0: no reply) and a hook that is called
// with the reply and the current time immediately before it is sent (nil: none). p and
// p.Data are only valid during the call. The loop sends the replies of one batch with a
// single sendmmsg call, calling every hook with the same time just before it, so a hook's
// transmit timestamp precedes the reply's departure by at most the time the kernel takes to
// send the replies before it in the batch (microseconds). Other datagrams (mode-6 fragments,
// association traffic) can still be sent with p.Socket.SendTo.
type ReplyHandler func(p *Packet, reply []byte) (n int, hook TxHook)

// ServeBatch is Serve with batched system calls, the fast path of a busy server: each socket
// gets a receive loop that takes up to BatchSize datagrams per recvmmsg call (each with its
// kernel receive timestamp), hands them to h one by one, and sends the replies h writes with
// one sendmmsg call. Under light load a batch is one datagram, and the cost is that of
// ReadPacket and SendTo; under heavy load the system call cost is shared by the batch.
// Serve and ServeBatch are exclusive.
func (s *Set) ServeBatch(h ReplyHandler) error {
	if h == nil {
		return errors.New("netio: ServeBatch: nil handler")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("netio: ServeBatch: %w", net.ErrClosed)
	}
	if s.handler != nil || s.batchHandler != nil {
		return errors.New("netio: Serve or ServeBatch called twice")
	}
	s.batchHandler = h
	for _, sock := range s.sockets {
		s.startBatchReader(sock)
	}
	return nil
}

// startBatchReader runs with mu held.
func (s *Set) startBatchReader(sock *Socket) {
	h := s.batchHandler
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		b := newBatch(sock)
		for {
			if err := b.serve(h); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.log.Error(fmt.Sprintf("interface #%d %s: %v; no longer reading it", sock.Index, sock.Name, err))
				}
				return
			}
		}
	}()
}

// mmsghdr is the kernel's struct mmsghdr (linux/socket.h): a msghdr and the length of the
// datagram received or sent.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// batch holds one socket's receive and send buffers; only its loop goroutine uses it. The
// message headers point into the batch's own arrays, which the garbage collector never
// moves; it is allocated once per socket (about 90 KiB).
type batch struct {
	sock *Socket

	rx     [BatchSize]mmsghdr
	rxIov  [BatchSize]unix.Iovec
	rxName [BatchSize]unix.RawSockaddrInet6
	rxOOB  [BatchSize][oobSize]byte
	rxBuf  [BatchSize][MaxPacket]byte

	tx     [BatchSize]mmsghdr
	txIov  [BatchSize]unix.Iovec
	txName [BatchSize]unix.RawSockaddrInet6
	txBuf  [BatchSize][MaxReply]byte
	txHook [BatchSize]TxHook
	ntx    int

	// results of the last system call, set inside the RawConn callbacks
	got   int
	errno unix.Errno

	recvFn, sendFn func(fd uintptr) bool
	sendOff        int
	zones          map[uint32]string
	p              Packet
}

func newBatch(sock *Socket) *batch {
	b := &batch{sock: sock, zones: map[uint32]string{}}
	for i := range b.rx {
		b.rxIov[i].Base = &b.rxBuf[i][0]
		b.rxIov[i].SetLen(MaxPacket)
		b.rx[i].hdr.Iov = &b.rxIov[i]
		b.rx[i].hdr.SetIovlen(1)
		b.tx[i].hdr.Iov = &b.txIov[i]
		b.tx[i].hdr.SetIovlen(1)
		b.txIov[i].Base = &b.txBuf[i][0]
		b.tx[i].hdr.Name = (*byte)(unsafe.Pointer(&b.txName[i]))
	}
	b.recvFn = b.recv
	b.sendFn = b.send
	return b
}

// recv runs inside RawConn.Read: one non-blocking recvmmsg; false means "wait until
// readable" (the goroutine parks in the runtime's network poller).
func (b *batch) recv(fd uintptr) bool {
	for i := range b.rx {
		h := &b.rx[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&b.rxName[i]))
		h.Namelen = uint32(unsafe.Sizeof(b.rxName[i]))
		h.Control = &b.rxOOB[i][0]
		h.SetControllen(oobSize)
		h.Flags = 0
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rx[0])), BatchSize,
		unix.MSG_DONTWAIT, 0, 0)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false
	}
	b.got, b.errno = int(n), errno
	return true
}

// send runs inside RawConn.Write: stamp the unsent replies, then one sendmmsg.
func (b *batch) send(fd uintptr) bool {
	now := b.sock.now()
	for i := b.sendOff; i < b.ntx; i++ {
		if hk := b.txHook[i]; hk != nil {
			hk(b.txBuf[i][:b.txIov[i].Len], now)
		}
	}
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.tx[b.sendOff])),
		uintptr(b.ntx-b.sendOff), 0, 0, 0)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false // wait until writable, then stamp again
	}
	b.got, b.errno = int(n), errno
	return true
}

// serve receives one batch, hands each datagram to h and sends the replies.
func (b *batch) serve(h ReplyHandler) error {
	s := b.sock
	if err := s.raw.Read(b.recvFn); err != nil {
		return fmt.Errorf("receive on %s: %w", s.Local, err)
	}
	if b.errno != 0 {
		return fmt.Errorf("receive on %s: %w", s.Local, b.errno)
	}
	b.ntx = 0
	drop := s.Action() == Drop
	for i := 0; i < b.got; i++ {
		m := &b.rx[i]
		if drop {
			s.dropped.Add(1)
			continue
		}
		if m.hdr.Flags&unix.MSG_TRUNC != 0 {
			s.truncated.Add(1)
			continue
		}
		src, ok := b.source(i)
		if !ok {
			continue
		}
		rx, kernel := rxTimestamp(b.rxOOB[i][:m.hdr.Controllen])
		if !kernel {
			rx = s.now()
			s.fallbacks.Add(1)
		}
		s.received.Add(1)
		b.p = Packet{Data: b.rxBuf[i][:m.len], RxTime: rx, Kernel: kernel, Source: src, Socket: s}
		j := b.ntx
		n, hook := h(&b.p, b.txBuf[j][:])
		if n <= 0 || n > MaxReply {
			continue
		}
		b.txIov[j].SetLen(n)
		b.txName[j] = b.rxName[i]
		b.tx[j].hdr.Namelen = m.hdr.Namelen
		b.txHook[j] = hook
		b.ntx++
	}
	b.flush()
	return nil
}

// flush sends the batch's replies; a reply the kernel refuses is counted and skipped.
func (b *batch) flush() {
	s := b.sock
	for b.sendOff = 0; b.sendOff < b.ntx; {
		if err := s.raw.Write(b.sendFn); err != nil {
			s.sendErrors.Add(uint64(b.ntx - b.sendOff))
			break
		}
		if b.errno != 0 {
			s.sendErrors.Add(1)
			b.sendOff++
			continue
		}
		s.sent.Add(uint64(b.got))
		b.sendOff += b.got
	}
	clear(b.txHook[:b.ntx])
	b.ntx = 0
}

// source decodes the sender's address of message i.
func (b *batch) source(i int) (netip.AddrPort, bool) {
	raw := &b.rxName[i]
	switch raw.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), ntohs(sa.Port)), true
	case unix.AF_INET6:
		a := netip.AddrFrom16(raw.Addr).Unmap()
		if raw.Scope_id != 0 && a.Is6() {
			a = a.WithZone(b.zone(raw.Scope_id))
		}
		return netip.AddrPortFrom(a, ntohs(raw.Port)), true
	}
	return netip.AddrPort{}, false
}

// zone names an interface index the way the standard library's receive path does (the
// interface name, else the number), cached: link-local sources are few.
func (b *batch) zone(index uint32) string {
	if z, ok := b.zones[index]; ok {
		return z
	}
	z := strconv.FormatUint(uint64(index), 10)
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		z = ifi.Name
	}
	if len(b.zones) > 64 {
		clear(b.zones)
	}
	b.zones[index] = z
	return z
}

// ntohs reads a port stored in network byte order in a sockaddr.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
