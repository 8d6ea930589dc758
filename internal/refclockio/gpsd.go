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
}

func newGPSD(cfg refclock.Config, o Options, lg *onceLog, sink Sink) *gpsd {
	return &gpsd{cfg: cfg, o: o, log: lg, sink: sink, addr: gpsdAddr}
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
	if op := g.cfg.Mode & 3; op != 0 {
		g.log.warn("mode", "mode %d (classic's STRICT or AUTO: serial time combined with gpsd's PPS) is not supported by gontp; the clock uses serial time only, as mode 0 (use unit %d for gpsd's PPS)",
			op, int(g.cfg.Addr.Unit)%gpsdPPSUnit+gpsdPPSUnit)
	}
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
// NTP timestamp in hex and the UTC date to the millisecond ("eebfec24.00000000  Sun, Dec  6
// 2026 14:13:56.000").
func prettyDate(t time.Time) string {
	ts := ntptime.FromTime(t)
	u := t.UTC()
	return fmt.Sprintf("%08x.%08x  %s, %s %2d %d %02d:%02d:%02d.%03d", ts.Seconds(), ts.Fraction(),
		u.Format("Mon"), u.Format("Jan"), u.Day(), u.Year(), u.Hour(), u.Minute(), u.Second(),
		int64(ts.Fraction())/4294967)
}

// message handles one line of gpsd's stream.
func (g *gpsd) message(line []byte) {
	var m gpsdMsg
	if err := json.Unmarshal(line, &m); err != nil || m.Class == "" {
		g.log.warn("badformat", "gpsd sent a line that is not a JSON report: %.80q; such lines are counted as badformat", line)
		g.report(refclock.EvBadReply)
		return
	}
	if m.Device != "" && m.Device != g.device() && m.Class != "DEVICES" {
		return
	}
	switch m.Class {
	case "VERSION":
		g.log.info("gpsd %s, protocol %v", m.Release, m.ProtoMajor)
	case "ERROR":
		g.log.warn("error", "gpsd: %s", m.Message)
	case "TPV":
		g.nofix = m.Mode < 2
		if g.nofix {
			g.sink(refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindReport, Event: refclock.EvBadReply})
		}
	case "TOFF", "PPS":
		if (m.Class == "PPS") != g.pps() {
			return
		}
		if m.RealSec == nil || m.RealNSec == nil || m.ClockSec == nil || m.ClockNSec == nil ||
			*m.RealNSec < 0 || *m.RealNSec >= 1e9 || *m.ClockNSec < 0 || *m.ClockNSec >= 1e9 {
			g.log.warn("baddata", "gpsd %s report without valid real_sec/real_nsec/clock_sec/clock_nsec: %.120s; counted as baddata", m.Class, line)
			g.report(refclock.EvBadTime)
			return
		}
		ref := time.Unix(*m.RealSec, *m.RealNSec)
		if ref.Year() < minYear || ref.Year() >= minYear+100 {
			g.log.warn("baddate", "gpsd %s report for %s (wrong century or GPS week rollover); counted as baddata", m.Class, ref.UTC().Format(time.RFC3339))
			g.report(refclock.EvBadDate)
			return
		}
		if g.nofix && !g.pps() {
			return // serial time without a fix is not used
		}
		rd := refclock.Reading{Addr: g.cfg.Addr, Kind: refclock.KindSample, Ref: ref,
			Rx: g.o.toDaemon(time.Unix(*m.ClockSec, *m.ClockNSec)), Fudge: refclock.FudgeTime2,
			Timecode: prettyDate(ref)}
		if g.pps() {
			rd.Fudge, rd.PPS = refclock.FudgeTime1, true
		}
		g.sink(rd)
	}
}
