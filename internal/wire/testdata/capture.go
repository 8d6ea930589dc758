// SPDX-License-Identifier: BSD-2-Clause

//go:build ignore

// capture records NTP datagrams on loopback for the golden files in testdata/golden. It never
// talks to anything but 127.0.0.1 or ::1.
//
//	go run capture.go listen -addr 127.0.0.1:123 -out golden/x.hex [-timeout 30s]
//	    waits for one datagram, writes it as hex, does not answer.
//	go run capture.go query -addr 127.0.0.1:123 -in golden/req.hex -out golden/reply.hex
//	    sends the packet in -in (its transmit timestamp, for a mode-3 request, set to now)
//	    and writes the first reply; -in "" sends a fresh NTPv4 mode-3 request. With -reqout
//	    the request actually sent is written too.
//	go run capture.go probe -addr 127.0.0.1:123
//	    sends mode-3 requests with various trailers and prints which ones get an answer.
package main

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: capture listen|query|probe [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:123", "loopback address")
	out := fs.String("out", "", "hex file to write")
	in := fs.String("in", "", "hex file with the request to send")
	reqout := fs.String("reqout", "", "hex file for the request sent")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait")
	fs.Parse(os.Args[2:])
	ua, err := net.ResolveUDPAddr("udp", *addr)
	if err != nil {
		fatal(err)
	}
	if !ua.IP.IsLoopback() {
		fatal(fmt.Errorf("%s is not a loopback address", ua))
	}
	switch os.Args[1] {
	case "listen":
		c, err := net.ListenUDP("udp", ua)
		if err != nil {
			fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(*timeout))
		buf := make([]byte, 2048)
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			fatal(err)
		}
		fmt.Printf("%d octets from %s\n", n, from)
		write(*out, buf[:n])
	case "query":
		req := request(*in)
		reply, ok := exchange(ua, req, *timeout)
		if *reqout != "" {
			write(*reqout, req)
		}
		if !ok {
			fatal(fmt.Errorf("no reply from %s", ua))
		}
		fmt.Printf("%d octets\n", len(reply))
		write(*out, reply)
	case "probe":
		probe(ua, *timeout)
	default:
		fatal(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

// request returns the packet from a hex file, or a fresh NTPv4 client request.
func request(file string) []byte {
	var b []byte
	if file == "" {
		b = make([]byte, 48)
		b[0] = 0<<6 | 4<<3 | 3
	} else {
		raw, err := os.ReadFile(file)
		if err != nil {
			fatal(err)
		}
		b, err = hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
		if err != nil {
			fatal(fmt.Errorf("%s: %w", file, err))
		}
	}
	if len(b) >= 48 && b[0]&7 == 3 {
		binary.BigEndian.PutUint64(b[40:], ntpNow())
	}
	return b
}

func ntpNow() uint64 {
	t := time.Now()
	sec := uint64(t.Unix()+2208988800) & 0xffffffff
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return sec<<32 | frac
}

func exchange(ua *net.UDPAddr, req []byte, timeout time.Duration) ([]byte, bool) {
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return nil, false
	}
	return buf[:n], true
}

// probe sends client requests with different trailers. Classic ntpd answers a well-formed one
// (a MAC with an unknown key gets a crypto-NAK) and silently drops a bad length.
func probe(ua *net.UDPAddr, timeout time.Duration) {
	ef := func(typ, n int) []byte {
		b := make([]byte, n)
		binary.BigEndian.PutUint16(b, uint16(typ))
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		return b
	}
	cases := []struct {
		name    string
		version byte
		mode    byte
		trailer []byte
	}{
		{"plain v4", 4, 3, nil},
		{"v1 mode 0", 1, 0, nil},
		{"v2 mode 0", 2, 0, nil},
		{"v5 mode 3", 5, 3, nil},
		{"trailer 2 (unaligned)", 4, 3, make([]byte, 2)},
		{"trailer 4 key 0 (NAK)", 4, 3, make([]byte, 4)},
		{"trailer 4 key 7", 4, 3, []byte{0, 0, 0, 7}},
		{"trailer 8 key 7", 4, 3, []byte{0, 0, 0, 7, 1, 2, 3, 4}},
		{"trailer 20 key 7 (MD5)", 4, 3, append([]byte{0, 0, 0, 7}, make([]byte, 16)...)},
		{"trailer 24 key 7 (SHA1)", 4, 3, append([]byte{0, 0, 0, 7}, make([]byte, 20)...)},
		{"trailer 28 as EF len 28", 4, 3, ef(0x0104, 28)},
		{"trailer 28 as EF len 12 + 16 more", 4, 3, append(ef(0x0104, 12), make([]byte, 16)...)},
		{"trailer 28 EF len 32 (overrun)", 4, 3, ef(0x0104, 32)[:28]},
		{"trailer 28 EF len 30 (unaligned)", 4, 3, ef(0x0104, 30)[:28]},
		{"EF 28 + MAC 20", 4, 3, append(ef(0x0104, 28), append([]byte{0, 0, 0, 7}, make([]byte, 16)...)...)},
		{"EF 28 + 2 (unaligned)", 4, 3, append(ef(0x0104, 28), 0, 0)},
		{"v3 EF 28", 3, 3, ef(0x0104, 28)},
		{"EF 16 + EF 28", 4, 3, append(ef(0x0104, 16), ef(0x0104, 28)...)},
		{"EF 8 + EF 28", 4, 3, append(ef(0x0104, 8), ef(0x0104, 28)...)},
	}
	for _, tc := range cases {
		b := make([]byte, 48, 48+len(tc.trailer))
		b[0] = tc.version<<3 | tc.mode
		binary.BigEndian.PutUint64(b[40:], ntpNow())
		b = append(b, tc.trailer...)
		reply, ok := exchange(ua, b, timeout)
		if ok {
			fmt.Printf("%-36s len %3d: reply %d octets, first octet %#02x stratum %d trailer %x\n",
				tc.name, len(b), len(reply), reply[0], reply[1], reply[48:])
		} else {
			fmt.Printf("%-36s len %3d: no reply\n", tc.name, len(b))
		}
	}
}

func write(file string, b []byte) {
	if file == "" {
		fmt.Println(hex.Dump(b))
		return
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 16 {
		sb.WriteString(hex.EncodeToString(b[i:min(i+16, len(b))]))
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "capture:", err)
	os.Exit(1)
}
