// SPDX-License-Identifier: BSD-2-Clause

//go:build ignore

// classicprobe sends a fixed list of mode-6 requests to a daemon on loopback and prints each
// reply's header fields and data, so the control server's golden tests can be checked
// against what classic ntpd 4.2.8p15 answers. It never talks to anything but loopback.
//
//	unshare -n sh -c 'ip link set lo up; classic-ntpd -n -c ntp.conf & sleep 3;
//	    go run main.go -addr 127.0.0.1:123 > output/classic.txt; kill $!'
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

type probe struct {
	name   string
	b0     byte // LI VN mode
	b1     byte // R E M opcode
	assoc  uint16
	offset uint16
	data   string
	count  int // -1: len(data)
	pad    int // -1: to a multiple of 4
}

func main() {
	addr := flag.String("addr", "127.0.0.1:123", "loopback address of the daemon")
	flag.Parse()
	ua, err := net.ResolveUDPAddr("udp", *addr)
	if err != nil || !ua.IP.IsLoopback() {
		fmt.Fprintln(os.Stderr, "need a loopback address:", err)
		os.Exit(2)
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	// Find an association first.
	assoc := uint16(0)
	probes := []probe{
		{name: "readstat-0", b0: 0x16, b1: 1, count: -1, pad: -1},
	}
	seq := uint16(0)
	run := func(p probe) {
		seq++
		pkt := make([]byte, 12, 600)
		pkt[0], pkt[1] = p.b0, p.b1
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint16(pkt[6:], p.assoc)
		binary.BigEndian.PutUint16(pkt[8:], p.offset)
		cnt := p.count
		if cnt < 0 {
			cnt = len(p.data)
		}
		binary.BigEndian.PutUint16(pkt[10:], uint16(cnt))
		pkt = append(pkt, p.data...)
		if p.pad < 0 {
			for len(pkt)%4 != 0 {
				pkt = append(pkt, 0)
			}
		} else {
			pkt = append(pkt, make([]byte, p.pad)...)
		}
		fmt.Printf("== %s: request %x\n", p.name, pkt[:12])
		c.Write(pkt)
		buf := make([]byte, 2048)
		var all []byte
		for {
			c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
			n, err := c.Read(buf)
			if err != nil {
				fmt.Println("   no (more) reply")
				break
			}
			b := buf[:n]
			if n < 12 {
				fmt.Printf("   short reply %x\n", b)
				break
			}
			st := binary.BigEndian.Uint16(b[4:])
			cnt := binary.BigEndian.Uint16(b[10:])
			fmt.Printf("   len=%d b0=%02x b1=%02x seq=%d status=%04x assoc=%d off=%d count=%d\n",
				n, b[0], b[1], binary.BigEndian.Uint16(b[2:]), st, binary.BigEndian.Uint16(b[6:]),
				binary.BigEndian.Uint16(b[8:]), cnt)
			d := b[12:min(n, 12+int(cnt))]
			if p.b1&0x1f == 1 && p.assoc == 0 {
				fmt.Printf("   data %x\n", d)
				if assoc == 0 && len(d) >= 4 {
					assoc = binary.BigEndian.Uint16(d)
				}
			} else {
				all = append(all, d...)
			}
			if b[1]&0x20 == 0 {
				break
			}
		}
		if len(all) > 0 {
			fmt.Printf("   text %s\n", strconv.Quote(string(all)))
		}
	}
	for _, p := range probes {
		run(p)
	}
	a := assoc
	more := []probe{
		{name: "unspec-0", b0: 0x16, b1: 0},
		{name: "unspec-peer", b0: 0x16, b1: 0, assoc: a},
		{name: "unspec-bad", b0: 0x16, b1: 0, assoc: 1},
		{name: "readstat-peer", b0: 0x16, b1: 1, assoc: a},
		{name: "readvar-0", b0: 0x16, b1: 2},
		{name: "readvar-0-vn4-li3", b0: 0xe6, b1: 2, data: "stratum"},
		{name: "readvar-0-vn1", b0: 0x0e, b1: 2, data: "stratum"},
		{name: "readvar-0-names", b0: 0x16, b1: 2, data: "version,stratum,offset"},
		{name: "readvar-0-dup", b0: 0x16, b1: 2, data: "stratum, stratum ,,precision=5"},
		{name: "readvar-0-empty-item", b0: 0x16, b1: 2, data: "stratum,,precision"},
		{name: "readvar-0-twice", b0: 0x16, b1: 2, data: "stratum, stratum"},
		{name: "readvar-0-space-before-comma", b0: 0x16, b1: 2, data: "stratum ,precision"},
		{name: "readvar-0-value", b0: 0x16, b1: 2, data: "precision=5"},
		{name: "readvar-0-leading-space", b0: 0x16, b1: 2, data: " stratum"},
		{name: "readvar-0-tab", b0: 0x16, b1: 2, data: "stratum,\tprecision"},
		{name: "readvar-0-prefix", b0: 0x16, b1: 2, data: "strat"},
		{name: "readvar-0-setvar", b0: 0x16, b1: 2, data: "myvar"},
		{name: "readvar-0-unknown", b0: 0x16, b1: 2, data: "stratum,nosuchvar"},
		{name: "readvar-0-ss", b0: 0x16, b1: 2, data: "ss_uptime,ss_reset,ss_received,ss_thisver,ss_oldver,ss_badformat,ss_badauth,ss_declined,ss_restricted,ss_limited,ss_kodsent,ss_processed,ss_lamport,ss_tsrounding"},
		{name: "readvar-0-sysinfo", b0: 0x16, b1: 2, data: "peeradr,peermode,leap,stratum,precision,rootdelay,rootdisp,refid,reftime,sys_jitter,clk_jitter,clk_wander,bcastdelay,authdelay"},
		{name: "readvar-0-kern", b0: 0x16, b1: 2, data: "koffset,kfreq,kmaxerr,kesterr,kstflags,ktimeconst,kprecis,kfreqtol,kppsfreq,kppsstab,kppsjitter,kppscalibdur,kppscalibs,kppscaliberrs,kppsjitexc,kppsstbexc"},
		{name: "readvar-0-mon", b0: 0x16, b1: 2, data: "mru_enabled,mru_depth,mru_deepest,mru_maxdepth,mru_mindepth,mru_maxage,mru_mem,mru_maxmem"},
		{name: "readvar-0-io", b0: 0x16, b1: 2, data: "iostats_reset,total_rbuf,free_rbuf,used_rbuf,rbuf_lowater,io_dropped,io_ignored,io_received,io_sent,io_sendfailed,io_wakeups,io_goodwakeups"},
		{name: "readvar-0-auth", b0: 0x16, b1: 2, data: "authreset,authkeys,authfreek,authklookups,authknotfound,authkuncached,authkexpired,authencrypts,authdecrypts"},
		{name: "readvar-0-timer", b0: 0x16, b1: 2, data: "timerstats_reset,timer_overruns,timer_xmts"},
		{name: "readvar-0-misc", b0: 0x16, b1: 2, data: "daemon_version,sys_var_list,fuzz,tick,rootdist,clk_wander_threshold,tai,leapsec,expire"},
		{name: "readvar-0-long", b0: 0x16, b1: 2, data: "stratum=" + strings.Repeat("x", 200)},
		{name: "readvar-peer", b0: 0x16, b1: 2, assoc: a},
		{name: "readvar-peer-names", b0: 0x16, b1: 2, assoc: a, data: "srcadr,srcport,dstadr,dstport,timerec,timer,timereach,sent,received,badauth,bogusorg,oldpkt,seldisp,selbroken,candidate"},
		{name: "readvar-peer-all", b0: 0x16, b1: 2, assoc: a, data: "config,authenable,authentic,srchost,org,xmt,in,out,bias,peer_var_list,flash,keyid,ttl,xleave"},
		{name: "readvar-bad-assoc", b0: 0x16, b1: 2, assoc: 1},
		{name: "readclock-0", b0: 0x16, b1: 4},
		{name: "readclock-peer", b0: 0x16, b1: 4, assoc: a},
		{name: "readclock-names", b0: 0x16, b1: 4, data: "clock_var_list,type,fudgetime1,refid"},
		{name: "readclock-bad", b0: 0x16, b1: 4, assoc: 1},
		{name: "writevar", b0: 0x16, b1: 3, data: "leap=1"},
		{name: "writevar-peer", b0: 0x16, b1: 3, assoc: a, data: "leap=1"},
		{name: "writeclock", b0: 0x16, b1: 5, data: "flags=1"},
		{name: "settrap", b0: 0x16, b1: 6},
		{name: "asyncmsg", b0: 0x16, b1: 7},
		{name: "configure", b0: 0x16, b1: 8, data: "disable monitor"},
		{name: "saveconfig", b0: 0x16, b1: 9, data: "x.conf"},
		{name: "readmru-nononce", b0: 0x16, b1: 10, data: "frags=32"},
		{name: "readmru-badnonce", b0: 0x16, b1: 10, data: "nonce=000000000000000000000000, frags=32"},
		{name: "ordlist-ifstats", b0: 0x16, b1: 11},
		{name: "ordlist-res", b0: 0x16, b1: 11, data: "addr_restrictions"},
		{name: "reqnonce", b0: 0x16, b1: 12},
		{name: "op13", b0: 0x16, b1: 13},
		{name: "op30", b0: 0x16, b1: 30},
		{name: "unsettrap", b0: 0x16, b1: 31},
		{name: "count-too-big", b0: 0x16, b1: 2, data: "stratum", count: 20, pad: -1},
		{name: "misaligned", b0: 0x16, b1: 2, data: "stratum", pad: 0},
		{name: "r-bit", b0: 0x16, b1: 0x82},
		{name: "m-bit", b0: 0x16, b1: 0x22},
		{name: "offset", b0: 0x16, b1: 2, offset: 4},
		{name: "vn0", b0: 0x06, b1: 2},
		{name: "vn5", b0: 0x2e, b1: 2},
		{name: "mode7", b0: 0x17, b1: 2},
		{name: "data-over-468", b0: 0x16, b1: 2, data: strings.Repeat("stratum,", 62)},
	}
	for i := range more {
		if more[i].count == 0 {
			more[i].count = -1
		}
		if more[i].pad == 0 && more[i].name != "misaligned" {
			more[i].pad = -1
		}
		run(more[i])
	}
	// mrulist with a fresh nonce
	seq++
	fmt.Println("== mrulist handshake")
	nonceReq := make([]byte, 12)
	nonceReq[0], nonceReq[1] = 0x16, 12
	binary.BigEndian.PutUint16(nonceReq[2:], seq)
	c.Write(nonceReq)
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(time.Second))
	n, err := c.Read(buf)
	if err != nil {
		fmt.Println("   no nonce")
		return
	}
	cnt := binary.BigEndian.Uint16(buf[10:])
	nonce := strings.TrimSpace(string(buf[12 : 12+int(cnt)]))
	_ = n
	fmt.Printf("   %q\n", nonce)
	for _, d := range []string{nonce + ", frags=32", nonce + ", frags=0", nonce + ", frags=200", nonce + ", limit=1", nonce + ", frags=32, bogus=1", nonce + ", frags=1"} {
		run(probe{name: "readmru " + d, b0: 0x16, b1: 10, data: d, count: -1, pad: -1})
	}
}
