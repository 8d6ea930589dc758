// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gontp/internal/ntptime"
	"gontp/internal/wire"
)

// Options say what load to offer.
type Options struct {
	Server   string
	Duration time.Duration
	InFlight int     // closed loop
	Rate     float64 // open loop when > 0
	Sockets  int
	Timeout  time.Duration
	Sane     time.Duration
	PIDs     []int
	Procs    int
	Label    string
}

// Report is what one run measured. Times are in microseconds, rates per second.
type Report struct {
	Label    string  `json:"label,omitempty"`
	Server   string  `json:"server"`
	Mode     string  `json:"mode"` // "closed" or "open"
	InFlight int     `json:"inflight,omitempty"`
	Rate     float64 `json:"offered_rate,omitempty"`
	Sockets  int     `json:"sockets"`
	Duration float64 `json:"duration_s"`

	Sent           uint64            `json:"requests"`
	Replies        uint64            `json:"replies"` // valid time replies, in time
	Unsynchronised uint64            `json:"unsynchronised"`
	KoD            uint64            `json:"kod"`
	Invalid        uint64            `json:"invalid"`
	InvalidReasons map[string]uint64 `json:"invalid_reasons,omitempty"`
	Late           uint64            `json:"late"` // valid replies after the timeout (also lost)
	Lost           uint64            `json:"lost"`
	SendErrors     uint64            `json:"send_errors"`

	RequestsPerSec float64 `json:"requests_per_s"`
	RepliesPerSec  float64 `json:"replies_per_s"`
	LossPercent    float64 `json:"loss_percent"`
	Latency        Latency `json:"latency_us"`

	Servers          []ProcStats `json:"server_processes,omitempty"`
	ClientCPUSeconds float64     `json:"client_cpu_s"`
}

// Latency percentiles in microseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
}

// ProcStats is a server process's share: CPU time (user + system, all threads) during the
// run and its memory at the end of the load.
type ProcStats struct {
	PID           int     `json:"pid"`
	CPUSeconds    float64 `json:"cpu_s"`
	CPUPercent    float64 `json:"cpu_percent"`
	CPUPerReplyUS float64 `json:"cpu_per_reply_us"`
	// The split of CPUPerReplyUS between user mode (the server's own code) and the kernel
	// (system calls, and on loopback the delivery of the replies into the client's
	// sockets): it tells what a faster server could still save.
	UserPerReplyUS   float64 `json:"user_per_reply_us"`
	SystemPerReplyUS float64 `json:"system_per_reply_us"`
	RSSKiB           int64   `json:"rss_kib"`
	PeakRSSKiB       int64   `json:"peak_rss_kib"`
}

// client is one UDP socket with its requests in flight.
type client struct {
	conn *net.UDPConn
	o    *Options
	base time.Time

	mu      sync.Mutex
	out     map[uint64]time.Duration // transmit timestamp -> send time since base
	expired map[uint64]bool
	seq     uint16
	req     [wire.HeaderLen]byte

	sent, replies, unsync, kod, invalid, late, lost, sendErrors uint64
	reasons                                                     map[string]uint64
	lat                                                         []time.Duration
}

// Run offers the load and measures.
func Run(o Options) (*Report, error) {
	if o.Duration <= 0 || o.Sockets <= 0 || o.Timeout <= 0 {
		return nil, errors.New("-duration, -sockets and -timeout must be positive")
	}
	if o.Rate <= 0 && o.InFlight < o.Sockets {
		return nil, fmt.Errorf("-inflight %d is below -sockets %d", o.InFlight, o.Sockets)
	}
	if o.Sane <= 0 {
		o.Sane = 10 * time.Second
	}
	dst, err := netip.ParseAddrPort(o.Server)
	if err != nil {
		return nil, fmt.Errorf("-server %q: %w", o.Server, err)
	}
	clients := make([]*client, o.Sockets)
	base := time.Now()
	for i := range clients {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			for _, c := range clients[:i] {
				c.conn.Close()
			}
			return nil, fmt.Errorf("socket %d: %w", i, err)
		}
		_ = c.SetReadBuffer(1 << 20)
		cl := &client{conn: c, o: &o, base: base, out: map[uint64]time.Duration{},
			expired: map[uint64]bool{}, reasons: map[string]uint64{}}
		cl.req[0] = 4<<3 | wire.ModeClient
		clients[i] = cl
	}
	defer func() {
		for _, c := range clients {
			c.conn.Close()
		}
	}()

	procBefore := make([]procSample, len(o.PIDs))
	for i, pid := range o.PIDs {
		if procBefore[i], err = readProc(pid); err != nil {
			return nil, err
		}
	}
	var ruBefore syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ruBefore)

	var running atomic.Bool
	running.Store(true)
	start := time.Now()
	end := start.Add(o.Duration)
	var wg sync.WaitGroup
	for i, c := range clients {
		window := 0
		if o.Rate <= 0 {
			window = o.InFlight / o.Sockets
			if i < o.InFlight%o.Sockets {
				window++
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.receive(&running, window > 0, end)
		}()
		if window > 0 {
			for range window {
				c.send()
			}
		} else {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.pace(o.Rate/float64(o.Sockets), start, end)
			}()
		}
	}
	time.Sleep(time.Until(end))
	running.Store(false)
	elapsed := time.Since(start)
	// The server's memory under load, before the tail of replies drains.
	procAfter := make([]procSample, len(o.PIDs))
	for i, pid := range o.PIDs {
		procAfter[i], _ = readProc(pid)
	}
	wg.Wait()
	for i, pid := range o.PIDs {
		s, err := readProc(pid)
		if err == nil {
			procAfter[i].utime, procAfter[i].stime = s.utime, s.stime
		}
	}
	var ruAfter syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ruAfter)

	r := &Report{Label: o.Label, Server: dst.String(), Sockets: o.Sockets, Duration: elapsed.Seconds(),
		InvalidReasons: map[string]uint64{}}
	if o.Rate > 0 {
		r.Mode, r.Rate = "open", o.Rate
	} else {
		r.Mode, r.InFlight = "closed", o.InFlight
	}
	var lat []time.Duration
	for _, c := range clients {
		r.Sent += c.sent
		r.Replies += c.replies
		r.Unsynchronised += c.unsync
		r.KoD += c.kod
		r.Invalid += c.invalid
		r.Late += c.late
		r.Lost += c.lost + uint64(len(c.out))
		r.SendErrors += c.sendErrors
		for k, v := range c.reasons {
			r.InvalidReasons[k] += v
		}
		lat = append(lat, c.lat...)
	}
	r.RequestsPerSec = float64(r.Sent) / elapsed.Seconds()
	r.RepliesPerSec = float64(r.Replies) / elapsed.Seconds()
	if r.Sent > 0 {
		r.LossPercent = 100 * float64(r.Lost) / float64(r.Sent)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)-1))
		return float64(lat[i]) / 1e3
	}
	r.Latency = Latency{P50: pct(0.5), P90: pct(0.9), P99: pct(0.99), P999: pct(0.999), Max: pct(1)}
	for i, pid := range o.PIDs {
		user := float64(procAfter[i].utime-procBefore[i].utime) / clockTicks
		sys := float64(procAfter[i].stime-procBefore[i].stime) / clockTicks
		cpu := user + sys
		ps := ProcStats{PID: pid, CPUSeconds: cpu, CPUPercent: 100 * cpu / elapsed.Seconds(),
			RSSKiB: procAfter[i].rssKiB, PeakRSSKiB: procAfter[i].hwmKiB}
		if n := float64(r.Replies + r.KoD); n > 0 {
			ps.CPUPerReplyUS = cpu * 1e6 / n
			ps.UserPerReplyUS = user * 1e6 / n
			ps.SystemPerReplyUS = sys * 1e6 / n
		}
		r.Servers = append(r.Servers, ps)
	}
	r.ClientCPUSeconds = tv(ruAfter.Utime) + tv(ruAfter.Stime) - tv(ruBefore.Utime) - tv(ruBefore.Stime)
	return r, nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// send transmits one request whose transmit timestamp (the local clock with the low 16 bits
// of the fraction replaced by a sequence number, so that it is unique among the requests in
// flight) identifies it.
func (c *client) send() {
	c.mu.Lock()
	c.seq++
	xmt := uint64(ntptime.FromTime(time.Now()))&^0xffff | uint64(c.seq)
	for c.out[xmt] != 0 { // a wrap within the same 15 µs: skip the number
		c.seq++
		xmt = xmt&^0xffff | uint64(c.seq)
	}
	binary.BigEndian.PutUint64(c.req[40:], xmt)
	c.out[xmt] = max(time.Since(c.base), 1)
	c.sent++
	_, err := c.conn.Write(c.req[:])
	if err != nil {
		c.sendErrors++
		delete(c.out, xmt)
		c.lost++
	}
	c.mu.Unlock()
}

// pace is the open-loop sender: it keeps the number sent at rate*elapsed.
func (c *client) pace(rate float64, start, end time.Time) {
	sent := 0
	for now := time.Now(); now.Before(end); now = time.Now() {
		due := int(now.Sub(start).Seconds()*rate) - sent
		for ; due > 0; due-- {
			c.send()
			sent++
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// receive reads replies until the run is over and every request in flight is answered or
// timed out. In closed loop each reply or timeout sends the next request.
func (c *client) receive(running *atomic.Bool, closed bool, end time.Time) {
	var buf [2048]byte
	const tick = 20 * time.Millisecond
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(tick))
		n, err := c.conn.Read(buf[:])
		now := time.Now()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				empty := c.expire(now, closed && running.Load())
				if !running.Load() && (empty || now.After(end.Add(c.o.Timeout))) {
					return
				}
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ECONNREFUSED: an ICMP error for an earlier datagram; it is counted as loss
			// when that request times out.
			continue
		}
		resend := c.check(buf[:n], now)
		if closed && resend && running.Load() {
			c.send()
		}
		if !running.Load() {
			c.mu.Lock()
			done := len(c.out) == 0
			c.mu.Unlock()
			if done {
				return
			}
		}
	}
}

// expire counts requests older than the timeout as lost (and, in closed loop, replaces them).
// It reports whether nothing is in flight any more.
func (c *client) expire(now time.Time, replace bool) bool {
	c.mu.Lock()
	since := now.Sub(c.base)
	n := 0
	for k, t := range c.out {
		if since-t > c.o.Timeout {
			delete(c.out, k)
			c.expired[k] = true
			c.lost++
			n++
		}
	}
	empty := len(c.out) == 0
	c.mu.Unlock()
	if replace {
		for range n {
			c.send()
		}
	}
	return empty
}

// check validates one reply and reports whether it answered a request in flight.
func (c *client) check(b []byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	bad := func(why string) bool {
		c.invalid++
		c.reasons[why]++
		return false
	}
	if len(b) < wire.HeaderLen {
		return bad("short")
	}
	var p wire.Packet
	if err := wire.DecodeHeader(b, &p); err != nil {
		return bad("header")
	}
	if p.Mode != wire.ModeServer {
		return bad("mode")
	}
	if p.Version != 4 {
		return bad("version")
	}
	org := uint64(p.Org)
	sentAt, ok := c.out[org]
	if !ok {
		if c.expired[org] {
			delete(c.expired, org)
			c.late++
			return false
		}
		return bad("origin")
	}
	delete(c.out, org)
	if p.Stratum == wire.StratumUnspec {
		if code, ok := p.KissCode(); ok && (string(code[:]) == "RATE" || string(code[:]) == "DENY" || string(code[:]) == "RSTR") {
			c.kod++
			return true
		}
	}
	local := ntptime.FromTime(now)
	if d := ntptime.Sub(p.Xmt, local); d > c.o.Sane || d < -c.o.Sane {
		return bad("transmit time")
	}
	if d := ntptime.Sub(p.Rec, local); d > c.o.Sane || d < -c.o.Sane {
		return bad("receive time")
	}
	if ntptime.Sub(p.Xmt, p.Rec) < 0 {
		return bad("transmit before receive")
	}
	if p.Leap == wire.LeapAlarm {
		c.unsync++
	}
	c.replies++
	c.lat = append(c.lat, now.Sub(c.base)-sentAt)
	return true
}

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's utime and stime (100 on every
// Linux architecture gontp runs on).
const clockTicks = 100

type procSample struct {
	utime, stime   int64 // CPU ticks in user and system mode, all threads
	rssKiB, hwmKiB int64
}

// readProc reads a process's CPU ticks (utime and stime, all threads) and memory.
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s, fmt.Errorf("server process %d: %w", pid, err)
	}
	// The command name in parentheses may hold spaces; fields count from after it.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	s.utime, s.stime = ut, st
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s, fmt.Errorf("server process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		num := func() int64 {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
		switch k {
		case "VmRSS":
			s.rssKiB = num()
		case "VmHWM":
			s.hwmKiB = num()
		}
	}
	return s, nil
}

// WriteJSON prints the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText prints the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	name := r.Server
	if r.Label != "" {
		name = r.Label + " (" + r.Server + ")"
	}
	load := fmt.Sprintf("closed loop, %d in flight", r.InFlight)
	if r.Mode == "open" {
		load = fmt.Sprintf("open loop, %.0f requests/s offered", r.Rate)
	}
	fmt.Fprintf(&b, "server    %s: %s, %d sockets, %.2f s\n", name, load, r.Sockets, r.Duration)
	fmt.Fprintf(&b, "requests  %d (%.0f/s)\n", r.Sent, r.RequestsPerSec)
	fmt.Fprintf(&b, "replies   %d (%.0f/s), %d unsynchronised, %d KoD, %d invalid\n",
		r.Replies, r.RepliesPerSec, r.Unsynchronised, r.KoD, r.Invalid)
	for _, k := range slices.Sorted(maps.Keys(r.InvalidReasons)) {
		fmt.Fprintf(&b, "          invalid %s: %d\n", k, r.InvalidReasons[k])
	}
	fmt.Fprintf(&b, "lost      %d (%.3f %%), %d of them late, %d send errors\n", r.Lost, r.LossPercent, r.Late, r.SendErrors)
	fmt.Fprintf(&b, "latency   p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", us(r.Latency.P50), us(r.Latency.P90),
		us(r.Latency.P99), us(r.Latency.P999), us(r.Latency.Max))
	for _, p := range r.Servers {
		fmt.Fprintf(&b, "process   %d: cpu %.2f s (%.0f %% of one core), %.2f µs per reply (user %.2f, system %.2f), rss %.1f MiB (peak %.1f MiB)\n",
			p.PID, p.CPUSeconds, p.CPUPercent, p.CPUPerReplyUS, p.UserPerReplyUS, p.SystemPerReplyUS,
			float64(p.RSSKiB)/1024, float64(p.PeakRSSKiB)/1024)
	}
	fmt.Fprintf(&b, "generator cpu %.2f s\n", r.ClientCPUSeconds)
	_, err := io.WriteString(w, b.String())
	return err
}

func us(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v/1000, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " µs"
}
