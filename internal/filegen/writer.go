// SPDX-License-Identifier: BSD-2-Clause

// Package filegen writes classic ntpd's statistics files (loopstats, peerstats, rawstats,
// sysstats, protostats, clockstats, timingstats) as file generation sets, libntp's
// ntp_filegen.c: one file per day (or week, month, year, day of uptime, process, or one for
// ever), the base name hard-linked to the current generation.
//
// Recording never blocks the caller (the engine goroutine): a record is stamped with the
// daemon's clock (the time the caller already read, or read here), as classic's get_systime
// stamps it, and queued; one writer goroutine formats and writes it once a second. A full queue drops the record and counts it; a failing write (full
// disk, vanished directory, permissions) is logged once per file until it works again and
// counted, and the daemon goes on.
package filegen

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gontp/internal/stats"
)

// retryInterval is how long a file set whose file could not be opened waits before trying
// again; the lines in between are counted as lost.
const retryInterval = time.Minute

// QueueLen is how many records may wait for the writer. At classic's rates (a few records
// per poll per association) it never fills; under a flood of protostats events it bounds
// the memory.
const QueueLen = 4096

// Options are the writer's inputs from the daemon.
type Options struct {
	Log *slog.Logger
	// Now is the daemon's clock (the disciplined or the virtual one); records are stamped
	// with it when they are made.
	Now func() time.Time
	// Start is when the daemon started (type age counts days from it); PID names the
	// generations of type pid.
	Start time.Time
	PID   int
	// Interval is how often the writer wakes up to write what was queued (default
	// DefaultInterval); Flush writes at once.
	Interval time.Duration
}

// DefaultInterval is how long a line may wait in the queue. Classic writes (and flushes)
// each line at once; gontp writes each file once a second, so that the lines cost the
// daemon a few hundred nanoseconds each instead of a wake-up and a system call.
const DefaultInterval = time.Second

// Counts are one file set's counters.
type Counts struct {
	Written uint64 // lines written
	Dropped uint64 // records dropped because the queue was full
	Failed  uint64 // lines lost to a failing open or write
}

// Writer queues statistics records and writes them on its own goroutine.
type Writer struct {
	opts Options
	cfg  atomic.Pointer[stats.Config]
	// mu guards queue, the records waiting for the writer (at most QueueLen). Lists under
	// a mutex rather than a channel: the engine's side is a lock and one copy of a small
	// value, the writer takes the whole batch at once, and memory grows only with use.
	mu    sync.Mutex
	queue batch
	spare batch
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
	// flushReq asks the writer to write now (Flush).
	flushReq chan chan struct{}

	startOnce sync.Once
	started   atomic.Bool

	written, dropped, failed [stats.NumKinds]atomic.Uint64
	// dropLogged is set while drops are being counted after one was logged.
	dropLogged atomic.Bool

	// Owned by the writer goroutine: the open files, and the directories found missing.
	files   [stats.NumKinds]*file
	missing map[string]bool
}

// timed is a record of the frequent kinds with the time it was made.
type timed[T any] struct {
	at time.Time
	v  T
}

// batch is the queue: one list per frequent kind, so that each record is copied at its own
// size, and one for the rest.
type batch struct {
	n      int
	loops  []timed[stats.Loop]
	peers  []timed[stats.Peer]
	raws   []timed[stats.Raw]
	others []record
}

// record is one queued line of the rarer kinds, or a configuration change (apply != nil).
type record struct {
	kind   stats.Kind
	at     time.Time
	sys    stats.Sys
	timing stats.Timing
	source string
	text   string
	apply  *stats.Config
}

// New makes a writer with the configuration cfg; Start starts it.
func New(cfg stats.Config, o Options) *Writer {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	w := &Writer{opts: o, quit: make(chan struct{}), done: make(chan struct{}),
		flushReq: make(chan chan struct{}), missing: map[string]bool{}}
	c := cfg
	w.cfg.Store(&c)
	return w
}

// Start starts writing. Records made before are queued (up to QueueLen): the daemon starts
// the writer once it runs as its final user, so that the files belong to that user, as
// classic's do (it opens them at the first record, after dropping root).
func (w *Writer) Start() {
	w.startOnce.Do(func() {
		w.started.Store(true)
		go w.run()
	})
}

// Apply makes cfg the configuration from the next record on (SIGHUP reload): files whose
// directory, name, type or link changed, or that were disabled, are closed; the next record
// opens the new generation. It never blocks on the writer.
func (w *Writer) Apply(cfg stats.Config) {
	c := cfg
	w.cfg.Store(&c)
	w.mu.Lock()
	w.queue.others = append(w.queue.others, record{apply: &c})
	w.queue.n++
	w.mu.Unlock()
}

// Config returns the configuration in force.
func (w *Writer) Config() stats.Config { return *w.cfg.Load() }

// Close stops the writer after the records already queued and closes the files.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.quit) })
	if w.started.Load() {
		<-w.done
	}
}

// Counts returns the counters of file set k.
func (w *Writer) Counts(k stats.Kind) Counts {
	if k >= stats.NumKinds {
		return Counts{}
	}
	return Counts{Written: w.written[k].Load(), Dropped: w.dropped[k].Load(), Failed: w.failed[k].Load()}
}

// Enabled reports whether records of kind k are written now. Callers may use it to skip
// building a record.
func (w *Writer) Enabled(k stats.Kind) bool { return w.cfg.Load().Enabled(k) }

// LoopStats records a clock update (classic record_loop_stats) made at time at of the
// daemon's clock.
func (w *Writer) LoopStats(at time.Time, r stats.Loop) {
	push(w, stats.LoopStats, func(b *batch) *[]timed[stats.Loop] { return &b.loops }, at, r)
}

// PeerStats records a new clock filter sample of an association (record_peer_stats),
// taken at time at of the daemon's clock.
func (w *Writer) PeerStats(at time.Time, r stats.Peer) {
	push(w, stats.PeerStats, func(b *batch) *[]timed[stats.Peer] { return &b.peers }, at, r)
}

// RawStats records a packet an association sent or received (record_raw_stats) at time at
// of the daemon's clock.
func (w *Writer) RawStats(at time.Time, r stats.Raw) {
	push(w, stats.RawStats, func(b *batch) *[]timed[stats.Raw] { return &b.raws }, at, r)
}

// SysStats records the server counters of the last period (record_sys_stats).
func (w *Writer) SysStats(r stats.Sys) {
	if w.Enabled(stats.SysStats) {
		w.put(record{kind: stats.SysStats, sys: r})
	}
}

// ProtoStats records a system or peer event, text as classic's report_event words it
// ("0.0.0.0 c016 06 restart", "198.18.0.3 961a 8a sys_peer").
func (w *Writer) ProtoStats(text string) {
	if w.Enabled(stats.ProtoStats) {
		w.put(record{kind: stats.ProtoStats, text: text})
	}
}

// ClockStats records a reference clock's message (classic record_clock_stats): source is
// the clock's address as classic prints it ("127.127.20.0"), text the driver's line
// (usually the last timecode received). Drivers call it for each timecode they decode.
func (w *Writer) ClockStats(source, text string) {
	if w.Enabled(stats.ClockStats) {
		w.put(record{kind: stats.ClockStats, source: source, text: text})
	}
}

// TimingStats records a processing delay (classic's DEBUG_TIMING record_timing_stats).
func (w *Writer) TimingStats(r stats.Timing) {
	if w.Enabled(stats.TimingStats) {
		w.put(record{kind: stats.TimingStats, timing: r})
	}
}

func (w *Writer) put(r record) {
	r.at = w.opts.Now()
	w.mu.Lock()
	if w.queue.n >= QueueLen {
		w.mu.Unlock()
		w.dropped[r.kind].Add(1)
		return
	}
	w.queue.others = append(w.queue.others, r)
	w.queue.n++
	w.mu.Unlock()
}

// push queues a record of a frequent kind on its own list. The callers pass the time they
// already read from the daemon's clock, which saves a clock reading per line.
func push[T any](w *Writer, k stats.Kind, list func(*batch) *[]timed[T], at time.Time, v T) {
	if !w.Enabled(k) {
		return
	}
	w.mu.Lock()
	if w.queue.n >= QueueLen {
		w.mu.Unlock()
		w.dropped[k].Add(1)
		return
	}
	l := list(&w.queue)
	*l = append(*l, timed[T]{at: at, v: v})
	w.queue.n++
	w.mu.Unlock()
}

func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			w.drain()
		case done := <-w.flushReq:
			w.drain()
			close(done)
		case <-w.quit:
			w.drain()
			for _, f := range w.files {
				if f != nil {
					f.close()
				}
			}
			return
		}
	}
}

// Flush writes everything queued so far and returns when it is in the files.
func (w *Writer) Flush() {
	if !w.started.Load() {
		return
	}
	done := make(chan struct{})
	select {
	case w.flushReq <- done:
		<-done
	case <-w.done:
	}
}

// drain formats every queued record into its file's buffer, then writes each buffer with
// one system call: at classic's rates that is one write per file per interval instead of
// one per line.
func (w *Writer) drain() {
	w.reportDrops()
	w.mu.Lock()
	b := w.queue
	w.queue, w.spare = w.spare, batch{}
	w.mu.Unlock()
	for i := range b.others {
		w.handle(&b.others[i])
	}
	for _, r := range b.loops {
		if f := w.file(stats.LoopStats, r.at); f != nil {
			f.pending = stats.AppendLoop(f.pending, r.at, r.v)
			f.lines++
		}
	}
	for _, r := range b.peers {
		if f := w.file(stats.PeerStats, r.at); f != nil {
			f.pending = stats.AppendPeer(f.pending, r.at, r.v)
			f.lines++
		}
	}
	for _, r := range b.raws {
		if f := w.file(stats.RawStats, r.at); f != nil {
			f.pending = stats.AppendRaw(f.pending, r.at, r.v)
			f.lines++
		}
	}
	clear(b.others) // drop the references (configurations, texts) the records hold
	b = batch{loops: b.loops[:0], peers: b.peers[:0], raws: b.raws[:0], others: b.others[:0]}
	w.mu.Lock()
	w.spare = b
	w.mu.Unlock()
	for _, f := range w.files {
		if f != nil {
			f.flush()
		}
	}
}

func (w *Writer) handle(r *record) {
	if r.apply != nil {
		cfg := w.cfg.Load()
		for k, f := range w.files {
			if f != nil && (!cfg.Enabled(stats.Kind(k)) || f.gen != cfg.Gens[k] || f.dir != cfg.Dir) {
				f.flush()
				f.close()
				w.files[k] = nil
			}
		}
		return
	}
	if f := w.file(r.kind, r.at); f != nil {
		f.pending = format(f.pending, r)
		f.lines++
	}
}

// file returns the file set k with the generation of at open, ready for a line; nil when
// the set is disabled (by a reload while the record waited) or its file cannot be opened
// (the line is then counted as lost).
func (w *Writer) file(k stats.Kind, at time.Time) *file {
	cfg := w.cfg.Load()
	if !cfg.Enabled(k) {
		return nil
	}
	f := w.files[k]
	if f == nil || f.gen != cfg.Gens[k] || f.dir != cfg.Dir {
		if f != nil {
			f.flush()
			f.close()
		}
		f = &file{kind: k, gen: cfg.Gens[k], dir: cfg.Dir, w: w}
		w.files[k] = f
	}
	if !f.ready(at) {
		w.failed[k].Add(1)
		return nil
	}
	return f
}

// reportDrops logs, once per episode, that records were dropped for a full queue.
func (w *Writer) reportDrops() {
	var n uint64
	for k := range w.dropped {
		n += w.dropped[k].Load()
	}
	if n > 0 && w.dropLogged.CompareAndSwap(false, true) {
		w.opts.Log.Warn(fmt.Sprintf("statistics: the writer fell behind and dropped %d record(s); drops are counted (ntp_stats_dropped_total), not logged again", n))
	}
}

func format(b []byte, r *record) []byte {
	switch r.kind {
	case stats.SysStats:
		return stats.AppendSys(b, r.at, r.sys)
	case stats.TimingStats:
		return stats.AppendTiming(b, r.at, r.timing)
	case stats.ClockStats:
		return stats.AppendText(b, r.at, r.source, r.text)
	default:
		return stats.AppendText(b, r.at, "", r.text)
	}
}

// file is the open generation of one file set.
type file struct {
	w    *Writer
	kind stats.Kind
	gen  stats.Gen
	dir  string
	f    *os.File
	cur  stats.Generation
	// failing is set once an error was logged; the next success logs the recovery.
	failing bool
	// conflicts numbers the saved copies of a plain file found under the base name.
	conflicts int
	// retry is when an open that failed may be tried again.
	retry time.Time
	// opened is set once a generation was opened.
	opened bool
	// pending are the formatted lines not written yet, lines how many.
	pending []byte
	lines   int
}

func (f *file) close() {
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
}

// ready makes sure the generation holding at is open, writing out the buffer of the
// previous generation first when at starts a new one. It reports whether a line can be
// added.
func (f *file) ready(at time.Time) bool {
	if f.f == nil || !f.cur.Contains(at) {
		f.flush()
		if f.f == nil && at.Before(f.retry) {
			return false
		}
		f.open(at)
	}
	return f.f != nil
}

// flush writes the buffered lines; a failed write counts them as lost.
func (f *file) flush() {
	if f.lines == 0 {
		return
	}
	n := uint64(f.lines)
	defer func() { f.pending, f.lines = f.pending[:0], 0 }()
	if f.f == nil {
		f.w.failed[f.kind].Add(n)
		return
	}
	if _, err := f.f.Write(f.pending); err != nil {
		f.w.failed[f.kind].Add(n)
		f.fail(fmt.Sprintf("statistics file %s: %v", f.f.Name(), err))
		if errors.Is(err, syscall.EBADF) || errors.Is(err, fs.ErrClosed) {
			f.close()
		}
		return
	}
	f.w.written[f.kind].Add(n)
	if f.failing {
		f.failing = false
		f.w.opts.Log.Info(fmt.Sprintf("statistics file %s: writing again", f.f.Name()))
	}
}

func (f *file) fail(msg string) {
	if f.failing {
		return
	}
	f.failing = true
	f.w.opts.Log.Error(msg + "; lines are counted as lost (ntp_stats_failed_total) and this is not logged again until writing works")
}

// open opens the generation that holds at, as classic's filegen_open: a plain file under
// the base name is saved as BASE.PIDCn, a link there is removed, the generation is opened
// for appending (created with mode 0644 whatever the umask), and the base name is linked to
// it. If the open fails, the previous generation stays open (classic: "better than losing
// output").
func (f *file) open(at time.Time) {
	g := stats.GenerationAt(f.gen.Type, at, f.w.opts.Start, f.w.opts.PID)
	base := f.dir + f.gen.File
	full := base + g.Suffix
	if g.Suffix != "" {
		if st, err := os.Lstat(base); err == nil {
			if st.Mode().IsRegular() {
				if nlink(st) <= 1 {
					f.conflicts++
					save := fmt.Sprintf("%s.%dC%d", base, f.w.opts.PID, f.conflicts-1)
					if err := os.Rename(base, save); err != nil {
						f.w.opts.Log.Error(fmt.Sprintf("couldn't save %s: %v", base, err))
					}
				} else if err := os.Remove(base); err != nil {
					f.w.opts.Log.Error(fmt.Sprintf("couldn't unlink %s: %v", base, err))
				}
			} else if st.Mode()&fs.ModeSymlink != 0 {
				os.Remove(base) // a symbolic link someone made: replaced by classic's hard link
			} else {
				f.w.opts.Log.Error(fmt.Sprintf("expected regular file for %s (found mode %v)", base, st.Mode()))
			}
		}
	}
	nf, err := os.OpenFile(full, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		// The previous generation is closed (classic keeps writing into it, but after a
		// vanished directory that file is gone too), and the open is tried again a minute
		// later, not for every line.
		f.close()
		f.retry = at.Add(retryInterval)
		if errors.Is(err, fs.ErrNotExist) && !f.opened {
			// A directory that was never there (Debian's default ntp.conf leaves statsdir
			// commented out, so classic's /var/NTP/ applies): classic says nothing; gontp
			// says so once per directory, as information, and counts the lost lines.
			f.failing = true
			if !f.w.missing[f.dir] {
				f.w.missing[f.dir] = true
				f.w.opts.Log.Info(fmt.Sprintf("statistics directory %s does not exist: the statistics files there are not written (create it, or set statsdir); lost lines are counted (ntp_stats_failed_total)", f.dir))
			}
			return
		}
		f.fail(fmt.Sprintf("statistics file %s: %v", full, err))
		return
	}
	f.opened = true
	if st, err := nf.Stat(); err == nil && st.Size() == 0 && st.Mode().Perm() != 0o644 {
		nf.Chmod(0o644) // a umask other than 022 must not hide the files from their readers
	}
	f.close()
	f.f, f.cur = nf, g
	if f.failing {
		f.failing = false
		f.w.opts.Log.Info(fmt.Sprintf("statistics file %s: writing again", full))
	}
	if f.gen.Link && g.Suffix != "" {
		if err := os.Link(full, base); err != nil && !errors.Is(err, fs.ErrExist) {
			f.w.opts.Log.Error(fmt.Sprintf("can't link(%s, %s): %v", full, base, err))
		}
	}
}

func nlink(st fs.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Nlink)
	}
	return 1
}
