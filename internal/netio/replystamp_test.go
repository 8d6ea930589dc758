// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplyTxTimes: replies whose handler asked (every other one here) are reported with the
// kernel's transmit timestamp, taken after the hook's stamp and before the reply arrived;
// the others are not reported.
func TestReplyTxTimes(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list})
	type report struct {
		id     uint32
		stamp  int64
		tx     time.Time
		kernel bool
	}
	var mu sync.Mutex
	var reports []report
	s.OnTxTime(func(dst netip.AddrPort, reply []byte, tx time.Time, kernel bool) {
		mu.Lock()
		reports = append(reports, report{binary.BigEndian.Uint32(reply), int64(binary.BigEndian.Uint64(reply[40:])), tx, kernel})
		mu.Unlock()
	})
	var seen, kern atomic.Int64
	h := echoStamp(&seen, &kern)
	if err := s.ServeBatch(func(p *Packet, reply []byte) (int, TxHook) {
		p.WantTxTime = binary.BigEndian.Uint32(p.Data)%2 == 0
		return h(p, reply)
	}); err != nil {
		t.Fatal(err)
	}
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 40
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		msg := make([]byte, 48)
		binary.BigEndian.PutUint32(msg, uint32(i))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	// The last report may follow the reply's arrival by a moment.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		done := len(reports) >= n/2
		mu.Unlock()
		if done {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	kernel := 0
	for _, r := range reports {
		if r.id%2 != 0 {
			t.Errorf("reply %d reported; it did not ask", r.id)
		}
		if r.kernel {
			kernel++
			if r.tx.UnixNano() < r.stamp {
				t.Errorf("reply %d: kernel transmit time %d before its stamp %d", r.id, r.tx.UnixNano(), r.stamp)
			}
		}
	}
	if len(reports) != n/2 {
		t.Errorf("%d replies reported; want %d", len(reports), n/2)
	}
	if kernel != len(reports) {
		t.Errorf("%d of %d reports with a kernel timestamp; want all", kernel, len(reports))
	}
}

// TestBatchServeTxTimesNoAlloc: a loop iteration whose replies ask for their kernel transmit
// times (the interleaved mode) still allocates nothing.
func TestBatchServeTxTimesNoAlloc(t *testing.T) {
	port := freePort(t)
	list := &fixedList{}
	list.set(loAddr("127.0.0.1"), loAddr("127.0.0.2"))
	s := openSet(t, Config{Port: port, Rules: mustRules(t, "ignore wildcard"), DSCP: -1, Enumerate: list.list, ReceiveLoops: 1})
	a, b := socketAt(t, s, "127.0.0.1"), socketAt(t, s, "127.0.0.2")
	var seen, kern atomic.Int64
	h := echoStamp(&seen, &kern)
	bt, err := b.newLoop(0)
	if err != nil {
		t.Fatal(err)
	}
	defer bt.release()
	var reported, kernel int
	bt.txTime = func(_ netip.AddrPort, _ []byte, _ time.Time, k bool) {
		reported++
		if k {
			kernel++
		}
	}
	want := func(p *Packet, reply []byte) (int, TxHook) {
		p.WantTxTime = true
		return h(p, reply)
	}
	if allocs := serveAllocs(t, a, b, bt, want); allocs != 0 {
		t.Errorf("a batch iteration with transmit times allocated %.1f times, want 0", allocs)
	}
	if reported == 0 || kernel != reported {
		t.Errorf("%d replies reported, %d with a kernel timestamp; want all with one", reported, kernel)
	}
}
