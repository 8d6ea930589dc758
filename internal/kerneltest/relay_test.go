// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gontp/internal/testnet"
)

// relay is a UDP relay that delays each datagram by delay + N(0, jitter) (clipped at 0) in each
// direction, independently per packet, standing in for netem (the test machines' kernels have no
// sch_netem). Each client gets its own upstream socket. Delays count from the kernel's receive
// timestamp (SO_TIMESTAMPNS). One locked OS thread does everything with plain non-blocking
// sockets outside Go's network poller, at a real-time priority: ppoll until shortly before the
// next due time, then a spin. Goroutine hand-offs and Go's timers would add hundreds of µs of their own jitter on a
// loaded machine.
type relay struct {
	front         int
	upstream      unix.SockaddrInet4
	delay, jitter time.Duration
	host          *testnet.Host

	clients map[netip.AddrPort]int // client -> its upstream socket
	back    map[int]unix.SockaddrInet4
	queue   []packet
	sent    []relayed // every datagram forwarded: the path legs (legs_test.go) and relay.csv
	stop    atomic.Bool
	done    chan struct{}
	closed  sync.Once
}

type packet struct {
	due  int64 // CLOCK_REALTIME ns
	data []byte
	fd   int
	to   *unix.SockaddrInet4 // nil: fd is connected
	rx   int64               // the kernel's receive timestamp, CLOCK_REALTIME ns
	// client is the guest the datagram comes from or goes to; up tells which.
	client netip.AddrPort
	up     bool
}

// relayed is one forwarded datagram as the relay saw it: when the kernel received it, when it
// was due and when the relay sent it (CLOCK_REALTIME ns). With a guest's rawstats it splits
// each exchange's delay into the guest's own legs and the relay's, so that an asymmetry of
// the path can be placed.
type relayed struct {
	client        netip.AddrPort
	up            bool
	rx, due, sent int64
}

// writeLog writes what the relay forwarded as CSV: client, direction (up: towards the
// server), and the kernel receive, due and send times in ns of CLOCK_REALTIME.
func (r *relay) writeLog(w io.Writer) error {
	if _, err := fmt.Fprintln(w, "client,direction,rx_ns,due_ns,sent_ns"); err != nil {
		return err
	}
	for _, p := range r.sent {
		dir := "down"
		if p.up {
			dir = "up"
		}
		if _, err := fmt.Fprintf(w, "%s,%s,%d,%d,%d\n", p.client, dir, p.rx, p.due, p.sent); err != nil {
			return err
		}
	}
	return nil
}

// startRelay listens on listen inside host's namespace and forwards to upstream (in the same
// namespace). It is stopped in t.Cleanup.
func startRelay(t testing.TB, host *testnet.Host, listen, upstream netip.AddrPort, delay, jitter time.Duration) *relay {
	t.Helper()
	r := &relay{upstream: unix.SockaddrInet4{Port: int(upstream.Port()), Addr: upstream.Addr().As4()},
		delay: delay, jitter: jitter, host: host, clients: map[netip.AddrPort]int{}, back: map[int]unix.SockaddrInet4{},
		done: make(chan struct{})}
	err := host.Do(func() error {
		fd, err := udpSocket()
		if err != nil {
			return err
		}
		r.front = fd
		return unix.Bind(fd, &unix.SockaddrInet4{Port: int(listen.Port()), Addr: listen.Addr().As4()})
	})
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	go r.run()
	t.Cleanup(r.close)
	return r
}

// close stops the relay and closes its sockets; later calls do nothing.
func (r *relay) close() {
	r.closed.Do(func() {
		r.stop.Store(true)
		<-r.done
		unix.Close(r.front)
		for _, fd := range r.clients {
			unix.Close(fd)
		}
	})
}

func udpSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func realtime() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &ts)
	return ts.Nano()
}

func (r *relay) draw() int64 {
	d := float64(r.delay) + rand.NormFloat64()*float64(r.jitter)
	return int64(max(d, 0))
}

// recv reads one datagram and its kernel receive timestamp.
func recv(fd int, buf, oob []byte) (int, unix.Sockaddr, int64, error) {
	n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, 0)
	if err != nil {
		return 0, nil, 0, err
	}
	ts := realtime()
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts = (*unix.Timespec)(unsafe.Pointer(&m.Data[0])).Nano()
			}
		}
	}
	return n, from, ts, nil
}

func (r *relay) run() {
	defer close(r.done)
	runtime.LockOSThread()
	// A real-time priority keeps the busy machine's other work from delaying the relay by
	// milliseconds; it spins at most 100 µs a packet and sleeps in ppoll otherwise. Without
	// the privilege it runs at normal priority.
	_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 10}, 0)
	buf := make([]byte, 2048)
	oob := make([]byte, 256)
	for !r.stop.Load() {
		fds := []unix.PollFd{{Fd: int32(r.front), Events: unix.POLLIN}}
		for fd := range r.back {
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		}
		wait := int64(50 * time.Millisecond)
		if i := r.next(); i >= 0 {
			wait = min(wait, max(r.queue[i].due-realtime()-100_000, 0))
		}
		ts := unix.NsecToTimespec(wait)
		if _, err := unix.Ppoll(fds, &ts, nil); err != nil && err != unix.EINTR {
			return
		}
		for _, pf := range fds {
			if pf.Revents&unix.POLLIN == 0 {
				continue
			}
			fd := int(pf.Fd)
			for {
				n, from, rx, err := recv(fd, buf, oob)
				if err != nil {
					break
				}
				p := packet{due: rx + r.draw(), data: append([]byte(nil), buf[:n]...), rx: rx}
				if fd == r.front {
					sa, ok := from.(*unix.SockaddrInet4)
					if !ok {
						continue
					}
					p.client, p.up = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
					if p.fd = r.upstreamFor(p.client); p.fd < 0 {
						continue
					}
				} else {
					to := r.back[fd]
					p.fd, p.to = r.front, &to
					p.client = netip.AddrPortFrom(netip.AddrFrom4(to.Addr), uint16(to.Port))
				}
				r.queue = append(r.queue, p)
			}
		}
		// Send what is due within 100 µs, spinning to its due time.
		for i := r.next(); i >= 0 && r.queue[i].due-realtime() <= 100_000; i = r.next() {
			p := r.queue[i]
			for realtime() < p.due {
			}
			if p.to != nil {
				_ = unix.Sendto(p.fd, p.data, 0, p.to)
			} else {
				_, _ = unix.Write(p.fd, p.data)
			}
			r.sent = append(r.sent, relayed{client: p.client, up: p.up, rx: p.rx, due: p.due, sent: realtime()})
			r.queue = append(r.queue[:i], r.queue[i+1:]...)
		}
	}
}

// next is the index of the earliest due packet, -1 if none.
func (r *relay) next() int {
	i := -1
	for j := range r.queue {
		if i < 0 || r.queue[j].due < r.queue[i].due {
			i = j
		}
	}
	return i
}

// upstreamFor returns the client's upstream socket (connected to the upstream), making it in
// the relay's namespace on first use.
func (r *relay) upstreamFor(client netip.AddrPort) int {
	if fd, ok := r.clients[client]; ok {
		return fd
	}
	fd := -1
	err := r.host.Do(func() error {
		var err error
		if fd, err = udpSocket(); err != nil {
			return err
		}
		return unix.Connect(fd, &r.upstream)
	})
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1
	}
	r.clients[client] = fd
	r.back[fd] = unix.SockaddrInet4{Port: int(client.Port()), Addr: client.Addr().As4()}
	return fd
}
