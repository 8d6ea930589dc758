// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"gontp/internal/ntptime"
	"gontp/refclock"
)

// gpsdAddr is where gpsd listens (classic connects to localhost, service gpsd, 2947).
const gpsdAddr = "localhost:2947"

// gpsdPPSUnit is the first unit of GPSD_JSON's secondary channel: unit u+128 takes the
// pulses of the receiver whose serial data unit u takes (refclock_gpsdjson.c).
const gpsdPPSUnit = 128

// gpsd is the GPSD_JSON driver (type 46, refclock_gpsdjson.c): a client of gpsd's JSON
// socket protocol. It watches the device /dev/gpsN and takes the time of each second from
// gpsd's TOFF reports (the receiver's time and the system time the serial data arrived,
// fudge time2) while TPV reports say the receiver has a fix; unit N+128 takes the PPS
// reports (fudge time1) as a PPS source.
type gpsd struct {
	cfg  refclock.Config
	o    Options
	log  *onceLog
	sink Sink
	addr string

	nofix bool // the last TPV said the receiver has no 2D or 3D fix (classic fl_nosync)
	toff  bool // gpsd sends TOFF reports (classic pf_toff)
	// sti and pulse are the newest serial time and pulse not yet used (STRICT and AUTO);
	// ppsCount and rawSTI are AUTO's account and whether it uses serial time alone.
	sti, pulse gpsdStamp
	ppsCount   int
	rawSTI     bool
}

func newGPSD(cfg refclock.Config, o Options, lg *onceLog, sink Sink) *gpsd {
	// enter_opmode: AUTO starts half-way, using pulses.
	return &gpsd{cfg: cfg, o: o, log: lg, sink: sink, addr: gpsdAddr, ppsCount: gpsdPPSMax / 2}
}

func (g *gpsd) pps() bool { return g.cfg.Addr.Unit >= gpsdPPSUnit }

func (g *gpsd) device() string {
	if g.cfg.Path != "" {
		return g.cfg.Path
	}
	return fmt.Sprintf("/dev/gps%d", g.cfg.Addr.Unit%gpsdPPSUnit)
}

func (g *gpsd) report(ev refclock.Event) {
	g.sink(refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindReport, Event: ev})
}

func (g *gpsd) run(ctx context.Context) {
	var d net.Dialer
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", g.addr)
		if err != nil {
			g.log.warn("connect", "cannot connect to gpsd at %s: %v; trying again in %s", g.addr, err, g.o.retry())
			g.report(refclock.EvFault)
			if !sleep(ctx, g.o.retry()) {
				return
			}
			continue
		}
		g.log.ok("connect")
		g.log.info("connected to gpsd at %s, watching %s", g.addr, g.device())
		g.session(ctx, c)
		c.Close()
		sleep(ctx, time.Second)
	}
}

// gpsdMsg holds the fields of the reports gontp uses (gpsd's JSON protocol: VERSION, TPV,
// TOFF, PPS, ERROR).
type gpsdMsg struct {
	Class      string  `json:"class"`
	Device     string  `json:"device"`
	Mode       int     `json:"mode"`
	Time       string  `json:"time"`
	RealSec    *int64  `json:"real_sec"`
	RealNSec   *int64  `json:"real_nsec"`
	ClockSec   *int64  `json:"clock_sec"`
	ClockNSec  *int64  `json:"clock_nsec"`
	Message    string  `json:"message"`
	Release    string  `json:"release"`
	ProtoMajor float64 `json:"proto_major"`
	Precision  *int    `json:"precision"`
}

func (g *gpsd) session(ctx context.Context, c net.Conn) {
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	watch := fmt.Sprintf("?WATCH={\"enable\":true,\"json\":true,\"pps\":true,\"device\":%q};\r\n", g.device())
	if _, err := c.Write([]byte(watch)); err != nil {
		g.log.warn("write", "gpsd at %s: %v", g.addr, err)
		return
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), 64*1024)
	for sc.Scan() {
		g.message(sc.Bytes())
	}
	if ctx.Err() == nil {
		err := sc.Err()
		if err == nil {
			err = fmt.Errorf("connection closed")
		}
		g.log.warn("read", "gpsd at %s: %v; reconnecting", g.addr, err)
		g.report(refclock.EvFault)
	}
}

// prettyDate is libntp's gmprettydate, the time code classic's GPSD_JSON clock shows: the
// NTP timestamp in hex and the UTC date to the millisecond, the hour padded by a space
// ("eebfec24.00000000  Sun, Dec  6 2026 14:13:56.000", "...  Mon, Dec  7 2026  0:32:02.000").
func prettyDate(t time.Time) string {
	return ntptime.PrettyDate(ntptime.FromTime(t), t, time.UTC)
}

// message handles one line of gpsd's stream (refclock_gpsdjson.c gpsd_parse): the record
// is processed by its class, counted, and then the unit's operation mode decides whether the
// serial time and pulse seen so far make a sample.
func (g *gpsd) message(line []byte) {
	var c refclock.GPSDCounts
	defer func() {
		if g.cfg.Fudge.Flags[3] && !g.pps() && c != (refclock.GPSDCounts{}) {
			g.sink(refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindCounts, Counts: c})
		}
	}()
	var m gpsdMsg
	if err := json.Unmarshal(line, &m); err != nil || m.Class == "" {
		g.log.warn("badformat", "gpsd sent a line that is not a JSON report: %.80q; such lines are counted as badformat", line)
		g.report(refclock.EvBadReply)
		c.BadReply++
		return
	}
	if m.Device != "" && m.Device != g.device() && m.Class != "DEVICES" {
		return
	}
	now := g.o.Now()
	switch m.Class {
	case "VERSION":
		g.log.info("gpsd %s, protocol %v", m.Release, m.ProtoMajor)
	case "WATCH":
	case "TPV":
		g.nofix = m.Mode < 2
		if !g.toff {
			c.STIRecv++ // gpsd without TOFF: the TPV is the serial time record
		}
		if g.nofix {
			c.NoSync++
			g.sti.ok, g.pulse.ok = false, false
			g.sink(refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindReport, Event: refclock.EvBadReply})
		}
	case "TOFF", "PPS":
		isPPS := m.Class == "PPS"
		if isPPS {
			c.PPSRecv++
		} else {
			c.STIRecv++
			g.toff = true
		}
		if g.nofix && !g.pps() {
			break // serial time or pulses without a fix are not used
		}
		if (isPPS && !g.pps() && g.mode() == gpsdModeSTI) || (!isPPS && g.pps()) {
			break // not this unit's business
		}
		if m.RealSec == nil || m.RealNSec == nil || m.ClockSec == nil || m.ClockNSec == nil ||
			*m.RealNSec < 0 || *m.RealNSec >= 1e9 || *m.ClockNSec < 0 || *m.ClockNSec >= 1e9 {
			g.log.warn("baddata", "gpsd %s report without valid real_sec/real_nsec/clock_sec/clock_nsec: %.120s; counted as baddata", m.Class, line)
			g.report(refclock.EvBadTime)
			c.BadReply++
			break
		}
		ref := time.Unix(*m.RealSec, *m.RealNSec)
		if ref.Year() < minYear || ref.Year() >= minYear+100 {
			g.log.warn("baddate", "gpsd %s report for %s (wrong century or GPS week rollover); counted as baddata", m.Class, ref.UTC().Format(time.RFC3339))
			g.report(refclock.EvBadDate)
			c.BadReply++
			break
		}
		rx := g.o.toDaemon(time.Unix(*m.ClockSec, *m.ClockNSec))
		switch {
		case g.pps():
			// The PPS unit (128+) takes every pulse as a sample (eval_pps_secondary).
			g.sink(refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindSample, Ref: ref, Rx: rx,
				Fudge: refclock.FudgeTime1, PPS: true, Timecode: prettyDate(ref)})
			c.PPSUsed++
		case isPPS:
			// The serial unit's pulse, for STRICT and AUTO (process_pps); fudge flag2
			// says not to use it.
			g.pulse = gpsdStamp{ok: !g.cfg.Fudge.Flags[1], rx: rx, local: now}
			if m.Precision != nil {
				g.pulse.prec = clampPrecision(*m.Precision)
			}
		default:
			g.sti = gpsdStamp{ok: true, ref: ref, rx: rx, local: now}
			if g.mode() != gpsdModeSTI {
				// the time code shows the newest serial time, used or not (save_ltc)
				g.sink(refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindTimecode, Timecode: prettyDate(ref)})
			}
		}
	case "ERROR":
		g.log.warn("error", "gpsd: %s", m.Message)
		return
	default:
		return // a class classic does not know: not counted
	}
	c.Recv++
	if g.pps() {
		return
	}
	g.evaluate(&c)
}

// Operation modes of the serial unit: the server line's mode & 3 (refclock_gpsdjson.c
// MODE_OP_*).
const (
	gpsdModeSTI    = 0 // serial time (TOFF) alone
	gpsdModeStrict = 1 // only a serial time paired with the pulse that began its second
	gpsdModeAuto   = 2 // STRICT while pulses come, serial time alone while they do not
)

// gpsdPPSMax, gpsdPPSInc and gpsdPPSDec are AUTO's account of pulses (PPS_MAXCOUNT,
// PPS_INCCOUNT, PPS_DECCOUNT): a serial time with its pulse earns 3, one without costs 1;
// a full account (60) goes back to pulses, an empty one to serial time alone, so that the
// mode does not flap.
const (
	gpsdPPSMax = 60
	gpsdPPSInc = 3
	gpsdPPSDec = 1
)

// gpsdStamp is the newest serial time (TOFF) or pulse (PPS) not yet used.
type gpsdStamp struct {
	ok    bool
	ref   time.Time // the receiver's time (serial only)
	rx    time.Time // the system time gpsd stamped it, on the daemon's clock
	local time.Time // when the report reached us
	prec  int8      // the pulse's precision gpsd reported, 0 if none
}

// mode is the serial unit's operation mode; classic takes an unknown one (3) as 0.
func (g *gpsd) mode() int {
	if m := int(g.cfg.Mode & 3); m <= gpsdModeAuto {
		return m
	}
	return gpsdModeSTI
}

// evaluate is the mode-dependent end of gpsd_parse: a serial time older than the pulse, or
// a pulse a second or more older than the serial time, is dropped; then STI uses the serial
// time alone (fudge time2), STRICT pairs the serial time with the pulse (the pulse's system
// time against the serial time's second, fudge time1), and AUTO keeps its account and does
// one or the other.
func (g *gpsd) evaluate(c *refclock.GPSDCounts) {
	if g.sti.ok && g.pulse.ok {
		switch d := g.sti.local.Sub(g.pulse.local); {
		case d >= time.Second:
			g.pulse.ok = false // the pulse is too old
		case d < 0:
			g.sti.ok = false // the serial time is older than the pulse
		}
	}
	switch g.mode() {
	case gpsdModeStrict:
		g.evalStrict(c)
	case gpsdModeAuto:
		if !g.sti.ok {
			return
		}
		if g.pulse.ok {
			g.ppsCount = min(gpsdPPSMax, g.ppsCount+gpsdPPSInc)
			if g.ppsCount == gpsdPPSMax && g.rawSTI {
				g.rawSTI = false
				g.log.info("expect valid PPS from now")
			}
		} else {
			g.ppsCount = max(0, g.ppsCount-gpsdPPSDec)
			if g.ppsCount == 0 && !g.rawSTI {
				g.rawSTI = true
				g.log.log.Warn(fmt.Sprintf("%s: use TPV alone from now", g.log.name))
			}
		}
		if g.rawSTI {
			g.evalSerial(c)
		} else {
			g.evalStrict(c)
		}
	default:
		g.evalSerial(c)
	}
}

func (g *gpsd) evalSerial(c *refclock.GPSDCounts) {
	if !g.sti.ok {
		return
	}
	g.sink(refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindSample, Ref: g.sti.ref, Rx: g.sti.rx,
		Fudge: refclock.FudgeTime2, Timecode: prettyDate(g.sti.ref)})
	g.sti.ok = false
	c.STIUsed++
}

func (g *gpsd) evalStrict(c *refclock.GPSDCounts) {
	if !g.sti.ok || !g.pulse.ok {
		return
	}
	g.sink(refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindSample, Ref: g.sti.ref, Rx: g.pulse.rx,
		Fudge: refclock.FudgeTime1, Precision: g.pulse.prec, Timecode: prettyDate(g.sti.ref)})
	g.sti.ok, g.pulse.ok = false, false
	c.STIUsed++
}

// clampPrecision is classic's clamped_precision: gpsd's precision limited to -30..0.
func clampPrecision(p int) int8 {
	return int8(min(0, max(-30, p)))
}
