// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"gontp/internal/ntptime"
)

// TestSignLayout: an authenticated request as classic ntpd's process_private reads it. MD5:
// the 192-octet request with the A bit, the time stamp in its last 8 octets, then key ID and
// MD5(key, request); SHA1: the request cut after its items and the time stamp. The password
// is never printed.
func TestSignLayout(t *testing.T) {
	for _, tc := range []struct {
		keytype   string
		size      int // request octets before the MAC
		newDigest func([]byte) []byte
	}{
		{"md5", 192, func(b []byte) []byte { s := md5.Sum(b); return s[:] }},
		{"sha1", 16, func(b []byte) []byte { s := sha1.Sum(b); return s[:] }},
	} {
		var out, errs bytes.Buffer
		c := &client{stdout: &out, stderr: &errs, in: bufio.NewReader(strings.NewReader(""))}
		c.auth = newAuth(c.in)
		for _, cmd := range []string{"keyid 7", "keytype " + tc.keytype, "passwd s3cret"} {
			c.docmd(cmd)
		}
		req := make([]byte, reqLenNoMAC)
		req[0], req[2], req[3] = 2<<3|7, implXntpd, reqIfStats
		got, ok := c.sign(req)
		if !ok {
			t.Fatalf("%s: not signed: %s", tc.keytype, errs.String())
		}
		mac := tc.newDigest(append([]byte("s3cret"), got[:tc.size]...))
		want := 4 + len(mac)
		if len(got) != tc.size+want {
			t.Fatalf("%s: %d octets, want %d", tc.keytype, len(got), tc.size+want)
		}
		if got[1] != 0x80 || binary.BigEndian.Uint32(got[tc.size:]) != 7 || !bytes.Equal(got[tc.size+4:], mac) {
			t.Errorf("%s: A bit %#x, key ID %d, MAC %x (want %x)", tc.keytype, got[1],
				binary.BigEndian.Uint32(got[tc.size:]), got[tc.size+4:], mac)
		}
		ts := ntptime.Time(binary.BigEndian.Uint64(got[tc.size-8:])).Time(time.Now())
		if d := time.Until(ts); math.Abs(d.Seconds()) > 5 {
			t.Errorf("%s: time stamp %v away from now", tc.keytype, d)
		}
		if strings.Contains(out.String()+errs.String(), "s3cret") {
			t.Errorf("%s: the password was printed: %q %q", tc.keytype, out.String(), errs.String())
		}
	}
}

// TestSignWithoutKey: classic's prompts when no key is set, reading an empty standard input
// (no terminal): "Keyid: " and "Invalid key identifier", and the request is not sent; with
// "keyid 0" it goes out unsigned.
func TestSignWithoutKey(t *testing.T) {
	var out, errs bytes.Buffer
	c := &client{stdout: &out, stderr: &errs, in: bufio.NewReader(strings.NewReader(""))}
	c.auth = newAuth(c.in)
	if tty() != nil {
		t.Skip("a controlling terminal: the prompt would read it")
	}
	if _, ok := c.sign(make([]byte, reqLenNoMAC)); ok || errs.String() != "Keyid: Invalid key identifier\n" {
		t.Errorf("sign without a key: sent %v, stderr %q", ok, errs.String())
	}
	c.docmd("keyid 0")
	if got, ok := c.sign(make([]byte, reqLenNoMAC)); !ok || len(got) != reqLenNoMAC || got[1] != 0 {
		t.Errorf("keyid 0: sent %v, %d octets, A bit %#x", ok, len(got), got[1])
	}
}

// TestClockTypeName: classic's clock-type table, the numbers it lists as "not used" unknown.
func TestClockTypeName(t *testing.T) {
	for typ, want := range map[byte]string{1: "Undisciplined local clock (1)", 28: "Clock attached thru shared Memory (28)",
		46: "GPSD JSON socket (46)", 0: "unspecified type (0)", 15: "unknown type (15)", 25: "unknown type (25)",
		47: "unknown type (47)"} {
		if got := clockTypeName(typ); got != want {
			t.Errorf("type %d: %q, want %q", typ, got, want)
		}
	}
}
