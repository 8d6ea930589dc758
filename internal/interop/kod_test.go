// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// kissServer answers every client request on h's UDP port 123 with a Kiss-o'-Death of
// code, the way classic ntpd's fast_xmit builds one: leap 3, stratum 0, the kiss code as the
// reference ID, and the request's transmit timestamp as origin, receive and transmit
// timestamps. It stops when the test ends.
func kissServer(t *testing.T, h *testnet.Host, code string) {
	t.Helper()
	var conn *net.UDPConn
	if err := h.Do(func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: 123})
		conn = c
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil || n < 48 || buf[0]&7 != 3 {
				continue
			}
			var out [48]byte
			out[0] = 3<<6 | buf[0]&0x38 | 4
			out[1] = 0      // stratum 0: a kiss
			out[2] = buf[2] // poll
			out[3] = 0xec   // precision -20
			copy(out[12:16], code)
			copy(out[24:32], buf[40:48])
			copy(out[32:40], buf[40:48])
			copy(out[40:48], buf[40:48])
			_, _ = conn.WriteToUDP(out[:], from)
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
}

// ntpqRV returns `ntpq -c "rv 0 ..."`-style variables of the first association of the
// daemon on h, through the given ntpq.
func ntpqRV(t *testing.T, h *testnet.Host, ntpq string) string {
	t.Helper()
	out, err := h.Run(t, 10*time.Second, ntpq, "-n", "-c", "associations", "127.0.0.1")
	if err != nil {
		t.Fatalf("ntpq associations: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^\s*\d+\s+(\d+)\s`).FindStringSubmatch(string(out))
	if m == nil {
		return "no association:\n" + string(out)
	}
	rv, err := h.Run(t, 10*time.Second, ntpq, "-n", "-c", "rv "+m[1]+" srcadr,reach,flash,refid,hmode", "127.0.0.1")
	if err != nil {
		t.Fatalf("ntpq rv: %v\n%s", err, rv)
	}
	return strings.Join(strings.Fields(string(rv)), " ")
}

// TestKissDenyKeepsAssociationAsClassic is issue 15's KoD acceptance: a server that answers
// with a DENY or RSTR Kiss-o'-Death does not lose its association. Classic ntpd 4.2.8p15,
// checked here against the real program, drops the kiss (counting it) and keeps polling
// with reach 0; gontp used to demobilise the server for good, silently. gontp now keeps it
// like classic, and says so once in the default log with the server's address.
func TestKissDenyKeepsAssociationAsClassic(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	ref := testnet.Reference(t, "classic-ntpd", "classic-ntpq")
	for _, code := range []string{"DENY", "RSTR"} {
		t.Run(code, func(t *testing.T) {
			n := testnet.New(t)
			srv, cls, gnt := n.Host("kod"), n.Host("classic"), n.Host("gontp")
			kissServer(t, srv, code)
			conf := "server " + srv.Addr().String() + " iburst minpoll 3 maxpoll 3\ndisable ntp\n"
			testnet.ClassicNTPD(t, cls, conf)
			gp := startGontp(t, gnt, conf)
			if !gnt.WaitUDP(123, 10*time.Second) {
				t.Fatalf("gontp does not listen:\n%s", gp.Log())
			}
			// iburst: a few kisses within seconds, then one every 8 s.
			time.Sleep(12 * time.Second)
			crv := ntpqRV(t, cls, filepath.Join(ref, "classic-ntpq"))
			grv := ntpqRV(t, gnt, binary(t, "ntpq"))
			t.Logf("classic: %s", crv)
			t.Logf("gontp:   %s", grv)
			for _, rv := range []string{crv, grv} {
				if !strings.Contains(rv, "srcadr="+srv.Addr().String()) || !strings.Contains(rv, "reach=000") {
					t.Errorf("want the association kept with reach 000: %s", rv)
				}
			}
			if fl := regexp.MustCompile(`flash=\S+`); fl.FindString(crv) != fl.FindString(grv) {
				t.Errorf("flash differs: classic %q gontp %q", fl.FindString(crv), fl.FindString(grv))
			}
			gp.Stop()
			log := gp.Log()
			want := "kiss-o'-death " + code + " from " + srv.Addr().String()
			if strings.Count(log, want) != 1 {
				t.Errorf("gontp log should say %q once at the default level:\n%s", want, log)
			}
		})
	}
}
