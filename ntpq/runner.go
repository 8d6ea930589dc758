// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Runner executes ntpq commands (the interactive command set of classic ntpq 4.2.8p15) against
// the current host and prints what classic ntpq prints: results on Out, errors and prompts on
// Err.
type Runner struct {
	Out, Err io.Writer

	Numeric   bool // -n: no reverse DNS
	Wide      bool // -w: full remote names in the peers table
	RefidHash bool // -r hash / drefid hash: S2+ refids as hex
	Raw       bool // raw output mode
	OldRV     bool // --old-rv: status line even when variables are named
	Debug     int
	// Interactive is set in interactive mode (`:config` error markers differ).
	Interactive bool

	// Loc is the zone timestamps are shown in (classic uses the local zone); nil means
	// time.Local.
	Loc *time.Location
	// Now is the clock used for the `when` column and mrulist fallbacks; nil means time.Now.
	Now func() time.Time
	// Resolve returns a host name for an address, or "" (numeric display).
	Resolve func(netip.Addr) string
	// Dial opens a connection to host; family is 0, 4 or 6. It returns the connection and the
	// address it chose. A nil Dial means hosts cannot be changed.
	Dial func(host string, family int) (Conn, string, error)
	// ReadLine reads one answer from the user for the key prompts (nil: no prompting).
	ReadLine func(prompt string, secret bool) (string, error)
	// Prog is the program name used in system error messages (classic prints argv[0]).
	Prog string
	// Version is printed by the `version` command.
	Version string
	// NumHosts is how many hosts the command line named; with more than one, outputs carry
	// "server=HOST " prefixes and the peers table a host column, as in classic.
	NumHosts int
	// MaxHostLen is the width of the host column of multi-host peers tables.
	MaxHostLen int

	session     *Session
	closer      io.Closer
	currentHost string

	// JSON is --json: the commands of jsonCommands collect JSON (FlushJSON prints it).
	JSON       bool
	jsonOut    []jsonResult
	jsonFailed bool
	pktVersion uint8
	timeout    time.Duration
	delay      time.Duration
	keyID      uint32
	keyType    string
	passwd     []byte
	authAll    bool
	assocs     []assocEntry
	varlist    []Var
	quit       bool
	pause      func(time.Duration) // nil: time.Sleep; tests skip the MRU pacing

}

type assocEntry struct {
	id     uint16
	status uint16
}

// NewRunner returns a runner with classic ntpq's defaults.
func NewRunner(out, errw io.Writer) *Runner {
	return &Runner{Out: out, Err: errw, NumHosts: 1, pktVersion: 2, timeout: DefaultTimeout,
		delay: 20 * time.Millisecond, keyType: "md5", Version: "ntpq gontp"}
}

func (r *Runner) loc() *time.Location {
	if r.Loc != nil {
		return r.Loc
	}
	return time.Local
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Quit reports whether a quit or exit command was run.
func (r *Runner) Quit() bool { return r.quit }

// CurrentHost returns the name of the host commands go to.
func (r *Runner) CurrentHost() string { return r.currentHost }

// SetConn makes c the current host's connection (named host), replacing any previous one.
func (r *Runner) SetConn(c Conn, host string) {
	if r.closer != nil {
		r.closer.Close()
		r.closer = nil
	}
	if cl, ok := c.(io.Closer); ok {
		r.closer = cl
	}
	r.session = NewSession(c)
	r.applySession()
	r.currentHost = host
	r.assocs = nil
}

func (r *Runner) applySession() {
	if r.session == nil {
		return
	}
	r.session.Version = r.pktVersion
	r.session.Timeout = r.timeout
	r.session.Key = nil
	if r.keyID != 0 && r.passwd != nil {
		r.session.Key = &Key{ID: r.keyID, Type: r.keyType, Secret: r.passwd}
	}
}

// OpenHost connects to host as classic's openhost does; on failure the message is printed and
// false returned.
func (r *Runner) OpenHost(host string, family int) bool {
	if r.Dial == nil {
		fmt.Fprintf(r.Err, "***Cannot open host %s\n", host)
		return false
	}
	c, _, err := r.Dial(host, family)
	if err != nil {
		fmt.Fprintf(r.Err, "%s: %v\n", host, err)
		return false
	}
	r.SetConn(c, host)
	return true
}

// Close releases the current connection.
func (r *Runner) Close() {
	if r.closer != nil {
		r.closer.Close()
		r.closer = nil
	}
}

// query runs one request and prints classic's message for a failure (returning false).
func (r *Runner) query(op uint8, assoc uint16, data []byte, auth bool) (Response, bool) {
	if r.session == nil {
		fmt.Fprintf(r.Err, "***No host open, use `host' command\n")
		return Response{}, false
	}
	if auth || r.authAll {
		if !r.ensureKey() {
			return Response{}, false
		}
		auth = true
	}
	resp, err := r.session.Query(op, assoc, data, auth)
	if err != nil {
		r.showError(err, assoc)
		return Response{}, false
	}
	return resp, true
}

// showError prints a query failure in classic's words.
func (r *Runner) showError(err error, assoc uint16) {
	prefix := ""
	if r.NumHosts > 1 {
		prefix = "server=" + r.currentHost + " "
	}
	var se *ServerError
	switch {
	case errors.As(err, &se):
		if se.Code == 4 {
			fmt.Fprintf(r.Err, "%s***Association ID %d unknown to server\n", prefix, assoc)
		} else {
			fmt.Fprintf(r.Err, "%s***%s\n", prefix, se.Error())
		}
	case errors.Is(err, ErrTimedOut):
		fmt.Fprintf(r.Err, "%s: timed out, nothing received\n", r.currentHost)
		fmt.Fprintf(r.Err, "%s***Request timed out\n", prefix)
	case errors.Is(err, ErrIncomplete), errors.Is(err, ErrTooMuch):
		fmt.Fprintf(r.Err, "%s***%v\n", prefix, err)
	default:
		var re *ReadError
		if errors.As(err, &re) {
			fmt.Fprintf(r.Err, "%s: %v\n", r.progName(), re)
			return
		}
		fmt.Fprintf(r.Err, "%s: %v\n", r.progName(), err)
	}
}

func (r *Runner) progName() string {
	if r.Prog != "" {
		return r.Prog
	}
	return "ntpq"
}

// ensureKey asks for the key ID and password when they are not set, as classic does before an
// authenticated request.
func (r *Runner) ensureKey() bool {
	if r.keyID == 0 {
		s := ""
		if r.ReadLine != nil {
			s, _ = r.ReadLine("Keyid: ", false)
		} else {
			fmt.Fprint(r.Err, "Keyid: ")
		}
		id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil || id == 0 {
			fmt.Fprintf(r.Err, "Invalid key identifier\n")
			return false
		}
		r.keyID = uint32(id)
	}
	if r.passwd == nil {
		s := ""
		if r.ReadLine != nil {
			s, _ = r.ReadLine(strings.ToUpper(r.keyType)+" Password: ", true)
		} else {
			fmt.Fprintf(r.Err, "%s Password: ", strings.ToUpper(r.keyType))
		}
		if s == "" {
			fmt.Fprintf(r.Err, "Invalid password\n")
			return false
		}
		r.passwd = keySecret(s)
	}
	r.applySession()
	return true
}

// keySecret turns a password into key bytes: longer than 20 characters means hex (classic's
// authusekey rule for ntp.keys secrets).
func keySecret(s string) []byte {
	if len(s) > 20 {
		if b, err := hex.DecodeString(s); err == nil {
			return b
		}
	}
	return []byte(s)
}

// Run executes one command line. It returns false when the line named no known command or
// the command failed before producing output (classic's "***" messages are printed).
func (r *Runner) Run(line string) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return
	}
	var name, rest string
	if strings.HasPrefix(line, ":config") {
		name, rest = ":config", strings.TrimSpace(strings.TrimPrefix(line, ":config"))
	} else {
		name, rest, _ = strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
	}
	cmd, ok := r.findCommand(name)
	if !ok {
		return
	}
	var args []string
	if cmd.restOfLine {
		if rest != "" {
			args = []string{rest}
		}
	} else {
		args = strings.Fields(rest)
	}
	if len(args) > len(cmd.args) && !cmd.restOfLine {
		for _, extra := range args[len(cmd.args):] {
			fmt.Fprintf(r.Err, "***Extra arg `%s' ignored\n", extra)
		}
		args = args[:len(cmd.args)]
	}
	if len(args) < cmd.minArgs {
		r.usage(cmd)
		return
	}
	if r.JSON {
		r.runJSON(cmd, args)
		return
	}
	cmd.run(r, args)
}

// findCommand resolves a (possibly abbreviated) command name as classic's findcmd does.
func (r *Runner) findCommand(name string) (*command, bool) {
	var match *command
	n := 0
	for i := range commands {
		c := &commands[i]
		if c.name == name {
			return c, true
		}
		if strings.HasPrefix(c.name, name) {
			match = c
			n++
		}
	}
	switch n {
	case 1:
		return match, true
	case 0:
		fmt.Fprintf(r.Err, "***Command `%s' unknown\n", name)
	default:
		fmt.Fprintf(r.Err, "***Command `%s' ambiguous\n", name)
	}
	return nil, false
}

func (r *Runner) usage(c *command) {
	r.printArgs(r.Err, c)
}

func (r *Runner) printUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "function: %s\n", c.help)
	r.printArgs(w, c)
}

func (r *Runner) printArgs(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: %s", c.name)
	for i, a := range c.args {
		if i < c.minArgs {
			fmt.Fprintf(w, " %s", a)
		} else {
			fmt.Fprintf(w, " [ %s ]", a)
		}
	}
	fmt.Fprintln(w)
}

// assocArg parses an association argument: a number or &N, the N-th entry of the last
// association list (fetched when there is none), as classic's getarg does.
func (r *Runner) assocArg(s string) (uint16, bool) {
	if strings.HasPrefix(s, "&") {
		n, err := strconv.ParseUint(s[1:], 10, 32)
		if err != nil {
			fmt.Fprintf(r.Err, "***Association index `%s' invalid/undecodable\n", s[1:])
			return 0, false
		}
		if len(r.assocs) == 0 {
			r.getAssocs()
			if len(r.assocs) == 0 {
				fmt.Fprintf(r.Err, "***No associations found, `%s' unknown\n", s[1:])
				return 0, false
			}
		}
		if n > uint64(len(r.assocs)) {
			n = uint64(len(r.assocs))
		}
		if n == 0 {
			n = 1
		}
		return r.assocs[n-1].id, true
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		fmt.Fprintf(r.Err, "***Illegal unsigned value %s\n", s)
		return 0, false
	}
	if v > 0xffff {
		fmt.Fprintf(r.Err, "***Invalid association ID %d specified\n", v)
		return 0, false
	}
	return uint16(v), true
}

// getAssocs reads the association list (READSTAT of association 0) into the cache, sorted by
// association ID (classic's dogetassoc).
func (r *Runner) getAssocs() bool {
	resp, ok := r.query(OpReadStat, 0, nil, false)
	if !ok {
		return false
	}
	if len(resp.Data) == 0 {
		fmt.Fprintf(r.Out, "%sNo association ID's returned\n", r.serverPrefix())
		return false
	}
	if len(resp.Data)%4 != 0 {
		fmt.Fprintf(r.Err, "%s***Server returned %d octets, should be multiple of 4\n", r.serverPrefix(), len(resp.Data))
		return false
	}
	r.assocs = r.assocs[:0]
	for i := 0; i+4 <= len(resp.Data); i += 4 {
		r.assocs = append(r.assocs, assocEntry{
			id:     binary.BigEndian.Uint16(resp.Data[i:]),
			status: binary.BigEndian.Uint16(resp.Data[i+2:]),
		})
	}
	sort.SliceStable(r.assocs, func(i, j int) bool { return r.assocs[i].id < r.assocs[j].id })
	return true
}

func (r *Runner) serverPrefix() string {
	if r.NumHosts > 1 {
		return "server=" + r.currentHost + " "
	}
	return ""
}

// varsRequest joins names (each "a,b=c" style list) into request data with classic's
// doaddvlist/makequerydata: duplicates dropped, items joined by ",".
func varsRequest(lists ...string) []byte {
	var vl []Var
	for _, l := range lists {
		vl = addVars(vl, l)
	}
	return makeQueryData(vl)
}

func addVars(vl []Var, list string) []Var {
	for _, v := range ParseVars([]byte(list)) {
		found := false
		for i := range vl {
			if vl[i].Name == v.Name {
				vl[i].Value = v.Value
				found = true
			}
		}
		if !found {
			vl = append(vl, v)
		}
	}
	return vl
}

func makeQueryData(vl []Var) []byte {
	var b []byte
	for _, v := range vl {
		n := len(v.Name) + len(v.Value)
		if v.Value != "" {
			n++
		}
		if len(b) > 0 {
			n++
		}
		if len(b)+n > 468 {
			break
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, v.Name...)
		if v.Value != "" {
			b = append(b, '=')
			b = append(b, v.Value...)
		}
	}
	return b
}

// dolist reads variables (op READVAR or READCLOCK) and prints them cooked.
func (r *Runner) dolist(vl []Var, assoc uint16, op uint8, kind int) bool {
	quiet := len(vl) > 0 && !r.OldRV
	resp, ok := r.query(op, assoc, makeQueryData(vl), false)
	if !ok {
		return false
	}
	fmt.Fprint(r.Out, r.serverPrefix())
	if len(resp.Data) == 0 {
		clock := ""
		if kind == StatusClock {
			clock = " clock"
		}
		if assoc == 0 {
			fmt.Fprintf(r.Out, "No system%s variables returned\n", clock)
		} else {
			fmt.Fprintf(r.Out, "No information returned for%s association %d\n", clock, assoc)
		}
		return true
	}
	if !quiet {
		fmt.Fprintf(r.Out, "associd=%d ", assoc)
	}
	r.printVars(r.Out, resp.Data, resp.Status, kind, quiet)
	return true
}
