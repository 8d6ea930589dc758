// SPDX-License-Identifier: BSD-2-Clause

// Package refclockio runs the reference clock drivers in the daemon's I/O layer: each reads
// its device (a System V shared-memory segment, a serial line, a PPS device, gpsd's socket)
// on its own goroutine and hands what it read to the engine as refclock.Reading events, as
// the network layer hands it packets. What a reading means for the association (median
// filter, fudge, counters, poll) is the core's business (package refclock); what the device
// says and how to read it is this package's, one file per driver, each after the classic
// ntpd 4.2.8p15 driver it replaces (refclock_shm.c, refclock_nmea.c, refclock_atom.c,
// refclock_gpsdjson.c).
//
// A device that is missing or fails is retried every few seconds and never stops the daemon:
// unlike classic, whose association silently never appears when its driver cannot start,
// the association stays, `ntpq -c cv` counts its missed polls, and the reason is logged once
// per kind of failure.
package refclockio

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gontp/refclock"
)

// Sink receives the readings of a driver. It is called from the driver's goroutine.
type Sink func(refclock.Reading)

// Options are what every driver needs from the daemon.
type Options struct {
	// Now is the daemon's clock (the virtual clock under --virtual-clock): readings are
	// stamped on it.
	Now func() time.Time
	// Host is the host's system clock, on which the kernel and other programs (gpsd's SHM
	// receive stamps, the PPS API's edges) stamp what they hand over; nil means Now.
	Host func() time.Time
	Log  *slog.Logger
	// Retry is how long a driver waits before it tries a missing or failed device again;
	// 0 means 4 s.
	Retry time.Duration
}

// toDaemon moves a host-clock stamp onto the daemon's clock.
func (o *Options) toDaemon(host time.Time) time.Time {
	if o.Host == nil {
		return host
	}
	return host.Add(o.Now().Sub(o.Host()))
}

func (o *Options) retry() time.Duration {
	if o.Retry > 0 {
		return o.Retry
	}
	return 4 * time.Second
}

// Start starts the driver of a configured clock on its own goroutine; it stops when ctx
// ends. LOCAL needs no driver (the core knows the system clock is its own reference); an
// unknown type is an error.
func Start(ctx context.Context, cfg refclock.Config, o Options, sink Sink) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Host == nil {
		o.Host = o.Now
	}
	lg := &onceLog{log: o.Log, name: cfg.Addr.Name(), seen: map[string]bool{}}
	var run func(context.Context)
	switch cfg.Addr.Type {
	case refclock.TypeLocal:
		return nil
	case refclock.TypeSHM:
		run = newSHM(cfg, o, lg, sink).run
	case refclock.TypeNMEA:
		run = newNMEA(cfg, o, lg, sink).run
	case refclock.TypePPS:
		run = newPPS(cfg, o, lg, sink, openPPS).run
	case refclock.TypeGPSDJSON:
		run = newGPSD(cfg, o, lg, sink).run
	default:
		return refclock.Supported(cfg.Addr)
	}
	go run(ctx)
	return nil
}

// onceLog logs each kind of trouble of one clock once (until it recovers), so that a dead
// device or a stream of garbage cannot flood the log.
type onceLog struct {
	log  *slog.Logger
	name string
	mu   sync.Mutex
	seen map[string]bool
}

func (l *onceLog) warn(kind, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[kind] {
		return
	}
	l.seen[kind] = true
	l.log.Warn(fmt.Sprintf("%s: %s", l.name, fmt.Sprintf(format, args...)))
}

// ok forgets a kind of trouble, so that it is logged again if it comes back.
func (l *onceLog) ok(kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, kind)
}

func (l *onceLog) info(format string, args ...any) {
	l.log.Info(fmt.Sprintf("%s: %s", l.name, fmt.Sprintf(format, args...)))
}

// sleep waits d or until ctx ends; it reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// isoTime is the time code format of SHM and GPSD_JSON's clock variables
// (2026-12-06T13:22:24.123456789Z).
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}
