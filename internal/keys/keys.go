// SPDX-License-Identifier: BSD-2-Clause

// Package keys reads ntpd's symmetric key file (ntp.keys(5)) and computes and checks the
// legacy MACs that classic ntpd 4.2.8p15 puts after an NTP or mode-6 packet (RFC 5905 section
// 7.3 and appendix A): the digest of the secret followed by the message for the hash types,
// AES-CMAC (RFC 4493) of the message under the secret for AES128CMAC.
//
// The file is read as libntp/authreadkeys.c reads it: "keyid type key [addr[/bits],...]"
// lines, '#' comments, a key of up to 20 characters is ASCII and a longer one is hex (at most
// 32 octets are used). Errors that classic counts (a bad key id, a missing type or key, a bad
// hex digit or address) reject the whole file, so that a typo never leaves half a key set in
// use; a digest type classic does not know only drops that key.
package keys

import (
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"gontp/internal/cmac"
	"gontp/internal/digest"
)

// MaxKeyID is the largest key id a key file may hold (NTP_MAXKEY); ids above it were
// reserved for Autokey.
const MaxKeyID = 65535

// MaxDigest is the longest digest classic ntpd puts in a packet (MAX_MDG_LEN): longer digests
// (SHA256 and up) are truncated to their first 20 octets.
const MaxDigest = 20

// maxSecret is the most octets a hex key gives (the 32-octet keystr of authreadkeys).
const maxSecret = 32

// nerrMax is how many counted errors make authreadkeys stop reading ("emergency break").
const nerrMax = 15

// Key is one symmetric key.
type Key struct {
	ID uint32
	// Type is the digest name as classic's keytype_name prints it ("MD5", "SHA1",
	// "AES128CMAC", ...).
	Type   string
	Secret []byte
	// Allow restricts the key to these sources (the address list after the key); empty
	// means any source.
	Allow []netip.Prefix
	alg   *algorithm
	cmac  *cmac.Key
}

// Set is the keys of a key file and which of them are trusted (ntp.conf trustedkey). Its
// methods may be called from many goroutines once it is built; Trust is for building only.
type Set struct {
	keys    map[uint32]*Key
	trusted map[uint32]bool
	stats   counters
}

// counters are classic's authinfo counters (authkeylookups, authkeynotfound, ...).
type counters struct {
	lookups, notFound, uncached, encrypts, decrypts atomic.Uint64
	lastID                                          atomic.Uint32
}

// Stats are the counters `ntpq -c authinfo` shows.
type Stats struct {
	// Keys is classic's authnumkeys: every key id of the file and of trustedkey (classic
	// makes an empty entry for a trusted id that has no secret).
	Keys     uint64
	Lookups  uint64 // key lookups (authkeylookups)
	NotFound uint64 // lookups of an id with no usable key (authkeynotfound)
	Uncached uint64 // lookups of an id other than the previous one (authkeyuncached)
	Encrypts uint64 // MACs computed for sending (authencryptions)
	Decrypts uint64 // MACs checked on receipt (authdecryptions)
}

// Stats returns the counters.
func (s *Set) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	n := uint64(len(s.keys))
	for id := range s.trusted {
		if _, ok := s.keys[id]; !ok {
			n++
		}
	}
	return Stats{Keys: n, Lookups: s.stats.lookups.Load(), NotFound: s.stats.notFound.Load(),
		Uncached: s.stats.uncached.Load(), Encrypts: s.stats.encrypts.Load(), Decrypts: s.stats.decrypts.Load()}
}

// Parse reads a key file. name is used in messages ("/etc/ntp.keys:3: ..."). It returns
// the keys and the problems, each in classic's words after the file and line. When the file
// holds an error that classic counts, the whole file is rejected as classic rejects it: the
// Set is nil and the last problem says so. Keys of a digest type classic does not know (or
// that gontp cannot compute) are only dropped.
func Parse(name string, r io.Reader) (*Set, []error) {
	s := NewSet()
	var errs []error
	nerr := 0
	problem := func(counted bool, line int, format string, args ...any) {
		if counted {
			nerr++
		}
		errs = append(errs, fmt.Errorf("%s:%d: authreadkeys: %s", name, line, fmt.Sprintf(format, args...)))
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	line := 0
	for sc.Scan() && nerr <= nerrMax {
		line++
		k, counted, msg := parseLine(sc.Text())
		if msg != "" {
			problem(counted, line, "%s", msg)
		}
		if k != nil {
			s.keys[k.ID] = k
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
		return nil, errs
	}
	if nerr > 0 {
		why := ""
		if nerr > nerrMax {
			why = " (emergency break)"
		}
		errs = append(errs, fmt.Errorf("%s: authreadkeys: rejecting file '%s' after %d error(s)%s", name, name, nerr, why))
		return nil, errs
	}
	return s, errs
}

// NewSet returns an empty key set.
func NewSet() *Set {
	return &Set{keys: map[uint32]*Key{}, trusted: map[uint32]bool{}}
}

// parseLine reads one line. It returns the key, or nil; a message when something is wrong,
// and whether classic counts that as an error that rejects the file.
func parseLine(text string) (k *Key, counted bool, msg string) {
	if i := strings.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	f := strings.Fields(text)
	if len(f) == 0 {
		return nil, false, ""
	}
	id, ok := atoi(f[0])
	if !ok || id < 1 {
		return nil, true, fmt.Sprintf("cannot change key %s", f[0])
	}
	if id > MaxKeyID {
		return nil, true, fmt.Sprintf("key %s > %d reserved for Autokey", f[0], MaxKeyID)
	}
	if len(f) < 2 {
		return nil, true, fmt.Sprintf("no key type for key %d", id)
	}
	alg, typeMsg := lookupType(f[1])
	if len(f) < 3 {
		return nil, true, fmt.Sprintf("no key for key %d", id)
	}
	k = &Key{ID: uint32(id), alg: alg}
	if len(f[2]) <= 20 {
		k.Secret = []byte(f[2])
	} else {
		// Hex: at most 64 digits are read (and checked); an odd last digit is dropped, as
		// classic drops it.
		h := f[2][:min(len(f[2]), 2*maxSecret)]
		for _, c := range []byte(h) {
			if !isHex(c) {
				return nil, true, fmt.Sprintf("invalid hex digit for key %d", id)
			}
		}
		k.Secret = make([]byte, len(h)/2)
		for i := range k.Secret {
			k.Secret[i] = unhex(h[2*i])<<4 | unhex(h[2*i+1])
		}
	}
	if len(f) > 3 {
		for _, a := range strings.Split(f[3], ",") {
			p, perr := parseAllow(a)
			if perr != "" {
				return nil, true, fmt.Sprintf("%s for key %d", perr, id)
			}
			k.Allow = append(k.Allow, p)
		}
	}
	if alg == nil {
		return nil, false, fmt.Sprintf("%s for key %d (%s)", typeMsg, id, typeHelp(f[1]))
	}
	k.Type = alg.name
	if alg.cmac {
		k.cmac = cmacKey(k.Secret)
	}
	return k, false, ""
}

// atoi reads a key id as C's atoi does: leading digits, the rest ignored.
func atoi(s string) (int64, bool) {
	sign := int64(1)
	if s != "" && (s[0] == '-' || s[0] == '+') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, true
	}
	v, err := strconv.ParseInt(s[:n], 10, 64)
	if err != nil {
		return MaxKeyID + 1, true
	}
	return sign * v, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// parseAllow reads one "addr[/bits]" of a key's address list.
func parseAllow(s string) (netip.Prefix, string) {
	host, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, fmt.Sprintf("invalid IP address <%s>", host)
	}
	n := a.BitLen()
	if hasBits {
		v, err := strconv.Atoi(bits)
		if err != nil || v < 0 {
			return netip.Prefix{}, fmt.Sprintf("Invalid character in subnet specification for <%s/%s>", host, bits)
		}
		// Classic logs an excessive mask and uses the whole address.
		n = min(v, n)
	}
	p, _ := a.Unmap().Prefix(min(n, a.Unmap().BitLen()))
	return p, ""
}

// Trust marks key ids as trusted (ntp.conf trustedkey).
func (s *Set) Trust(ids ...uint32) {
	for _, id := range ids {
		s.trusted[id] = true
	}
}

// Add puts a key into the set (ntpq's own key, ntp-keygen's check, tests); it fails for a
// digest type gontp cannot compute.
func (s *Set) Add(id uint32, typ string, secret []byte) error {
	alg, msg := lookupType(typ)
	if alg == nil {
		return fmt.Errorf("key %d: %s (%s)", id, msg, typeHelp(typ))
	}
	k := &Key{ID: id, Type: alg.name, Secret: append([]byte(nil), secret...), alg: alg}
	if alg.cmac {
		k.cmac = cmacKey(secret)
	}
	s.keys[id] = k
	return nil
}

// cmacKey expands an AES128CMAC secret: classic zero-pads a short one to 16 octets and uses
// the first 16 of a long one.
func cmacKey(secret []byte) *cmac.Key {
	var kb [16]byte
	copy(kb[:], secret)
	k, err := cmac.NewKey(kb[:])
	if err != nil {
		panic(err) // a 16-octet key is always a valid AES-128 key
	}
	return k
}

// Len is the number of keys read from the file.
func (s *Set) Len() int { return len(s.keys) }

// Key returns key id, nil when there is none.
func (s *Set) Key(id uint32) *Key {
	if s == nil {
		return nil
	}
	return s.keys[id]
}

// Trusted reports whether id is a known, trusted key.
func (s *Set) Trusted(id uint32) bool {
	if s == nil {
		return false
	}
	_, ok := s.keys[id]
	return ok && s.trusted[id]
}

// TrustedFrom reports whether id is trusted for packets from src: trusted, and src is in
// the key's address list when it has one (classic's authistrustedip).
func (s *Set) TrustedFrom(id uint32, src netip.Addr) bool {
	if !s.Trusted(id) {
		return false
	}
	k := s.keys[id]
	if len(k.Allow) == 0 {
		return true
	}
	src = src.Unmap()
	for _, p := range k.Allow {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// lookup finds a trusted key and counts the lookup as classic's authhavekey does.
func (s *Set) lookup(id uint32) *Key {
	s.stats.lookups.Add(1)
	if s.stats.lastID.Swap(id) != id {
		s.stats.uncached.Add(1)
	}
	if !s.Trusted(id) {
		s.stats.notFound.Add(1)
		return nil
	}
	return s.keys[id]
}

// Size is the length of the digest that key id puts in a packet (0 for an unusable key).
func (s *Set) Size(id uint32) int {
	if !s.Trusted(id) {
		return 0
	}
	return min(s.keys[id].alg.size, MaxDigest)
}

// Sign appends the digest of msg under key id to dst, truncated to MaxDigest octets as
// classic truncates it. ok is false for an unknown or untrusted key. It does not allocate
// when dst has room and the message is at most a few hundred octets.
func (s *Set) Sign(dst []byte, id uint32, msg []byte) ([]byte, bool) {
	if s == nil {
		return dst, false
	}
	k := s.lookup(id)
	if k == nil {
		return dst, false
	}
	s.stats.encrypts.Add(1)
	return k.mac(dst, msg), true
}

// Verify reports whether digest is msg's MAC under the trusted key id. The comparison takes
// the same time whatever the digest holds (crypto/subtle), so that a forger learns nothing
// from the timing of a reply. A digest longer than 20 octets (SHA256 and up) is checked on
// the 20 octets classic sends (classic 4.2.8p15 does the same: a classic client and server
// with a SHA256 key authenticate each other).
func (s *Set) Verify(id uint32, msg, digest []byte) bool {
	if s == nil {
		return false
	}
	k := s.lookup(id)
	if k == nil {
		return false
	}
	s.stats.decrypts.Add(1)
	var buf [64]byte
	want := k.mac(buf[:0], msg)
	return subtle.ConstantTimeCompare(digest, want) == 1
}

// stackMsg is the longest secret plus message hashed without allocating.
const stackMsg = 1024

// mac appends k's digest of msg, truncated to MaxDigest, to dst.
func (k *Key) mac(dst, msg []byte) []byte {
	if k.cmac != nil {
		return k.cmac.Sum(dst, msg)
	}
	var buf [stackMsg]byte
	in := buf[:0]
	if len(k.Secret)+len(msg) > len(buf) {
		in = make([]byte, 0, len(k.Secret)+len(msg))
	}
	in = append(append(in, k.Secret...), msg...)
	// The full digest goes to a scratch array first: appending all of a 32- or 64-octet
	// digest to dst would outgrow a buffer sized for the 20 octets that go in the packet
	// and move the MAC out of it.
	var full [64]byte
	d := k.alg.id.sum(full[:0], in)
	return append(dst, d[:min(len(d), MaxDigest)]...)
}

// digestID names a digest function. A switch over it, rather than a function value, lets
// the compiler see that the hashed bytes stay on the stack.
type digestID int

const (
	dMD5 digestID = iota
	dSHA1
	dSHA224
	dSHA256
	dSHA384
	dSHA512
	dSHA512_224
	dSHA512_256
	dSHA3_224
	dSHA3_256
	dSHA3_384
	dSHA3_512
	dSHAKE128
	dSHAKE256
	dMD5SHA1
	dMD4
	dRIPEMD160
	dSM3
	dCMAC
)

// sum appends the digest of b to d.
func (id digestID) sum(d, b []byte) []byte {
	switch id {
	case dMD5:
		s := md5.Sum(b)
		return append(d, s[:]...)
	case dSHA1:
		s := sha1.Sum(b)
		return append(d, s[:]...)
	case dSHA224:
		s := sha256.Sum224(b)
		return append(d, s[:]...)
	case dSHA256:
		s := sha256.Sum256(b)
		return append(d, s[:]...)
	case dSHA384:
		s := sha512.Sum384(b)
		return append(d, s[:]...)
	case dSHA512:
		s := sha512.Sum512(b)
		return append(d, s[:]...)
	case dSHA512_224:
		s := sha512.Sum512_224(b)
		return append(d, s[:]...)
	case dSHA512_256:
		s := sha512.Sum512_256(b)
		return append(d, s[:]...)
	case dSHA3_224:
		s := sha3.Sum224(b)
		return append(d, s[:]...)
	case dSHA3_256:
		s := sha3.Sum256(b)
		return append(d, s[:]...)
	case dSHA3_384:
		s := sha3.Sum384(b)
		return append(d, s[:]...)
	case dSHA3_512:
		s := sha3.Sum512(b)
		return append(d, s[:]...)
	case dSHAKE128:
		// OpenSSL's SHAKE digests have a default length of 16 and 32 octets.
		return append(d, sha3.SumSHAKE128(b, 16)...)
	case dSHAKE256:
		return append(d, sha3.SumSHAKE256(b, 32)...)
	case dMD5SHA1:
		// OpenSSL's MD5-SHA1 is both digests of the same input back to back (36 octets, so
		// what goes in a packet is the MD5 digest and the first four octets of the SHA-1).
		m, s := md5.Sum(b), sha1.Sum(b)
		return append(append(d, m[:]...), s[:]...)
	case dMD4:
		s := digest.MD4(b)
		return append(d, s[:]...)
	case dRIPEMD160:
		s := digest.RIPEMD160(b)
		return append(d, s[:]...)
	case dSM3:
		s := digest.SM3(b)
		return append(d, s[:]...)
	}
	panic("keys: unknown digest")
}

// algorithm is one digest type.
type algorithm struct {
	name string
	size int // full digest length
	cmac bool
	id   digestID
}

// algorithms are the digest types gontp computes, under the (upper-case) names classic's
// keytype_from_text finds them by: OpenSSL short names, and AES128CMAC.
var algorithms = map[string]*algorithm{
	"MD5":        {name: "MD5", size: md5.Size, id: dMD5},
	"SHA1":       {name: "SHA1", size: sha1.Size, id: dSHA1},
	"SHA224":     {name: "SHA224", size: sha256.Size224, id: dSHA224},
	"SHA256":     {name: "SHA256", size: sha256.Size, id: dSHA256},
	"SHA384":     {name: "SHA384", size: sha512.Size384, id: dSHA384},
	"SHA512":     {name: "SHA512", size: sha512.Size, id: dSHA512},
	"SHA512-224": {name: "SHA512-224", size: sha512.Size224, id: dSHA512_224},
	"SHA512-256": {name: "SHA512-256", size: sha512.Size256, id: dSHA512_256},
	"SHA3-224":   {name: "SHA3-224", size: 28, id: dSHA3_224},
	"SHA3-256":   {name: "SHA3-256", size: 32, id: dSHA3_256},
	"SHA3-384":   {name: "SHA3-384", size: 48, id: dSHA3_384},
	"SHA3-512":   {name: "SHA3-512", size: 64, id: dSHA3_512},
	"SHAKE128":   {name: "SHAKE128", size: 16, id: dSHAKE128},
	"SHAKE256":   {name: "SHAKE256", size: 32, id: dSHAKE256},
	"MD5-SHA1":   {name: "MD5-SHA1", size: 36, id: dMD5SHA1},
	"MD4":        {name: "MD4", size: 16, id: dMD4},
	"RIPEMD160":  {name: "RIPEMD160", size: 20, id: dRIPEMD160},
	"SM3":        {name: "SM3", size: 32, id: dSM3},
	"AES128CMAC": {name: "AES128CMAC", size: cmac.Size, cmac: true, id: dCMAC},
}

// unsupported are the types classic 4.2.8p15 accepts through OpenSSL that gontp cannot
// compute: none since internal/digest computes MD4, RIPEMD160 and SM3; kept so that a type
// dropped in future is named as such rather than as unknown.
var unsupported = map[string]bool{}

// lookupType finds a digest type as classic's keytype_from_text does: the upper-cased name
// is looked up, and a name that is unknown but starts with 'M' or 'm' means MD5. It
// returns nil and classic's message when the key cannot be used.
func lookupType(text string) (*algorithm, string) {
	if text == "" {
		return nil, "invalid type"
	}
	up := strings.ToUpper(text)
	if a := algorithms[up]; a != nil {
		return a, ""
	}
	if unsupported[up] {
		return nil, "no algorithm"
	}
	if knownNoAlgorithm[up] {
		return nil, "no algorithm"
	}
	if text[0] == 'm' || text[0] == 'M' {
		return algorithms["MD5"], ""
	}
	return nil, "invalid type"
}

// knownNoAlgorithm are OpenSSL short names classic finds but has no digest for, so it logs
// "no algorithm" rather than "invalid type" (checked with the real 4.2.8p15 binary: SHA,
// MD2, MDC2, DSA-SHA1).
var knownNoAlgorithm = map[string]bool{"SHA": true, "MD2": true, "MDC2": true, "DSA-SHA1": true, "DSA-SHA": true, "RSA-SHA1": true}

// typeHelp says what gontp makes of a type name that gives no usable key.
func typeHelp(text string) string {
	up := strings.ToUpper(text)
	if unsupported[up] {
		return fmt.Sprintf("classic ntpd computes %s with OpenSSL; gontp does not support it, use SHA1, SHA256 or AES128CMAC", up)
	}
	switch up {
	case "AES-128-CMAC", "AES128-CMAC", "CMAC":
		return fmt.Sprintf("%q is not a key type; classic's name is AES128CMAC", text)
	case "SHA-1":
		return fmt.Sprintf("%q is not a key type; classic's name is SHA1", text)
	}
	return fmt.Sprintf("%q is not a digest type classic ntpd knows; the types are MD5, SHA1, SHA224, SHA256, SHA384, SHA512, SHA3-256, AES128CMAC and others", text)
}
