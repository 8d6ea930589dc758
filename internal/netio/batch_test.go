// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// echoStamp is a ReplyHandler that answers with the datagram and stamps the send time in
// octets 40..47, as the time server stamps its transmit timestamp.
func echoStamp(seen *atomic.Int64, kernel *atomic.Int64) ReplyHandler {
	return func(p *Packet, reply []byte) (int, TxHook) {
		seen.Add(1)
		if p.Kernel {
			kernel.Add(1)
		}
		n := copy(reply, p.Data)
		return n, func(b []byte, now time.Time) { binary.BigEndian.PutUint64(b[40:], uint64(now.UnixNano())) }
	}
}

func TestServeBatchBurst(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.2"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list})
	var seen, kernel atomic.Int64
	if err := s.ServeBatch(echoStamp(&seen, &kernel)); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(func(*Packet) {}); err == nil {
		t.Error("Serve after ServeBatch accepted")
	}
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 200 // several batches, sent faster than one loop iteration
	before := time.Now()
	for i := 0; i < n; i++ {
		msg := make([]byte, 48)
		binary.BigEndian.PutUint32(msg, uint32(i))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	got := map[uint32]bool{}
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < n {
		m, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d replies: %v", len(got), err)
		}
		if m != 48 {
			t.Fatalf("reply of %d octets", m)
		}
		got[binary.BigEndian.Uint32(buf)] = true
		if tx := int64(binary.BigEndian.Uint64(buf[40:])); tx < before.UnixNano() || tx > time.Now().UnixNano() {
			t.Errorf("reply stamped %d, outside the exchange", tx)
		}
	}
	st := socketAt(t, s, "127.0.0.2").Stats()
	for deadline := time.Now().Add(time.Second); st.Sent < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // counted after sendmmsg returns
		st = socketAt(t, s, "127.0.0.2").Stats()
	}
	if st.Received != n || st.Sent != n || st.SendErrors != 0 || seen.Load() != n || kernel.Load() != n {
		t.Errorf("stats %+v, handler saw %d (%d with kernel timestamps), want %d", st, seen.Load(), kernel.Load(), n)
	}
}

func TestServeBatchIPv6AndDrop(t *testing.T) {
	if !ipv6Loopback() {
		t.Skip("no IPv6 loopback here")
	}
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("::1"), loAddr("127.0.0.1"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard", "drop 127.0.0.1"), DSCP: -1, Enumerate: list.list})
	var seen, kernel atomic.Int64
	if err := s.ServeBatch(echoStamp(&seen, &kernel)); err != nil {
		t.Fatal(err)
	}
	reply, from := roundTrip(t, "udp6", netip.AddrPortFrom(netip.IPv6Loopback(), port))
	if from.Addr() != netip.IPv6Loopback() || len(reply) != 48 {
		t.Errorf("IPv6 reply from %s, %d octets", from, len(reply))
	}
	drop := socketAt(t, s, "127.0.0.1")
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(drop.Local))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); drop.Stats().Dropped == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nothing dropped")
		}
		c.Write(make([]byte, 48))
	}
	if drop.Stats().Received != 0 || seen.Load() != 1 {
		t.Errorf("dropped datagrams handed on: %+v, handler saw %d", drop.Stats(), seen.Load())
	}
}

func ipv6Loopback() bool {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestBatchServeNoAlloc: a loop iteration that receives a queued batch and sends the
// replies allocates nothing.
func TestBatchServeNoAlloc(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.2"))
	// One socket per address, so that the datagrams reach the loop under test.
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list, ReceiveLoops: 1})
	a, b := socketAt(t, s, "127.0.0.1"), socketAt(t, s, "127.0.0.2")
	var seen, kernel atomic.Int64
	h := echoStamp(&seen, &kernel)
	bt, err := b.newLoop(0)
	if err != nil {
		t.Fatal(err)
	}
	defer bt.release()
	if allocs := serveAllocs(t, a, b, bt, h); allocs != 0 {
		t.Errorf("a batch iteration allocated %.1f times, want 0", allocs)
	}
}

// serveAllocs is the allocations of one loop iteration of bt (b's loop) that receives four
// datagrams a sent and replies to them with h.
func serveAllocs(t *testing.T, a, b *Socket, bt *batch, h ReplyHandler) float64 {
	t.Helper()
	msg := make([]byte, 48)
	var fail error
	allocs := testing.AllocsPerRun(200, func() {
		for range 4 {
			if err := a.SendTo(msg, b.Local, nil); err != nil {
				fail = err
			}
		}
		if stop, err := bt.serve(h); err != nil || stop {
			fail = fmt.Errorf("serve: stop %v, %v", stop, err)
		}
	})
	if fail != nil {
		t.Fatal(fail)
	}
	return allocs
}
