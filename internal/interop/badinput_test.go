// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// TestHostilePacketsDoNotHurtTheServer sends the running daemon every kind of bad datagram
// (empty, truncated, oversized, wrong versions and modes, broken extension fields, mode 7,
// junk) and checks that none gets a reply except those classic ntpd answers, and that the
// daemon is still alive and serving afterwards. The counting of each kind is tested in
// internal/server against classic's observed counters.
func TestHostilePacketsDoNotHurtTheServer(t *testing.T) {
	tn := testnet.New(t)
	srv := tn.Host("gontp")
	cli := tn.Host("client")
	p := startGontp(t, srv, gontpLocalConf)
	if !srv.WaitUDP(123, 10*time.Second) {
		t.Fatal("gontp did not bind port 123")
	}
	client := func(version, mode byte) []byte {
		b := make([]byte, 48)
		b[0] = version<<3 | mode
		b[40] = 0xde
		return b
	}
	big := append(client(4, 3), make([]byte, 1000)...)
	for i := range big[48:] {
		big[48+i] = byte(i)
	}
	// 32 octets after the header are an extension field (more than a MAC's 24), whose length
	// field says 100: it runs past the datagram.
	badExt := append(client(4, 3), 0, 1, 0, 100)
	badExt = append(badExt, make([]byte, 28)...)
	cases := []struct {
		name  string
		pkt   []byte
		reply bool
	}{
		{"empty", []byte{}, false},
		{"one octet", []byte{0x23}, false},
		{"truncated header", client(4, 3)[:47], false},
		{"oversized junk after the header", big, false},
		{"broken extension field", badExt, false},
		{"version 0", client(0, 3), false},
		{"version 5", client(5, 3), false},
		{"version 7", client(7, 3), false},
		{"mode 0, version 4", client(4, 0), false},
		{"mode 2 from a stranger", client(4, 2), false},
		{"mode 4 from a stranger", client(4, 4), false},
		{"mode 5 broadcast", client(4, 5), false},
		{"mode 7 (ntpdc)", []byte{0x17, 0x00, 0x03, 0x2a, 0, 0, 0, 0}, false},
		{"mode 6 garbage", []byte{0x16, 0xff}, false},
		{"all ones", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false},
		// Classic answers a version-1 packet with mode 0 as a client request, and a valid
		// request of any version 1-4 (observed; internal/server/testdata).
		{"version 1 mode 0", client(1, 0), true},
		{"version 3 client", client(3, 3), true},
	}
	err := cli.Do(func() error {
		conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(srv.Addr(), 123)))
		if err != nil {
			return err
		}
		defer conn.Close()
		buf := make([]byte, 2048)
		for _, c := range cases {
			for range 50 { // a burst of each, to look for crashes and floods
				if _, err := conn.Write(c.pkt); err != nil {
					t.Errorf("%s: send: %v", c.name, err)
				}
			}
			got := 0
			conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			for {
				n, err := conn.Read(buf)
				if err != nil {
					break
				}
				if n < 48 {
					t.Errorf("%s: a %d-octet reply", c.name, n)
				}
				got++
			}
			if c.reply && got == 0 {
				t.Errorf("%s: no reply; classic ntpd answers it", c.name)
			}
			if !c.reply && got > 0 {
				t.Errorf("%s: %d replies; classic ntpd sends none", c.name, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Exited() {
		t.Fatalf("gontp exited after the hostile packets:\n%s", p.Log())
	}
	if _, err := cli.WaitSynced(srv.Addr(), 30*time.Second); err != nil {
		t.Fatalf("gontp no longer serves good time after the hostile packets: %v", err)
	}
}
