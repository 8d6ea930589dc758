// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gontp/refclock"
)

// Linux PPS API mode bits (linux/pps.h).
const (
	ppsCaptureAssert = 0x01
	ppsCaptureClear  = 0x02
	ppsTSFmtTSpec    = 0x1000
	ppsAPIVersion    = 1
	ppsKCHardPPS     = 0 // PPS_KC_HARDPPS: the kernel's hardpps() consumer
)

// ppsKCBind is PPS_KC_BIND, _IOW('p', 0xa5, struct pps_bind_args *): like PPS_SETPARAMS
// (0xa2) a write whose size field is a pointer's (linux/pps.h declares both with pointer
// types), so it is PPS_SETPARAMS with the next-but-two number on every architecture.
// golang.org/x/sys does not define it.
const ppsKCBind = unix.PPS_SETPARAMS - 0xa2 + 0xa5

// ppsBindArgs is struct pps_bind_args (linux/pps.h): the timestamp format, the edge to hand
// to the consumer (0 unbinds) and the consumer.
type ppsBindArgs struct {
	TSFormat int32
	Edge     int32
	Consumer int32
}

// ppsDevice is the seam at the ioctl: the real one is a /dev/ppsN descriptor, a test's is a
// recorded sequence of the kernel's answers. Everything above it (parameters, edge choice,
// sequence numbers, time stamps) is the same code either way.
type ppsDevice interface {
	ioctl(req uint, arg unsafe.Pointer) error
	Close() error
}

// ppsFile is a real PPS device.
type ppsFile struct{ f *os.File }

func openPPS(path string) (ppsDevice, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &ppsFile{f: f}, nil
}

func (p *ppsFile) ioctl(req uint, arg unsafe.Pointer) error {
	raw, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func (p *ppsFile) Close() error { return p.f.Close() }

// pps is the PPS driver (type 22, refclock_atom.c): once a second it fetches the newest
// edge the kernel stamped on /dev/ppsN, the assert edge or, with fudge flag2, the clear
// edge. Only the edge's phase counts; the core numbers the second from the system clock
// and uses the pulses only once the system is synchronised to another source.
type pps struct {
	cfg  refclock.Config
	o    Options
	log  *onceLog
	sink Sink
	open func(string) (ppsDevice, error)

	dev     ppsDevice
	seq     uint32
	haveSeq bool
	// bound is set while the kernel's hardpps consumer takes this device's pulses (fudge
	// flag3); it is released when the driver stops.
	bound bool
	// device overrides the device path (the NMEA driver's /dev/gpsppsN).
	device string
}

func newPPS(cfg refclock.Config, o Options, lg *onceLog, sink Sink, open func(string) (ppsDevice, error)) *pps {
	return &pps{cfg: cfg, o: o, log: lg, sink: sink, open: open}
}

// path is the device: /dev/ppsN for unit N (classic's DEVICE "/dev/pps%d"), or ppspath/path.
func (p *pps) path() string {
	switch {
	case p.device != "":
		return p.device
	case p.cfg.PPSPath != "":
		return p.cfg.PPSPath
	case p.cfg.Path != "":
		return p.cfg.Path
	}
	return fmt.Sprintf("/dev/pps%d", p.cfg.Addr.Unit)
}

// edge is the capture mode the fudge flags ask for: flag2 selects the clear edge.
func (p *pps) edge() int32 {
	if p.cfg.Fudge.Flags[1] {
		return ppsCaptureClear
	}
	return ppsCaptureAssert
}

func (p *pps) run(ctx context.Context) {
	defer p.close()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p.timer()
	}
}

func (p *pps) fault(kind, format string, args ...any) {
	p.log.warn(kind, format, args...)
	p.sink(refclock.Reading{Addr: p.cfg.Addr, Kind: refclock.KindReport, Event: refclock.EvFault})
}

// close releases the kernel consumer, if bound, and closes the device.
func (p *pps) close() {
	if p.dev == nil {
		return
	}
	p.unbind()
	p.dev.Close()
	p.dev = nil
}

// unbind hands the device's pulses back from the kernel's hardpps (PPS_KC_BIND with edge
// 0), so that a stopped driver, or one restarted without flag3 at a reload, leaves no
// kernel PPS discipline behind. Classic never unbinds: the kernel keeps disciplining from
// the pulses after ntpd exits, until the device goes away.
func (p *pps) unbind() {
	if !p.bound {
		return
	}
	p.bound = false
	args := ppsBindArgs{TSFormat: ppsTSFmtTSpec, Edge: 0, Consumer: ppsKCHardPPS}
	if err := p.dev.ioctl(ppsKCBind, unsafe.Pointer(&args)); err != nil {
		p.log.warn("kcunbind", "PPS_KC_BIND (unbind) on %s: %v", p.path(), err)
		return
	}
	p.log.info("kernel PPS discipline released from %s", p.path())
}

// bind asks the kernel to discipline the clock from the captured edge itself (fudge flag3;
// classic refclock_params' time_pps_kcbind(PPS_KC_HARDPPS, edge, PPS_TSFMT_TSPEC)). The
// outcome goes to the core, which sets STA_PPSTIME|STA_PPSFREQ while this source is the
// system peer. A refusal is logged once with the kernel's errno (EOPNOTSUPP from a kernel
// without CONFIG_NTP_PPS, as Debian's NO_HZ kernels are; EPERM without CAP_SYS_TIME) and
// counted; like classic, the driver goes on with the pulses in the daemon's loop.
func (p *pps) bind() {
	args := ppsBindArgs{TSFormat: ppsTSFmtTSpec, Edge: p.edge(), Consumer: ppsKCHardPPS}
	err := p.dev.ioctl(ppsKCBind, unsafe.Pointer(&args))
	if err != nil {
		var errno unix.Errno
		name := ""
		if errors.As(err, &errno) {
			n := unix.ErrnoName(errno)
			if errno == unix.EOPNOTSUPP {
				n = "EOPNOTSUPP" // the kernel's name for it (ENOTSUP is the same number)
			}
			name = fmt.Sprintf(" (%s, errno %d)", n, int(errno))
		}
		p.log.warn("kcbind", "fudge flag3: the kernel refused its PPS discipline on %s: PPS_KC_BIND: %v%s; the pulses discipline the clock through gontp's loop",
			p.path(), err, name)
	} else {
		p.bound = true
		p.log.ok("kcbind")
		p.log.info("fudge flag3: kernel PPS discipline bound to the %s edge of %s", p.edgeName(), p.path())
	}
	p.sink(refclock.Reading{Addr: p.cfg.Addr, Kind: refclock.KindKernelPPS, Bound: p.bound})
}

// start opens the device and sets the capture mode (refclock_ppsapi, refclock_params).
func (p *pps) start() error {
	dev, err := p.open(p.path())
	if err != nil {
		return err
	}
	var kp unix.PPSKParams
	if err := dev.ioctl(unix.PPS_GETPARAMS, unsafe.Pointer(&kp)); err != nil {
		dev.Close()
		return fmt.Errorf("PPS_GETPARAMS: %w", err)
	}
	var caps int32
	if err := dev.ioctl(unix.PPS_GETCAP, unsafe.Pointer(&caps)); err != nil {
		dev.Close()
		return fmt.Errorf("PPS_GETCAP: %w", err)
	}
	if caps&p.edge() == 0 {
		dev.Close()
		return fmt.Errorf("the device cannot capture the %s edge (capabilities %#x)", p.edgeName(), caps)
	}
	kp.Api_version = ppsAPIVersion
	kp.Mode = p.edge() | ppsTSFmtTSpec
	if err := dev.ioctl(unix.PPS_SETPARAMS, unsafe.Pointer(&kp)); err != nil {
		dev.Close()
		return fmt.Errorf("PPS_SETPARAMS: %w", err)
	}
	p.dev = dev
	if p.cfg.Fudge.Flags[2] {
		p.bind()
	}
	return nil
}

func (p *pps) edgeName() string {
	if p.edge() == ppsCaptureClear {
		return "clear"
	}
	return "assert"
}

// timer is atom_timer's fetch: the newest edge, handed on when its sequence number moved.
func (p *pps) timer() {
	if p.dev == nil {
		if err := p.start(); err != nil {
			p.fault("open", "PPS device %s: %v; trying again every second", p.path(), err)
			return
		}
		p.log.ok("open")
		p.log.info("PPS device %s capturing the %s edge", p.path(), p.edgeName())
	}
	var fd unix.PPSFData // zero timeout: the newest edge, without waiting
	if err := p.dev.ioctl(unix.PPS_FETCH, unsafe.Pointer(&fd)); err != nil {
		p.fault("fetch", "PPS_FETCH on %s: %v; reopening", p.path(), err)
		p.close()
		return
	}
	p.log.ok("fetch")
	seq, ts := fd.Info.Assert_sequence, fd.Info.Assert_tu
	if p.edge() == ppsCaptureClear {
		seq, ts = fd.Info.Clear_sequence, fd.Info.Clear_tu
	}
	if p.haveSeq && seq == p.seq {
		return // no new edge since the last second
	}
	p.seq, p.haveSeq = seq, true
	if ts.Sec == 0 && ts.Nsec == 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return
	}
	rx := p.o.toDaemon(time.Unix(ts.Sec, int64(ts.Nsec)))
	p.sink(refclock.Reading{Addr: p.cfg.Addr, Kind: refclock.KindPulse, Rx: rx})
}
