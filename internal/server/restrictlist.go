// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-multierror"
)

// NTPPort is the port `ntpport` entries match.
const NTPPort = 123

// Resolver looks up the addresses of a host name written in a restrict line; classic
// resolves such names once, at configuration time, and gives every address the entry.
type Resolver func(host string) ([]netip.Addr, error)

// RestrictList is ntp.conf's restrict list with classic ntpd 4.2.8p15's semantics
// (ntp_restrict.c): one list per address family, kept sorted by descending address, then
// descending mask, then descending match flags, and ending with the family's default entry
// (address and mask 0). The first entry that matches a source wins, which is the most
// specific one for nested networks; flags are not merged across entries. A second restrict
// line for the same address, mask and match flags adds its flags to the existing entry.
//
// Matching is lock-free and allocation-free: readers load an immutable table through an
// atomic pointer; the rare changes (association addresses for `restrict source`, local
// addresses for the hidden interface entries) copy the table under a mutex.
type RestrictList struct {
	mu  sync.Mutex // serialises writers
	tab atomic.Pointer[restrictTable]

	source struct {
		enabled     bool
		flags       AccessFlags
		match       MatchFlags
		ippeerlimit int
	}

	found, notFound atomic.Uint64
}

type restrictTable struct {
	v4, v6 []*restrictEntry // most specific first; each ends with its default entry
}

type restrictEntry struct {
	addr, mask  [2]uint64 // big-endian halves of the 16-octet address; IPv4 in addr[1]'s low word
	is4         bool
	isDefault   bool
	flags       AccessFlags
	match       MatchFlags
	ippeerlimit int
	hits        atomic.Uint64
}

// RestrictEntry is one entry as ntpq's reslist shows it.
type RestrictEntry struct {
	Addr, Mask netip.Addr // Addr is already masked
	// Prefix is the mask's length, or -1 for a non-contiguous mask (shown as "addr mask").
	Prefix      int
	Flags       AccessFlags
	Match       MatchFlags
	IPPeerLimit int // -1: no limit
	Hits        uint64
}

// RestrictStats are classic's restriction counters (ntpdc's reslist header).
type RestrictStats struct {
	Found    uint64 // matches of an entry other than a family's final default
	NotFound uint64 // matches of the final default entry
}

// RestrictLine is one restrict (or NTPsec unrestrict) line of the configuration, as the
// restrict list takes it: internal/daemon translates ntpconf's lines into these (leaving out
// the lines ntpconf found invalid and already reported).
type RestrictLine struct {
	// Pos is where the line is ("file:line:col"), for the messages about it.
	Pos string
	// Default is `restrict default` (with Family 4 or 6, only that family's default);
	// Source is `restrict source`, the template for the associations' addresses.
	Default, Source bool
	// Family is 4 or 6 when the line has -4 or -6, else 0.
	Family int
	// Address is the numeric address or host name of the line ("" for default and source);
	// Mask is its `mask M` ("" if none) and Prefix the length of the ADDR/LEN form (-1 if
	// not written so).
	Address, Mask string
	Prefix        int
	// IPPeerLimit is `ippeerlimit N`, -1 for no limit.
	IPPeerLimit int
	// Flags are the line's access flags and Match its match modifiers (ntpport).
	Flags AccessFlags
	Match MatchFlags
	// Remove is NTPsec's unrestrict: remove these flags, or the entry if there are none.
	Remove bool
}

// NewRestrictList builds the list from the restrict (and NTPsec unrestrict) lines in file
// order. resolve looks up host names; nil accepts numeric addresses only. The list is usable
// even when the error (a *multierror.Error naming each line: file:line:col) is not nil: bad
// lines are left out, as classic does. warnings name flags gontp accepts but does not act on.
func NewRestrictList(rs []RestrictLine, resolve Resolver) (*RestrictList, []string, error) {
	l := &RestrictList{}
	b := newTableBuilder()
	var errs *multierror.Error
	var warnings []string
	for i := range rs {
		r := &rs[i]
		flags, match := r.Flags, r.Match
		empty := flags == 0 && match == 0
		warnings = append(warnings, flagWarnings(r, flags)...)
		switch {
		case r.Source:
			if r.Remove {
				l.source.flags &^= flags
				if flags == 0 {
					l.source.enabled = false
				}
				continue
			}
			// Classic keeps only the last `restrict source` line.
			l.source.enabled = true
			l.source.flags = flags
			l.source.match = match | MatchSource
			l.source.ippeerlimit = r.IPPeerLimit
		case r.Default:
			for _, fam := range []int{4, 6} {
				if r.Family != 0 && r.Family != fam {
					continue
				}
				var addr netip.Addr
				if fam == 4 {
					addr = netip.IPv4Unspecified()
				} else {
					addr = netip.IPv6Unspecified()
				}
				b.apply(newEntry(addr, addr, match, flags, r.IPPeerLimit), r.Remove, r.Remove && empty)
			}
		default:
			addrs, err := restrictAddrs(r, resolve)
			if err != nil {
				errs = multierror.Append(errs, fmt.Errorf("%s: %w", r.Pos, err))
				continue
			}
			for _, a := range addrs {
				mask, err := restrictMask(r, a)
				if err != nil {
					errs = multierror.Append(errs, fmt.Errorf("%s: %w", r.Pos, err))
					break
				}
				b.apply(newEntry(a, mask, match, flags, r.IPPeerLimit), r.Remove, r.Remove && empty)
			}
		}
	}
	l.tab.Store(b.table())
	return l, warnings, errs.ErrorOrNil()
}

// entryKey is what makes two restrict lines the same entry (classic's res_match: address,
// mask and match flags).
type entryKey struct {
	addr, mask [2]uint64
	match      MatchFlags
	is4        bool
}

// tableBuilder merges the lines of a configuration into entries by key and sorts once at
// the end, so that loading n lines costs O(n log n): merging each line into a sorted copy
// (apply, for the rare run-time changes) costs O(n) a line, which made 100 000 lines take
// minutes. The result is the same as applying the lines one by one.
type tableBuilder struct {
	byKey   map[entryKey]*restrictEntry
	entries []*restrictEntry // in order of creation; deleted ones are nil
	index   map[entryKey]int
}

func newTableBuilder() *tableBuilder {
	b := &tableBuilder{byKey: map[entryKey]*restrictEntry{}, index: map[entryKey]int{}}
	b.put(&restrictEntry{is4: true, isDefault: true, ippeerlimit: -1})
	b.put(&restrictEntry{isDefault: true, ippeerlimit: -1})
	return b
}

func (e *restrictEntry) key() entryKey {
	return entryKey{addr: e.addr, mask: e.mask, match: e.match, is4: e.is4}
}

func (b *tableBuilder) put(e *restrictEntry) {
	k := e.key()
	b.byKey[k] = e
	b.index[k] = len(b.entries)
	b.entries = append(b.entries, e)
}

// apply is restrictTable.apply for the builder: the entries are not shared with readers
// yet, so they are changed in place.
func (b *tableBuilder) apply(e *restrictEntry, remove, removeEntry bool) {
	k := e.key()
	x := b.byKey[k]
	switch {
	case x == nil && !remove:
		b.put(e)
	case x == nil:
	case removeEntry && !x.isDefault:
		b.entries[b.index[k]] = nil
		delete(b.byKey, k)
		delete(b.index, k)
	case removeEntry:
		x.flags = 0
	case remove:
		x.flags &^= e.flags
	default:
		x.flags |= e.flags
	}
}

// table sorts the entries into classic's order.
func (b *tableBuilder) table() *restrictTable {
	t := &restrictTable{}
	for _, e := range b.entries {
		switch {
		case e == nil:
		case e.is4:
			t.v4 = append(t.v4, e)
		default:
			t.v6 = append(t.v6, e)
		}
	}
	for _, list := range [][]*restrictEntry{t.v4, t.v6} {
		sort.Slice(list, func(i, j int) bool { return list[i].sortsBefore(list[j]) })
	}
	return t
}

// flagWarnings names the flags of r that gontp records (they show in reslist and mrulist)
// but cannot act on.
func flagWarnings(r *RestrictLine, f AccessFlags) []string {
	var w []string
	if r.Remove {
		return nil
	}
	if f&AccessMSSNTP != 0 {
		w = append(w, fmt.Sprintf("%s: restrict mssntp: gontp has no MS-SNTP signing (Samba's ntp_signd); such clients get ordinary unsigned replies", r.Pos))
	}
	if f&AccessFlake != 0 {
		w = append(w, fmt.Sprintf("%s: restrict flake: gontp does not drop packets at random (a testing aid); the flag is ignored", r.Pos))
	}
	if f&AccessFuzz != 0 {
		w = append(w, fmt.Sprintf("%s: restrict serverresponse fuzz: gontp does not fuzz the reference time; the flag is ignored", r.Pos))
	}
	return w
}

// restrictAddrs returns the address (or, for a host name, every address) of a restrict line,
// keeping only the family given with -4/-6.
func restrictAddrs(r *RestrictLine, resolve Resolver) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(r.Address); err == nil {
		addrs = []netip.Addr{a.WithZone("")}
	} else {
		if resolve == nil {
			return nil, fmt.Errorf("restrict %s: not a numeric address and no resolver", r.Address)
		}
		as, err := resolve(r.Address)
		if err != nil {
			return nil, fmt.Errorf("restrict %s: %w", r.Address, err)
		}
		addrs = as
	}
	var out []netip.Addr
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if r.Family == 4 && !a.Is4() || r.Family == 6 && !a.Is6() {
			continue
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("restrict %s: no IPv%d address", r.Address, r.Family)
	}
	return out, nil
}

// restrictMask is the line's mask for address a: `mask M`, the gontp/NTPsec ADDR/LEN form,
// or all ones (a host entry), as classic defaults it.
func restrictMask(r *RestrictLine, a netip.Addr) (netip.Addr, error) {
	bits := a.BitLen()
	switch {
	case r.Prefix >= 0:
		bits = r.Prefix
	case r.Mask != "":
		m, err := netip.ParseAddr(r.Mask)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("mask %q: %w", r.Mask, err)
		}
		m = m.Unmap()
		if m.Is4() != a.Is4() {
			return netip.Addr{}, fmt.Errorf("mask %s is not of the same address family as %s", r.Mask, a)
		}
		return m.WithZone(""), nil
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("prefix /%d for %s: %w", bits, a, err)
	}
	return prefixMaskAddr(a.Is4(), p.Bits()), nil
}

func prefixMaskAddr(is4 bool, bits int) netip.Addr {
	var b [16]byte
	for i := 0; i < bits; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	if is4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

func halves(a netip.Addr) [2]uint64 {
	if a.Is4() {
		b := a.As4()
		return [2]uint64{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func newEntry(addr, mask netip.Addr, match MatchFlags, flags AccessFlags, ippeerlimit int) *restrictEntry {
	m := halves(mask)
	a := halves(addr)
	return &restrictEntry{
		addr: [2]uint64{a[0] & m[0], a[1] & m[1]}, mask: m, is4: addr.Is4(),
		isDefault: m == [2]uint64{} && match == 0, flags: flags, match: match,
		ippeerlimit: ippeerlimit,
	}
}

// sortsBefore is classic's res_sorts_before4/6: descending address, then descending mask,
// then descending match flags.
func (e *restrictEntry) sortsBefore(o *restrictEntry) bool {
	if e.addr != o.addr {
		return e.addr[0] > o.addr[0] || e.addr[0] == o.addr[0] && e.addr[1] > o.addr[1]
	}
	if e.mask != o.mask {
		return e.mask[0] > o.mask[0] || e.mask[0] == o.mask[0] && e.mask[1] > o.mask[1]
	}
	return e.match > o.match
}

func (e *restrictEntry) same(o *restrictEntry) bool {
	return e.addr == o.addr && e.mask == o.mask && e.match == o.match
}

// apply returns a copy of t with e merged in as classic's hack_restrict does: RESTRICT_FLAGS
// adds e's flags to an existing entry with the same address, mask and match flags (its
// ippeerlimit stays) or inserts e in sort order; remove clears e's flags from the existing
// entry (NTPsec's unrestrict with flags), removeEntry deletes it (unrestrict without flags;
// a default entry is never deleted, its flags are cleared). Entries are shared, not copied,
// so hit counts survive.
func (t *restrictTable) apply(e *restrictEntry, remove, removeEntry bool) *restrictTable {
	list := t.v6
	if e.is4 {
		list = t.v4
	}
	out := make([]*restrictEntry, 0, len(list)+1)
	done := false
	for _, x := range list {
		if !done && x.same(e) {
			done = true
			switch {
			case removeEntry && !x.isDefault:
				continue
			case removeEntry:
				x = x.with(0)
			case remove:
				x = x.with(x.flags &^ e.flags)
			default:
				x = x.with(x.flags | e.flags)
			}
			out = append(out, x)
			continue
		}
		if !done && !remove && e.sortsBefore(x) {
			out = append(out, e)
			done = true
		}
		out = append(out, x)
	}
	if !done && !remove {
		out = append(out, e) // only reached for an empty list
	}
	nt := &restrictTable{v4: t.v4, v6: t.v6}
	if e.is4 {
		nt.v4 = out
	} else {
		nt.v6 = out
	}
	return nt
}

// with returns an entry like x with other flags. Readers hold the old table, so x itself is
// never written; the hit counter carries over.
func (x *restrictEntry) with(flags AccessFlags) *restrictEntry {
	n := &restrictEntry{addr: x.addr, mask: x.mask, is4: x.is4, isDefault: x.isDefault,
		flags: flags, match: x.match, ippeerlimit: x.ippeerlimit}
	n.hits.Store(x.hits.Load())
	return n
}

// Match returns the access flags and ippeerlimit of the entry that applies to a packet from
// src, counting the hit, as classic's restrictions(): multicast sources are always ignored.
// It does not allocate and is safe for concurrent use.
func (l *RestrictList) Match(src netip.AddrPort) (AccessFlags, int) {
	a := src.Addr().Unmap()
	if a.IsMulticast() {
		return AccessIgnore, 0
	}
	tab := l.tab.Load()
	list := tab.v6
	if a.Is4() {
		list = tab.v4
	}
	h := halves(a)
	port := src.Port()
	for _, e := range list {
		if h[0]&e.mask[0] == e.addr[0] && h[1]&e.mask[1] == e.addr[1] &&
			(e.match&MatchNTPPort == 0 || port == NTPPort) {
			e.hits.Add(1)
			if e.isDefault {
				l.notFound.Add(1)
			} else {
				l.found.Add(1)
			}
			return e.flags, e.ippeerlimit
		}
	}
	// Unreachable: every list ends with its default entry.
	return AccessIgnore, 0
}

// HasLimited reports whether an entry has `limited`; classic then keeps the monitor running
// even under `disable monitor` (mon_start(MON_RES)).
func (l *RestrictList) HasLimited() bool {
	tab := l.tab.Load()
	for _, list := range [][]*restrictEntry{tab.v4, tab.v6} {
		for _, e := range list {
			if e.flags&AccessLimited != 0 {
				return true
			}
		}
	}
	return false
}

func hostMask(a netip.Addr) netip.Addr { return prefixMaskAddr(a.Is4(), a.BitLen()) }

// AddInterface adds the hidden entry classic makes for each local address it listens on,
// `restrict ADDR ntpport interface ignore`, so that the daemon never answers packets it sent
// itself from port 123.
func (l *RestrictList) AddInterface(a netip.Addr) {
	a = a.Unmap().WithZone("")
	l.update(newEntry(a, hostMask(a), MatchInterface|MatchNTPPort, AccessIgnore, -1), false, false)
}

// RemoveInterface removes the hidden entry of a local address that went away.
func (l *RestrictList) RemoveInterface(a netip.Addr) {
	a = a.Unmap().WithZone("")
	l.update(newEntry(a, hostMask(a), MatchInterface|MatchNTPPort, 0, -1), true, true)
}

// AddSource gives an association's address the `restrict source` flags, as classic's
// restrict_source() does when an association is mobilised: only when a `restrict source`
// line exists and no host entry (all-ones mask) already matches the address.
func (l *RestrictList) AddSource(a netip.Addr) {
	a = a.Unmap().WithZone("")
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.source.enabled {
		return
	}
	tab := l.tab.Load()
	list := tab.v6
	if a.Is4() {
		list = tab.v4
	}
	h := halves(a)
	hm := halves(hostMask(a))
	for _, e := range list {
		// An association's address has port 123, so ntpport entries match too.
		if h[0]&e.mask[0] == e.addr[0] && h[1]&e.mask[1] == e.addr[1] {
			if e.mask == hm {
				return // a specific entry exists: hands off
			}
			break
		}
	}
	e := newEntry(a, hostMask(a), l.source.match, l.source.flags, l.source.ippeerlimit)
	l.tab.Store(tab.apply(e, false, false))
}

// RemoveSource removes the `restrict source` entry of an association's address when the
// association goes away (classic restrict_source(..., farewell)).
func (l *RestrictList) RemoveSource(a netip.Addr) {
	a = a.Unmap().WithZone("")
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.source.enabled {
		return
	}
	e := newEntry(a, hostMask(a), l.source.match, 0, -1)
	l.tab.Store(l.tab.Load().apply(e, true, true))
}

func (l *RestrictList) update(e *restrictEntry, remove, removeEntry bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tab.Store(l.tab.Load().apply(e, remove, removeEntry))
}

// Entries lists the entries as ntpq's reslist shows them: IPv4 first, then IPv6, each most
// specific first and ending with its default.
func (l *RestrictList) Entries() []RestrictEntry {
	tab := l.tab.Load()
	var out []RestrictEntry
	for _, list := range [][]*restrictEntry{tab.v4, tab.v6} {
		for _, e := range list {
			addr, mask := e.addrs()
			out = append(out, RestrictEntry{Addr: addr, Mask: mask, Prefix: maskLen(e.mask, e.is4),
				Flags: e.flags, Match: e.match, IPPeerLimit: e.ippeerlimit, Hits: e.hits.Load()})
		}
	}
	return out
}

// Stats returns the match counters.
func (l *RestrictList) Stats() RestrictStats {
	return RestrictStats{Found: l.found.Load(), NotFound: l.notFound.Load()}
}

func (e *restrictEntry) addrs() (netip.Addr, netip.Addr) {
	conv := func(h [2]uint64) netip.Addr {
		if e.is4 {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(h[1]))
			return netip.AddrFrom4(b)
		}
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], h[0])
		binary.BigEndian.PutUint64(b[8:], h[1])
		return netip.AddrFrom16(b)
	}
	return conv(e.addr), conv(e.mask)
}

// maskLen is the prefix length of a contiguous mask, or -1.
func maskLen(m [2]uint64, is4 bool) int {
	n, seenZero := 0, false
	words := []uint64{m[0], m[1]}
	width := 64
	if is4 {
		words = []uint64{m[1] << 32}
		width = 32
	}
	for _, w := range words {
		for i := 0; i < width; i++ {
			if w&(1<<63) != 0 {
				if seenZero {
					return -1
				}
				n++
			} else {
				seenZero = true
			}
			w <<= 1
		}
	}
	return n
}
