// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestSendToStamped: a client request sent on loopback gets the kernel's transmit timestamp
// (lo's driver takes it), inside the send, no earlier than the hook's own stamp; the serving
// loop keeps answering (a timestamp left on the error queue must not make it spin or stop),
// and plain SendTo still works on the same socket.
func TestSendToStamped(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list})
	var got seen
	if err := s.Serve(got.handler(time.Now)); err != nil {
		t.Fatal(err)
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	dst := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	sock := socketAt(t, s, "127.0.0.1")
	for i := 0; i < 5; i++ {
		var hook time.Time
		before := time.Now()
		tx, ok, err := sock.SendToStamped(make([]byte, 48), dst, func(_ []byte, now time.Time) { hook = now })
		after := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("send %d: no kernel transmit timestamp on loopback", i)
		}
		// Sanity bounds on the kernel clock reading, not a performance assertion.
		if tx.Before(hook) || tx.After(after.Add(50*time.Millisecond)) || hook.Before(before) {
			t.Errorf("send %d: hook %v, kernel %v, call [%v, %v]", i, hook, tx, before, after)
		}
		buf := make([]byte, 64)
		peer.SetReadDeadline(time.Now().Add(time.Second))
		if n, _, err := peer.ReadFromUDP(buf); err != nil || n != 48 {
			t.Fatalf("send %d: peer read %d, %v", i, n, err)
		}
	}
	if err := sock.SendTo(make([]byte, 48), dst, nil); err != nil {
		t.Fatal(err)
	}
	// The server loop still answers.
	reply, _ := roundTrip(t, "udp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))
	if len(reply) == 0 {
		t.Fatal("no reply after stamped sends")
	}
}
