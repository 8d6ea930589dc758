// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"gontp/internal/wire"
)

// FuzzResponse feeds arbitrary response data to everything in ntpq that parses what a server
// sends: the item parser, the cooked printer, the peers row, the labelled displays, the MRU,
// ifstats and reslist readers, and the fragment reassembler. None may panic or loop.
func FuzzResponse(f *testing.F) {
	f.Add([]byte("srcadr=127.0.0.2, srcport=123, dstadr=127.0.0.1, hmode=3, refid=GPS,\r\nreach=0xff, "+
		"offset=0.094, delay=0.277, jitter=0.027, rec=0xeeb57bd3.5a9c373a, flash=0x1600,\r\n"+
		"filtdelay= 0.28 0.32 0.31 0.19 0.19 0.32 0.30 0.32\r\n"), uint16(0x961a))
	f.Add([]byte(`version="ntpd 4.2.8p15, x", leap=3, stratum=16, refid=INIT, reftime=0x00000000.00000000`), uint16(0xc016))
	f.Add([]byte("nonce=abc, addr.0=1.2.3.4:123, last.0=0xeeb57bd3.5a9c373a, first.0=0xeeb57bd3.5a9c373a, "+
		"ct.0=3, mv.0=36, rs.0=0x380, now=0xeeb57bd4.00000000, last.newest=0xeeb57bd3.5a9c373a"), uint16(0))
	f.Add([]byte(`addr.0=[::1]:123, bcast.0=, en.0=1, name.0="lo", flags.0=0x5, tl.0=0, mc.0=0, rx.0=1, tx.0=2, txerr.0=0, pc.0=0, up.0=9`), uint16(0))
	f.Add([]byte("addr.0=0.0.0.0, mask.0=0.0.0.0, hits.0=4, flags.0=ignore"), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, status uint16) {
		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("ntpq hangs on response %q status %#04x", data, status))
		})
		defer watchdog.Stop()
		vars := ParseVars(data)
		for _, v := range vars {
			if len(v.Name) >= maxVarLen || len(v.Value) >= maxValLen {
				t.Fatalf("item over classic's limits: %d/%d", len(v.Name), len(v.Value))
			}
		}
		r := NewRunner(io.Discard, io.Discard)
		r.Loc = time.UTC
		r.Now = func() time.Time { return time.Unix(1795888529, 0) }
		r.Resolve = func(netip.Addr) string { return "" }
		r.pause = func(time.Duration) {}
		for _, kind := range []int{StatusSys, StatusPeer, StatusClock} {
			r.printVars(io.Discard, data, status, kind, false)
		}
		r.Raw = true
		r.printVars(io.Discard, data, status, StatusSys, false)
		r.Raw = false
		for _, fl := range []int{peersN, peersA, peersO} {
			r.PeerLine(vars, 1, status, fl, 0)
		}
		r.parseMRU(data, nil, 0, 0)
		// The displays that query: answer every request with data, split into fragments.
		r.SetConn(&echoConn{data: data, status: status}, "fuzz")
		r.Run("sysinfo")
		r.Run("pstats 1")
		r.Run("ifstats")
		r.Run("reslist")
		r.Run("mrulist")
		r.Run("peers")
		r.Run("as")

		// Reassembly: cut data at positions taken from itself, deliver in reverse.
		var a Assembler
		for off := len(data); off > 0; off -= 7 {
			start := max(0, off-7)
			h := wire.ControlHeader{Response: true, More: off != len(data), Offset: uint16(start)}
			if _, err := a.Add(h, data[start:off]); err != nil {
				return
			}
		}
		if len(data) > 0 && !bytes.Equal(a.Response().Data, data) {
			t.Fatal("reassembly in reverse order lost data")
		}
	})
}

// echoConn answers every request with the same data, in fragments of 468 octets.
type echoConn struct {
	data    []byte
	status  uint16
	pending [][]byte
}

func (c *echoConn) Send(pkt []byte) error {
	h, _, _, err := wire.DecodeControl(pkt)
	if err != nil {
		return err
	}
	for off := 0; off == 0 || off < len(c.data); off += wire.ControlMaxData {
		end := min(off+wire.ControlMaxData, len(c.data))
		rh := wire.ControlHeader{Version: 2, Response: true, More: end < len(c.data), Opcode: h.Opcode,
			Sequence: h.Sequence, Status: c.status, Offset: uint16(off), AssocID: h.AssocID}
		b := make([]byte, 600)
		n, err := wire.EncodeControl(b, rh, c.data[off:end])
		if err != nil {
			return err
		}
		c.pending = append(c.pending, b[:n])
		if off > 30*wire.ControlMaxData {
			break
		}
	}
	return nil
}

func (c *echoConn) Recv(buf []byte, _ time.Time) (int, error) {
	if len(c.pending) == 0 {
		return 0, ErrTimeout
	}
	n := copy(buf, c.pending[0])
	c.pending = c.pending[1:]
	return n, nil
}
