// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gontp/internal/ntptime"
)

// Authenticated mode-7 requests, as classic ntpdc 4.2.8p15's sendrequest (ntpdc.c) makes
// them and classic ntpd's process_private (ntp_request.c) checks them: the request carries
// the A bit, a transmit time stamp, the key ID and a digest of the key followed by the
// request. With a 16-octet digest (MD5) the request keeps its fixed 192 octets, time stamp
// in its last 8, key ID and digest after them; with a longer one (SHA1) it is cut after its
// items, the time stamp following them (32-bit aligned). Classic ntpd accepts the request
// only with its `requestkey`, trusted, and a time stamp within a few seconds of its own
// clock. gontp's own ntpd answers none of these requests (it stays read-only).
//
// The key is what the user types: the keyid, passwd and keytype commands (from -c or
// standard input), or the prompts classic asks when a request needs one ("Keyid: ", "MD5
// Password: ", read from the terminal without echo). The password is never printed.

// authDelay is classic ntpdc's DEFDELAY (0x51EB852 in 32-bit fraction, 20 ms), added to the
// time stamp of a request, the time it is expected to take to arrive.
const authDelay = 20 * time.Millisecond

// digest is one key type: its classic name and digest, nil for the OpenSSL types gontp's
// ntpdc does not have.
type digest struct {
	name string
	size int // octets of the full digest
	new  func() hash.Hash
}

// digests are the key types classic's keytype command knows (OpenSSL's short names).
var digests = map[string]digest{
	"MD5":        {"MD5", 16, md5.New},
	"SHA1":       {"SHA1", 20, sha1.New},
	"SHA":        {"SHA", 20, nil},
	"SHA224":     {"SHA224", 28, nil},
	"SHA256":     {"SHA256", 32, nil},
	"SHA384":     {"SHA384", 48, nil},
	"SHA512":     {"SHA512", 64, nil},
	"RIPEMD160":  {"RIPEMD160", 20, nil},
	"AES128CMAC": {"AES128CMAC", 16, nil},
}

// maxDigest is classic's MAX_MDG_LEN: longer digests are refused.
const maxDigest = 20

// auth is the key state of one ntpdc run (classic's globals info_auth_keyid, keyid_entered,
// info_auth_keytype and the key store).
type auth struct {
	keyid   uint32
	entered bool   // a keyid command was given (keyid 0: send requests unsigned)
	keytype digest // MD5 unless keytype says otherwise
	keys    map[uint32]key
	in      *bufio.Reader // standard input, for the prompts when there is no terminal
}

func newAuth(in *bufio.Reader) *auth {
	return &auth{keytype: digests["MD5"], keys: map[uint32]key{}, in: in}
}

// key is a password and the key type it was given with: as in classic, keytype after passwd
// does not change the type of the key already entered.
type key struct {
	secret []byte
	typ    digest
}

// hashLen is the digest length used: the type's, at most 20 octets.
func (a *auth) hashLen() int { return min(a.keytype.size, maxDigest) }

// keyidCmd is classic's keyid command.
func (c *client) keyidCmd(args []string, w io.Writer) {
	a := c.auth
	if len(args) == 0 {
		switch {
		case a.keyid == 0 && !a.entered:
			fmt.Fprintln(w, "no keyid defined")
		case a.keyid == 0:
			fmt.Fprintln(w, "no keyid will be sent")
		default:
			fmt.Fprintf(w, "keyid is %d\n", a.keyid)
		}
		return
	}
	if !isUint(args[0]) {
		fmt.Fprintf(c.stderr, "***Illegal unsigned value %s\n", args[0])
		return
	}
	v, _ := strconv.ParseUint(args[0], 10, 32)
	a.keyid, a.entered = uint32(v), true
}

// keytypeCmd is classic's keytype command.
func (c *client) keytypeCmd(args []string, w io.Writer) {
	a := c.auth
	if len(args) == 0 {
		fmt.Fprintf(w, "keytype is %s with %d octet digests\n", a.keytype.name, a.hashLen())
		return
	}
	d, ok := digests[strings.ToUpper(args[0])]
	if ok && d.size > maxDigest {
		fmt.Fprintf(c.stderr, "key type %s %d octet digests are too big, max %d\n", d.name, d.size, maxDigest)
		ok = false
	}
	if !ok {
		fmt.Fprintln(w, "keytype must be 'md5' or a digest type provided by OpenSSL")
		return
	}
	if d.new == nil {
		fmt.Fprintf(c.stderr, "***keytype %s is not available in gontp's ntpdc (md5 and sha1 are); keytype unchanged\n", d.name)
		return
	}
	a.keytype = d
}

// passwdCmd is classic's passwd command: the key of the current keyid, from the argument or
// asked for without echo.
func (c *client) passwdCmd(args []string, w io.Writer) {
	a := c.auth
	if a.keyid == 0 {
		a.keyid = c.getKeyid()
		if a.keyid == 0 {
			fmt.Fprintln(w, "Keyid must be defined")
			return
		}
	}
	var pass string
	if len(args) > 0 {
		pass = args[0]
	} else {
		pass = c.getPass()
		if pass == "" {
			fmt.Fprintln(w, "Password unchanged")
			return
		}
	}
	a.keys[a.keyid] = key{[]byte(pass), a.keytype}
}

// isUint is classic's NTP_UINT argument check (atouint): decimal digits within 32 bits.
func isUint(s string) bool {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// tty opens the controlling terminal, as classic's prompts do; nil without one.
func tty() *os.File {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	return f
}

// getKeyid is classic's getkeyid: "Keyid: " on standard error, a line (at most 19
// characters) from the terminal or else standard input, its leading number (atoi).
func (c *client) getKeyid() uint32 {
	fmt.Fprint(c.stderr, "Keyid: ")
	var line string
	if t := tty(); t != nil {
		line, _ = bufio.NewReader(t).ReadString('\n')
		t.Close()
	} else {
		line, _ = c.auth.in.ReadString('\n')
	}
	line = strings.TrimSuffix(line, "\n")
	if len(line) > 19 {
		line = line[:19]
	}
	return uint32(atoi(line))
}

// atoi is C's: leading blanks, a sign, digits, and 0 for anything else.
func atoi(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	var v int64
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		v = v*10 + int64(r-'0')
		if v > 1<<40 {
			break
		}
	}
	if neg {
		v = -v
	}
	return v
}

// getPass is classic's getpass_keytype: the prompt "MD5 Password: " (the key type's name)
// and a line read with echo off from the terminal, or from standard input (prompt on
// standard error) without one.
func (c *client) getPass() string {
	prompt := c.auth.keytype.name + " Password: "
	t := tty()
	if t == nil {
		fmt.Fprint(c.stderr, prompt)
		line, _ := c.auth.in.ReadString('\n')
		return strings.TrimSuffix(line, "\n")
	}
	defer t.Close()
	fmt.Fprint(t, prompt)
	fd := int(t.Fd())
	if old, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		quiet := *old
		quiet.Lflag &^= unix.ECHO
		if unix.IoctlSetTermios(fd, unix.TCSETS, &quiet) == nil {
			defer func() {
				_ = unix.IoctlSetTermios(fd, unix.TCSETS, old)
				fmt.Fprintln(t)
			}()
		}
	}
	line, _ := bufio.NewReader(t).ReadString('\n')
	return strings.TrimSuffix(line, "\n")
}

// sign is classic's sendrequest for an authenticated request: req is the 192-octet request
// without authentication. ok false: not sent (no key ID, no password, or keyid 0).
func (c *client) sign(req []byte) ([]byte, bool) {
	a := c.auth
	if a.entered && a.keyid == 0 {
		return req, true // "keyid 0": classic sends the request unsigned
	}
	if a.keyid == 0 {
		a.keyid = c.getKeyid()
		if a.keyid == 0 {
			fmt.Fprintln(c.stderr, "Invalid key identifier")
			return nil, false
		}
	}
	k, ok := a.keys[a.keyid]
	if !ok {
		pass := c.getPass()
		if pass == "" {
			fmt.Fprintln(c.stderr, "Invalid password")
			return nil, false
		}
		k = key{[]byte(pass), a.keytype}
		a.keys[a.keyid] = k
	}
	out := append([]byte(nil), req...)
	out[1] |= 0x80 // AUTH_SEQ(1, 0)
	size := len(out)
	if a.hashLen() > 16 {
		// Longer digests: the request ends after its items and the time stamp.
		items := int(binary.BigEndian.Uint16(out[4:]) & 0xfff)
		itemSize := int(binary.BigEndian.Uint16(out[6:]) & 0xfff)
		size = (8 + items*itemSize + 8 + 3) &^ 3
		out = out[:size]
	}
	ts := ntptime.FromTime(time.Now().Add(authDelay))
	binary.BigEndian.PutUint64(out[size-8:], uint64(ts))
	h := k.typ.new()
	h.Write(k.secret)
	h.Write(out)
	mac := h.Sum(nil)[:min(k.typ.size, maxDigest)]
	if len(mac) != a.hashLen() {
		// The key was entered under another key type: classic refuses to send.
		fmt.Fprintf(c.stderr, "%d octet MAC, %d expected with %d octet digest\n", 4+len(mac), 4+a.hashLen(), a.hashLen())
		return nil, false
	}
	out = binary.BigEndian.AppendUint32(out, a.keyid)
	return append(out, mac...), true
}
