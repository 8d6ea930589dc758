// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// The kernel floor: the least CPU time per reply an NTP server can spend on this machine.
// serveFloor answers time requests on one socket with nothing but what every server must
// do: one thread blocked in recvmmsg (no poller, no scheduler), the kernel receive timestamp
// of each request (SO_TIMESTAMPNS), a 48-octet reply built in place, and one sendmmsg per
// batch. It checks nothing (no access rules, no rate limiting, no monitor) and claims
// stratum 1, so it is a yardstick for measuring real servers against, never a server to run.

const floorBatch = 32

type floorMsg struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// floorServer is a bound floor responder.
type floorServer struct {
	fd     int
	closed atomic.Bool
}

// serveFloor serves on addr until the process ends.
func serveFloor(addr string) error {
	f, err := listenFloor(addr)
	if err != nil {
		return err
	}
	return f.serve()
}

// close stops serve: shutdown wakes the thread blocked in recvmmsg (Linux does so for an
// unconnected UDP socket too, although it reports ENOTCONN).
func (f *floorServer) close() {
	f.closed.Store(true)
	_ = unix.Shutdown(f.fd, unix.SHUT_RDWR)
}

func listenFloor(addr string) (*floorServer, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-server %q: %w", addr, err)
	}
	family := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", ap, err)
	}
	return &floorServer{fd: fd}, nil
}

// serve answers until close; it closes the socket when it returns.
func (f *floorServer) serve() error {
	defer unix.Close(f.fd)
	fd := f.fd
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var (
		rx, tx [floorBatch]floorMsg
		rxIov  [floorBatch]unix.Iovec
		txIov  [floorBatch]unix.Iovec
		names  [floorBatch]unix.RawSockaddrInet6
		oob    [floorBatch][128]byte
		rbuf   [floorBatch][2048]byte
		tbuf   [floorBatch][wire.HeaderLen]byte
	)
	for i := range rx {
		rxIov[i].Base = &rbuf[i][0]
		rxIov[i].SetLen(len(rbuf[i]))
		rx[i].hdr.Iov = &rxIov[i]
		rx[i].hdr.SetIovlen(1)
		txIov[i].Base = &tbuf[i][0]
		txIov[i].SetLen(wire.HeaderLen)
		tx[i].hdr.Iov = &txIov[i]
		tx[i].hdr.SetIovlen(1)
		tx[i].hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
	}
	refID := wire.RefIDFromString("FLOR")
	for {
		for i := range rx {
			h := &rx[i].hdr
			h.Name = (*byte)(unsafe.Pointer(&names[i]))
			h.Namelen = uint32(unsafe.Sizeof(names[i]))
			h.Control = &oob[i][0]
			h.SetControllen(len(oob[i]))
		}
		// Blocking: the thread sleeps in the kernel until a request comes.
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&rx[0])), floorBatch,
			unix.MSG_WAITFORONE, 0, 0)
		if f.closed.Load() {
			return nil
		}
		if errno != 0 {
			if errno == unix.EINTR {
				continue
			}
			return fmt.Errorf("recvmmsg: %w", errno)
		}
		now := time.Now() // one clock reading per batch: reference and transmit time
		m := 0
		for i := 0; i < int(n); i++ {
			req := rbuf[i][:rx[i].len]
			if len(req) < wire.HeaderLen || req[0]&7 != wire.ModeClient {
				continue
			}
			recv := now
			if ts, ok := floorTimestamp(oob[i][:rx[i].hdr.Controllen]); ok {
				recv = ts
			}
			r := tbuf[m][:]
			clear(r)
			r[0] = req[0]&0x38 | wire.ModeServer // leap 0, the request's version
			r[1] = 1
			r[2] = req[2]
			r[3] = 0xec // precision -20
			binary.BigEndian.PutUint32(r[12:], refID)
			binary.BigEndian.PutUint64(r[16:], uint64(ntptime.FromTime(now)))
			copy(r[24:32], req[40:48])
			binary.BigEndian.PutUint64(r[32:], uint64(ntptime.FromTime(recv)))
			binary.BigEndian.PutUint64(r[40:], uint64(ntptime.FromTime(now)))
			if m != i {
				names[m] = names[i]
			}
			tx[m].hdr.Namelen = rx[i].hdr.Namelen
			m++
		}
		for off := 0; off < m; {
			k, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&tx[off])), uintptr(m-off), 0, 0, 0)
			if errno != 0 {
				if errno == unix.EINTR {
					continue
				}
				off++ // skip the datagram the kernel refused
				continue
			}
			off += int(k)
		}
	}
}

// floorTimestamp reads SCM_TIMESTAMPNS, the only control message the socket asks for,
// without the allocations of unix.ParseSocketControlMessage.
func floorTimestamp(oob []byte) (time.Time, bool) {
	hdr := int(unsafe.Sizeof(unix.Cmsghdr{}))
	if len(oob) < hdr+int(unsafe.Sizeof(unix.Timespec{})) {
		return time.Time{}, false
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS {
		return time.Time{}, false
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&oob[hdr]))
	return time.Unix(ts.Sec, ts.Nsec), true
}
