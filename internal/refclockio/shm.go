// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gontp/refclock"
)

// The SHM segment (refclock_shm.c struct shmTime) as laid out on 64-bit Linux: the byte
// offsets of its fields and its size. gpsd, chrony and other writers use the same layout.
const (
	shmKeyBase = 0x4E545030 // "NTP0"; unit u uses key shmKeyBase+u
	shmSize    = 96

	shmMode       = 0
	shmCount      = 4
	shmClockSec   = 8
	shmClockUSec  = 16
	shmRecvSec    = 24
	shmRecvUSec   = 32
	shmLeap       = 36
	shmPrecision  = 40
	shmNSamples   = 44
	shmValid      = 48
	shmClockNSec  = 52
	shmRecvNSec   = 56
	shmModePriv   = 1 // server line `mode 1`: unit >= 2 stays owner-only
	shmMaxDelay   = 5 // s, the oldest receive stamp used (shmunit max_delay)
	shmMaxDelta   = 4 * 3600
	shmPrecisionD = -1
)

// shm is the SHM driver (type 28, refclock_shm.c): once a second it reads the segment that
// gpsd or another time source writes, with the valid flag and, in mode 1, the count as the
// writer's handshake, and hands the engine a sample or what kept it from one.
type shm struct {
	cfg  refclock.Config
	o    Options
	log  *onceLog
	sink Sink

	seg      []byte
	maxDelta int64 // s; 0: no check (fudge flag1)
}

func newSHM(cfg refclock.Config, o Options, lg *onceLog, sink Sink) *shm {
	s := &shm{cfg: cfg, o: o, log: lg, sink: sink, maxDelta: shmMaxDelta}
	// shm_control: flag1 switches the difference check off, time2 (1..86400 s) sets it.
	switch t2 := cfg.Fudge.Time2; {
	case cfg.Fudge.Flags[0]:
		s.maxDelta = 0
	case t2 >= 1 && t2 <= 86400:
		s.maxDelta = int64(math.Floor(t2 + 0.5))
	}
	return s
}

// perm is the segment's access: units 0 and 1 owner-only, the others world-writable unless
// mode 1 asks for private (refclock_shm.c shm_start).
func (s *shm) perm() int {
	if s.cfg.Addr.Unit >= 2 && s.cfg.Mode&shmModePriv == 0 {
		return 0o666
	}
	return 0o600
}

func (s *shm) run(ctx context.Context) {
	defer s.detach()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s.timer()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// attach creates or attaches the segment (getShmTime). An existing segment of another size
// (a writer built for another layout) cannot be used: shmget refuses it.
func (s *shm) attach() error {
	key := shmKeyBase + int(s.cfg.Addr.Unit)
	id, err := unix.SysvShmGet(key, shmSize, unix.IPC_CREAT|s.perm())
	if err != nil {
		if errors.Is(err, unix.EINVAL) {
			return errWrongSize
		}
		return err
	}
	seg, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return err
	}
	if len(seg) < shmSize {
		_ = unix.SysvShmDetach(seg)
		return errWrongSize
	}
	s.seg = seg
	// shm_start: announce the precision and the median filter's stages to the writer.
	// Classic also clears the valid flag here and reads a second later, just before its
	// first poll; gontp reads at once instead (a sample more than 5 s old is refused as
	// stale anyway), so that its first poll, one second after start as classic's, finds
	// the writer's sample as classic's does rather than racing the next read.
	s.put32(shmPrecision, shmPrecisionD)
	s.put32(shmNSamples, 3)
	return nil
}

var errWrongSize = errors.New("a shared memory segment with this key exists with another size than the 96 bytes of struct shmTime; remove it (ipcrm) or fix its writer")

func (s *shm) detach() {
	if s.seg != nil {
		_ = unix.SysvShmDetach(s.seg)
		s.seg = nil
	}
}

func (s *shm) ptr(off int) *int32 { return (*int32)(unsafe.Pointer(&s.seg[off])) }
func (s *shm) get32(off int) int32 {
	return atomic.LoadInt32(s.ptr(off))
}
func (s *shm) put32(off int, v int32) { atomic.StoreInt32(s.ptr(off), v) }
func (s *shm) get64(off int) int64 {
	return atomic.LoadInt64((*int64)(unsafe.Pointer(&s.seg[off])))
}

func (s *shm) tally(t refclock.Tally) {
	s.sink(refclock.Reading{Addr: s.cfg.Addr, Kind: refclock.KindTally, Tally: t})
}

// timer is shm_timer: one read of the segment.
func (s *shm) timer() {
	if s.seg == nil {
		if err := s.attach(); err != nil {
			s.log.warn("attach", "cannot attach the shared memory segment (key %#x): %v; trying again every second",
				shmKeyBase+int(s.cfg.Addr.Unit), err)
			s.tally(refclock.TallyBad)
			return
		}
		s.log.ok("attach")
		s.log.info("shared memory segment key %#x attached (mode %#o)", shmKeyBase+int(s.cfg.Addr.Unit), s.perm())
	}
	r, tally, why := s.query(s.o.Host())
	if why != "" {
		s.log.warn(why, "%s", why)
	}
	if tally != nil {
		s.tally(*tally)
		return
	}
	s.sink(r)
}

// query is shm_query and the checks of shm_timer: it takes a sample if the writer marked
// one valid, clears the flag, and refuses a torn read (mode 1: count changed), an unknown
// mode, a receive stamp older than 5 s or in the future, and a clock more than the
// difference limit (4 h) from the receive stamp. why names a refusal for the log.
func (s *shm) query(host time.Time) (r refclock.Reading, t *refclock.Tally, why string) {
	bad := refclock.TallyBad
	if s.get32(shmValid) == 0 {
		nr := refclock.TallyNotReady
		return r, &nr, ""
	}
	cnt := s.get32(shmCount)
	mode := s.get32(shmMode)
	clockSec, clockUSec := s.get64(shmClockSec), s.get32(shmClockUSec)
	recvSec, recvUSec := s.get64(shmRecvSec), s.get32(shmRecvUSec)
	leap, prec := s.get32(shmLeap), s.get32(shmPrecision)
	clockNSec, recvNSec := uint32(s.get32(shmClockNSec)), uint32(s.get32(shmRecvNSec))
	s.put32(shmValid, 0)
	if mode > 0 && cnt != s.get32(shmCount) {
		c := refclock.TallyClash
		return r, &c, "access clash in shared memory (the writer updated it while it was read)"
	}
	if mode != 0 && mode != 1 {
		return r, &bad, "bad mode found in shared memory (neither 0 nor 1)"
	}
	// The nanosecond fields count only when the microsecond fields are their truncation
	// (writers that predate them leave garbage there).
	cns, rns := int64(clockUSec)*1000, int64(recvUSec)*1000
	if clockNSec-uint32(cns) < 1000 && recvNSec-uint32(rns) < 1000 {
		cns, rns = int64(clockNSec), int64(recvNSec)
	}
	if clockUSec < 0 || recvUSec < 0 || cns >= 1e9 || rns >= 1e9 {
		return r, &bad, "a time stamp in shared memory has a fraction outside 0..1 s"
	}
	ref := time.Unix(clockSec, cns)
	rx := time.Unix(recvSec, rns)
	tc := isoTime(ref)
	if age := host.Unix() - recvSec; age < 0 || age > shmMaxDelay {
		s.sink(refclock.Reading{Addr: s.cfg.Addr, Kind: refclock.KindTimecode, Timecode: tc})
		return r, &bad, "stale or future receive time in shared memory (more than 5 s from now)"
	}
	d := recvSec - clockSec
	if rns < cns {
		d--
	}
	if d < 0 {
		d = -d
	}
	if s.maxDelta > 0 && d > s.maxDelta {
		s.sink(refclock.Reading{Addr: s.cfg.Addr, Kind: refclock.KindTimecode, Timecode: tc})
		return r, &bad, "difference limit exceeded between the clock and the receive time in shared memory (fudge time2 sets it, flag1 lifts it)"
	}
	if leap < 0 || leap > 3 {
		return r, &bad, "leap indicator outside 0..3 in shared memory"
	}
	p := int8(max(min(prec, 0), -30))
	if p == 0 {
		p = shmPrecisionD
	}
	return refclock.Reading{Addr: s.cfg.Addr, Kind: refclock.KindSample, Ref: ref,
		Rx: s.o.toDaemon(rx), Fudge: refclock.FudgeTime1, Leap: uint8(leap), Timecode: tc,
		Precision: p}, nil, ""
}
