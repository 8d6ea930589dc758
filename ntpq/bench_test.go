// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"io"
	"net/netip"
	"testing"
	"time"
)

var benchPeerVars = []byte("srcadr=198.18.0.3, srcport=123, dstadr=198.18.0.2, dstport=123, leap=0,\r\n" +
	"stratum=8, precision=-25, rootdelay=0.000, rootdisp=0.000,\r\nrefid=127.127.1.1, " +
	"reftime=0xeeb594f2.a7353ba1, rec=0xeeb594f4.3aaff0ba,\r\nreach=0x3, unreach=0, hmode=3, " +
	"pmode=4, hpoll=6, ppoll=6, headway=357,\r\nflash=0x0, keyid=0, offset=0.018, delay=0.059, " +
	"dispersion=62.927,\r\njitter=0.031, xleave=0.069,\r\nfiltdelay= 0.06 0.11 0.15 0.12 0.07 0.02 0.25 0.00,\r\n" +
	"filtoffset= 0.02 0.04 0.04 0.03 0.02 0.00 -0.04 0.00,\r\nfiltdisp= 0.00 0.84 0.87 0.90 0.93 0.96 0.99 16000.00\r\n")

func BenchmarkParseVars(b *testing.B) {
	b.SetBytes(int64(len(benchPeerVars)))
	for b.Loop() {
		ParseVars(benchPeerVars)
	}
}

func BenchmarkPeerLine(b *testing.B) {
	r := NewRunner(io.Discard, io.Discard)
	r.Now = func() time.Time { return time.Unix(1795888560, 0) }
	r.Resolve = func(netip.Addr) string { return "" }
	vars := ParseVars(benchPeerVars)
	for b.Loop() {
		r.PeerLine(vars, 1, 0x961a, peersN, 0)
	}
}

func BenchmarkCookedReadvar(b *testing.B) {
	r := NewRunner(io.Discard, io.Discard)
	r.Loc = time.UTC
	r.Resolve = func(netip.Addr) string { return "" }
	for b.Loop() {
		r.printVars(io.Discard, benchPeerVars, 0x961a, StatusPeer, false)
	}
}
