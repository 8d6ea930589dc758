// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BatchSize is the most datagrams a batched receive loop takes with one recvmmsg call, and
// the most replies it sends with one sendmmsg call.
const BatchSize = 32

// MaxReply is the size of the reply buffer a ReplyHandler gets: room for an NTS reply
// (RFC 8915) carrying several new cookies, within the IPv6 minimum MTU.
const MaxReply = 1232

// ReplyHandler processes one received datagram, like Handler, and may write one reply to its
// source into reply, returning the reply's length (0: no reply) and a hook that is called
// with the reply and the current time immediately before it is sent (nil: none). p and
// p.Data are only valid during the call. The loop sends the replies of one batch with a
// single sendmmsg call, calling every hook with the same time just before it, so a hook's
// transmit timestamp precedes the reply's departure by at most the time the kernel takes to
// send the replies before it in the batch (microseconds). Other datagrams (mode-6 fragments,
// association traffic) can still be sent with p.Socket.SendTo. Several receive loops call
// the handler at the same time (one per member of a socket's group, see
// Config.ReceiveLoops), so it must be safe for concurrent use.
type ReplyHandler func(p *Packet, reply []byte) (n int, hook TxHook)

// ServeBatch is Serve with batched system calls, the fast path of a busy server. Each
// receive socket (every member of a socket's SO_REUSEPORT group) gets a receive loop of its
// own that takes up to BatchSize datagrams per recvmmsg call (each with its kernel receive
// timestamp), hands them to h one by one, and sends the replies h writes with one sendmmsg
// call. Under light load a batch is one datagram; under heavy load the system call cost is
// shared by the batch.
//
// The loops do not use the runtime's network poller. Going through it costs, for every
// batch that empties the queue, an epoll wait, a futex wake-up of the parked goroutine and
// usually a wake-up of the runtime's monitor thread: measured on a 2-core machine it was a
// third of the server's CPU time per reply. A loop instead asks for datagrams without
// waiting and, only when there are none, blocks its thread in ppoll on the socket and on an
// eventfd that Socket.Close signals, which is how Close stops it. Each loop owns a
// duplicate of its socket's descriptor, closed when the loop ends, so the descriptor number
// cannot be reused under a loop that is still running.
//
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

// startBatchReader starts one loop per receive socket of sock. It runs with mu held.
func (s *Set) startBatchReader(sock *Socket) {
	h := s.batchHandler
	n := sock.receivers()
	for i := range n {
		b, err := sock.newLoop(i)
		if err != nil {
			s.log.Error(fmt.Sprintf("interface #%d %s: %v; not reading one of its sockets", sock.Index, sock.Name, err))
			continue
		}
		b.txTime = s.txTime
		if i == 0 && n > 1 {
			if err := concentrate(b.fd); err != nil {
				s.log.Info(fmt.Sprintf("interface #%d %s: no reuseport BPF in this kernel (%v): %d receive loops share its datagrams always",
					sock.Index, sock.Name, err, n))
			} else {
				b.steer = newSteering(b.fd)
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer b.release()
			if err := b.run(h); err != nil {
				s.log.Error(fmt.Sprintf("interface #%d %s: %v; no longer reading it", sock.Index, sock.Name, err))
			}
		}()
	}
}

// newLoop prepares a receive loop on receive socket i (0: fd, else members[i-1]).
func (s *Socket) newLoop(i int) (*batch, error) {
	s.fdMu.RLock()
	if s.fd < 0 {
		s.fdMu.RUnlock()
		return nil, net.ErrClosed
	}
	fd := s.fd
	if i > 0 {
		fd = s.members[i-1]
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	s.fdMu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("duplicating the socket: %w", err)
	}
	s.loopMu.Lock()
	defer s.loopMu.Unlock()
	if s.closing {
		unix.Close(dup)
		return nil, net.ErrClosed
	}
	s.loops++
	b := newBatch(s, dup, s.stopFd)
	if i == 0 {
		// The same kernel socket as SendToStamped's: share its counter.
		b.txc = txCounter{mu: &s.sendMu, stamps: &s.txStamps, key: &s.txKey}
	}
	return b, nil
}

// release closes the loop's descriptor, and the socket's eventfd after its last loop once
// the socket is closed.
func (b *batch) release() {
	s := b.sock
	unix.Close(b.fd)
	s.loopMu.Lock()
	s.loops--
	if s.loops == 0 && s.fdsClosed && s.stopFd >= 0 {
		unix.Close(s.stopFd)
		s.stopFd = -1
	}
	s.loopMu.Unlock()
}

// mmsghdr is the kernel's struct mmsghdr (linux/socket.h): a msghdr and the length of the
// datagram received or sent.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// batch is one receive loop: its descriptor and its receive and send buffers; only its
// goroutine uses it. The message headers point into the batch's own arrays, which the
// garbage collector never moves; it is allocated once per loop (about 90 KiB).
type batch struct {
	sock   *Socket
	fd     int // this loop's duplicate of the receive socket
	stopFd int // the socket's eventfd, readable once Close was called
	poll   [2]unix.PollFd

	steer   *steering // the first loop of a group that steers; else nil
	batches int
	yielded time.Time // when the loop last gave way to the scheduler
	drained bool      // the last recvmmsg returned less than a full batch

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

	// transmit times of replies for the interleaved mode (replystamp.go)
	txTime   TxTimeFunc
	txc      txCounter
	txMu     sync.Mutex // txc's lock for a member's own socket
	txStamps uint8
	txKey    uint32
	txWant   [BatchSize]bool
	txDst    [BatchSize]netip.AddrPort
	txKernel [BatchSize]time.Time
	txCmsg   txStampCmsg
	errq     errQueue

	// counts of the current batch, added to the socket's shared counters once per batch
	// (not once per datagram: the loops of a group would contend for the cache line)
	received, dropped, truncated, fallbacks, sent, sendErrors uint64

	zones map[uint32]string
	p     Packet
}

func newBatch(sock *Socket, fd, stopFd int) *batch {
	b := &batch{sock: sock, fd: fd, stopFd: stopFd, txCmsg: makeTxStampCmsg()}
	b.txc = txCounter{mu: &b.txMu, stamps: &b.txStamps, key: &b.txKey}
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
	b.poll[0].Fd = int32(fd)
	b.poll[1] = unix.PollFd{Fd: int32(stopFd), Events: unix.POLLIN}
	return b
}

// run serves until Close (nil) or a receive error.
func (b *batch) run(h ReplyHandler) error {
	for {
		stop, err := b.serve(h)
		if stop || err != nil {
			return err
		}
	}
}

// wait blocks the thread until the socket has the events or the loop is told to stop
// (true). It is the only blocking system call of the loop.
//
// Before it blocks, a loop that has not given way to the scheduler for yieldEvery does so.
// The runtime sees a goroutine that keeps its processor (P) across system calls without
// ever being rescheduled as one running too long: after 10 ms its monitor thread takes the
// P away while the loop waits, and the loop gets one back when it wakes up. With every P
// taken the monitor falls into its deep sleep, the next system call wakes it up, and it then
// polls every 20 µs for a while: measured, a quarter of the server's CPU time at 50 000
// requests/s. Yielding now and then keeps the runtime from seeing a long-running goroutine;
// it is cheap because the loop's goroutine is not locked to its thread: the same thread
// usually picks it up again at once.
func (b *batch) wait(events int16) (stop bool, err error) {
	b.poll[0].Events = events
	now := time.Now()
	if now.Sub(b.yielded) >= yieldEvery {
		runtime.Gosched()
		b.yielded = now
	}
	if b.steer != nil {
		b.steer.account(now)
	}
	stop, err = ppoll(&b.poll)
	if b.poll[0].Revents&unix.POLLERR != 0 {
		b.sock.drainTxStamps(b.fd) // see Socket.wait
	}
	return stop, err
}

// yieldEvery is half the runtime's preemption time slice (forcePreemptNS, 10 ms).
const yieldEvery = 5 * time.Millisecond

// recv is one recvmmsg that never waits. It and sendmmsg use the raw system call entry,
// which does not tell the runtime's scheduler: neither can block (the descriptor is
// non-blocking and MSG_DONTWAIT is given), and skipping the scheduler's bookkeeping saves
// a wake-up of its monitor thread on many calls.
func (b *batch) recv() (int, unix.Errno) {
	for i := range b.rx {
		h := &b.rx[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&b.rxName[i]))
		h.Namelen = uint32(unsafe.Sizeof(b.rxName[i]))
		h.Control = &b.rxOOB[i][0]
		h.SetControllen(oobSize)
		h.Flags = 0
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(b.fd), uintptr(unsafe.Pointer(&b.rx[0])), BatchSize,
		unix.MSG_DONTWAIT, 0, 0)
	return int(n), errno
}

// serve receives one batch (waiting for it if the queue is empty), hands each datagram to h
// and sends the replies. It reports whether the loop was told to stop.
func (b *batch) serve(h ReplyHandler) (bool, error) {
	s := b.sock
	if b.drained {
		// The last batch emptied the queue: wait (ppoll returns at once if datagrams came
		// meanwhile) instead of a recvmmsg that would most likely find nothing. Under
		// moderate load this saves one system call per batch.
		b.drained = false
		if stop, err := b.wait(unix.POLLIN); stop || err != nil {
			return stop, err
		}
	}
	got, errno := b.recv()
	switch errno {
	case 0:
	case unix.EAGAIN, unix.EINTR:
		return b.wait(unix.POLLIN)
	default:
		return false, fmt.Errorf("receive on %s: %w", s.Local, errno)
	}
	b.ntx = 0
	b.drained = got < BatchSize
	drop := s.Action() == Drop
	var fallback time.Time // one clock reading for the datagrams of the batch without a kernel time
	for i := 0; i < got; i++ {
		m := &b.rx[i]
		if drop {
			b.dropped++
			continue
		}
		if m.hdr.Flags&unix.MSG_TRUNC != 0 {
			b.truncated++
			continue
		}
		src, ok := b.source(i)
		if !ok {
			continue
		}
		rx, kernel := rxTimestamp(b.rxOOB[i][:m.hdr.Controllen])
		if !kernel {
			if fallback.IsZero() {
				fallback = s.now()
			}
			rx = fallback
			b.fallbacks++
		}
		b.received++
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
		b.txWant[j] = b.p.WantTxTime
		b.txDst[j] = src
		b.ntx++
	}
	stop, err := b.flush()
	b.count()
	if b.steer != nil {
		if b.batches++; b.batches%steerEvery == 0 {
			b.steer.account(time.Now())
		}
	}
	return stop, err
}

// count adds the batch's counts to the socket's counters.
func (b *batch) count() {
	s := b.sock
	add := func(c interface{ Add(uint64) uint64 }, n *uint64) {
		if *n != 0 {
			c.Add(*n)
			*n = 0
		}
	}
	add(&s.received, &b.received)
	add(&s.dropped, &b.dropped)
	add(&s.truncated, &b.truncated)
	add(&s.fallbacks, &b.fallbacks)
	add(&s.sent, &b.sent)
	add(&s.sendErrors, &b.sendErrors)
}

// flush sends the batch's replies, stamping them just before each sendmmsg; a reply the
// kernel refuses is counted and skipped. A full send buffer (rare for UDP) waits until the
// socket is writable and stamps again.
func (b *batch) flush() (bool, error) {
	defer func() {
		clear(b.txHook[:b.ntx])
		clear(b.txWant[:b.ntx])
		b.ntx = 0
	}()
	for off := 0; off < b.ntx; {
		now := b.sock.now()
		for i := off; i < b.ntx; i++ {
			if hk := b.txHook[i]; hk != nil {
				hk(b.txBuf[i][:b.txIov[i].Len], now)
			}
		}
		stamped := b.prepareTxStamps(off)
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(b.fd), uintptr(unsafe.Pointer(&b.tx[off])),
			uintptr(b.ntx-off), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			b.stampsSent(off, int(n), stamped, now)
			b.sent += uint64(n)
			off += int(n)
		case unix.EAGAIN, unix.EINTR:
			if stamped {
				b.txc.mu.Unlock()
			}
			if stop, err := b.wait(unix.POLLOUT); stop || err != nil {
				b.sendErrors += uint64(b.ntx - off)
				return stop, err
			}
		default:
			if stamped {
				b.txc.mu.Unlock()
			}
			b.sendErrors++
			off++
		}
	}
	return false, nil
}

// source decodes the sender's address of message i.
func (b *batch) source(i int) (netip.AddrPort, bool) {
	return source(&b.rxName[i], &b.zones)
}
