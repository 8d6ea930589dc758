// SPDX-License-Identifier: BSD-2-Clause

// Package ntpconf reads ntp.conf files exactly as classic ntpd 4.2.8p15 reads them and
// reports their problems better.
//
// The lexer reproduces classic's scanner (ntp_scanner.c): one command per line, "#"
// comments, double-quoted strings without escapes (an empty "" is no token at all), the
// single-character tokens { } ( ) , ; | = , one global keyword table with its "followed by"
// rules (after server, driftfile, "=" ... the next word is a string even if it is a
// keyword), and classic's number classes: "010" is 10, "0x10" is an unsigned integer only
// some options take, "+5" and "5." are decimals, overflowing integers wrap to 32 bits.
//
// The parser follows classic's grammar (ntp_parser.y) including its error recovery: a bad
// line is skipped, but when the error comes after a complete command ("server 192.0.2.1
// ibrust"), classic has already applied the complete part, and so does this package. Every
// problem is collected with its file:line:col in one pass. Problems of KindSyntax are
// exactly the lines classic rejects; KindSemantic are lines classic accepts when parsing
// but refuses when applying; KindWarning are accepted lines that are probably wrong.
//
// Config keeps the configuration tree in file order (so WriteSaveconfig reproduces
// classic's saveconfig output byte for byte) and offers typed views with classic defaults
// (TinkerParams, TosParams, DiscardParams, MRUParams, Flags, Driftfile...).
//
// gontp extensions, each reported with a warning naming the classic form: NTPsec's
// "refclock NAME [unit N] ..." (read as server 127.127.t.u plus fudge), restrict ADDR/LEN
// (classic ignores such lines) and unrestrict.
package ntpconf
