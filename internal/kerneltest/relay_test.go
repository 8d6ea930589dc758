// SPDX-License-Identifier: BSD-2-Clause

//go:build linux && amd64

package kerneltest

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gontp/internal/testnet"
)

// relay is a UDP relay that delays each datagram by delay + N(0, jitter) (clipped at 0) in each
// direction, independently per packet, standing in for netem (the test machines' kernels have no
// sch_netem). Each client gets its own upstream socket. Delays count from the kernel's receive
// timestamp (SO_TIMESTAMPNS), and the sender sleeps to 2 ms before each due time, then spins:
// Go's timers alone overshoot by up to a millisecond.
type relay struct {
	front         *net.UDPConn
	upstream      netip.AddrPort
	delay, jitter time.Duration

	mu      sync.Mutex
	clients map[netip.AddrPort]*net.UDPConn
	queue   chan packet
	done    chan struct{}
	wg      sync.WaitGroup
}

type packet struct {
	due  time.Time
	data []byte
	conn *net.UDPConn   // send on this socket
	to   netip.AddrPort // to this address (zero: the socket is connected)
}

// startRelay listens on listen inside host's namespace and forwards to upstream (in the same
// namespace). It is stopped in t.Cleanup.
func startRelay(t testing.TB, host *testnet.Host, listen, upstream netip.AddrPort, delay, jitter time.Duration) *relay {
	t.Helper()
	r := &relay{upstream: upstream, delay: delay, jitter: jitter, clients: map[netip.AddrPort]*net.UDPConn{},
		queue: make(chan packet, 1024), done: make(chan struct{})}
	err := host.Do(func() error {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(listen))
		if err != nil {
			return err
		}
		r.front = c
		return timestamps(c)
	})
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	r.wg.Add(2)
	go r.receive(host, r.front, nil)
	go r.send()
	t.Cleanup(r.stop)
	return r
}

func timestamps(c *net.UDPConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) })
	if err != nil {
		return err
	}
	return serr
}

func (r *relay) stop() {
	close(r.done)
	r.front.Close()
	r.mu.Lock()
	for _, c := range r.clients {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *relay) draw() time.Duration {
	d := r.delay + time.Duration(rand.NormFloat64()*float64(r.jitter))
	return max(d, 0)
}

// receive reads from c: the front socket (client == nil: forward upstream) or a client's upstream
// socket (forward back to client).
func (r *relay) receive(host *testnet.Host, c *net.UDPConn, client *netip.AddrPort) {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return
		}
		rx := time.Now()
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					ts := *(*unix.Timespec)(unsafePointer(&m.Data[0]))
					rx = time.Unix(ts.Unix())
				}
			}
		}
		p := packet{due: rx.Add(r.draw()), data: append([]byte(nil), buf[:n]...)}
		if client != nil {
			p.conn, p.to = r.front, *client
		} else {
			up := r.upstreamFor(host, from)
			if up == nil {
				continue
			}
			p.conn = up
		}
		select {
		case r.queue <- p:
		case <-r.done:
			return
		}
	}
}

func (r *relay) upstreamFor(host *testnet.Host, client netip.AddrPort) *net.UDPConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[client]; c != nil {
		return c
	}
	var c *net.UDPConn
	err := host.Do(func() error {
		var err error
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(r.upstream))
		if err != nil {
			return err
		}
		return timestamps(c)
	})
	if err != nil {
		return nil
	}
	r.clients[client] = c
	r.wg.Add(1)
	go r.receive(host, c, &client)
	return c
}

// send delivers queued packets at their due times, earliest first.
func (r *relay) send() {
	defer r.wg.Done()
	runtime.LockOSThread()
	var pending []packet
	for {
		// The earliest due packet.
		i := -1
		for j := range pending {
			if i < 0 || pending[j].due.Before(pending[i].due) {
				i = j
			}
		}
		var wake <-chan time.Time
		if i >= 0 {
			if d := time.Until(pending[i].due) - 2*time.Millisecond; d > 0 {
				wake = time.After(d)
			} else {
				for time.Now().Before(pending[i].due) {
				}
				p := pending[i]
				pending = append(pending[:i], pending[i+1:]...)
				if p.to.IsValid() {
					p.conn.WriteToUDPAddrPort(p.data, p.to)
				} else {
					p.conn.Write(p.data)
				}
				continue
			}
		}
		select {
		case p := <-r.queue:
			pending = append(pending, p)
		case <-wake:
		case <-r.done:
			return
		}
	}
}

func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }
