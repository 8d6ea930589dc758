// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gontp/internal/cli"
	"gontp/internal/ntptime"
)

// adjtimexer is the one kernel call ntptime makes. Tests give it a recorded kernel.
type adjtimexer interface {
	Adjtimex(tx *unix.Timex) (int, error)
}

// command is ntptime's option table: the letters the command line takes (optstring is made
// from it) and the manual page. Classic's getopt string also holds d and h, which no case
// handles: given, they print the usage, and they stay in the table for that.
var command = cli.Program{
	Name:    "ntptime",
	Section: 8,
	Summary: "read and set the kernel's NTP time variables (gontp)",
	Style:   cli.Getopt,
	Options: []cli.Option{
		{Short: 'M', Desc: "Switch the kernel to microsecond mode (ADJ_MICRO)"},
		{Short: 'N', Desc: "Switch the kernel to nanosecond mode (ADJ_NANO)"},
		{Short: 'T', Arg: cli.Number, ArgName: "tai_offset", Desc: "Set the TAI offset (ADJ_TAI)",
			Detail: "As in classic, this replaces every other mode given before it."},
		{Short: 'c', Desc: "Display the time taken to call ntp_gettime (us)"},
		{Short: 'd', Desc: "Accepted by classic's option string but unhandled: prints the usage"},
		{Short: 'e', Arg: cli.Number, ArgName: "esterror", Desc: "Set the estimated error (us)"},
		{Short: 'f', Arg: cli.Float, ArgName: "frequency", Desc: "Set the frequency error (-500 .. 500) (ppm)"},
		{Short: 'h', Desc: "Display the usage and exit with status 2"},
		{Short: 'm', Arg: cli.Number, ArgName: "maxerror", Desc: "Set the maximum possible error (us)"},
		{Short: 'o', Arg: cli.Number, ArgName: "offset", Desc: "Set the current offset (ADJ_OFFSET; the kernel reads it in us, or ns in nanosecond mode)"},
		{Short: 'r', Desc: "Print the Unix and NTP time raw"},
		{Short: 's', Arg: cli.Number, ArgName: "status", Desc: "Set the status bits (0 .. 255)"},
		{Short: 't', Arg: cli.Number, ArgName: "timeconstant", Desc: "Set the log2 of the PLL time constant (0 .. 6)"},
	},
	Description: `ntptime reads the kernel's NTP state with ntp_gettime and ntp_adjtime (adjtimex(2) on Linux) and prints it in classic ntptime 4.2.8p15's layout: the time with its error bounds and TAI offset, then the kernel's mode, offset, frequency, status bits, time constant, precision and tolerance, and its PPS figures when the kernel keeps them. Given any of -e -f -m -o -s -t -M -N -T it sets those values first, which needs CAP_SYS_TIME ("Must be root to set kernel values" otherwise).

Options, output and exit status are classic's: arguments are read as by getopt, values as by C's atoi and atof, and a wrong option prints the usage and exits with status 2.`,
	Sections: []cli.Section{
		{Title: "See also", Text: "adjtimex(2), ntpd(8), ntpq(1)"},
	},
}

// optstring is classic's getopt string ("MNT:cde:f:hm:o:rs:t:"), printed in the usage line.
var optstring = func() string {
	var b strings.Builder
	for _, o := range command.Options {
		b.WriteByte(o.Short)
		if o.Arg != cli.None {
			b.WriteByte(':')
		}
	}
	return b.String()
}()

// maxTC is the kernel's largest PLL time constant (MAXTC), printed in the usage text.
const maxTC = 6

// scaleFreq is the kernel's frequency scale: ppm in 16.16 fixed point.
const scaleFreq = 65536

// Mode bits that ntptime sets (linux/timex.h; classic's MOD_* are the same values).
const (
	modOffset    = unix.ADJ_OFFSET
	modFrequency = unix.ADJ_FREQUENCY
	modMaxError  = unix.ADJ_MAXERROR
	modEstError  = unix.ADJ_ESTERROR
	modStatus    = unix.ADJ_STATUS
	modTimeConst = unix.ADJ_TIMECONST
	modTAI       = unix.ADJ_TAI
	modMicro     = unix.ADJ_MICRO
	modNano      = unix.ADJ_NANO
	staNano      = unix.STA_NANO
)

// usageText is classic's usage message after the first line, option for option.
const usageText = "\n" +
	"-M\t\tswitch to microsecond mode\n" +
	"-N\t\tswitch to nanosecond mode\n" +
	"-T tai_offset\tset TAI offset\n" +
	"-c\t\tdisplay the time taken to call ntp_gettime (us)\n" +
	"-e esterror\testimate of the error (us)\n" +
	"-f frequency\tFrequency error (-500 .. 500) (ppm)\n" +
	"-h\t\tdisplay this help info\n" +
	"-m maxerror\tmax possible error (us)\n" +
	"-o offset\tcurrent offset (ms)\n" +
	"-r\t\tprint the unix and NTP time raw\n" +
	"-s status\tSet the status bits\n" +
	"-t timeconstant\tlog2 of PLL time constant (0 .. %d)\n"

// options is what the command line asks for: the timex to hand to ntp_adjtime, and two
// display switches.
type options struct {
	tx   unix.Timex
	cost bool // -c
	raw  bool // -r
}

// parse reads the command line as classic's ntp_getopt does (cli.Getopt) and converts values
// with C's atoi and atof, printing classic's messages for an unknown option or a missing
// value. Any such error, a status outside 0..255 (-s), d or h (in classic's option string but
// handled by no case) or a left-over argument means the usage text and exit status 2.
func parse(prog string, args []string, stderr io.Writer) (options, bool) {
	var o options
	bad := false
	operands, msgs := command.Getopt(prog, args, func(opt *cli.Option, arg string) string {
		switch opt.Short {
		case 'M':
			o.tx.Modes |= modMicro
		case 'N':
			o.tx.Modes |= modNano
		case 'T':
			o.tx.Modes = modTAI // classic assigns here, dropping earlier modes
			o.tx.Constant = int64(cli.Atoi(arg))
		case 'c':
			o.cost = true
		case 'e':
			o.tx.Modes |= modEstError
			o.tx.Esterror = int64(cli.Atoi(arg))
		case 'f':
			o.tx.Modes |= modFrequency
			o.tx.Freq = int64(cli.Atof(arg) * scaleFreq)
		case 'm':
			o.tx.Modes |= modMaxError
			o.tx.Maxerror = int64(cli.Atoi(arg))
		case 'o':
			o.tx.Modes |= modOffset
			o.tx.Offset = int64(cli.Atoi(arg))
		case 'r':
			o.raw = true
		case 's':
			o.tx.Modes |= modStatus
			o.tx.Status = int32(cli.Atoi(arg))
			if o.tx.Status < 0 || o.tx.Status >= 0x100 {
				bad = true
			}
		case 't':
			o.tx.Modes |= modTimeConst
			o.tx.Constant = int64(cli.Atoi(arg))
		default:
			bad = true
		}
		return ""
	})
	for _, m := range msgs {
		fmt.Fprintln(stderr, m)
	}
	if bad || len(msgs) > 0 || len(operands) > 0 {
		fmt.Fprintf(stderr, "usage: %s [-%s]\n"+usageText, prog, optstring, maxTC)
		return o, false
	}
	return o, true
}

// run is the whole program; it returns the exit status.
func run(prog string, args []string, k adjtimexer, stdout, stderr io.Writer) int {
	o, ok := parse(prog, args, stderr)
	if !ok {
		return 2
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if o.cost {
		// Twenty back-to-back reads; the differences of their microsecond fields show what one
		// call costs, as classic's -c.
		var times [20]int64
		for c := range times {
			var tx unix.Timex
			if _, err := k.Adjtimex(&tx); err != nil {
				break
			}
			times[c] = int64(tx.Time.Usec)
		}
		fmt.Fprintf(w, "[ us %06d:", times[0])
		for c := 1; c < len(times); c++ {
			fmt.Fprintf(w, " %d", times[c]-times[c-1])
		}
		fmt.Fprintf(w, " ]\n")
	}
	// ntp_gettime and a read-only ntp_adjtime: the latter's status tells whether the kernel
	// counts in nanoseconds.
	var flashTx unix.Timex
	if _, err := k.Adjtimex(&flashTx); err != nil && errors.Is(err, unix.ENOSYS) {
		fmt.Fprintf(w, "NTP user interface routines are not configured in this kernel.\n")
		return 0
	}
	var gt unix.Timex
	if state, err := k.Adjtimex(&gt); err != nil {
		w.Flush()
		fmt.Fprintf(stderr, "ntp_gettime() call fails: %s\n", cError(err))
	} else {
		writeGettime(w, state, &gt, flashTx.Status&staNano != 0, o.raw)
	}
	tx := o.tx
	state, err := k.Adjtimex(&tx)
	if err != nil {
		w.Flush()
		if errors.Is(err, unix.EPERM) {
			fmt.Fprintf(stderr, "Must be root to set kernel values\nntp_adjtime() call fails: %s\n", cError(err))
		} else {
			fmt.Fprintf(stderr, "ntp_adjtime() call fails: %s\n", cError(err))
		}
		return 0
	}
	writeAdjtime(w, state, &tx)
	return 0
}

// writeGettime prints the ntp_gettime block: the time as an NTP timestamp rounded to the
// microsecond (or nanosecond) as classic's TS_MASK/TS_ROUNDBIT do, its local date, the raw
// fraction, the error bounds and the TAI offset.
func writeGettime(w io.Writer, state int, gt *unix.Timex, nano, raw bool) {
	fmt.Fprintf(w, "ntp_gettime() returns code %d (%s)\n", state, timexState(state))
	frac := int64(gt.Time.Usec) // µs, or ns when the kernel runs in nanoseconds
	usec := frac
	mask, round, digits := uint32(0xfffff000), uint32(0x00000800), 6
	if nano {
		usec /= 1000
		mask, round, digits = 0xfffffffc, 0x00000002, 9
	}
	// TVTOTS: seconds since 1900, fraction = round(usec * 2^32 / 10^6).
	sec := uint32(gt.Time.Sec + 2208988800)
	f := uint32(((uint64(usec) << 32) + 500000) / 1000000)
	f = (f + round) & mask // in 32 bits: classic's l_uf does not carry into the seconds
	ts := ntptime.Time(uint64(sec)<<32 | uint64(f))
	unixTime := time.Unix(gt.Time.Sec, 0)
	fmt.Fprintf(w, "  time %s, (.%0*d),\n", ntptime.PrettyDate(ts, unixTime, time.Local), digits, frac)
	fmt.Fprintf(w, "  maximum error %d us, estimated error %d us", gt.Maxerror, gt.Esterror)
	if raw {
		fmt.Fprintf(w, "  ntptime=%x.%x unixtime=%x.%0*d %s", sec, f, gt.Time.Sec, digits, frac, ctime(unixTime))
	}
	fmt.Fprintf(w, ", TAI offset %d\n", gt.Tai)
}

// writeAdjtime prints the ntp_adjtime block; the PPS lines follow only when the kernel has a
// PPS interval (shift), as classic.
func writeAdjtime(w io.Writer, state int, tx *unix.Timex) {
	nano := tx.Status&staNano != 0
	fmt.Fprintf(w, "ntp_adjtime() returns code %d (%s)\n", state, timexState(state))
	fmt.Fprintf(w, "  modes %s,\n", sprintb(tx.Modes, modBits))
	offset := float64(tx.Offset)
	if nano {
		offset /= 1000
	}
	fmt.Fprintf(w, "  offset %.3f", offset)
	fmt.Fprintf(w, " us, frequency %.3f ppm, interval %d s,\n", float64(tx.Freq)/scaleFreq, 1<<uint(tx.Shift))
	fmt.Fprintf(w, "  maximum error %d us, estimated error %d us,\n", tx.Maxerror, tx.Esterror)
	fmt.Fprintf(w, "  status %s,\n", sprintb(uint32(tx.Status), staBits))
	precision := float64(tx.Precision)
	if nano {
		precision /= 1000
	}
	fmt.Fprintf(w, "  time constant %d, precision %.3f us, tolerance %.0f ppm,\n",
		tx.Constant, precision, float64(tx.Tolerance)/scaleFreq)
	if tx.Shift == 0 {
		return
	}
	jitter := float64(tx.Jitter)
	if nano {
		jitter /= 1000
	}
	fmt.Fprintf(w, "  pps frequency %.3f ppm, stability %.3f ppm, jitter %.3f us,\n",
		float64(tx.Ppsfreq)/scaleFreq, float64(tx.Stabil)/scaleFreq, jitter)
	fmt.Fprintf(w, "  intervals %d, jitter exceeded %d, stability exceeded %d, errors %d.\n",
		tx.Calcnt, tx.Jitcnt, tx.Stbcnt, tx.Errcnt)
}

// bitName names one bit (value 1<<(n-1)) for sprintb.
type bitName struct {
	n    uint
	name string
}

// modBits and staBits are classic's TIMEX_MOD_BITS and TIMEX_STA_BITS.
var (
	modBits = []bitName{{1, "OFFSET"}, {2, "FREQUENCY"}, {3, "MAXERROR"}, {4, "ESTERROR"},
		{5, "STATUS"}, {6, "TIMECONST"}, {11, "PLL"}, {12, "FLL"}, {13, "MICRO"}, {14, "NANO"},
		{15, "CLKB"}, {16, "CLKA"}}
	staBits = []bitName{{1, "PLL"}, {2, "PPSFREQ"}, {3, "PPSTIME"}, {4, "FLL"}, {5, "INS"},
		{6, "DEL"}, {7, "UNSYNC"}, {8, "FREQHOLD"}, {9, "PPSSIGNAL"}, {10, "PPSJITTER"},
		{11, "PPSWANDER"}, {12, "PPSERROR"}, {13, "CLOCKERR"}, {14, "NANO"}, {15, "MODE"},
		{16, "CLK"}}
)

// sprintb prints v as the kernel's %b does: hex, then the names of the bits set.
func sprintb(v uint32, bits []bitName) string {
	var names []string
	for _, b := range bits {
		if v&(1<<(b.n-1)) != 0 {
			names = append(names, b.name)
		}
	}
	return fmt.Sprintf("0x%x (%s)", v, strings.Join(names, ","))
}

// timexState names adjtimex's return value as classic: OK, INS, DEL, OOP, WAIT, ERROR.
func timexState(s int) string {
	states := []string{"OK", "INS", "DEL", "OOP", "WAIT", "ERROR"}
	if s >= 0 && s < len(states) {
		return states[s]
	}
	return fmt.Sprintf("TIME-#%d", s)
}

// ctime formats t as C's ctime(3) does, newline included.
func ctime(t time.Time) string {
	return t.Local().Format("Mon Jan _2 15:04:05 2006") + "\n"
}

// cError is the C library's strerror text for err, as perror prints it.
func cError(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}
