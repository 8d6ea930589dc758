// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/testnet"
	"gontp/internal/wire"
)

// countingServer is a minimal synchronised NTP server (stratum 2) run inside a test
// network's namespace that records when each client's requests arrive.
type countingServer struct {
	conn *net.UDPConn
	mu   sync.Mutex
	seen map[netip.Addr][]time.Time
}

func startCountingServer(t *testing.T, h *testnet.Host) *countingServer {
	t.Helper()
	s := &countingServer{seen: map[netip.Addr][]time.Time{}}
	if err := h.Do(func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: h.Addr().AsSlice(), Port: 123})
		s.conn = c
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.conn.Close() })
	go s.serve()
	return s
}

func (s *countingServer) serve() {
	buf := make([]byte, 1024)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		rx := time.Now()
		if n < wire.HeaderLen || buf[0]&7 != wire.ModeClient {
			continue
		}
		s.mu.Lock()
		s.seen[from.Addr().Unmap()] = append(s.seen[from.Addr().Unmap()], rx)
		s.mu.Unlock()
		var req wire.Packet
		if _, err := wire.Decode(buf[:n], &req); err != nil {
			continue
		}
		rep := wire.Packet{Leap: wire.LeapNone, Version: req.Version, Mode: wire.ModeServer, Stratum: 2,
			Poll: req.Poll, Precision: -20, RootDisp: ntptime.ShortFromSeconds(0.001),
			RefID: 0xc0000201, RefTime: ntptime.FromTime(rx.Add(-time.Second)),
			Org: req.Xmt, Rec: ntptime.FromTime(rx), Xmt: ntptime.FromTime(time.Now())}
		out := make([]byte, wire.HeaderLen)
		rep.Encode(out)
		s.conn.WriteToUDPAddrPort(out, from)
	}
}

// volleys splits a client's request times into volleys (a gap of more than 5 s starts a
// new one) and returns their sizes and the spacings inside them.
func volleys(ts []time.Time) (sizes []int, spacing []time.Duration) {
	for i, t := range ts {
		if i == 0 || t.Sub(ts[i-1]) > 5*time.Second {
			sizes = append(sizes, 1)
			continue
		}
		sizes[len(sizes)-1]++
		spacing = append(spacing, t.Sub(ts[i-1]))
	}
	return sizes, spacing
}

// TestBurstMatchesClassic is issue 19 item 6, as far as a test of a minute can take it:
// gontp's `burst` against classic ntpd 4.2.8p15's on the same server line (`server S burst
// minpoll 3 maxpoll 6`, `disable ntp`) to the same small server, which counts the requests
// of each. Once the server is reachable, classic's process_packet arms a volley of
// min(2^(hpoll-minpoll), 8) packets two seconds apart; while the clock is not disciplined
// hpoll stays at minpoll (classic's sys_poll does not rise), so each poll is one packet, 8 s
// apart (classic's sys_poll starts at ntp_minpoll: tc=3), and gontp must send exactly that
// too: the volleys (requests less than 5 s apart) must have the same sizes for both. The
// volleys of 8 need hpoll three above minpoll, which classic's discipline reaches only after
// tens of minutes; peer's TestBurst covers them. The request times are printed.
func TestBurstMatchesClassic(t *testing.T) {
	t.Parallel()
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	tn := testnet.New(t)
	sh := tn.Host("server")
	gh := tn.Host("gontp")
	ch := tn.Host("classic")
	srv := startCountingServer(t, sh)
	line := fmt.Sprintf("server %s burst minpoll 3 maxpoll 6\ndisable ntp\n", sh.Addr())
	g := startGontp(t, gh, line)
	testnet.ClassicNTPD(t, ch, line)
	ok, _ := waitFor(60*time.Second, func() (bool, string) {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		gs, _ := volleys(srv.seen[gh.Addr()])
		cs, _ := volleys(srv.seen[ch.Addr()])
		return len(gs) >= 5 && len(cs) >= 5, ""
	})
	srv.mu.Lock()
	gs, _ := volleys(srv.seen[gh.Addr()])
	cs, _ := volleys(srv.seen[ch.Addr()])
	rel := func(ts []time.Time) []string {
		var out []string
		for _, x := range ts {
			out = append(out, fmt.Sprintf("%.1f", x.Sub(ts[0]).Seconds()))
		}
		return out
	}
	rv, _ := gh.Run(t, 10*time.Second, binary(t, "ntpq"), "-c", "rv 0 tc", "127.0.0.1")
	crv, _ := ch.Run(t, 10*time.Second, filepath.Join(ref, "classic-ntpq"), "-c", "rv 0 tc", "127.0.0.1")
	t.Logf("gontp %s classic %s", strings.TrimSpace(string(rv)), strings.TrimSpace(string(crv)))
	t.Logf("figure: request times (s from the first): gontp %v, classic %v", rel(srv.seen[gh.Addr()]), rel(srv.seen[ch.Addr()]))
	srv.mu.Unlock()
	if !ok {
		t.Fatalf("fewer than five polls each after a minute (gontp %v, classic %v):\n%s", gs, cs, g.Log())
	}
	// The last volley may be in progress: compare the complete ones.
	for i := 0; i < min(len(gs), len(cs))-1; i++ {
		if gs[i] != cs[i] {
			t.Errorf("volley %d: gontp sent %d packets, classic %d (gontp %v, classic %v)", i, gs[i], cs[i], gs, cs)
		}
	}
}
