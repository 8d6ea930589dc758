// SPDX-License-Identifier: BSD-2-Clause

// Package ntpq is gontp's mode-6 client: the session that talks to an NTP daemon's control
// port (sequence numbers, one retry, fragment reassembly by offset in any order; RFC 9327,
// compat.md 1.2-1.3), the parser for the daemon's name=value text (quoted values included),
// and the byte-exact output formats of classic ntpq 4.2.8p15 (compat.md 3): the peers table
// and its variants, associations, cooked readvar/clockvar, the labelled sysinfo, sysstats,
// kerninfo, pstats... displays, mrulist with its nonce handshake, and the authenticated
// ifstats and reslist tables.
//
// Runner executes ntpq's interactive command set against a Conn; Main is the whole program
// (command line, batch and interactive modes) with its process environment passed in, so that
// tests replay captured daemon replies through it. Golden files in testdata/golden hold
// classic ntpq's own output together with the packets behind it; TestGolden requires gontp's
// output to be identical byte for byte, and its requests to be the ones classic sent.
package ntpq
