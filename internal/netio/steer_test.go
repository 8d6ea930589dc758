// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// clients opens n unconnected client sockets on 127.0.0.1 (n source ports: the kernel
// spreads a group's datagrams by their addresses and ports).
func clients(t *testing.T, n int) []*net.UDPConn {
	t.Helper()
	var cs []*net.UDPConn
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c)
	}
	return cs
}

// drain counts the datagrams queued on fd without waiting.
func drain(t *testing.T, fd int) int {
	t.Helper()
	buf := make([]byte, 2048)
	n := 0
	for {
		_, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

// TestSteering: with the program attached every datagram goes to the group's first socket;
// detached, the kernel spreads them over the members.
func TestSteering(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list, ReceiveLoops: 2})
	sock := socketAt(t, s, "127.0.0.1")
	if len(sock.members) != 1 {
		t.Fatalf("%d other members in the group, want 1", len(sock.members))
	}
	const n = 40 // all 40 source ports hashed to one of 2 sockets: probability 2^-39
	send := func(cs []*net.UDPConn) {
		for _, c := range cs {
			if _, err := c.WriteToUDPAddrPort(make([]byte, 48), sock.Local); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := concentrate(sock.fd); err != nil {
		t.Skipf("no reuseport BPF in this kernel: %v", err)
	}
	send(clients(t, n))
	if first, other := drain(t, sock.fd), drain(t, sock.members[0]); first != n || other != 0 {
		t.Errorf("concentrated: %d datagrams on the first socket, %d on the other, want %d and 0", first, other, n)
	}
	if err := spreadAll(sock.fd); err != nil {
		t.Fatal(err)
	}
	send(clients(t, n))
	if first, other := drain(t, sock.fd), drain(t, sock.members[0]); first+other != n || first == 0 || other == 0 {
		t.Errorf("spread: %d datagrams on the first socket, %d on the other, want %d spread over both", first, other, n)
	}
}

func TestSteeringDecision(t *testing.T) {
	w := time.Second
	for _, c := range []struct {
		spread bool
		used   time.Duration
		want   bool
	}{
		{false, 300 * time.Millisecond, false}, // one loop keeps up
		{false, 950 * time.Millisecond, true},  // one loop saturated
		{false, 700 * time.Millisecond, false}, // between the thresholds: stays
		{true, 1200 * time.Millisecond, true},  // both needed
		{true, 700 * time.Millisecond, true},   // between the thresholds: stays
		{true, 400 * time.Millisecond, false},  // one would do again
	} {
		if got := decide(c.spread, int64(c.used), w); got != c.want {
			t.Errorf("decide(spread %v, used %v of %v) = %v, want %v", c.spread, c.used, w, got, c.want)
		}
	}
}

// TestServeBatchGroup: every member of a group has a loop (spread, every request from 40
// source ports is answered) and Close ends them all.
func TestServeBatchGroup(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"))
	s, err := Open(Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list,
		ReceiveLoops: 3, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var seen, kernel atomic.Int64
	if err := s.ServeBatch(echoStamp(&seen, &kernel)); err != nil {
		t.Fatal(err)
	}
	sock := socketAt(t, s, "127.0.0.1")
	if len(sock.members) != 2 {
		t.Fatalf("%d other members in the group, want 2", len(sock.members))
	}
	// As under heavy load: the kernel spreads the requests over the three sockets.
	if err := spreadAll(sock.fd); err != nil {
		t.Skipf("no reuseport BPF in this kernel: %v", err)
	}
	cs := clients(t, 40)
	for i, c := range cs {
		msg := make([]byte, 48)
		binary.BigEndian.PutUint32(msg, uint32(i))
		if _, err := c.WriteToUDPAddrPort(msg, sock.Local); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	for i, c := range cs {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("client %d: %v (the loop of its group member does not answer?)", i, err)
		}
		if n != 48 || binary.BigEndian.Uint32(buf) != uint32(i) || from != sock.Local {
			t.Errorf("client %d: reply of %d octets from %s", i, n, from)
		}
	}
	if seen.Load() != 40 || kernel.Load() != 40 {
		t.Errorf("handler saw %d datagrams (%d with kernel timestamps), want 40", seen.Load(), kernel.Load())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The loops' descriptors are closed: the address can be bound again without reuse.
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(sock.Local))
	if err != nil {
		t.Fatalf("binding %s after Close: %v", sock.Local, err)
	}
	c.Close()
}

// TestRescanStopsLoops: a socket that a rescan removes has its loops ended and its
// descriptors closed.
func TestRescanStopsLoops(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.3"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list, ReceiveLoops: 2})
	var seen, kernel atomic.Int64
	if err := s.ServeBatch(echoStamp(&seen, &kernel)); err != nil {
		t.Fatal(err)
	}
	gone := socketAt(t, s, "127.0.0.3")
	list.set(loAddr("127.0.0.1"))
	if res, err := s.Rescan(); err != nil || len(res.Removed) != 1 || res.Removed[0] != gone {
		t.Fatalf("rescan: %+v, %v", res, err)
	}
	// The loops end asynchronously after Close signals them; their duplicates hold the
	// socket until then.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(gone.Local))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still bound after its socket was removed: %v", gone.Local, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if reply, _ := roundTrip(t, "udp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)); len(reply) != 48 {
		t.Errorf("remaining socket answered %d octets", len(reply))
	}
}
