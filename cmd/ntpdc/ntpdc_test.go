// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"encoding/binary"
	"net"
	"os"
	"strings"
	"testing"
)

// fakeServer answers every mode-7 request on loopback with one response packet carrying
// items (each itemSize octets) for the request code it was asked, or error err when items
// is nil. It stands in for servers older than classic 4.2.8p15, which still sent monlist
// data; 4.2.8p15 itself answers "data not found" (TestGontpNtpdcAgainstClassic).
func fakeServer(t *testing.T, itemSize int, items [][]byte, err byte) {
	t.Helper()
	conn, e := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if e != nil {
		t.Skipf("no loopback UDP socket: %v", e)
	}
	t.Cleanup(func() { conn.Close() })
	old := serverPort
	serverPort = uint16(conn.LocalAddr().(*net.UDPAddr).Port)
	t.Cleanup(func() { serverPort = old })
	go func() {
		buf := make([]byte, 600)
		for {
			n, from, e := conn.ReadFromUDP(buf)
			if e != nil {
				return
			}
			if n < 8 {
				continue
			}
			resp := make([]byte, 8)
			resp[0] = 0x80 | buf[0]&0x38 | 7
			resp[2], resp[3] = buf[2], buf[3]
			if items == nil {
				resp[4] = err << 4
			} else {
				binary.BigEndian.PutUint16(resp[4:], uint16(len(items)))
				binary.BigEndian.PutUint16(resp[6:], uint16(itemSize))
				for _, it := range items {
					resp = append(resp, it...)
				}
			}
			_, _ = conn.WriteToUDP(resp, from)
		}
	}()
}

func runNtpdc(t *testing.T, stdin string, args ...string) (string, string) {
	t.Helper()
	in, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.WriteString(stdin); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	run(append([]string{"ntpdc"}, args...), in, &out, &errOut)
	return out.String(), errOut.String()
}

// TestMonlistLayouts: an info_monitor_1 list (72-octet items) is printed in classic ntpdc's
// layout, "%-22.22s %5d %-15s %8lu %1u %1u %6lx %6lu %7lu".
func TestMonlistLayouts(t *testing.T) {
	it := make([]byte, 72)
	binary.BigEndian.PutUint32(it[0:], 64)    // avg_int
	binary.BigEndian.PutUint32(it[4:], 3)     // last_int
	binary.BigEndian.PutUint32(it[8:], 0x1d0) // restr
	binary.BigEndian.PutUint32(it[12:], 1234) // count
	copy(it[16:20], []byte{198, 18, 0, 7})    // addr
	copy(it[20:24], []byte{198, 18, 0, 2})    // daddr
	binary.BigEndian.PutUint16(it[28:], 123)  // port
	it[30], it[31] = 3, 4                     // mode, version
	fakeServer(t, 72, [][]byte{it}, 0)
	out, errOut := runNtpdc(t, "", "-n", "-c", "monlist", "127.0.0.1")
	want := "remote address          port local address      count m ver rstr avgint  lstint\n" +
		"===============================================================================\n" +
		"198.18.0.7               123 198.18.0.2          1234 3 4    1d0     64       3\n"
	if out != want || errOut != "" {
		t.Errorf("monlist:\n%q\nstderr %q\nwant:\n%q", out, errOut, want)
	}
}

// TestInteractiveFromPipe: without -c, commands come from stdin; a pipe or a file gets no
// prompt (classic prints "ntpdc> " only on a terminal), and two hosts given with -c get a
// "--- HOST ---" line before each command.
func TestInteractiveFromPipe(t *testing.T) {
	fakeServer(t, 0, nil, errNoData)
	out, errOut := runNtpdc(t, "version\nmonlist\nquit\nversion\n", "127.0.0.1")
	if out != version+"\n" || errOut != "***Server reports data not found\n" {
		t.Errorf("interactive: stdout %q, stderr %q", out, errOut)
	}
	out, _ = runNtpdc(t, "", "-c", "version", "-c", "version", "127.0.0.1", "127.0.0.1")
	h := "--- 127.0.0.1 ---\n" + version + "\n"
	if out != h+h+h+h {
		t.Errorf("two hosts: %q", out)
	}
}
