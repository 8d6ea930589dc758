// SPDX-License-Identifier: BSD-2-Clause

package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"time"

	"gontp/clock"
	"gontp/clock/adjtimex"
	"gontp/internal/driftfile"
	"gontp/internal/leap"
	"gontp/ntpconf"
)

// ClockOptions are the command-line settings of the clock discipline.
type ClockOptions struct {
	// VirtualClock is --virtual-clock OFFSET,PPM: the daemon disciplines a simulated kernel
	// clock (clock.Model) that starts OFFSET seconds ahead of the host clock with an
	// oscillator PPM parts per million fast, and serves and measures on it, so that the
	// whole daemon can be tested without touching the host's clock. "" means the host's
	// kernel clock.
	VirtualClock string
	PanicGate    bool // -g: the first correction may exceed the panic threshold
	ForceStep    bool // -G: the first correction is a step, however small
	Once         bool // -q: set the clock once and exit
	SlewOnly     bool // -x: step threshold 600 s, so that corrections below are slewed
	// DriftFile is -f; it overrides the driftfile directive. "" means the directive's.
	DriftFile string
}

// slewOnlyStep is classic's step threshold with -x (600 s).
const slewOnlyStep = 600

// Clock is everything clock-related the daemon runs: the kernel clock (the host's through
// adjtimex, or a virtual one), the discipline over it, the drift file and the leap-seconds
// file. Tick and Close run on the engine's goroutine, which owns the discipline.
type Clock struct {
	// Kernel is the clock the discipline adjusts: *adjtimex.Kernel or *clock.Model.
	Kernel clock.Kernel
	// Discipline goes into engine.Options.Loop.
	Discipline *clock.Discipline
	// Virtual is the virtual clock, nil for the host's kernel clock.
	Virtual *clock.Model

	log *slog.Logger

	drift    *driftfile.Saver // nil without a drift file
	leapTab  *leap.Table      // nil without a (usable) leap file
	leapPath string
	leapWarn leap.Warner
	// leapWatch is the leap file the daemon was configured with and the size and
	// modification time it had when last read (WatchLeap).
	leapWatch leapWatch
}

// leapWatch remembers the configured leap-seconds file and what a stat said of it when it
// was last read, so that WatchLeap re-reads it only when it has changed.
type leapWatch struct {
	path      string
	checkHash bool
	size      int64
	mtime     time.Time
	seen      bool // size and mtime are those of a file that existed
}

// setupClock builds the daemon's clock from the command line and ntp.conf (tinker, enable
// and disable kernel, driftfile, leapfile), with precision from the daemon's measurement.
// A missing or corrupt drift file or leap file is a warning, as in classic ntpd: the
// daemon then measures the frequency from scratch (state NSET) or runs without leap
// information. Only a malformed --virtual-clock is an error.
func setupClock(o ClockOptions, cfg *ntpconf.Config, precision int8, log *slog.Logger) (*Clock, error) {
	c := &Clock{log: log}
	if o.VirtualClock != "" {
		off, ppm, err := clock.ParseVirtual(o.VirtualClock)
		if err != nil {
			return nil, fmt.Errorf("--virtual-clock: %w", err)
		}
		start := time.Now()
		c.Virtual = clock.NewModel(start, func() time.Duration { return time.Since(start) }, off, ppm)
		c.Kernel = c.Virtual
		log.Info(fmt.Sprintf("virtual clock: %+.6f s from the host clock, oscillator %+.3f ppm; the host clock is never adjusted",
			off, ppm))
	} else {
		c.Kernel = &adjtimex.Kernel{}
	}

	t := cfg.TinkerParams()
	p := clock.DefaultParams()
	tk := tinkerFor(o, t)
	p.StepFwd, p.StepBack, p.Stepout, p.Panic, p.Allan = tk.StepFwd, tk.StepBack, tk.Stepout, tk.Panic, tk.Allan
	p.PanicGate, p.ForceStep, p.Once = o.PanicGate, o.ForceStep, o.Once
	p.Kernel = cfg.Flags()["kernel"]
	p.Precision = precision

	path, ok := cfg.Driftfile()
	if o.DriftFile != "" {
		path, ok = o.DriftFile, true
	}
	var loaded float64
	haveDrift := false
	if ok && path != "" {
		loaded, haveDrift = c.readDrift(path)
		c.drift = driftfile.NewSaver(path, driftThreshold(cfg), loaded, haveDrift, time.Now())
	}
	if haveDrift {
		p.Drift = &loaded
	}
	if t.Freq != nil {
		// tinker freq overrides the drift file (classic loop_config LOOP_FREQ).
		f := *t.Freq
		p.Drift = &f
	}
	c.Discipline = clock.New(c.Kernel, p, log)

	if lp, checkHash, ok := cfg.Leapfile(); ok && lp != "" {
		c.loadLeap(lp, checkHash)
	}
	return c, nil
}

// driftThreshold is driftfile's deprecated second argument (s/s) in ppm, or classic's default.
func driftThreshold(cfg *ntpconf.Config) float64 {
	if s := cfg.Setting("driftfile"); s != nil && s.Extra.Kind == ntpconf.ValueDouble && s.Extra.Float() > 0 {
		return s.Extra.Float() * 1e6 // the directive gives s/s
	}
	return driftfile.DefaultThreshold
}

// setDriftFile applies a reloaded `driftfile` (on the engine's goroutine): the measured
// frequency is kept and from now on saved to the new file ("" or none: no drift file).
// The new file is written at once when the frequency has been measured, so that a restart
// finds it there.
func (c *Clock) setDriftFile(path string, threshold float64, now time.Time) {
	if path == "" {
		c.drift = nil
		return
	}
	synced := c.Discipline.Vars().State == clock.SYNC
	c.drift = driftfile.NewSaver(path, threshold, c.Discipline.Frequency(), false, now)
	if synced {
		if _, err := c.drift.Exit(c.Discipline.Frequency(), now); err != nil {
			c.log.Error(err.Error())
		}
	}
}

// driftPath is the drift file in use, "" for none.
func (c *Clock) driftPath() string {
	if c.drift == nil {
		return ""
	}
	return c.drift.Path
}

// tinkerFor is the run-time part of `tinker` with the command line's say: classic -x makes
// the step threshold 600 s (a configured larger one stays).
func tinkerFor(o ClockOptions, t ntpconf.TinkerValues) clock.Tinker {
	tk := clock.Tinker{StepFwd: t.StepFwd, StepBack: t.StepBack, Stepout: t.Stepout, Panic: t.Panic, Allan: int8(t.Allan)}
	if o.SlewOnly {
		tk.StepFwd, tk.StepBack = math.Max(tk.StepFwd, slewOnlyStep), math.Max(tk.StepBack, slewOnlyStep)
	}
	return tk
}

// readDrift reads the drift file: classic logs "initial drift restored to 12.345000" when
// it has one, and starts without one when it is missing or unreadable.
func (c *Clock) readDrift(path string) (float64, bool) {
	ppm, err := driftfile.Read(path)
	switch {
	case err == nil:
		c.log.Info(fmt.Sprintf("initial drift restored to %f", ppm))
		return ppm, true
	case errors.Is(err, fs.ErrNotExist):
		c.log.Warn(fmt.Sprintf("frequency file %s: not found; the frequency will be measured from scratch (about 15 minutes)", path))
	case errors.Is(err, driftfile.ErrCorrupt):
		c.log.Warn(fmt.Sprintf("format error frequency file %s: %v; the frequency will be measured from scratch", path, err))
	default:
		c.log.Warn(fmt.Sprintf("frequency file %s: %v; the frequency will be measured from scratch", path, err))
	}
	return 0, false
}

// loadLeap reads the leap-seconds file and logs classic's line for it. A file that cannot be
// read or parsed leaves the table in use unchanged (none at start).
func (c *Clock) loadLeap(path string, checkHash bool) {
	c.leapWatch = leapWatch{path: path, checkHash: checkHash}
	f, err := os.Open(path)
	if err != nil {
		c.log.Warn(fmt.Sprintf("leapsecond file ('%s'): open failed: %v", path, err))
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		c.leapWatch.size, c.leapWatch.mtime, c.leapWatch.seen = fi.Size(), fi.ModTime(), true
	}
	t, err := leap.Parse(f, checkHash)
	if err != nil {
		c.log.Warn(fmt.Sprintf("leapsecond file ('%s'): %v; running without leap second information", path, err))
		return
	}
	c.leapTab, c.leapPath = t, path
	c.log.Info(t.LoadedMessage(path))
	// The discipline's leap owner decides from it (clock/leap.go). Before the first
	// update it only keeps it; after a reload TAI-UTC goes to the kernel at once.
	if err := c.Discipline.SetLeapTable(t, c.Now()); err != nil {
		c.log.Error(err.Error())
	}
}

// LeapCheckInterval is how often the daemon looks at the leap-seconds file's size and
// modification time (WatchLeap). tzdata replaces /usr/share/zoneinfo/leap-seconds.list a few
// times a year, months before the file in use expires, so minutes are soon enough; a stat
// every five minutes costs nothing. Classic ntpd 4.2.8p15 checks the file once a day
// (check_leap_file from the timer) and gontp also re-reads it at every SIGHUP.
const LeapCheckInterval = 5 * time.Minute

// WatchLeap re-reads the configured leap-seconds file, through the same path as at start
// (loadLeap: classic's log line, the new TAI offset to the kernel), when its size or
// modification time differ from those it had when last read, so that an update by tzdata
// or update-leap takes effect without a restart. A file that vanished is reported once and
// the table in use is kept (dpkg replaces the file by a rename, so it is never missing for
// long); a new file that does not parse is reported once and the old table kept as well.
// It runs on the engine's goroutine and reports whether the file was read again.
func (c *Clock) WatchLeap() bool {
	w := c.leapWatch
	if w.path == "" {
		return false
	}
	fi, err := os.Stat(w.path)
	if err != nil {
		if w.seen {
			c.log.Warn(fmt.Sprintf("leapsecond file ('%s'): %v; keeping the leap second information in use", w.path, err))
			c.leapWatch.seen, c.leapWatch.size, c.leapWatch.mtime = false, 0, time.Time{}
		}
		return false
	}
	if w.seen && fi.Size() == w.size && fi.ModTime().Equal(w.mtime) {
		return false
	}
	c.log.Info(fmt.Sprintf("leapsecond file ('%s'): changed on disk, reading it again", w.path))
	c.loadLeap(w.path, w.checkHash)
	return true
}

// Now reads the clock the daemon keeps: the virtual clock, or the host's.
func (c *Clock) Now() time.Time {
	if c.Virtual != nil {
		return c.Virtual.Now()
	}
	return time.Now()
}

// FromHost converts a host clock reading (a kernel receive timestamp) to the daemon's
// clock: unchanged for the host's kernel clock, moved to the virtual clock otherwise.
func (c *Clock) FromHost(t time.Time) time.Time {
	if c.Virtual != nil {
		return c.Virtual.Virtual(t)
	}
	return t
}

// RxTime is a received packet's timestamp on the daemon's clock: a kernel timestamp
// (netio.Packet.Kernel set) was taken on the host clock and is moved to the virtual clock;
// one netio took itself through its Now (the daemon's clock) already is on it.
func (c *Clock) RxTime(t time.Time, kernel bool) time.Time {
	if kernel {
		return c.FromHost(t)
	}
	return t
}

// TickInterval is how often the daemon should call Tick.
const TickInterval = time.Minute

// Tick does the clock's periodic work on the engine's goroutine: it rewrites the drift file
// about hourly while the frequency is measured (classic's write_stats), and warns once a day
// while the leap file is about to expire or has. Leap seconds themselves are the
// discipline's leap owner's (clock/leap.go), which the engine consults at every update.
func (c *Clock) Tick(now time.Time) {
	if c.drift != nil && c.Discipline.Vars().State == clock.SYNC {
		if _, err := c.drift.Hourly(c.Discipline.Frequency(), now); err != nil {
			c.log.Error(err.Error())
		}
	}
	if c.leapTab == nil {
		return
	}
	if msg, ok := c.leapWarn.Check(c.leapTab, c.leapPath, now); ok {
		c.log.Warn(msg)
	}
}

// Close writes the drift file at exit if the frequency was measured and moved.
func (c *Clock) Close(now time.Time) {
	if c.drift == nil || c.Discipline.Vars().State != clock.SYNC {
		return
	}
	if _, err := c.drift.Exit(c.Discipline.Frequency(), now); err != nil {
		c.log.Error(err.Error())
	}
}
