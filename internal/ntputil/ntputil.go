// SPDX-License-Identifier: BSD-2-Clause

// Package ntputil is the Go counterpart of classic ntp 4.2.8p15's NTP::Util Perl module, which
// ntp-wait and ntptrace are built on. Classic runs `ntpq -n -c 'rv ASSOC VARS' HOST` and reads
// its output with two regular expressions; ReadVars does the same with gontp's ntpq run in
// process, so that the values, their text and every corner (a daemon that does not answer
// yields no status line; ntpq's complaints go to standard error) are what the Perl tools see.
package ntputil

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gontp/ntpq"
)

// Vars is what one `rv` returned: the variables by name, and the system status line's three
// words when the whole variable list was asked for and the status line came.
type Vars struct {
	Values map[string]string
	// Status, Leap and Sync are the status line's code ("0615") and its first two words
	// ("leap_none", "sync_ntp"); Leap is "" when no status line came (no answer).
	Status, Leap, Sync string
}

// Querier runs ntpq with arguments and returns what it printed on standard output; its
// standard error goes where the caller's does. The program uses ntpq.Main; tests may replace it.
type Querier func(args []string, stderr io.Writer) []byte

// Ntpq runs gontp's ntpq in process.
func Ntpq(args []string, stderr io.Writer) []byte {
	var out bytes.Buffer
	ntpq.Main(args, ntpq.Env{Prog: "ntpq", Stdin: strings.NewReader(""), Stdout: &out, Stderr: stderr})
	return out.Bytes()
}

// The two expressions of NTP::Util::ntp_read_vars.
var (
	statusLine = regexp.MustCompile(`(?i)^asso?c?id=0 status=(\S{4}) (\S+), (\S+),`)
	varPair    = regexp.MustCompile(`(\w+)=([^,]+),?\s`)
)

// obsolete are the old names NTP::Util maps to today's.
var obsolete = map[string]string{"phase": "offset", "rootdispersion": "rootdisp"}

// ReadVars is ntp_read_vars(assoc, names, host): `ntpq -n -c 'rv ASSOC NAMES' [HOST]`, parsed
// line by line as classic does. With no names every variable is kept and the status line is
// read; with names only those are kept. host "" is ntpq's default (localhost).
func ReadVars(q Querier, assoc uint16, names []string, host string, stderr io.Writer) Vars {
	args := []string{"-n", "-c", "rv " + strconv.Itoa(int(assoc)) + " " + strings.Join(names, ",")}
	if host != "" {
		args = append(args, host)
	}
	out := q(args, stderr)
	v := Vars{Values: map[string]string{}}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if line == "" {
			continue
		}
		if len(names) == 0 {
			if m := statusLine.FindStringSubmatch(line); m != nil {
				v.Status, v.Leap, v.Sync = m[1], m[2], m[3]
			}
		}
		for _, m := range varPair.FindAllStringSubmatch(line, -1) {
			name, val := m[1], m[2]
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' && !strings.Contains(val[1:len(val)-1], `"`) {
				val = val[1 : len(val)-1]
			}
			if o, ok := obsolete[name]; ok {
				name = o
			}
			if len(names) == 0 || want[name] {
				v.Values[name] = val
			}
		}
	}
	return v
}

// Number reads a value as Perl's numeric context does: the longest leading decimal number,
// 0 when there is none.
func Number(s string) float64 {
	s = strings.TrimLeft(s, " \t\n")
	for end := len(s); end > 0; end-- {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil && !strings.ContainsAny(s[:end], "xXpPnN_") {
			return f
		}
	}
	return 0
}
