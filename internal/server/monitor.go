// SPDX-License-Identifier: BSD-2-Clause

package server

import (
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"

	"gontp/internal/ntptime"
)

// ClassicEntrySize is sizeof(mon_entry) in classic ntpd 4.2.8p15 on 64-bit Linux. Classic
// converts `mru maxmem`/`initmem`/`incmem` kilobytes to entries with it and reports mru_mem
// with it (the default 1024 KB gives the 11915 "maximum addresses" of ntpq's monstats);
// gontp uses the same figure so that the same ntp.conf gives the same limits and the same
// monstats. (A gontp entry takes about 120 octets with its hash slot.)
const ClassicEntrySize = 88

// MaxMonitorEntries bounds the MRU list whatever the configuration says: classic takes a
// negative `mru maxdepth`/`maxmem` as "no limit" and never stops growing below `mindepth`;
// gontp stops at this many entries (about 120 MiB) so that a flood of forged source
// addresses cannot exhaust memory.
const MaxMonitorEntries = 1 << 20

// Monitor enable bits (classic mon_enabled, shown as ntpq's mru_enabled / monstats
// "enabled").
const (
	MonitorOn         = 1 // `enable monitor` (the default)
	MonitorRestricted = 2 // some restrict entry has `limited`
)

// MonitorConfig holds the `discard` and `mru` settings (internal/daemon translates them from
// the configuration with classic's rules).
type MonitorConfig struct {
	// Average is `discard average` (log2 s, classic ntp_minpoll, default 3): the headway
	// increment is 2^Average s and a source is limited while its average packet spacing is
	// below it.
	Average int
	// Minimum is `discard minimum` (s, classic ntp_minpkt, default 2): the least spacing
	// between two packets, with classic's 1 s grace.
	Minimum int
	// Monitor is `discard monitor` (classic mon_age, default 3000): when the list is full,
	// a new source takes the oldest entry's place with a probability growing with that
	// entry's age over Monitor.
	Monitor int
	// MinDepth (`mru mindepth`, default 600): below this many entries every new source is
	// recorded, whatever the ages.
	MinDepth int
	// MaxDepth (`mru maxdepth`, or `maxmem` / ClassicEntrySize; default 11915): the hard
	// limit of entries once MinDepth is exceeded; negative means MaxMonitorEntries.
	MaxDepth int
	// MaxAge (`mru maxage`, s, default 64): above MinDepth, an oldest entry older than
	// this is reused for a new source.
	MaxAge int
	// InitAlloc and IncAlloc (`mru initalloc`/`initmem`, `incalloc`/`incmem`, default 46
	// entries each = 4 KB): entries allocated at start and whenever the free list is empty.
	InitAlloc, IncAlloc int
}

// MonitorEntries converts a kilobyte figure of `mru maxmem`/`initmem`/`incmem` to entries as
// classic does, with entries of ClassicEntrySize octets; a negative figure (classic's "no
// limit") stays -1.
func MonitorEntries(kb int) int {
	if kb < 0 {
		return -1
	}
	return kb * 1024 / ClassicEntrySize
}

// DefaultMonitorConfig is classic's configuration without discard or mru lines.
func DefaultMonitorConfig() MonitorConfig {
	// discard average 3 minimum 2 monitor 3000; mru mindepth 600 maxage 64 maxmem 1024
	// initmem 4 incmem 4 (kilobytes).
	return MonitorConfig{Average: 3, Minimum: 2, Monitor: 3000, MinDepth: 600, MaxAge: 64,
		MaxDepth: MonitorEntries(1024), InitAlloc: MonitorEntries(4), IncAlloc: MonitorEntries(4)}
}

// Monitor is classic ntpd's MRU list and rate limiter (ntp_monitor.c): one entry per source
// address with its first and last arrival, packet count, last mode and version and the
// restriction flags of its last packet, linked in most-recently-used order and found through
// a hash table. Observe runs it for every packet that reaches classic's ntp_monitor() call.
//
// It is safe for concurrent use (one mutex; an uncontended lock costs tens of nanoseconds)
// and allocation-free once the entries are allocated: entries come in batches from a free
// list, as classic's do, and old ones are reused in place.
type Monitor struct {
	enabled atomic.Uint32

	mu       sync.Mutex
	cfg      MonitorConfig
	head     monEntry // sentinel: head.next is the newest, head.prev the oldest
	buckets  []*monEntry
	seed     maphash.Seed
	free     *monEntry
	alloc    int // entries allocated (list + free)
	entries  int
	peak     int
	batches  int
	rng      *rand.Rand
	minPoll  uint
	maxDepth int
	minDepth int
}

type monEntry struct {
	hashNext   *monEntry
	prev, next *monEntry
	src        netip.AddrPort
	local      netip.Addr
	first      ntptime.Time
	last       ntptime.Time
	leak       int
	count      int
	flags      AccessFlags
	vnMode     uint8
}

// MRUEntry is one source as ntpq's mrulist reads it (compat.md 1.9: addr.N, last.N,
// first.N, ct.N, mv.N, rs.N) plus the local address it arrived on (for `laddr=`).
type MRUEntry struct {
	Addr        netip.AddrPort
	Local       netip.Addr
	First, Last ntptime.Time
	Count       int
	// Mode and Version of the last packet; mv.N on the wire is Mode | Version<<3.
	Mode, Version uint8
	// Flags are the restriction bits of the last packet: Limited and KoD are set only if
	// that packet was rate limited / answered with a KoD.
	Flags AccessFlags
}

// MonitorStats are the monitor's figures (ntpq's mru_* system variables and monstats).
type MonitorStats struct {
	Enabled  uint32 // MonitorOn | MonitorRestricted bits (mru_enabled)
	Entries  int    // mru_depth ("addresses")
	Peak     int    // mru_deepest ("peak addresses")
	MinDepth int    // mru_mindepth ("reclaim above count")
	MaxDepth int    // mru_maxdepth ("maximum addresses")
	MaxAge   int    // mru_maxage ("reclaim older than")
	MemKB    int    // mru_mem ("kilobytes"), classic's rounding of Entries*ClassicEntrySize
	MaxMemKB int    // mru_maxmem ("maximum kilobytes")
	MinPoll  int    // `discard average` (the `rate` system variable)
}

// NewMonitor returns a monitor with the given settings and enable bits (MonitorOn unless
// `disable monitor`, MonitorRestricted when RestrictList.HasLimited). rng draws classic's
// preemption lottery; it is only used under the monitor's lock.
func NewMonitor(cfg MonitorConfig, enabled uint32, rng *rand.Rand) *Monitor {
	m := &Monitor{cfg: cfg, rng: rng, seed: maphash.MakeSeed()}
	m.head.next, m.head.prev = &m.head, &m.head
	m.maxDepth = cfg.MaxDepth
	if m.maxDepth < 0 || m.maxDepth > MaxMonitorEntries {
		m.maxDepth = MaxMonitorEntries
	}
	m.minDepth = min(max(cfg.MinDepth, 0), MaxMonitorEntries)
	switch {
	case cfg.Average < 0:
		m.minPoll = 0
	case cfg.Average > 24: // keep 8 * 2^Average within int32 as classic's int
		m.minPoll = 24
	default:
		m.minPoll = uint(cfg.Average)
	}
	// A hash table with about one entry per slot at the hard limit.
	slots := 16
	for slots < max(m.maxDepth, m.minDepth) && slots < 1<<18 {
		slots <<= 1
	}
	m.buckets = make([]*monEntry, slots)
	m.Start(enabled)
	return m
}

// Start sets enable bits (classic mon_start). The first one allocates the initial batch.
func (m *Monitor) Start(bits uint32) {
	if bits == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.batches == 0 {
		m.moreEntries()
	}
	m.enabled.Store(m.enabled.Load() | bits)
}

// Stop clears enable bits (classic mon_stop). When none is left the list is emptied (the
// entries stay allocated, on the free list) and Observe records nothing and limits nothing.
func (m *Monitor) Stop(bits uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.enabled.Load()
	if e&bits == 0 {
		return
	}
	e &^= bits
	m.enabled.Store(e)
	if e != 0 {
		return
	}
	for x := m.head.next; x != &m.head; {
		next := x.next
		*x = monEntry{hashNext: m.free}
		m.free = x
		x = next
	}
	m.head.next, m.head.prev = &m.head, &m.head
	clear(m.buckets)
	m.entries = 0
}

// moreEntries is classic's mon_getmoremem: a batch of InitAlloc entries the first time,
// IncAlloc later (at least one, where classic would crash on zero).
func (m *Monitor) moreEntries() {
	n := m.cfg.IncAlloc
	if m.batches == 0 {
		n = m.cfg.InitAlloc
	}
	n = max(n, 1)
	batch := make([]monEntry, n)
	for i := n - 1; i >= 0; i-- {
		batch[i].hashNext = m.free
		m.free = &batch[i]
	}
	m.alloc += n
	m.batches++
}

func (m *Monitor) bucket(a netip.Addr) **monEntry {
	b := a.As16()
	h := maphash.Bytes(m.seed, b[:])
	return &m.buckets[h&uint64(len(m.buckets)-1)]
}

// seconds is classic's rounding of an l_fp interval to whole seconds: add half a second,
// take the (signed) integer part.
func seconds(now, then ntptime.Time) int {
	return int((int64(now-then) + 0x80000000) >> 32)
}

// Observe records a packet from src that arrived on local at now (its receive timestamp)
// with the given mode and version (the header's own bits), and returns flags with
// AccessLimited and AccessKoD cleared unless this packet is to be rate limited (Limited)
// and answered with a RATE kiss (KoD as well). flags are the restrict flags of src.
//
// The rate limiter is classic's leaky bucket, in whole seconds: each packet drains the
// bucket by the seconds since the last one and would add 2^Average. A packet is within
// limits when it comes at least Minimum-1 s after the previous one and the bucket would stay
// below 8*2^Average; it then adds the increment less a 2 s grace. Otherwise it is limited:
// if the bucket was below the limit it is set to limit+increment and the packet may get a
// KoD; if it already was, the packet is dropped without a KoD. So a client that keeps
// sending too fast gets at most one KoD per limit interval, and the KoDs themselves cannot
// be used to reflect a flood. A source's first packet is never limited.
//
// A new source takes a free entry while the list is below MinDepth; above it, the oldest
// entry is reused if older than MaxAge, else a new entry is allocated up to MaxDepth, else
// the oldest entry is reused with a probability of 4*age/Monitor (classic's lottery, whose
// random draw only spans a quarter of the range) and otherwise the packet is not recorded.
func (m *Monitor) Observe(src netip.AddrPort, local netip.Addr, mode, version uint8, flags AccessFlags, now ntptime.Time) AccessFlags {
	if m.enabled.Load() == 0 {
		return flags &^ (AccessLimited | AccessKoD)
	}
	addr := src.Addr()
	vn := mode&7 | (version&7)<<3
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.enabled.Load() == 0 {
		return flags &^ (AccessLimited | AccessKoD)
	}
	b := m.bucket(addr)
	for e := *b; e != nil; e = e.hashNext {
		if e.src.Addr() != addr {
			continue
		}
		interval := seconds(now, e.last)
		e.last = now
		e.src = src // the latest port, as classic's NSRCPORT update
		e.count++
		e.vnMode = vn
		m.toFront(e)
		e.leak = max(e.leak-interval, 0)
		head := 1 << m.minPoll
		leak := e.leak + head
		limit := 8 * head // NTP_SHIFT stages of headway
		switch {
		case interval+1 >= m.cfg.Minimum && leak < limit:
			e.leak = leak - 2
			flags &^= AccessLimited | AccessKoD
		case e.leak < limit:
			e.leak = limit + head
		default:
			flags &^= AccessKoD
		}
		e.flags = flags
		return flags
	}

	var e *monEntry
	if m.entries < m.minDepth {
		if m.free == nil {
			m.moreEntries()
		}
		e = m.popFree()
	} else {
		oldest := m.head.prev
		age := 0
		if oldest != &m.head {
			age = seconds(now, oldest.last)
		} else {
			oldest = nil
		}
		switch {
		case oldest != nil && m.cfg.MaxAge < age:
			m.reclaim(oldest)
			e = oldest
		case m.free != nil || m.alloc < m.maxDepth:
			if m.free == nil {
				m.moreEntries()
			}
			e = m.popFree()
		case oldest == nil || m.rng.Float64()*0.25 > float64(age)/float64(m.cfg.Monitor):
			return flags &^ (AccessLimited | AccessKoD)
		default:
			m.reclaim(oldest)
			e = oldest
		}
	}
	m.entries++
	m.peak = max(m.peak, m.entries)
	*e = monEntry{hashNext: *b, src: src, local: local, first: now, last: now, count: 1,
		flags: flags &^ (AccessLimited | AccessKoD), vnMode: vn}
	*b = e
	m.linkFront(e)
	return e.flags
}

func (m *Monitor) popFree() *monEntry {
	e := m.free
	m.free = e.hashNext
	e.hashNext = nil
	return e
}

func (m *Monitor) linkFront(e *monEntry) {
	e.prev = &m.head
	e.next = m.head.next
	m.head.next.prev = e
	m.head.next = e
}

func (m *Monitor) toFront(e *monEntry) {
	if m.head.next == e {
		return
	}
	e.prev.next = e.next
	e.next.prev = e.prev
	m.linkFront(e)
}

// reclaim unlinks e from the list and its hash chain (classic mon_reclaim_entry).
func (m *Monitor) reclaim(e *monEntry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	for p := m.bucket(e.src.Addr()); *p != nil; p = &(*p).hashNext {
		if *p == e {
			*p = e.hashNext
			break
		}
	}
	m.entries--
}

func (e *monEntry) export() MRUEntry {
	return MRUEntry{Addr: e.src, Local: e.local, First: e.first, Last: e.last, Count: e.count,
		Mode: e.vnMode & 7, Version: e.vnMode >> 3 & 7, Flags: e.flags}
}

// MRU appends every entry to dst, oldest first (the order mrulist sends them in).
func (m *Monitor) MRU(dst []MRUEntry) []MRUEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	for e := m.head.prev; e != &m.head; e = e.prev {
		dst = append(dst, e.export())
	}
	return dst
}

// Resume serves mrulist's continuation requests (compat.md 1.9): it appends to dst, oldest
// first, at most max entries newer than the entry of addr (address and port) whose last
// arrival is still last, and reports whether that entry was found. A zero addr starts with
// the oldest entry. When the entry moved or went (it got a new packet, or was reused), ok is
// false and classic answers UNKNOWNVAR so that ntpq tries an older resume point. more says
// whether entries remain after the ones returned.
func (m *Monitor) Resume(addr netip.AddrPort, last ntptime.Time, max int, dst []MRUEntry) (out []MRUEntry, ok, more bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := m.head.prev
	if addr.IsValid() {
		var found *monEntry
		for e := *m.bucket(addr.Addr()); e != nil; e = e.hashNext {
			if e.src == addr {
				found = e
				break
			}
		}
		if found == nil || found.last != last {
			return dst, false, false
		}
		start = found.prev
	}
	e := start
	for ; e != &m.head && max > 0; e = e.prev {
		dst = append(dst, e.export())
		max--
	}
	return dst, true, e != &m.head
}

// Lookup returns the entry of a source address.
func (m *Monitor) Lookup(a netip.Addr) (MRUEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for e := *m.bucket(a); e != nil; e = e.hashNext {
		if e.src.Addr() == a {
			return e.export(), true
		}
	}
	return MRUEntry{}, false
}

// Stats returns the monitor's figures.
func (m *Monitor) Stats() MonitorStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	kb := func(n int) int { return (n*ClassicEntrySize + 512) / 1024 }
	return MonitorStats{Enabled: m.enabled.Load(), Entries: m.entries, Peak: m.peak,
		MinDepth: m.cfg.MinDepth, MaxDepth: m.maxDepth, MaxAge: m.cfg.MaxAge,
		MemKB: kb(m.entries), MaxMemKB: kb(m.maxDepth), MinPoll: int(m.minPoll)}
}

// Allocated returns how many entries exist (in the list and on the free list); tests use it
// to check the memory bound.
func (m *Monitor) Allocated() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.alloc
}
