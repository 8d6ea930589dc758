// SPDX-License-Identifier: BSD-2-Clause

package refclock

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// maxStage is the size of classic's median filter ring (ntp_refclock.h MAXSTAGE): samples
// beyond it between two polls quietly push out the oldest.
const maxStage = 60

// localDispersion is refclock_local.c's DISPERSION (10 ms), the LOCAL clock's root
// dispersion.
const localDispersion = 0.01

// ppsGate is refclock_pps's phase gate: a pulse more than 0.4 s from the second the system
// clock numbers is not used, so that the seconds numbering stays unambiguous.
const ppsGate = 0.4

// Proc is one reference clock's state in the core (classic struct refclockproc): what the
// driver reported since the last poll, the counters and status `ntpq -c cv` shows, and the
// identity the association advertises. The engine's goroutine owns it.
type Proc struct {
	cfg Config
	id  identity
	// sysPrecision is the system precision, the least jitter a poll reports
	// (refclock_sample: LOGTOD(sys_precision)).
	sysPrecision int8

	filter            []float64 // raw offsets since the last poll, fudge applied
	lastRec           time.Time // local time of the newest sample (pp->lastrec)
	leap              uint8     // leap indicator of the newest sample (pp->leap)
	precision         int8      // the association's precision (peer->precision)
	pps               bool      // a sample on a PPS edge arrived since the last poll (FLAG_PPS)
	timecode          string
	polls, noreply    uint64
	badformat         uint64
	baddata           uint64
	status, lastEvent uint8

	// SHM's per-poll tallies (refclock_shm.c shmunit: ticks, good, notready, bad, clash).
	ticks, good, notReady, bad, clash int
	// Pulse state (refclock_atom.c, refclock_pps): the previous edge, to drop the first
	// (possibly stale) one and repeats.
	lastPulse time.Time
	pulses    bool // the system has been synchronised: pulses count (refclock_params)
	// ppsGate is set when a sentence was related to a pulse since the last poll (NMEA's
	// ppsapi_gate).
	ppsGate bool
	// heard is set once the driver delivered anything but a fault (GPSD_JSON: connected).
	heard bool
	// gpsd are GPSD_JSON's tallies since the last poll (its clockstats line).
	gpsd GPSDCounts
	// kernelPPS is set while the driver has the kernel's PPS discipline bound to its
	// pulses (fudge flag3); kernelRefused counts the kernel's refusals of the bind.
	kernelPPS     bool
	kernelRefused uint64
}

// NewProc makes the state of a configured clock. It fails for a driver type gontp does not
// have.
func NewProc(cfg Config, sysPrecision int8) (*Proc, error) {
	if err := Supported(cfg.Addr); err != nil {
		return nil, err
	}
	id := identities[cfg.Addr.Type]
	p := &Proc{cfg: cfg, id: id, sysPrecision: sysPrecision, precision: id.precision}
	return p, nil
}

// SetConfig gives the clock its edited configuration (a reload changed its server line's
// mode or path or its fudge): the samples held for the next poll, the counters and the
// status stay; the new fudge applies to the readings from now on. The address cannot
// change (another address is another clock).
func (p *Proc) SetConfig(cfg Config) {
	if cfg.Addr == p.cfg.Addr {
		p.cfg = cfg
	}
	if !p.cfg.Fudge.Flags[2] {
		p.kernelPPS = false // the driver unbinds as it restarts without flag3
	}
}

// KernelPPS reports whether the driver has bound its pulses to the kernel's own PPS
// discipline (fudge flag3 and a kernel that took PPS_KC_BIND).
func (p *Proc) KernelPPS() bool { return p.kernelPPS }

// Addr is the clock's pseudo-address.
func (p *Proc) Addr() Address { return p.cfg.Addr }

// Stratum is the stratum the association advertises: the driver's, or fudge stratum (classic
// accepts 0..15).
func (p *Proc) Stratum() uint8 {
	if f := p.cfg.Fudge; f.StratumSet && f.Stratum >= 0 && f.Stratum <= 15 {
		return uint8(f.Stratum)
	}
	return p.id.stratum
}

// RefID is the reference ID the association advertises: the driver's, or fudge refid.
func (p *Proc) RefID() string {
	if p.cfg.Fudge.RefIDSet {
		return p.cfg.Fudge.RefID
	}
	return p.id.refid
}

// Precision is the association's precision, log2 s: the driver's, or what the clock last
// announced (SHM's precision word).
func (p *Proc) Precision() int8 { return p.precision }

// Description is the device description ntpq shows as device="...".
func (p *Proc) Description() string { return p.id.description }

// StatsEveryPoll reports whether the driver writes a clockstats line at every poll, empty
// or not (refclock_nmea.c records its last sentence, "" before the first).
func (p *Proc) StatsEveryPoll() bool { return p.cfg.Addr.Type == TypeNMEA }

// Pending is the number of samples held for the next poll.
func (p *Proc) Pending() int { return len(p.filter) }

// PPS reports whether the clock delivered pulse-per-second samples since its last poll
// (classic FLAG_PPS): the selection then treats it as a PPS source.
func (p *Proc) PPS() bool { return p.pps }

// Add takes one reading of the driver. synced says whether the system clock is
// synchronised (sys_leap is not alarm); pulses are used only once it has been, because
// only then does the system clock number the seconds (refclock_pps). It returns a
// clockstats line when the reading makes classic write one, else "".
func (p *Proc) Add(r Reading, synced bool) (stats string) {
	if r.Timecode != "" {
		p.timecode = r.Timecode
	}
	if !(r.Kind == KindReport && r.Event == EvFault) && r.Kind != KindKernelPPS {
		p.heard = true
	}
	switch r.Kind {
	case KindSample:
		rx, fudge := r.Rx, p.fudge(r.Fudge)
		if p.cfg.Addr.Type == TypeNMEA {
			rx, fudge = p.relatePulse(r.Ref, rx, fudge, synced)
		}
		off := r.Ref.Sub(rx).Seconds() + fudge
		p.add(off, rx)
		p.leap = r.Leap
		if r.Precision != 0 {
			p.precision = r.Precision
		}
		if r.PPS {
			p.pps = true
		}
		if p.cfg.Addr.Type == TypeGPSDJSON {
			p.report(EvNominal) // gpsd_receive: good data makes the clock nominal at once
		}
		p.good++
		p.ticks++
	case KindPulse:
		if p.cfg.Addr.Type == TypeNMEA {
			p.lastPulse = r.Rx // related to the next sentence
			return ""
		}
		return p.pulse(r.Rx, synced)
	case KindReport:
		p.report(r.Event)
	case KindTally:
		p.ticks++
		switch r.Tally {
		case TallyNotReady:
			p.notReady++
		case TallyBad:
			p.bad++
		case TallyClash:
			p.clash++
		}
	case KindCounts:
		p.gpsd.add(r.Counts)
	case KindKernelPPS:
		p.kernelPPS = r.Bound && p.cfg.Fudge.Flags[2]
		if !r.Bound {
			p.kernelRefused++
		}
	}
	return ""
}

func (p *Proc) fudge(s FudgeSel) float64 {
	switch s {
	case FudgeTime1:
		return p.cfg.Fudge.Time1
	case FudgeTime2:
		return p.cfg.Fudge.Time2
	}
	return 0
}

// add puts an offset into the median filter ring (clk_add_sample).
func (p *Proc) add(off float64, rx time.Time) {
	if len(p.filter) == maxStage {
		p.filter = append(p.filter[:0], p.filter[1:]...)
	}
	p.filter = append(p.filter, off)
	p.lastRec = rx
}

// pulse is classic refclock_pps for one assert (or clear) edge stamped at rx: the offset is
// minus the edge's fraction of a second plus fudge time1, folded into ±0.5 s; the first
// edge, a repeated one and one outside the ±0.4 s phase gate are not used.
func (p *Proc) pulse(rx time.Time, synced bool) string {
	if !p.pulses {
		if !synced {
			return ""
		}
		p.pulses = true // classic sets the PPS parameters once the system is in sync
	}
	prev := p.lastPulse
	p.lastPulse = rx
	if prev.IsZero() || prev.Equal(rx) {
		return ""
	}
	frac := float64(rx.Nanosecond()) / 1e9
	_, d := math.Modf(p.cfg.Fudge.Time1 - frac)
	if d > 0.5 {
		d--
	} else if d < -0.5 {
		d++
	}
	if math.Abs(d) > ppsGate {
		return ""
	}
	p.add(d, rx)
	p.pps = true
	p.ticks++
	p.good++
	if p.cfg.Fudge.Flags[3] {
		// atom_timer: with flag4 every second's offset goes to clockstats.
		return fmt.Sprintf("%.9f", d)
	}
	return ""
}

// ppsPrecision is the precision of a clock whose samples sit on pulse edges (classic
// PPS_PRECISION, about 1 µs).
const ppsPrecision = -20

// relatePulse is refclock_nmea.c's refclock_ppsrelate: a sentence received at rx is moved
// to the pulse edge before it when the edge is within ±0.45 s of where fudge time1 and time2
// put it (and at most 1.5 s away), with fudge time1 (less the whole seconds between them)
// in place of time2. When the system is synchronised and the reference time itself is that
// close to the edge, the clock counts as a PPS source (FLAG_PPS).
func (p *Proc) relatePulse(ref, rx time.Time, fudge float64, synced bool) (time.Time, float64) {
	if p.lastPulse.IsZero() || !p.cfg.Fudge.Flags[0] {
		return rx, fudge
	}
	ppFudge := p.cfg.Fudge.Time1
	delta := rx.Sub(p.lastPulse).Seconds() + ppFudge - fudge
	if math.Abs(delta) > 1.5 {
		return rx, fudge
	}
	idelta := math.Floor(delta + 0.5)
	ppFudge -= idelta
	delta -= idelta
	if math.Abs(delta) > 0.45 {
		return rx, fudge
	}
	p.ppsGate = true
	p.precision = ppsPrecision
	if synced && math.Abs(ref.Sub(p.lastPulse).Seconds()+ppFudge) <= 0.45 {
		p.pps = true
	}
	return p.lastPulse, ppFudge
}

// report notes a clock event (refclock_report): it counts the event in its counter and
// makes it the current status.
func (p *Proc) report(ev Event) {
	switch ev {
	case EvTimeout:
		p.noreply++
	case EvBadReply:
		p.badformat++
	case EvBadDate, EvBadTime:
		p.baddata++
	}
	if ev != EvNominal && p.lastEvent < 15 {
		p.lastEvent++
	}
	p.status = uint8(ev)
}

// Poll is the driver's poll routine at the association's poll (classic clock_poll via
// refclock_transmit): it counts the poll, and when readings arrived since the last one it
// reports the clock nominal again (the status word then says clk_okay until the next bad
// reading, as classic's does) and runs the median filter and returns the sample for the
// clock filter (refclock_receive).
// With none it reports what went wrong, as each classic driver does. synced is the system's
// synchronisation (the PPS driver does not poll before some other source numbered the
// seconds). stats is the clockstats line classic writes at the poll, "" for none.
func (p *Proc) Poll(now time.Time, synced bool) (s Sample, ok bool, stats string) {
	switch p.cfg.Addr.Type {
	case TypeLocal:
		// local_poll: the system clock is its own reference, offset zero by definition.
		p.polls++
		p.lastRec = now
		return Sample{Offset: 0, Jitter: 0, Disp: localDispersion, RefTime: now}, true, ""
	case TypeSHM:
		p.polls++
		if len(p.filter) > 0 {
			p.report(EvNominal)
			s, ok = p.receive()
		} else {
			// shm_poll: the dominant reason among the second's reads, clashes first.
			major := max(p.notReady, p.bad, p.clash)
			switch major {
			case p.clash:
				p.report(EvProp)
			case p.bad:
				p.report(EvBadReply)
			default:
				p.report(EvTimeout)
			}
		}
		if p.cfg.Fudge.Flags[3] {
			stats = fmt.Sprintf("%3d %3d %3d %3d %3d", p.ticks, p.good, p.notReady, p.bad, p.clash)
		}
		p.ticks, p.good, p.notReady, p.bad, p.clash = 0, 0, 0, 0, 0
		return s, ok, stats
	case TypeNMEA:
		// nmea_poll: without pulses related since the last poll, PPS is off again.
		if !p.ppsGate {
			p.pps = false
			p.precision = p.id.precision
		}
		p.ppsGate = false
		// nmea_poll counts a poll only when there was something to process.
		if len(p.filter) == 0 {
			p.pps = false
			p.report(EvTimeout)
		} else {
			p.polls++
			p.report(EvNominal)
			s, ok = p.receive()
		}
		return s, ok, p.timecode
	case TypePPS:
		if !synced {
			return Sample{}, false, "" // atom_poll: not before the seconds are numbered
		}
		p.polls++
		if len(p.filter) == 0 {
			p.pps = false
			p.report(EvTimeout)
			return Sample{}, false, ""
		}
		p.report(EvNominal)
		s, ok = p.receive()
		return s, ok, ""
	default:
		p.polls++
		if len(p.filter) == 0 {
			p.pps = false
			if p.cfg.Addr.Type == TypeGPSDJSON && !p.heard {
				p.report(EvFault) // gpsd_poll: no connection to gpsd (yet)
			} else {
				p.report(EvTimeout)
			}
		} else {
			p.report(EvNominal)
			s, ok = p.receive()
		}
		return s, ok, p.gpsdStats()
	}
}

// gpsdStats is GPSD_JSON's clockstats line at a poll: refclock_gpsdjson.c's poll_primary
// writes the seven tallies of the interval ("%u %u %u %u %u %u %u") under fudge flag4 and
// nothing otherwise; the PPS unit (128+) writes none. The tallies start again at each poll.
func (p *Proc) gpsdStats() string {
	c := p.gpsd
	p.gpsd = GPSDCounts{}
	if p.cfg.Addr.Type != TypeGPSDJSON || p.cfg.Addr.Unit >= 128 || !p.cfg.Fudge.Flags[3] {
		return ""
	}
	return fmt.Sprintf("%d %d %d %d %d %d %d", c.Recv, c.BadReply, c.NoSync, c.STIRecv, c.STIUsed, c.PPSRecv, c.PPSUsed)
}

// receive is refclock_receive and refclock_sample: the offsets since the last poll are
// sorted, those furthest from the median trimmed until about 60 % remain, and the mean of
// the rest is the sample, with the RMS of successive differences as its jitter (never
// below the system precision, nor below fudge minjitter).
func (p *Proc) receive() (Sample, bool) {
	off := p.filter
	p.filter = p.filter[:0]
	n := len(off)
	if n == 0 {
		return Sample{}, false
	}
	slices.Sort(off)
	i, j := 0, n
	m := n - (n*4)/10
	for j-i > m {
		mid := off[(j+i)/2]
		if off[j-1]-mid < mid-off[i] {
			i++
		} else {
			j--
		}
	}
	offset, jitter := off[i], 0.0
	for k := i + 1; k < j; k++ {
		offset += off[k]
		jitter += (off[k] - off[k-1]) * (off[k] - off[k-1])
	}
	offset /= float64(m)
	if m > 1 {
		m--
	}
	jitter = max(math.Sqrt(jitter/float64(m)), math.Ldexp(1, int(p.sysPrecision)))
	if p.cfg.Fudge.MinJitterSet {
		jitter = max(jitter, p.cfg.Fudge.MinJitter)
	}
	return Sample{Offset: offset, Jitter: jitter, Leap: p.leap, RefTime: p.lastRec}, true
}

// Vars are a clock's variables as `ntpq -c cv` shows them (classic struct refclockstat,
// ntp_control.c ctl_putclock).
type Vars struct {
	Type                               uint8
	Description                        string
	Timecode                           string
	Polls, NoReply, BadFormat, BadData uint64
	Status, Events                     uint8
	Time1, Time2, MinJitter            float64
	Time1Set, Time2Set, MinJitterSet   bool
	Stratum                            uint8
	RefID                              string
	Flags                              uint8
	// KernelPPS and KernelPPSRefused are the kernel PPS discipline's state (fudge flag3):
	// bound now, and how often the kernel refused the bind. ntpq does not show them (classic
	// has no such variables); the metrics endpoint does.
	KernelPPS        bool
	KernelPPSRefused uint64
}

// Vars returns the clock's variables now.
func (p *Proc) Vars() Vars {
	f := p.cfg.Fudge
	return Vars{
		Type: p.cfg.Addr.Type, Description: p.id.description, Timecode: p.timecode,
		Polls: p.polls, NoReply: p.noreply, BadFormat: p.badformat, BadData: p.baddata,
		Status: p.status, Events: p.lastEvent,
		Time1: f.Time1, Time2: f.Time2, MinJitter: f.MinJitter,
		Time1Set: f.Time1Set, Time2Set: f.Time2Set, MinJitterSet: f.MinJitterSet,
		Stratum: p.Stratum(), RefID: p.RefID(), Flags: f.flagBits(),
		KernelPPS: p.kernelPPS, KernelPPSRefused: p.kernelRefused,
	}
}
