// SPDX-License-Identifier: BSD-2-Clause

package control

import (
	"crypto/sha256"
	"encoding/binary"
	"iter"
	"net/netip"
	"strconv"
	"time"

	"gontp/internal/ntptime"
)

// Limits of the MRU retrieval (classic MRU_FRAGS_LIMIT and MRU_ROW_LIMIT), and how long a
// nonce stays valid (classic accepts nonces up to 16 s old).
const (
	mruFragsLimit = 128
	mruRowLimit   = 256
	nonceLifetime = 16 * time.Second
	// maxResume is how many addr.K/last.K resume pairs are looked at (ntpq sends as many as
	// fit in one request).
	maxResume = 16
)

// nonceMAC binds a nonce's timestamp to the requester's address and port with the server's
// secret, so that only the address that asked can use it (classic REQ_NONCE, compat.md 1.6):
// a spoofed source cannot make us send an MRU list to a victim.
func (s *Server) nonceMAC(ts ntptime.Time, src netip.AddrPort) uint32 {
	var buf [16 + 8 + 16 + 2]byte
	copy(buf[:16], s.cfg.NonceSecret[:])
	binary.BigEndian.PutUint64(buf[16:], uint64(ts))
	a := src.Addr().Unmap().As16()
	copy(buf[24:], a[:])
	binary.BigEndian.PutUint16(buf[40:], src.Port())
	sum := sha256.Sum256(buf[:])
	return binary.BigEndian.Uint32(sum[:4])
}

func (s *Server) appendNonce(b []byte, src netip.AddrPort, now time.Time) []byte {
	ts := ntptime.FromTime(now)
	b = append(b, "nonce="...)
	b = appendHex8(b, ts.Seconds())
	b = appendHex8(b, ts.Fraction())
	return appendHex8(b, s.nonceMAC(ts, src))
}

// reqNonce answers opcode 12 with a fresh nonce; its status is 0, as classic's.
func (s *Server) reqNonce(r *reply, src netip.AddrPort, now time.Time) {
	r.put(s.appendNonce(r.scratch[:0], src, now))
	r.flush(false)
}

// validNonce checks a nonce's MAC and age for src.
func (s *Server) validNonce(v []byte, src netip.AddrPort, now time.Time) bool {
	if len(v) != 24 {
		return false
	}
	sec, err1 := strconv.ParseUint(string(v[:8]), 16, 32)
	frac, err2 := strconv.ParseUint(string(v[8:16]), 16, 32)
	mac, err3 := strconv.ParseUint(string(v[16:]), 16, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	ts := ntptime.Time(sec<<32 | frac)
	if uint32(mac) != s.nonceMAC(ts, src) {
		return false
	}
	age := ntptime.Sub(ntptime.FromTime(now), ts)
	return age >= -time.Second && age <= nonceLifetime
}

// mruRequest holds the parameters of a READ_MRU request.
type mruRequest struct {
	nonce          bool
	frags, limit   int
	mincount       uint64
	resall, resany uint16
	maxlstint      int64
	hasMaxLstInt   bool
	laddr          netip.Addr
	resume         [maxResume]struct {
		addr netip.AddrPort
		last ntptime.Time
		ok   bool
	}
	nresume int
}

// parseMRU reads the `name=value` items of a READ_MRU request. Unknown names are ignored
// as classic ignores them; malformed numbers make the request a BADVALUE.
func (s *Server) parseMRU(data []byte, src netip.AddrPort, now time.Time) (q mruRequest, code uint8) {
	i := 0
	for i < len(data) {
		for i < len(data) && (data[i] == ',' || isSpace(data[i]) || data[i] == 0) {
			i++
		}
		if i >= len(data) {
			break
		}
		ns := i
		for i < len(data) && data[i] != '=' && data[i] != ',' && !isSpace(data[i]) {
			i++
		}
		name := data[ns:i]
		for i < len(data) && isSpace(data[i]) {
			i++
		}
		var val []byte
		if i < len(data) && data[i] == '=' {
			i++
			for i < len(data) && isSpace(data[i]) {
				i++
			}
			vs := i
			for i < len(data) && data[i] != ',' {
				i++
			}
			val = data[vs:i]
			for len(val) > 0 && isSpace(val[len(val)-1]) {
				val = val[:len(val)-1]
			}
		}
		if len(val) > maxValue {
			s.c.longValue.Add(1)
			break
		}
		var err error
		switch n := string(name); {
		case n == "nonce":
			q.nonce = s.validNonce(val, src, now)
		case n == "frags":
			q.frags, err = strconv.Atoi(string(val))
		case n == "limit":
			q.limit, err = strconv.Atoi(string(val))
		case n == "mincount":
			q.mincount, err = strconv.ParseUint(string(val), 10, 64)
		case n == "resall" || n == "resany":
			var v uint64
			v, err = strconv.ParseUint(trimHex(val), 16, 16)
			if n == "resall" {
				q.resall = uint16(v)
			} else {
				q.resany = uint16(v)
			}
		case n == "maxlstint":
			q.maxlstint, err = strconv.ParseInt(string(val), 10, 64)
			q.hasMaxLstInt = true
		case n == "laddr":
			var ap netip.AddrPort
			if ap, err = parseAddrPort(val); err == nil {
				q.laddr = ap.Addr()
			}
		case len(n) > 5 && (n[:5] == "addr." || n[:5] == "last."):
			k, kerr := strconv.Atoi(n[5:])
			if kerr != nil || k < 0 {
				break // classic ignores tags it does not know
			}
			if k >= maxResume {
				break
			}
			if k >= q.nresume {
				q.nresume = k + 1
			}
			e := &q.resume[k]
			if n[0] == 'a' {
				e.addr, err = parseAddrPort(val)
				e.ok = err == nil
			} else {
				var ts uint64
				ts, err = parseTS(val)
				e.last = ntptime.Time(ts)
			}
		}
		if err != nil {
			return q, ErrBadValue
		}
	}
	return q, 0
}

func trimHex(v []byte) string {
	s := string(v)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:]
	}
	return s
}

func parseTS(v []byte) (uint64, error) {
	s := trimHex(v)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			hi, err := strconv.ParseUint(s[:i], 16, 32)
			if err != nil {
				return 0, err
			}
			lo, err := strconv.ParseUint(s[i+1:], 16, 32)
			if err != nil {
				return 0, err
			}
			return hi<<32 | lo, nil
		}
	}
	hi, err := strconv.ParseUint(s, 16, 32)
	return hi << 32, err
}

func parseAddrPort(v []byte) (netip.AddrPort, error) {
	s := string(v)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, 0), nil
}

// readMRU answers opcode 10 (classic read_mru_list, compat.md 1.9). Without a valid nonce
// there is no reply at all. The reply carries a new nonce, then entries oldest first after
// the resume point, as many as fit in the requested fragments (at most 128, classic's
// bound, so a request can never draw more than classic would send) or rows; `now=` and
// `last.newest=` close a complete list.
func (s *Server) readMRU(r *reply, data []byte, src netip.AddrPort, now time.Time) {
	q, code := s.parseMRU(data, src, now)
	if code == 0 && !q.nonce {
		s.c.badNonce.Add(1)
		return
	}
	if code != 0 {
		r.fail(code)
		return
	}
	switch {
	case q.frags > 0 && q.frags <= mruFragsLimit:
	case q.frags == 0 && q.limit > 0 && q.limit <= mruRowLimit:
		q.frags = mruFragsLimit
	default:
		r.fail(ErrBadValue)
		return
	}
	if q.limit <= 0 || q.limit > mruRowLimit {
		q.limit = mruRowLimit
		if q.frags > 0 {
			q.limit = 1 << 30 // bounded by fragments instead
		}
	}
	// Find the resume point: the newest entry of the list that matches a pair.
	start := 0
	var older MRUEntry
	if q.nresume > 0 {
		found := false
		idx := 0
		for e := range s.mru() {
			for k := 0; k < q.nresume; k++ {
				p := &q.resume[k]
				if p.ok && p.addr == e.Addr && p.last == e.Last {
					start, older, found = idx+1, e, true
				}
			}
			idx++
		}
		if !found {
			r.fail(ErrUnknownVar)
			return
		}
	}
	nowTS := ntptime.FromTime(now)
	budget := q.frags * 468
	// Each row is at most ~190 octets; leave room for the closing items.
	const rowMax = 200
	r.put(s.appendNonce(r.scratch[:0], src, now))
	if q.nresume > 0 {
		r.put(appendTS(r.scratch[:0], "last.older", older.Last))
		r.put(appendAddrPort(r.scratch[:0], "addr.older", older.Addr))
	}
	rows := 0
	complete := true
	var newest ntptime.Time
	idx := 0
	for e := range s.mru() {
		if idx < start {
			idx++
			continue
		}
		idx++
		if e.Count < q.mincount || (q.resall != 0 && e.Restrict&q.resall != q.resall) ||
			(q.resany != 0 && e.Restrict&q.resany == 0) ||
			(q.hasMaxLstInt && since(nowTS, e.Last) > q.maxlstint) {
			continue
		}
		if rows >= q.limit || r.written()+rowMax+80 > budget {
			complete = false
			break
		}
		s.putMRUEntry(r, rows, &e)
		newest = e.Last
		rows++
	}
	if complete {
		r.put(appendTS(r.scratch[:0], "now", nowTS))
		if rows > 0 {
			r.put(appendTS(r.scratch[:0], "last.newest", newest))
		}
	}
	r.flush(false)
}

// mru returns the MRU list, empty when the daemon has no monitor.
func (s *Server) mru() iter.Seq[MRUEntry] {
	if s.src.MRU == nil {
		return func(func(MRUEntry) bool) {}
	}
	return s.src.MRU()
}

// since is the whole seconds from t to now, 0 when t is later.
func since(now, t ntptime.Time) int64 {
	d := ntptime.Sub(now, t).Seconds()
	if d < 0 {
		return 0
	}
	return int64(d)
}

func (s *Server) putMRUEntry(r *reply, n int, e *MRUEntry) {
	tag := func(name string) []byte {
		b := append(r.scratch[:0], name...)
		b = append(b, '.')
		return strconv.AppendInt(b, int64(n), 10)
	}
	b := appendHostPort(append(tag("addr"), '='), e.Addr)
	r.put(b)
	b = append(tag("last"), "=0x"...)
	b = appendHex8(b, e.Last.Seconds())
	b = append(b, '.')
	b = appendHex8(b, e.Last.Fraction())
	r.put(b)
	b = append(tag("first"), "=0x"...)
	b = appendHex8(b, e.First.Seconds())
	b = append(b, '.')
	b = appendHex8(b, e.First.Fraction())
	r.put(b)
	b = strconv.AppendUint(append(tag("ct"), '='), e.Count, 10)
	r.put(b)
	b = strconv.AppendUint(append(tag("mv"), '='), uint64(e.Mode&7|(e.Version&7)<<3), 10)
	r.put(b)
	b = append(tag("rs"), "=0x"...)
	b = strconv.AppendUint(b, uint64(e.Restrict), 16)
	r.put(b)
}
