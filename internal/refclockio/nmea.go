// SPDX-License-Identifier: BSD-2-Clause

package refclockio

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gontp/refclock"
)

// Sentence selection bits of the server line's mode word (refclock_nmea.c): none set means
// every sentence.
const (
	nmeaUseRMC   = 0x01
	nmeaUseGGA   = 0x02
	nmeaUseGLL   = 0x04
	nmeaUseZDA   = 0x08 // $GPZDA and $GPZDG
	nmeaUsePGRMF = 0x100
	nmeaMsgMask  = 0x0000FF0F
	nmeaMaxLen   = 80 // characters before the checksum, '$' included
)

// nmeaBauds are the rates of mode bits 4-6 (0: 4800, the default; 7 and above fall back).
var nmeaBauds = []struct {
	speed uint32
	text  string
}{
	{unix.B4800, "4800"}, {unix.B9600, "9600"}, {unix.B19200, "19200"}, {unix.B38400, "38400"},
	{unix.B57600, "57600"}, {unix.B115200, "115200"},
}

// minYear is the first year a time code may carry: gontp cannot have been built before it,
// so an earlier date (a receiver's GPS week rollover, a wrong century) is bad data, and two
// digit years are read in the century that starts here.
const minYear = 2020

// nmea is the NMEA driver (type 20, refclock_nmea.c): it reads sentences from a GPS
// receiver's serial line, checks them, and hands the time of each new second to the core,
// stamped when its line arrived; fudge time2 compensates the sentence's delay on the line.
type nmea struct {
	cfg  refclock.Config
	o    Options
	log  *onceLog
	sink Sink

	cksum   [6]int // per sentence: the best checksum state seen (classic cksum_type)
	lastRef time.Time
	// gpsTime is set once a $GPZDG was used: the receiver counts GPS time, and UTC
	// sentences are ignored from then on, as classic does (gps_time).
	gpsTime bool
	// century is the last century PGRMF's week number matched (classic century_cache).
	century int
}

func newNMEA(cfg refclock.Config, o Options, lg *onceLog, sink Sink) *nmea {
	n := &nmea{cfg: cfg, o: o, log: lg, sink: sink}
	n.cksum[0] = checkCSValid // $GPRMC always needs its checksum
	return n
}

func (n *nmea) path() string {
	if n.cfg.Path != "" {
		return n.cfg.Path
	}
	return fmt.Sprintf("/dev/gps%d", n.cfg.Addr.Unit)
}

func (n *nmea) baud() (uint32, string) {
	r := (n.cfg.Mode & 0x70) >> 4
	if int(r) < len(nmeaBauds) {
		return nmeaBauds[r].speed, nmeaBauds[r].text
	}
	return unix.B4800, "4800 (fallback)"
}

func (n *nmea) report(ev refclock.Event, tc string) {
	n.sink(refclock.Reading{Addr: n.cfg.Addr, Kind: refclock.KindReport, Event: ev, Timecode: tc})
}

func (n *nmea) run(ctx context.Context) {
	if n.cfg.Fudge.Flags[0] {
		// flag1: the receiver's pulse-per-second from /dev/gpsppsN (refclock_nmea.c
		// nmea_control); the core relates each sentence to the pulse before it.
		dev := n.cfg.PPSPath
		if dev == "" {
			dev = fmt.Sprintf("/dev/gpspps%d", n.cfg.Addr.Unit)
		}
		p := newPPS(n.cfg, n.o, n.log, n.sink, openPPS)
		p.device = dev
		go p.run(ctx)
	}
	for ctx.Err() == nil {
		f, err := n.open()
		if err != nil {
			n.log.warn("open", "serial device %s: %v; trying again in %s", n.path(), err, n.o.retry())
			n.report(refclock.EvFault, "")
			if !sleep(ctx, n.o.retry()) {
				return
			}
			continue
		}
		n.log.ok("open")
		_, bt := n.baud()
		n.log.info("serial %s open at %s bps", n.path(), bt)
		n.read(ctx, f)
		f.Close()
	}
}

// open opens the serial device raw at the mode's baud rate (refclock_open).
func (n *nmea) open() (*os.File, error) {
	fd, err := unix.Open(n.path(), unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("not a terminal: %w", err)
	}
	speed, _ := n.baud()
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	tio.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	tio.Ispeed, tio.Ospeed = speed, speed
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting the line to raw %d bps: %w", speed, err)
	}
	return os.NewFile(uintptr(fd), n.path()), nil
}

// read reads lines until the device fails or ctx ends; each line is stamped when the read
// that completed it returned.
func (n *nmea) read(ctx context.Context, f *os.File) {
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 512)
	var line []byte
	for {
		k, err := f.Read(buf)
		rx := n.o.Now()
		for _, c := range buf[:k] {
			if c == '\n' || c == '\r' {
				if len(line) > 0 {
					n.sentence(string(line), rx)
				}
				line = line[:0]
				continue
			}
			if len(line) < 256 {
				line = append(line, c)
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				n.log.warn("read", "reading %s: %v; reopening", n.path(), err)
				n.report(refclock.EvFault, "")
				sleep(ctx, time.Second)
			}
			return
		}
	}
}

// Checksum states of a sentence (classic field_init).
const (
	checkInvalid = 0
	checkValid   = 1 // well formed, no checksum
	checkCSValid = 2 // well formed, checksum right
)

// nmeaCheck is field_init: "$" then a name of at least five capitals or digits starting
// with a capital, a comma, data without '*', and optionally '*' and two upper-case hex
// digits that must match the XOR of everything between '$' and '*'.
func nmeaCheck(s string) int {
	if len(s) < 2 || s[0] != '$' || s[1] < 'A' || s[1] > 'Z' {
		return checkInvalid
	}
	i := 2
	for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
		i++
	}
	if i >= len(s) || s[i] != ',' || i-1 < 5 {
		return checkInvalid
	}
	star := strings.IndexByte(s, '*')
	if star < 0 {
		return checkValid
	}
	if star != len(s)-3 || star >= nmeaMaxLen {
		return checkInvalid
	}
	var sum byte
	for _, c := range []byte(s[1:star]) {
		sum ^= c
	}
	want, err := strconv.ParseUint(s[star+1:], 16, 8)
	if err != nil || strings.ToUpper(s[star+1:]) != s[star+1:] || byte(want) != sum {
		return checkInvalid
	}
	return checkCSValid
}

// sentence is nmea_receive for one line.
func (n *nmea) sentence(raw string, rx time.Time) {
	// refclock_gtlin keeps printable ASCII only.
	line := strings.Map(func(r rune) rune {
		if r >= 0x20 && r < 0x7f {
			return r
		}
		return -1
	}, raw)
	if line == "" {
		return
	}
	check := nmeaCheck(line)
	if check == checkInvalid {
		n.log.warn("badformat", "invalid NMEA sentence (syntax or checksum) %q; such sentences are counted as badformat", line)
		n.report(refclock.EvBadReply, "")
		return
	}
	body := line[1:]
	if i := strings.IndexByte(body, '*'); i >= 0 {
		body = body[:i]
	}
	f := strings.Split(body, ",")
	var kind int
	var bit uint32
	switch {
	case len(f[0]) >= 5 && f[0][2:] == "RMC":
		kind, bit = 0, nmeaUseRMC
	case len(f[0]) >= 5 && f[0][2:] == "GGA":
		kind, bit = 1, nmeaUseGGA
	case len(f[0]) >= 5 && f[0][2:] == "GLL":
		kind, bit = 2, nmeaUseGLL
	case len(f[0]) >= 5 && f[0][2:] == "ZDA":
		kind, bit = 3, nmeaUseZDA
	case len(f[0]) >= 5 && f[0][2:] == "ZDG":
		kind, bit = 4, nmeaUseZDA
	case f[0] == "PGRMF":
		kind, bit = 5, nmeaUsePGRMF
	default:
		return // not a sentence with time
	}
	if n.cfg.Mode&nmeaMsgMask != 0 && n.cfg.Mode&bit == 0 {
		return
	}
	if n.cksum[kind] > check {
		n.log.warn("cksum", "NMEA sentence %q without the checksum this receiver sends; counted as badformat", line)
		n.report(refclock.EvBadReply, "")
		return
	}
	n.cksum[kind] = check
	if n.gpsTime && kind != 4 {
		return // GPS time once $GPZDG was used: UTC sentences would mix two time scales
	}
	field := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	var (
		h, m, sec, ns int
		okT           bool
		y, mo, d      int
		okD           bool
		sync          bool
	)
	switch kind {
	case 0: // $GPRMC,hhmmss.ss,A,lat,N,lon,E,spd,crs,ddmmyy,...
		h, m, sec, ns, okT = nmeaTime(field(1))
		sync = field(2) == "A"
		y, mo, d, okD = nmeaDate6(field(9), rx)
	case 1: // $GPGGA,hhmmss.ss,lat,N,lon,E,q,...: quality 0 is no fix
		h, m, sec, ns, okT = nmeaTime(field(1))
		sync = field(6) != "" && field(6) != "0"
		y, mo, d, okD = unfoldDay(h, m, sec, rx)
	case 2: // $GPGLL,lat,N,lon,E,hhmmss.ss,A
		h, m, sec, ns, okT = nmeaTime(field(5))
		sync = field(6) == "A"
		y, mo, d, okD = unfoldDay(h, m, sec, rx)
	case 3: // $GPZDA,hhmmss.ss,dd,mm,yyyy,tzh,tzm
		h, m, sec, ns, okT = nmeaTime(field(1))
		sync = true
		y, mo, d, okD = nmeaDate3(field(2), field(3), field(4))
	case 4: // $GPZDG,hhmmss.ss,dd,mm,yyyy,...: GPS time of the second that follows
		h, m, sec, ns, okT = nmeaTime(field(1))
		y, mo, d, okD = nmeaDate3(field(2), field(3), field(4))
		// classic's parse_qual(4, '0', inverted) reads the year's first digit
		sync = field(4) != "" && field(4)[0] != '0'
	case 5: // $PGRMF,week,tow,ddmmyy,hhmmss,leap,lat,N,lon,E,mode,fix,...
		h, m, sec, ns, okT = nmeaTime(field(4))
		sync = field(11) != "" && field(11)[0] != '0'
		y, mo, d, okD = n.pgrmfDate(field(1), field(2), field(3), field(5), h, m, sec)
	}
	switch {
	case !okT:
		n.log.warn("badtime", "NMEA sentence %q has no valid time of day; counted as baddata", line)
		n.report(refclock.EvBadTime, line)
		return
	case !okD:
		n.log.warn("baddate", "NMEA sentence %q has no valid date or one before %d (wrong century or GPS week rollover); counted as baddata", line, minYear)
		n.report(refclock.EvBadDate, line)
		return
	case !sync:
		n.report(refclock.EvBadReply, line) // the receiver says it has no fix
		return
	}
	ref := time.Date(y, time.Month(mo), d, h, m, sec, ns, time.UTC)
	if ref.Day() != d {
		n.report(refclock.EvBadDate, line) // 31 February
		return
	}
	if kind == 4 {
		ref = ref.Add(-time.Second) // $GPZDG names the second that follows
		if !n.gpsTime {
			n.gpsTime = true
			n.log.info("using GPS time as if it were UTC")
		}
	}
	if ref.Equal(n.lastRef) {
		return // another sentence of the same second
	}
	n.lastRef = ref
	n.sink(refclock.Reading{Addr: n.cfg.Addr, Kind: refclock.KindSample, Ref: ref, Rx: rx,
		Fudge: refclock.FudgeTime2, Leap: 0, Timecode: line})
}

// nmeaTime parses hhmmss[.fff] (parse_time: up to three fraction digits count).
func nmeaTime(s string) (h, m, sec, ns int, ok bool) {
	if len(s) < 6 || !digits(s[:6]) {
		return
	}
	h, _ = strconv.Atoi(s[0:2])
	m, _ = strconv.Atoi(s[2:4])
	sec, _ = strconv.Atoi(s[4:6])
	if h > 23 || m > 59 || sec > 60 {
		return
	}
	if len(s) > 6 {
		if s[6] != '.' {
			return
		}
		frac := s[7:]
		if len(frac) > 3 {
			frac = frac[:3]
		}
		if frac != "" {
			if !digits(frac) {
				return
			}
			v, _ := strconv.Atoi(frac)
			for i := len(frac); i < 9; i++ {
				v *= 10
			}
			ns = v
		}
	}
	return h, m, sec, ns, true
}

// nmeaDate6 parses ddmmyy; the two-digit year is read in the century that puts it nearest
// the receive time's year (classic refclock_nmea's unfold_century), and a year before
// minYear is a wrong century or a GPS week rollover: "86" received in 2026 is 1986, not
// 2086.
func nmeaDate6(s string, rx time.Time) (y, m, d int, ok bool) {
	if len(s) != 6 || !digits(s) {
		return
	}
	d, _ = strconv.Atoi(s[0:2])
	m, _ = strconv.Atoi(s[2:4])
	yy, _ := strconv.Atoi(s[4:6])
	ry := max(rx.Year(), minYear)
	y = ry/100*100 + yy
	switch {
	case y > ry+50:
		y -= 100
	case y <= ry-50:
		y += 100
	}
	return y, m, d, d >= 1 && d <= 31 && m >= 1 && m <= 12 && y >= minYear
}

// nmeaDate3 parses ZDA's dd,mm,yyyy; a year outside minYear..minYear+99 is a wrong century.
func nmeaDate3(ds, ms, ys string) (y, m, d int, ok bool) {
	if len(ds) != 2 || len(ms) != 2 || len(ys) != 4 || !digits(ds+ms+ys) {
		return
	}
	d, _ = strconv.Atoi(ds)
	m, _ = strconv.Atoi(ms)
	y, _ = strconv.Atoi(ys)
	return y, m, d, d >= 1 && d <= 31 && m >= 1 && m <= 12 && y >= minYear && y < minYear+100
}

// pgrmfDate is PGRMF's date: ddmmyy with the century the GPS week number says (classic
// parse_weekdata and gpsfix_century). The week is GPS's 10-bit week (0..1023, as classic
// requires; a receiver sending the full week number is refused), tow the seconds of the
// week, leap the GPS-UTC leap seconds. The century is the one, from the 20th to the 24th,
// in which the date (moved by the leap seconds when they cross midnight) falls in that week
// of the GPS epoch 1980-01-06 modulo 1024 weeks.
func (n *nmea) pgrmfDate(weekS, towS, dateS, leapS string, h, m, s int) (y, mo, d int, ok bool) {
	week, err1 := strconv.Atoi(weekS)
	tow, err2 := strconv.Atoi(towS)
	leap, err3 := strconv.Atoi(leapS)
	if err1 != nil || err2 != nil || err3 != nil || week < 0 || week >= 1024 || tow < 0 || tow >= 7*86400 {
		return
	}
	if len(dateS) != 6 || !digits(dateS) {
		return
	}
	d, _ = strconv.Atoi(dateS[0:2])
	mo, _ = strconv.Atoi(dateS[2:4])
	yy, _ := strconv.Atoi(dateS[4:6])
	if d < 1 || d > 31 || mo < 1 || mo > 12 {
		return
	}
	doff := 0
	switch daysec := h*3600 + m*60 + s + leap; {
	case daysec >= 86400:
		doff = 1
	case daysec < 0:
		doff = -1
	}
	gpsEpoch := time.Date(1980, 1, 6, 0, 0, 0, 0, time.UTC)
	for range 5 {
		if n.century < 19 || n.century >= 24 {
			n.century = 19
		}
		y = n.century*100 + yy
		days := int(time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Sub(gpsEpoch).Hours()/24) + doff
		if days >= 0 && (days/7)%1024 == week {
			return y, mo, d, y >= minYear
		}
		n.century++
	}
	return 0, 0, 0, false
}

// unfoldDay gives a time of day without date the date that puts it within 12 hours of the
// receive time (classic unfold_day).
func unfoldDay(h, m, s int, rx time.Time) (y, mo, d int, ok bool) {
	u := rx.UTC()
	t := time.Date(u.Year(), u.Month(), u.Day(), h, m, s, 0, time.UTC)
	switch diff := t.Sub(u); {
	case diff > 12*time.Hour:
		t = t.AddDate(0, 0, -1)
	case diff < -12*time.Hour:
		t = t.AddDate(0, 0, 1)
	}
	return t.Year(), int(t.Month()), t.Day(), t.Year() >= minYear
}

func digits(s string) bool {
	return s != "" && bytes.IndexFunc([]byte(s), func(r rune) bool { return r < '0' || r > '9' }) < 0
}
