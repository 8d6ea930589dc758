// SPDX-License-Identifier: BSD-2-Clause

package nts

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gontp/internal/siv"
)

// Cookie layout (section 6 leaves it to the server; this is the structure the RFC suggests):
//
//	key ID (4) | nonce (16) | AES-SIV-CMAC-256 under the master key of
//	    AEAD ID (2) | zero (2) | C2S key | S2C key
//
// which is 104 octets for AEAD 15 (and 136, 168 for 16, 17): a multiple of 4, so that a
// cookie fills its extension field without padding and a placeholder has its exact size.
const (
	cookieNonceLen = 16
	cookieHead     = 4 + cookieNonceLen
	masterKeyLen   = 32
)

// Master key rotation (section 6: "rotated ... periodically"). Like NTPsec and chrony,
// gontp makes a new key daily and keeps the previous ones so that cookies handed out
// before a rotation stay valid: a cookie lives at most KeepKeys days.
const (
	RotatePeriod = 24 * time.Hour
	KeepKeys     = 3
)

// Errors of cookie handling.
var (
	ErrCookieKey     = errors.New("NTS cookie made with an unknown or expired master key")
	ErrCookieInvalid = errors.New("NTS cookie does not decrypt")
	ErrKeyFile       = errors.New("bad NTS master key file")
)

// CookieKeys is what a cookie carries: the AEAD and the two keys of one client's session.
type CookieKeys struct {
	AEAD     uint16
	C2S, S2C []byte
	buf      [2 * 64]byte
}

// CookieLen is the length of the cookies made for aead.
func CookieLen(aead uint16) int { return cookieHead + siv.TagSize + 4 + 2*KeyLen(aead) }

type masterKey struct {
	id      uint32
	created time.Time
	key     [masterKeyLen]byte
	mu      sync.Mutex // guards s, whose scratch state is not safe for concurrent use
	s       siv.SIV
}

// KeyRing holds the server's master keys, newest first. It is safe for concurrent use.
type KeyRing struct {
	mu   sync.RWMutex
	keys []*masterKey
	// Stats counts cookies made and decoded, as NTPsec's ntsinfo does.
	Stats CookieStats
}

// CookieStats are the cookie counters: made; decoded by the age of their master key (0 the
// newest, 1 and 2 the previous ones, 3 anything older still kept); refused because their key
// is gone (too old) or because they do not decrypt (errors).
type CookieStats struct {
	Made    atomic.Uint64
	Decoded [4]atomic.Uint64
	TooOld  atomic.Uint64
	Errors  atomic.Uint64
}

// NewKeyRing returns an empty ring; Rotate fills it.
func NewKeyRing() *KeyRing { return &KeyRing{} }

// Rotate makes a new master key when the ring is empty or its newest key is RotatePeriod old
// at now (or that far in the future: a clock that was wrong when the key was made), dropping keys beyond KeepKeys. It reports whether it changed the ring (the caller
// then saves it).
func (r *KeyRing) Rotate(now time.Time, rnd io.Reader) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A clock stepped back (the daemon's own business) must not make a new key at every
	// check: only an age of a whole period either way counts.
	if len(r.keys) > 0 {
		if age := now.Sub(r.keys[0].created); age < RotatePeriod && age > -RotatePeriod {
			return false, nil
		}
	}
	k := &masterKey{created: now}
	if _, err := io.ReadFull(rnd, k.key[:]); err != nil {
		return false, fmt.Errorf("NTS master key: %w", err)
	}
	var idb [4]byte
	if len(r.keys) > 0 {
		k.id = r.keys[0].id + 1
	} else {
		if _, err := io.ReadFull(rnd, idb[:]); err != nil {
			return false, fmt.Errorf("NTS master key: %w", err)
		}
		k.id = binary.BigEndian.Uint32(idb[:])
	}
	if err := k.s.Init(k.key[:]); err != nil {
		return false, err
	}
	r.keys = append([]*masterKey{k}, r.keys...)
	if len(r.keys) > KeepKeys {
		r.keys = r.keys[:KeepKeys]
	}
	return true, nil
}

// Len returns the number of master keys held.
func (r *KeyRing) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.keys)
}

// AppendCookie seals k into a new cookie under the newest master key and appends it to dst.
// It allocates nothing when dst has room.
func (r *KeyRing) AppendCookie(dst []byte, aead uint16, c2s, s2c []byte, rnd io.Reader) ([]byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.keys) == 0 {
		return dst, ErrCookieKey
	}
	kl := KeyLen(aead)
	if kl == 0 || len(c2s) != kl || len(s2c) != kl {
		return dst, ErrAEAD
	}
	k := r.keys[0]
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, k.id)
	dst = append(dst, make([]byte, cookieNonceLen)...)
	if _, err := io.ReadFull(rnd, dst[start+4:]); err != nil {
		return dst[:start], fmt.Errorf("NTS cookie nonce: %w", err)
	}
	var pt [4 + 2*64]byte
	binary.BigEndian.PutUint16(pt[:], aead)
	copy(pt[4:], c2s)
	copy(pt[4+kl:], s2c)
	k.mu.Lock()
	dst = k.s.Seal(dst, dst[start+4:start+cookieHead], pt[:4+2*kl], dst[start:start+4])
	k.mu.Unlock()
	clear(pt[:])
	r.Stats.Made.Add(1)
	return dst, nil
}

// OpenCookie decrypts a cookie into out (section 6). It does not allocate.
func (r *KeyRing) OpenCookie(cookie []byte, out *CookieKeys) error {
	if len(cookie) < cookieHead+siv.TagSize+4 {
		r.Stats.Errors.Add(1)
		return ErrCookieInvalid
	}
	id := binary.BigEndian.Uint32(cookie)
	r.mu.RLock()
	var k *masterKey
	age := 0
	for i, m := range r.keys {
		if m.id == id {
			k, age = m, i
		}
	}
	r.mu.RUnlock()
	if k == nil {
		r.Stats.TooOld.Add(1)
		return ErrCookieKey
	}
	var pt [4 + 2*64]byte
	ct := cookie[cookieHead:]
	if len(ct)-siv.TagSize > len(pt) {
		r.Stats.Errors.Add(1)
		return ErrCookieInvalid
	}
	k.mu.Lock()
	p, err := k.s.Open(pt[:0], cookie[4:cookieHead], ct, cookie[:4])
	k.mu.Unlock()
	if err != nil {
		r.Stats.Errors.Add(1)
		return ErrCookieInvalid
	}
	aead := binary.BigEndian.Uint16(p)
	kl := KeyLen(aead)
	if kl == 0 || len(p) != 4+2*kl {
		r.Stats.Errors.Add(1)
		return ErrCookieInvalid
	}
	r.Stats.Decoded[min(age, len(r.Stats.Decoded)-1)].Add(1)
	out.AEAD = aead
	copy(out.buf[:], p[4:])
	out.C2S = out.buf[:kl:kl]
	out.S2C = out.buf[kl : 2*kl : 2*kl]
	clear(pt[:])
	return nil
}

// keyFileMagic is the first line of the master key file.
const keyFileMagic = "gontp-nts-keys 1"

// MarshalText writes the ring as the master key file: a header line, then one line per
// key, newest first: ID, creation time (Unix seconds) and the key in hex.
func (r *KeyRing) MarshalText() ([]byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var b bytes.Buffer
	b.WriteString(keyFileMagic + "\n")
	for _, k := range r.keys {
		fmt.Fprintf(&b, "%d %d %s\n", k.id, k.created.Unix(), hex.EncodeToString(k.key[:]))
	}
	return b.Bytes(), nil
}

// UnmarshalText replaces the ring's keys by those of a master key file, naming the line of
// any defect; on error the ring is unchanged.
func (r *KeyRing) UnmarshalText(text []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(text))
	line := 0
	var keys []*masterKey
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if line == 1 {
			if s != keyFileMagic {
				return fmt.Errorf("%w: line 1: want %q", ErrKeyFile, keyFileMagic)
			}
			continue
		}
		if s == "" {
			continue
		}
		f := strings.Fields(s)
		if len(f) != 3 {
			return fmt.Errorf("%w: line %d: want ID, time and key", ErrKeyFile, line)
		}
		id, err1 := strconv.ParseUint(f[0], 10, 32)
		ts, err2 := strconv.ParseInt(f[1], 10, 64)
		kb, err3 := hex.DecodeString(f[2])
		if err := errors.Join(err1, err2, err3); err != nil || len(kb) != masterKeyLen {
			return fmt.Errorf("%w: line %d: %v", ErrKeyFile, line, cmpErr(err, len(kb)))
		}
		k := &masterKey{id: uint32(id), created: time.Unix(ts, 0)}
		copy(k.key[:], kb)
		if err := k.s.Init(k.key[:]); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	if line == 0 {
		return fmt.Errorf("%w: empty", ErrKeyFile)
	}
	if len(keys) > KeepKeys {
		keys = keys[:KeepKeys]
	}
	r.mu.Lock()
	r.keys = keys
	r.mu.Unlock()
	return nil
}

func cmpErr(err error, n int) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("key of %d octets, want %d", n, masterKeyLen)
}
