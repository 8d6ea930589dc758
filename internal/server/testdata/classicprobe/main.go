// SPDX-License-Identifier: BSD-2-Clause

//go:build ignore

// Command classicprobe sends hand-made NTP packets to a running classic ntpd 4.2.8p15 and
// prints what it answers and how its ss_* counters moved. It is the manual probe behind
// ../classic-observations.md; run it through ../classicprobe.sh, which starts classic ntpd in
// a private network namespace (never on the host's port 123) and stops it by pid afterwards.
//
//	go run ./testdata/classicprobe -addr 127.0.0.1:123 [-only name,name] [-repeat n]
//
// Between cases it reads the counters with a mode-6 READVAR request (one more packet in
// ss_received, which it subtracts).
package main

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

var counterNames = []string{
	"ss_received", "ss_thisver", "ss_oldver", "ss_badformat", "ss_badauth",
	"ss_declined", "ss_restricted", "ss_limited", "ss_kodsent", "ss_processed",
}

// header builds a 48-octet header with the given first octet fields and recognisable
// timestamps (org 0x11.., rec 0x22.., xmt 0x33..).
func header(li, vn, mode uint8, poll int8) []byte {
	b := make([]byte, 48)
	b[0] = li<<6 | vn<<3 | mode
	b[1] = 0 // stratum
	b[2] = byte(poll)
	b[3] = 0xec                                    // precision -20
	binary.BigEndian.PutUint32(b[4:], 0x00010000)  // rootdelay 1 s
	binary.BigEndian.PutUint32(b[8:], 0x00020000)  // rootdisp 2 s
	binary.BigEndian.PutUint32(b[12:], 0x58595a5a) // refid "XYZZ"
	binary.BigEndian.PutUint64(b[16:], 0x0102030405060708)
	binary.BigEndian.PutUint64(b[24:], 0x1111111111111111)
	binary.BigEndian.PutUint64(b[32:], 0x2222222222222222)
	binary.BigEndian.PutUint64(b[40:], 0x3333333333333333)
	return b
}

func ext(typ uint16, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	return b
}

func mac(keyid uint32, digest int) []byte {
	b := make([]byte, 4+digest)
	binary.BigEndian.PutUint32(b, keyid)
	for i := 4; i < len(b); i++ {
		b[i] = 0xa5
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

type probeCase struct {
	name string
	pkt  []byte
}

func cases() []probeCase {
	junk := make([]byte, 1000)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	zeroXmt := header(0, 4, 3, 6)
	binary.BigEndian.PutUint64(zeroXmt[40:], 0)
	allZero := header(0, 4, 3, 6)
	for i := 1; i < 48; i++ {
		allZero[i] = 0
	}
	badExtLen := ext(0x0104, 16)
	binary.BigEndian.PutUint16(badExtLen[2:], 14)
	longExt := ext(0x0104, 16)
	binary.BigEndian.PutUint16(longExt[2:], 64)
	return []probeCase{
		{"v4-mode3", header(0, 4, 3, 6)},
		{"v3-mode3", header(0, 3, 3, 6)},
		{"v2-mode3", header(0, 2, 3, 6)},
		{"v1-mode3", header(0, 1, 3, 6)},
		{"v4-mode3-li3", header(3, 4, 3, 6)},
		{"v4-mode3-poll0", header(0, 4, 3, 0)},
		{"v4-mode3-poll2", header(0, 4, 3, 2)},
		{"v4-mode3-poll17", header(0, 4, 3, 17)},
		{"v4-mode3-poll-6", header(0, 4, 3, -6)},
		{"v4-mode3-poll127", header(0, 4, 3, 127)},
		{"v4-mode1", header(0, 4, 1, 6)},
		{"v3-mode1", header(0, 3, 1, 6)},
		{"v4-mode1-li3-st0", header(3, 4, 1, 6)},
		{"v4-mode2", header(0, 4, 2, 6)},
		{"v4-mode4", header(0, 4, 4, 6)},
		{"v4-mode5", header(0, 4, 5, 6)},
		{"v4-mode7", header(0, 4, 7, 6)},
		{"v2-mode7", header(0, 2, 7, 6)},
		{"v1-mode0", header(0, 1, 0, 6)},
		{"v4-mode0", header(0, 4, 0, 6)},
		{"v2-mode0", header(0, 2, 0, 6)},
		{"v0-mode3", header(0, 0, 3, 6)},
		{"v5-mode3", header(0, 5, 3, 6)},
		{"v6-mode3", header(0, 6, 3, 6)},
		{"v7-mode3", header(0, 7, 3, 6)},
		{"v5-mode1", header(0, 5, 1, 6)},
		{"len0", []byte{}},
		{"len1-v4-mode3", []byte{0x23}},
		{"len47-v4-mode3", header(0, 4, 3, 6)[:47]},
		{"len47-v3-mode3", header(0, 3, 3, 6)[:47]},
		{"len47-v0-mode3", header(0, 0, 3, 6)[:47]},
		{"len12-v4-mode1", header(0, 4, 1, 6)[:12]},
		{"len49", cat(header(0, 4, 3, 6), junk[:1])},
		{"len50", cat(header(0, 4, 3, 6), junk[:2])},
		{"len1048-junk", cat(header(0, 4, 3, 6), junk)},
		{"len1048-zeros", cat(header(0, 4, 3, 6), make([]byte, 1000))},
		{"nak-from-client", cat(header(0, 4, 3, 6), mac(0, 0))},
		{"keyid1-only-4", cat(header(0, 4, 3, 6), mac(1, 0))},
		{"mac8", cat(header(0, 4, 3, 6), mac(1, 4))},
		{"mac12", cat(header(0, 4, 3, 6), mac(1, 8))},
		{"mac16", cat(header(0, 4, 3, 6), mac(1, 12))},
		{"mac-md5-key1", cat(header(0, 4, 3, 6), mac(1, 16))},
		{"mac-sha1-key1", cat(header(0, 4, 3, 6), mac(1, 20))},
		{"mac-md5-key0", cat(header(0, 4, 3, 6), mac(0, 16))},
		{"mac-md5-key65535", cat(header(0, 4, 3, 6), mac(65535, 16))},
		{"mac-md5-key70000", cat(header(0, 4, 3, 6), mac(70000, 16))},
		{"v3-mac-md5-key1", cat(header(0, 3, 3, 6), mac(1, 16))},
		{"v1-mac-md5-key1", cat(header(0, 1, 3, 6), mac(1, 16))},
		{"mac28", cat(header(0, 4, 3, 6), mac(1, 24))},
		{"ext16", cat(header(0, 4, 3, 6), ext(0x0104, 16))},
		{"ext28", cat(header(0, 4, 3, 6), ext(0x0104, 28))},
		{"ext28-mac-md5", cat(header(0, 4, 3, 6), ext(0x0104, 28), mac(1, 16))},
		{"ext28-nak", cat(header(0, 4, 3, 6), ext(0x0104, 28), mac(0, 0))},
		{"ext16-ext16", cat(header(0, 4, 3, 6), ext(0x0104, 16), ext(0x0204, 16))},
		{"ext-len14", cat(header(0, 4, 3, 6), badExtLen, make([]byte, 16))},
		{"ext-len64-overrun", cat(header(0, 4, 3, 6), longExt, make([]byte, 16))},
		{"v3-ext28", cat(header(0, 3, 3, 6), ext(0x0104, 28))},
		{"mode1-mac-md5-key1", cat(header(0, 4, 1, 6), mac(1, 16))},
		{"mode1-nak", cat(header(0, 4, 1, 6), mac(0, 0))},
		{"mode1-ext28", cat(header(0, 4, 1, 6), ext(0x0104, 28))},
		{"len12-v2-mode7", header(0, 2, 7, 6)[:12]},
		{"len8-v2-mode6", header(0, 2, 6, 6)[:8]},
		{"zero-xmt", zeroXmt},
		{"all-zero-but-first", allZero},
	}
}

type reply struct {
	b   []byte
	err error
}

func exchange(conn *net.UDPConn, pkt []byte, wait time.Duration) []reply {
	if _, err := conn.Write(pkt); err != nil {
		return []reply{{err: err}}
	}
	var out []reply
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 2048)
		conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, reply{b: buf[:n]})
	}
}

var ctlSeq uint16

// readvar sends a mode-6 READVAR for names and returns name=value pairs.
func readvar(conn *net.UDPConn, names []string) (map[string]string, error) {
	data := []byte(strings.Join(names, ","))
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	q := make([]byte, 12, 12+len(data))
	ctlSeq++
	q[0] = 2<<3 | 6
	q[1] = 2
	binary.BigEndian.PutUint16(q[2:], ctlSeq)
	binary.BigEndian.PutUint16(q[10:], uint16(len(strings.Join(names, ","))))
	q = append(q, data...)
	if _, err := conn.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, 2048)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	text := ""
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("readvar: %w", err)
		}
		if n < 12 || buf[0]&7 != 6 || binary.BigEndian.Uint16(buf[2:]) != ctlSeq {
			continue
		}
		cnt := int(binary.BigEndian.Uint16(buf[10:]))
		if 12+cnt > n {
			return nil, fmt.Errorf("readvar: short reply")
		}
		text += string(buf[12 : 12+cnt])
		if buf[1]&0x20 == 0 {
			break
		}
	}
	m := map[string]string{}
	for _, kv := range strings.Split(text, ",") {
		kv = strings.TrimSpace(kv)
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m, nil
}

func counters(conn *net.UDPConn) (map[string]int64, error) {
	m, err := readvar(conn, counterNames)
	if err != nil {
		return nil, err
	}
	c := map[string]int64{}
	for _, k := range counterNames {
		v, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("counter %s=%q: %w", k, m[k], err)
		}
		c[k] = v
	}
	return c, nil
}

func describe(b []byte) string {
	if len(b) < 48 {
		return fmt.Sprintf("len=%d hex=%s", len(b), hex.EncodeToString(b))
	}
	u32 := func(o int) uint32 { return binary.BigEndian.Uint32(b[o:]) }
	u64 := func(o int) uint64 { return binary.BigEndian.Uint64(b[o:]) }
	refid := fmt.Sprintf("%08x", u32(12))
	if b[1] <= 1 || b[1] >= 16 {
		refid += fmt.Sprintf("(%q)", string(b[12:16]))
	}
	s := fmt.Sprintf("len=%d li=%d vn=%d mode=%d stratum=%d poll=%d precision=%d rootdelay=%08x rootdisp=%08x(%.6fs) refid=%s reftime=%016x org=%016x rec=%016x xmt=%016x",
		len(b), b[0]>>6, b[0]>>3&7, b[0]&7, b[1], int8(b[2]), int8(b[3]), u32(4), u32(8), float64(u32(8))/65536, refid, u64(16), u64(24), u64(32), u64(40))
	if len(b) > 48 {
		s += " trailer=" + hex.EncodeToString(b[48:])
	}
	return s
}

func main() {
	addr := flag.String("addr", "127.0.0.1:123", "classic ntpd address (inside the probe's own namespace)")
	only := flag.String("only", "", "comma-separated case names (default: all)")
	repeat := flag.Int("repeat", 1, "send each case this many times back to back")
	gap := flag.Duration("gap", 0, "pause between repeats")
	wait := flag.Duration("wait", 400*time.Millisecond, "how long to wait for replies")
	sysvars := flag.Bool("sysvars", true, "print the daemon's system variables first")
	ctladdr := flag.String("ctl", "", "address for the mode-6 counter queries (default: -addr)")
	flag.Parse()
	ua, err := net.ResolveUDPAddr("udp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	conn, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer conn.Close()
	ctl := conn
	if *ctladdr != "" {
		ca, err := net.ResolveUDPAddr("udp", *ctladdr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if ctl, err = net.DialUDP("udp", nil, ca); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer ctl.Close()
	}
	if *sysvars {
		m, err := readvar(ctl, []string{"leap", "stratum", "precision", "rootdelay", "rootdisp", "refid", "reftime", "tc", "mintc"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("# sysvars %v\n", m)
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	for _, c := range cases() {
		if len(want) > 0 && !want[c.name] {
			continue
		}
		for r := 0; r < *repeat; r++ {
			before, err := counters(ctl)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			replies := exchange(conn, c.pkt, *wait)
			after, err := counters(ctl)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			var delta []string
			for _, k := range counterNames {
				d := after[k] - before[k]
				if k == "ss_received" {
					d-- // the READVAR that read "after" counts itself before it answers
				}
				if d != 0 {
					delta = append(delta, fmt.Sprintf("%s+%d", strings.TrimPrefix(k, "ss_"), d))
				}
			}
			fmt.Printf("== %s (sent %d octets, try %d)\n", c.name, len(c.pkt), r+1)
			if len(replies) == 0 {
				fmt.Printf("   reply: none\n")
			}
			for _, rp := range replies {
				if rp.err != nil {
					fmt.Printf("   send error: %v\n", rp.err)
					continue
				}
				fmt.Printf("   reply: %s\n", describe(rp.b))
			}
			fmt.Printf("   counters: %s\n", strings.Join(delta, " "))
			if *gap > 0 {
				time.Sleep(*gap)
			}
		}
	}
}
