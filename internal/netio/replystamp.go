// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel transmit timestamps of server replies, for the interleaved mode
// (internal/server/xleave.go): a server in that mode hands out the real departure time of
// its previous reply to a client, and the real departure time is the kernel's software
// transmit timestamp (SOF_TIMESTAMPING_TX_SOFTWARE, taken where the driver takes the
// packet), not the time written into the reply before the system call.
//
// A reply handler asks for it per reply (Packet.WantTxTime); only those replies carry the
// SO_TIMESTAMPING control message, so the others cost nothing. Right after the sendmmsg the
// loop reads the timestamps from the socket's error queue (they are queued before the send
// returns on every driver that stamps in its transmit routine, veth and loopback included),
// matches them to the replies by the kernel's per-socket counter (SOF_TIMESTAMPING_OPT_ID)
// and reports each to the Set's TxTimeFunc; a reply whose timestamp did not come is
// reported with the time its transmit hook wrote, so the interleaved mode still works
// (no better than the basic one) where the kernel gives none. All of it without allocating.

// TxTimeFunc learns the transmit time of a reply sent to dst (reply is the datagram as
// sent; it must not be retained). kernel says whether tx is the kernel's timestamp.
type TxTimeFunc func(dst netip.AddrPort, reply []byte, tx time.Time, kernel bool)

// OnTxTime installs the function that learns the transmit times of the replies a
// ReplyHandler asked for (Packet.WantTxTime). Call it before ServeBatch.
func (s *Set) OnTxTime(f TxTimeFunc) {
	s.mu.Lock()
	s.txTime = f
	s.mu.Unlock()
}

// txCounter is the state of one kernel socket's transmit timestamps: whether
// SO_TIMESTAMPING is on and the OPT_ID counter of its next stamped send. The first loop of
// a socket shares the socket's own (SendToStamped sends through the same kernel socket);
// the loops of the other members of a SO_REUSEPORT group have their own.
type txCounter struct {
	mu     *sync.Mutex
	stamps *uint8  // 0 not tried, 1 on, 2 unavailable
	key    *uint32 // the next stamped send's counter
}

// txStampCmsg is one SO_TIMESTAMPING control message asking for a software transmit
// timestamp (CMSG_SPACE(4) on 64-bit Linux).
type txStampCmsg [24]byte

func makeTxStampCmsg() (c txStampCmsg) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SO_TIMESTAMPING
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(c[unix.CmsgLen(0):], unix.SOF_TIMESTAMPING_TX_SOFTWARE)
	return c
}

// errQueue is a receive loop's buffers for reading its socket's error queue without
// allocating.
type errQueue struct {
	hdr unix.Msghdr
	iov unix.Iovec
	buf [1]byte
	oob [oobSize]byte
}

// read takes one message off fd's error queue: a transmit timestamp and its counter. found
// is false when the queue is empty; ok false for a message that is not a timestamp.
func (q *errQueue) read(fd int) (t time.Time, key uint32, ok, found bool) {
	q.iov.Base = &q.buf[0]
	q.iov.SetLen(len(q.buf))
	q.hdr.Iov = &q.iov
	q.hdr.SetIovlen(1)
	q.hdr.Name = nil
	q.hdr.Namelen = 0
	q.hdr.Control = &q.oob[0]
	q.hdr.SetControllen(len(q.oob))
	q.hdr.Flags = 0
	_, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&q.hdr)),
		unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if errno != 0 {
		return time.Time{}, 0, false, false
	}
	oob := q.oob[:q.hdr.Controllen]
	haveKey := false
	for len(oob) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPING &&
			len(data) >= int(unsafe.Sizeof(unix.ScmTimestamping{})):
			ts := (*unix.ScmTimestamping)(unsafe.Pointer(&data[0]))
			if ts.Ts[0].Sec != 0 || ts.Ts[0].Nsec != 0 {
				t = time.Unix(ts.Ts[0].Unix())
			}
		case (h.Level == unix.IPPROTO_IP && h.Type == unix.IP_RECVERR) ||
			(h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_RECVERR):
			if len(data) >= int(unsafe.Sizeof(unix.SockExtendedErr{})) {
				e := (*unix.SockExtendedErr)(unsafe.Pointer(&data[0]))
				if e.Origin == unix.SO_EE_ORIGIN_TIMESTAMPING && e.Errno == uint32(unix.ENOMSG) {
					key, haveKey = e.Data, true
				}
			}
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	return t, key, haveKey && !t.IsZero(), true
}

// prepareTxStamps gives the replies of the batch from off on that asked for their transmit
// time the control message that asks the kernel for it, and the others none. It reports
// whether any asked and the counter is usable; the caller then holds the counter's lock
// until stampsSent.
func (b *batch) prepareTxStamps(off int) bool {
	any := false
	for i := off; i < b.ntx; i++ {
		b.tx[i].hdr.Control = nil
		b.tx[i].hdr.Controllen = 0
		if b.txWant[i] {
			any = true
		}
	}
	if !any || b.txTime == nil {
		return false
	}
	c := &b.txc
	c.mu.Lock()
	if *c.stamps == 0 {
		*c.stamps = 2
		if unix.SetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING, txStampReport) == nil {
			*c.stamps = 1
		}
	}
	if *c.stamps != 1 {
		c.mu.Unlock()
		return false
	}
	for i := off; i < b.ntx; i++ {
		if b.txWant[i] {
			b.tx[i].hdr.Control = &b.txCmsg[0]
			b.tx[i].hdr.SetControllen(len(b.txCmsg))
		}
	}
	return true
}

// stampsSent reads the kernel's timestamps of replies off..off+n-1 (just sent) and
// reports every reply that asked, then releases the counter's lock if stamped.
func (b *batch) stampsSent(off, n int, stamped bool, now time.Time) {
	if b.txTime == nil {
		return
	}
	var key0 uint32
	asked := 0
	if stamped {
		key0 = *b.txc.key
		for i := off; i < off+n; i++ {
			if b.txWant[i] {
				b.txKernel[i] = time.Time{}
				asked++
			}
		}
		*b.txc.key += uint32(asked)
		for got, tries := 0, 0; got < asked && tries < asked+txStampTries; tries++ {
			t, k, ok, found := b.errq.read(b.fd)
			if !found {
				continue
			}
			if !ok {
				continue
			}
			if k-key0 >= uint32(asked) {
				if got != 0 {
					continue
				}
				// Out of step with the kernel's counter (a send that failed after
				// the kernel counted it): the first stamp is the first reply's.
				key0 = k
				*b.txc.key = k + uint32(asked)
			}
			// The k-key0-th reply that asked.
			idx := int(k - key0)
			for i := off; i < off+n; i++ {
				if !b.txWant[i] {
					continue
				}
				if idx == 0 {
					b.txKernel[i] = t
					got++
					break
				}
				idx--
			}
		}
		b.txc.mu.Unlock()
	}
	for i := off; i < off+n; i++ {
		if !b.txWant[i] {
			continue
		}
		reply := b.txBuf[i][:b.txIov[i].Len]
		if stamped && !b.txKernel[i].IsZero() {
			b.txTime(b.txDst[i], reply, b.txKernel[i], true)
		} else {
			b.txTime(b.txDst[i], reply, now, false)
		}
	}
}
