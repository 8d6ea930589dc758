// SPDX-License-Identifier: BSD-2-Clause

package netio

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel transmit timestamps (SO_TIMESTAMPING, SOF_TIMESTAMPING_TX_SOFTWARE) for the
// requests gontp sends as a client. A transmit timestamp written into the packet just
// before the system call is early by however long the kernel takes to put the packet on
// the wire: a few microseconds on a quiet host, but 100-200 µs in a User-Mode Linux guest
// or a loaded virtual machine (measured in the kernel lab: a round trip of 170 µs where
// chrony, which uses these timestamps, measures 37 µs), and half of that error goes into
// every offset. The kernel's software timestamp is taken where the driver hands the packet
// on (skb_tx_timestamp), so the client computes its offset with it (RFC 5905 section 8:
// T1 as close to the wire as possible) while the packet still carries the earlier
// timestamp the server echoes (the origin check matches on that one).
//
// Only sends that ask for it (a per-packet SO_TIMESTAMPING control message) are
// timestamped, so that server replies cost nothing. The timestamps are reported on the
// socket's error queue; SendToStamped reads its own right after the send, and a receive
// loop woken by one that came late (POLLERR) drains it under the same lock.

// txStampReport are the socket-level flags: report software timestamps, without a copy of
// the packet, with a per-send counter to match them.
const txStampReport = unix.SOF_TIMESTAMPING_SOFTWARE | unix.SOF_TIMESTAMPING_OPT_TSONLY | unix.SOF_TIMESTAMPING_OPT_ID

// txStampTries is how often SendToStamped looks for its timestamp: the kernel queues it when
// the driver takes the packet, normally before the send returns.
const txStampTries = 4

// SendToStamped is SendTo for a client request: it also returns the kernel's transmit
// timestamp of the datagram (ok false when the kernel gave none: no SO_TIMESTAMPING, or it
// came too late), on the realtime clock.
func (s *Socket) SendToStamped(b []byte, dst netip.AddrPort, hook TxHook) (tx time.Time, ok bool, err error) {
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	if s.fd < 0 {
		s.sendErrors.Add(1)
		return time.Time{}, false, fmt.Errorf("send from %s to %s: %w", s.Local, dst, net.ErrClosed)
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.txStamps == 0 {
		s.txStamps = 2
		if unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING, txStampReport) == nil {
			s.txStamps = 1
		}
	}
	to, err := s.dest(dst)
	if err != nil {
		s.sendErrors.Add(1)
		return time.Time{}, false, err
	}
	var oob [24]byte // CMSG_SPACE(4) on 64-bit Linux
	var control []byte
	if s.txStamps == 1 {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.SOL_SOCKET, unix.SO_TIMESTAMPING
		h.SetLen(unix.CmsgLen(4))
		binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], unix.SOF_TIMESTAMPING_TX_SOFTWARE)
		control = oob[:unix.CmsgSpace(4)]
	}
	for {
		if hook != nil {
			hook(b, s.now())
		}
		_, err = unix.SendmsgN(s.fd, b, control, to, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN || err == unix.EINTR {
			stop, werr := s.wait(s.fd, unix.POLLOUT)
			if werr == nil && !stop {
				continue
			}
			err = werr
			if stop {
				err = net.ErrClosed
			}
		}
		if err != nil {
			s.sendErrors.Add(1)
			return time.Time{}, false, fmt.Errorf("send from %s to %s: %w", s.Local, dst, err)
		}
		break
	}
	s.sent.Add(1)
	if control == nil {
		return time.Time{}, false, nil
	}
	key := s.txKey
	s.txKey++
	for range txStampTries {
		t, k, found := readTxStamp(s.fd)
		if !found {
			continue
		}
		if k == key {
			return t, true, nil
		}
	}
	return time.Time{}, false, nil
}

// drainTxStamps discards the transmit timestamps on fd's error queue (a receive loop woken
// by POLLERR: one that came after SendToStamped stopped looking). It takes sendMu so that
// it never takes one that SendToStamped is about to read.
func (s *Socket) drainTxStamps(fd int) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	for range 64 {
		if _, _, found := readTxStamp(fd); !found {
			return
		}
	}
}

// readTxStamp reads one message from fd's error queue: a transmit timestamp and its
// counter, found false when the queue is empty.
func readTxStamp(fd int) (time.Time, uint32, bool) {
	var buf [1]byte
	var oob [oobSize]byte
	_, oobn, _, _, err := unix.Recvmsg(fd, buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if err != nil {
		return time.Time{}, 0, false
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return time.Time{}, 0, true
	}
	var t time.Time
	var key uint32
	haveKey := false
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPING &&
			len(m.Data) >= int(unsafe.Sizeof(unix.ScmTimestamping{})):
			ts := (*unix.ScmTimestamping)(unsafe.Pointer(&m.Data[0]))
			if ts.Ts[0].Sec != 0 || ts.Ts[0].Nsec != 0 {
				t = time.Unix(ts.Ts[0].Unix())
			}
		case (m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR) ||
			(m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR):
			if len(m.Data) >= int(unsafe.Sizeof(unix.SockExtendedErr{})) {
				e := (*unix.SockExtendedErr)(unsafe.Pointer(&m.Data[0]))
				if e.Origin == unix.SO_EE_ORIGIN_TIMESTAMPING && e.Errno == uint32(unix.ENOMSG) {
					key, haveKey = e.Data, true
				}
			}
		}
	}
	if t.IsZero() || !haveKey {
		return time.Time{}, ^uint32(0), true
	}
	return t, key, true
}
