// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Mode-7 implementation numbers, request and error codes (classic's ntp_request.h).
const (
	implXntpdOld = 2
	implXntpd    = 3

	reqPeerList    = 0
	reqPeerListSum = 1
	reqPeerInfo    = 2
	reqPeerStats   = 3
	reqSysInfo     = 4
	reqSysStats    = 5
	reqIOStats     = 6
	reqMemStats    = 7
	reqLoopInfo    = 8
	reqTimerStats  = 9
	reqGetRestrict = 16
	reqMonGetList  = 20
	reqAuthInfo    = 28
	reqGetCtlStats = 34
	reqGetKernel   = 38
	reqMonGetList1 = 42

	errImpl       = 1
	errReq        = 2
	errFmt        = 3
	errNoData     = 4
	errAuth       = 7
	errTimeout    = 0x10 // ntpdc's own codes, past the server's
	errIncomplete = 0x11
	errNotSent    = 0x12 // the request could not be signed: classic's sendrequest failing
	reqIfStats    = 44
	reqIfReload   = 45

	reqLenNoMAC = 192 // REQ_LEN_NOMAC: every unauthenticated request is this long
	maxSeq      = 127
)

// session is one host ntpdc talks to (classic's openhost and doquery).
type session struct {
	conn     *net.UDPConn
	host     string // as given, for messages
	impl     byte
	timeout  time.Duration // first packet (ntpdc's DEFTIMEOUT)
	stimeout time.Duration // between packets of one response (DEFSTIMEOUT)
	stderr   io.Writer
	progname string
	// sign turns a request into an authenticated one (auth.go); false: the request is not
	// sent (no key), as classic's sendrequest returning 1.
	sign func(req []byte) ([]byte, bool)
}

// response is a reassembled answer: its items, each itemSize octets.
type response struct {
	items    [][]byte
	itemSize int
}

// query sends one request and collects the answer, as classic's doquery: an error code of
// the server, a timeout or an incomplete answer is reported on standard error with
// classic's words and returned.
func (s *session) query(code byte, items int, itemSize int, data []byte) (*response, int) {
	return s.queryQuiet(code, items, itemSize, data, 0)
}

// queryQuiet is query that does not report the server's error codes set in quiet (classic's
// doquery quiet_mask, with which monlist tries the newer request first).
func (s *session) queryQuiet(code byte, items int, itemSize int, data []byte, quiet int) (*response, int) {
	return s.do(code, items, itemSize, data, quiet, false)
}

// queryAuth sends an authenticated request without data (ifstats, ifreload), signed with
// the key of the keyid and passwd commands; a request that cannot be signed is not sent and
// nothing more is printed, as in classic.
func (s *session) queryAuth(code byte) (*response, int) {
	return s.do(code, 0, 0, nil, 0, true)
}

func (s *session) do(code byte, items int, itemSize int, data []byte, quiet int, auth bool) (*response, int) {
	for {
		r, res := s.exchange(code, items, itemSize, data, auth)
		if res == errNotSent {
			return nil, res
		}
		if res == errImpl && s.impl == implXntpd {
			s.impl = implXntpdOld // classic retries with the pre-IPv6 implementation
			continue
		}
		if res != 0 && quiet&(1<<res) == 0 {
			msg := map[int]string{
				errImpl:       "***Server implementation incompatible with our own",
				errReq:        "***Server doesn't implement this request",
				errFmt:        "***Server reports a format error in the received packet (shouldn't happen)",
				errNoData:     "***Server reports data not found",
				errAuth:       "***Permission denied",
				errTimeout:    "***Request timed out",
				errIncomplete: "***Response from server was incomplete",
			}[res]
			if msg == "" {
				msg = fmt.Sprintf("***Server returns unknown error code %d", res)
			}
			fmt.Fprintln(s.stderr, msg)
		}
		return r, res
	}
}

func (s *session) exchange(code byte, nitems, itemSize int, data []byte, auth bool) (*response, int) {
	req := make([]byte, reqLenNoMAC)
	req[0] = 2<<3 | 7 // version 2 (RM_VN_MODE with version 0), mode 7
	req[2] = s.impl
	req[3] = code
	binary.BigEndian.PutUint16(req[4:], uint16(nitems&0xfff))
	binary.BigEndian.PutUint16(req[6:], uint16(itemSize&0xfff))
	copy(req[8:8+176], data)
	if auth {
		signed, ok := s.sign(req)
		if !ok {
			return nil, errNotSent
		}
		req = signed
	}
	// Drain anything left over from an earlier, abandoned exchange.
	_ = s.conn.SetReadDeadline(time.Now())
	junk := make([]byte, 600)
	for {
		if _, err := s.conn.Read(junk); err != nil {
			break
		}
	}
	if _, err := s.conn.Write(req); err != nil {
		fmt.Fprintf(s.stderr, "%s: write: %s\n", s.progname, cError(err))
		return nil, errTimeout
	}
	got := map[int][]byte{}
	last := -1
	r := &response{itemSize: -1}
	deadline := time.Now().Add(s.timeout)
	buf := make([]byte, 600)
	for {
		_ = s.conn.SetReadDeadline(deadline)
		n, err := s.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if len(got) == 0 {
					fmt.Fprintf(s.stderr, "%s: timed out, nothing received\n", s.host)
					return nil, errTimeout
				}
				fmt.Fprintf(s.stderr, "%s: timed out with incomplete data\n", s.host)
				return nil, errIncomplete
			}
			fmt.Fprintf(s.stderr, "%s: read: %s\n", s.progname, cError(err))
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			return nil, errTimeout
		}
		p := buf[:n]
		// classic's getresponse checks: a mode-7 response to our request, not a request.
		if n < 8 || p[0]&7 != 7 || p[0]&0x80 == 0 || p[2] != s.impl || p[3] != code {
			continue
		}
		if e := int(p[4] >> 4); e != 0 {
			return nil, e
		}
		seq := int(p[1] & 0x7f)
		cnt := int(binary.BigEndian.Uint16(p[4:]) & 0xfff)
		size := int(binary.BigEndian.Uint16(p[6:]) & 0xfff)
		if cnt*size > n-8 {
			continue // classic: "Received items count %d, size %d exceeds data area"
		}
		if r.itemSize >= 0 && size != r.itemSize && cnt > 0 {
			continue
		}
		if cnt > 0 {
			r.itemSize = size
		}
		if _, dup := got[seq]; dup {
			continue
		}
		got[seq] = append([]byte(nil), p[8:8+cnt*size]...)
		if p[0]&0x40 == 0 {
			last = seq
		}
		if last >= 0 && len(got) == last+1 {
			break
		}
		deadline = time.Now().Add(s.stimeout)
	}
	if r.itemSize < 0 {
		r.itemSize = 0
	}
	for i := 0; i <= last; i++ {
		b := got[i]
		for len(b) >= r.itemSize && r.itemSize > 0 {
			r.items = append(r.items, b[:r.itemSize])
			b = b[r.itemSize:]
		}
	}
	return r, 0
}

// cError is an error's C library text, as classic's %m prints it.
func cError(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if s := errno.Error(); s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}
