// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"context"
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
)

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
	defer func() {
		if p.dev != nil {
			p.dev.Close()
		}
	}()
	// fudge flag3 (kernel hardpps) is refused with its file:line when the configuration is
	// read (internal/daemon/config.go).
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
		p.dev.Close()
		p.dev = nil
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
