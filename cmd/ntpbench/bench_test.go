// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gontp/internal/snapshot"

	"gontp/internal/ntptime"
	"gontp/internal/server"
	"gontp/internal/wire"

	"golang.org/x/sys/unix"
)

// responder answers on a loopback socket with gontp's real reply path, after mangle has had
// a chance to break the reply.
func responder(t *testing.T, mangle func(req, reply []byte) []byte) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skipf("no loopback UDP here: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	start := ntptime.FromTime(time.Now())
	srv := server.New(server.Config{}, start)
	snap := &snapshot.Snapshot{Sys: snapshot.SysVars{Leap: wire.LeapNone, Stratum: 2, Precision: -20,
		RefID: wire.RefIDFromString("TEST"), RefTime: start, RootDispTime: start}}
	go func() {
		buf := make([]byte, 2048)
		out := make([]byte, server.MaxReplyLen)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			now := ntptime.FromTime(time.Now())
			m, v := srv.Respond(buf[:n], now, snap, server.Source{}, out)
			if m == 0 {
				continue
			}
			if v.StampXmt() {
				wire.PutXmt(out[:m], ntptime.FromTime(time.Now()))
			}
			reply := out[:m]
			if mangle != nil {
				reply = mangle(buf[:n], reply)
			}
			c.WriteToUDPAddrPort(reply, from)
		}
	}()
	return c.LocalAddr().String()
}

func TestClosedLoop(t *testing.T) {
	addr := responder(t, nil)
	r, err := Run(Options{Server: addr, Duration: 300 * time.Millisecond, InFlight: 8, Sockets: 4,
		Timeout: time.Second, PIDs: []int{os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Replies == 0 || r.Invalid != 0 || r.Replies+r.Lost != r.Sent || r.Unsynchronised != 0 {
		t.Errorf("report %+v", r)
	}
	if r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Errorf("latency %+v", r.Latency)
	}
	if len(r.Servers) != 1 || r.Servers[0].RSSKiB <= 0 {
		t.Errorf("process figures %+v", r.Servers)
	} else if p := r.Servers[0]; math.Abs(p.UserPerReplyUS+p.SystemPerReplyUS-p.CPUPerReplyUS) > 1e-9*(1+p.CPUPerReplyUS) {
		t.Errorf("user %v + system %v µs per reply is not the total %v", p.UserPerReplyUS, p.SystemPerReplyUS, p.CPUPerReplyUS)
	}
	t.Logf("%.0f replies/s, p50 %.0f µs", r.RepliesPerSec, r.Latency.P50)
}

func TestOpenLoop(t *testing.T) {
	addr := responder(t, nil)
	r, err := Run(Options{Server: addr, Duration: 500 * time.Millisecond, Rate: 2000, Sockets: 4,
		Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The offered rate, not the server, decides how many are sent (a sanity bound, loose
	// because the machine may be busy).
	if r.Sent < 500 || r.Sent > 1100 || r.Invalid != 0 {
		t.Errorf("report %+v", r)
	}
}

func TestInvalidRepliesAreCounted(t *testing.T) {
	for _, c := range []struct {
		name   string
		mangle func(req, reply []byte) []byte
		reason string
	}{
		{"origin", func(_, b []byte) []byte { b[24] ^= 0xff; return b }, "origin"},
		{"mode", func(_, b []byte) []byte { b[0] = b[0]&^7 | 3; return b }, "mode"},
		{"short", func(_, b []byte) []byte { return b[:40] }, "short"},
		{"time", func(_, b []byte) []byte { b[40] ^= 0x40; return b }, "transmit time"},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := responder(t, c.mangle)
			r, err := Run(Options{Server: addr, Duration: 100 * time.Millisecond, InFlight: 2, Sockets: 2,
				Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if r.Invalid == 0 || r.InvalidReasons[c.reason] != r.Invalid || r.Replies != 0 {
				t.Errorf("report %+v", r)
			}
		})
	}
}

func TestKoDCounted(t *testing.T) {
	addr := responder(t, func(req, b []byte) []byte {
		b[1] = 0
		copy(b[12:16], "RATE")
		return b
	})
	r, err := Run(Options{Server: addr, Duration: 100 * time.Millisecond, InFlight: 2, Sockets: 2, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.KoD == 0 || r.Replies != 0 || r.Invalid != 0 {
		t.Errorf("report %+v", r)
	}
}

func TestCommandLine(t *testing.T) {
	addr := responder(t, nil)
	var out bytes.Buffer
	if err := run([]string{"-server", addr, "-duration", "100ms", "-inflight", "4", "-sockets", "2", "-json",
		"-pid", strconv.Itoa(os.Getpid()), "-procs", "0"}, &out); err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Replies == 0 {
		t.Errorf("JSON report %v: %s", err, out.String())
	}
	out.Reset()
	if err := run([]string{"-server", addr, "-duration", "100ms", "-rate", "100", "-procs", "0"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "open loop, 100 requests/s offered") || !strings.Contains(out.String(), "latency   p50") {
		t.Errorf("text report:\n%s", out.String())
	}
	for _, bad := range [][]string{{"-server", "nowhere"}, {"-pid", "x"}, {"-inflight", "1", "-sockets", "4"}, {"extra"}} {
		if err := run(append(bad, "-procs", "0"), &out); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFloorServer: the kernel-floor responder's replies pass every check, and close stops it.
func TestFloorServer(t *testing.T) {
	f, err := listenFloor("127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP here: %v", err)
	}
	sa, err := unix.Getsockname(f.fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	done := make(chan error, 1)
	go func() { done <- f.serve() }()
	r, err := Run(Options{Server: addr, Duration: 300 * time.Millisecond, InFlight: 8, Sockets: 4, Timeout: time.Second})
	f.close()
	if err != nil {
		t.Fatal(err)
	}
	if r.Replies == 0 || r.Invalid != 0 || r.Unsynchronised != 0 || r.Replies+r.Lost != r.Sent {
		t.Errorf("report %+v", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the floor responder did not stop on close")
	}
}
