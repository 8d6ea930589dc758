// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gontp/internal/keys"
)

// command is one entry of the interactive command table.
type command struct {
	name       string
	args       []string // argument names for usage
	minArgs    int
	restOfLine bool // the whole rest of the line is one argument (:config)
	help       string
	run        func(r *Runner, args []string)
}

var commands []command

func init() {
	commands = []command{
		{name: ":config", args: []string{"<configuration command line>"}, minArgs: 1, restOfLine: true,
			help: "send a remote configuration command to ntpd", run: (*Runner).cmdConfig},
		{name: "addvars", args: []string{"name[=value][,...]"}, minArgs: 1,
			help: "add variables to the variable list or change their values",
			run:  func(r *Runner, a []string) { r.varlist = addVars(r.varlist, a[0]) }},
		{name: "apeers", args: []string{"-4|-6"},
			help: "obtain and print a list of the server's peers and their assocIDs [IP version]",
			run:  func(r *Runner, a []string) { r.peers(a, peersA, false) }},
		{name: "associations", help: "print list of association ID's and statuses for the server's peers",
			run: func(r *Runner, a []string) {
				if r.getAssocs() {
					r.printAssocs(false)
				}
			}},
		{name: "authenticate", args: []string{"yes|no"}, help: "always authenticate requests to this server",
			run: (*Runner).cmdAuthenticate},
		{name: "authinfo", help: "display symmetric authentication counters",
			run: func(r *Runner, a []string) { r.vdc(0, authinfoTable, false) }},
		{name: "cl", args: []string{"assocID"}, help: "read the clock variables included in the variable list",
			run: (*Runner).cmdClocklist},
		{name: "clearvars", help: "remove all variables from the variable list",
			run: func(r *Runner, a []string) { r.varlist = nil }},
		{name: "clocklist", args: []string{"assocID"}, help: "read the clock variables included in the variable list",
			run: (*Runner).cmdClocklist},
		{name: "clockvar", args: []string{"assocID", "name=value[,...]"}, help: "read clock variables",
			run: (*Runner).cmdClockvar},
		{name: "config-from-file", args: []string{"<configuration filename>"}, minArgs: 1,
			help: "configure ntpd using the configuration filename", run: (*Runner).cmdConfigFromFile},
		{name: "cooked", help: "print values cooked", run: func(r *Runner, a []string) {
			r.Raw = false
			fmt.Fprintln(r.Out, "Output set to cooked")
		}},
		{name: "cv", args: []string{"assocID", "name=value[,...]"}, help: "read clock variables",
			run: (*Runner).cmdClockvar},
		{name: "debug", args: []string{"no|more|less"}, help: "set/change debugging level",
			run: (*Runner).cmdDebug},
		{name: "delay", args: []string{"msec"}, help: "set the delay added to encryption time stamps",
			run: (*Runner).cmdDelay},
		{name: "drefid", args: []string{"hash|ipv4"}, help: "display refid's as IPv4 or hash",
			run: (*Runner).cmdDrefid},
		{name: "exit", help: "exit ntpq", run: func(r *Runner, a []string) { r.quit = true }},
		{name: "help", args: []string{"command"}, help: "tell the use and syntax of commands",
			run: (*Runner).cmdHelp},
		{name: "host", args: []string{"-4|-6", "hostname"}, help: "specify the host whose NTP server we talk to",
			run: (*Runner).cmdHost},
		{name: "hostnames", args: []string{"yes|no"}, help: "specify whether hostnames or net numbers are printed",
			run: (*Runner).cmdHostnames},
		{name: "ifstats", help: "show statistics for each local address ntpd is using",
			run: func(r *Runner, a []string) { r.ifstats() }},
		{name: "iostats", help: "display network input and output counters",
			run: func(r *Runner, a []string) { r.vdc(0, iostatsTable, false) }},
		{name: "kerninfo", help: "display kernel loop and PPS statistics",
			run: func(r *Runner, a []string) { r.vdc(0, kerninfoTable, true) }},
		{name: "keyid", args: []string{"key#"}, help: "set keyid to use for authenticated requests",
			run: (*Runner).cmdKeyid},
		{name: "keytype", args: []string{"digest-name"}, help: "set key type to use for authenticated requests",
			run: (*Runner).cmdKeytype},
		{name: "lassociations", help: "print list of associations including all client information",
			run: func(r *Runner, a []string) {
				if r.getAssocs() {
					r.printAssocs(true)
				}
			}},
		{name: "lopeers", args: []string{"-4|-6"},
			help: "obtain and print a list of all peers and clients showing dstadr [IP version]",
			run:  func(r *Runner, a []string) { r.peers(a, peersO, true) }},
		{name: "lpassociations", help: "print last obtained list of associations, including client information",
			run: func(r *Runner, a []string) { r.printAssocs(true) }},
		{name: "lpeers", args: []string{"-4|-6"}, help: "obtain and print a list of all peers and clients [IP version]",
			run: func(r *Runner, a []string) { r.peers(a, peersN, true) }},
		{name: "monstats", help: "display monitor (mrulist) counters and limits",
			run: func(r *Runner, a []string) { r.vdc(0, monstatsTable, false) }},
		{name: "mreadlist", args: []string{"assocIDlow", "assocIDhigh"}, minArgs: 2,
			help: "read the peer variables in the variable list for multiple peers", run: (*Runner).cmdMreadlist},
		{name: "mreadvar", args: []string{"assocIDlow", "assocIDhigh", "name=value[,...]"}, minArgs: 2,
			help: "read peer variables from multiple peers", run: (*Runner).cmdMreadvar},
		{name: "mrl", args: []string{"assocIDlow", "assocIDhigh"}, minArgs: 2,
			help: "read the peer variables in the variable list for multiple peers", run: (*Runner).cmdMreadlist},
		{name: "mrulist", args: []string{"tag=value", "tag=value", "tag=value", "tag=value"},
			help: "display the list of most recently seen source addresses, tags mincount=... resall=0x... resany=0x...",
			run:  (*Runner).mrulist},
		{name: "mrv", args: []string{"assocIDlow", "assocIDhigh", "name=value[,...]"}, minArgs: 2,
			help: "read peer variables from multiple peers", run: (*Runner).cmdMreadvar},
		{name: "ntpversion", args: []string{"version number"}, help: "set the NTP version number to use for requests",
			run: (*Runner).cmdNtpversion},
		{name: "opeers", args: []string{"-4|-6"},
			help: "print peer list the old way, with dstadr shown rather than refid [IP version]",
			run:  func(r *Runner, a []string) { r.peers(a, peersO, false) }},
		{name: "passociations", help: "print list of associations returned by last associations command",
			run: func(r *Runner, a []string) { r.printAssocs(false) }},
		{name: "passwd", args: []string{"key"}, help: "specify a password to use for authenticated requests",
			run: (*Runner).cmdPasswd},
		{name: "peers", args: []string{"-4|-6"}, help: "obtain and print a list of the server's peers [IP version]",
			run: func(r *Runner, a []string) {
				if r.RefidHash {
					r.peers(a, peersA, false)
				} else {
					r.peers(a, peersN, false)
				}
			}},
		{name: "poll", args: []string{"n", "verbose"}, help: "poll an NTP server in client mode `n' times",
			run: func(r *Runner, a []string) {
				fmt.Fprintln(r.Err, "***Command `poll' is not implemented (classic ntpq does not implement it either)")
			}},
		{name: "pstats", args: []string{"assocID"}, minArgs: 1, help: "show statistics for a peer",
			run: (*Runner).cmdPstats},
		{name: "quit", help: "exit ntpq", run: func(r *Runner, a []string) { r.quit = true }},
		{name: "raw", help: "do raw mode variable output", run: func(r *Runner, a []string) {
			r.Raw = true
			fmt.Fprintln(r.Out, "Output set to raw")
		}},
		{name: "readlist", args: []string{"assocID"}, help: "read the system or peer variables included in the variable list",
			run: (*Runner).cmdReadlist},
		{name: "readvar", args: []string{"assocID", "varname1", "varname2", "varname3"},
			help: "read system or peer variables", run: (*Runner).cmdReadvar},
		{name: "reslist", help: "show ntpd access control list", run: func(r *Runner, a []string) { r.reslist() }},
		{name: "rl", args: []string{"assocID"}, help: "read the system or peer variables included in the variable list",
			run: (*Runner).cmdReadlist},
		{name: "rmvars", args: []string{"name[,...]"}, minArgs: 1, help: "remove variables from the variable list",
			run: (*Runner).cmdRmvars},
		{name: "rv", args: []string{"assocID", "varname1", "varname2", "varname3"},
			help: "read system or peer variables", run: (*Runner).cmdReadvar},
		{name: "saveconfig", args: []string{"filename"}, minArgs: 1,
			help: "save ntpd configuration to file, . for current config file", run: (*Runner).cmdSaveconfig},
		{name: "showvars", help: "print variables on the variable list", run: (*Runner).cmdShowvars},
		{name: "sysinfo", help: "display system summary", run: func(r *Runner, a []string) { r.vdc(0, sysinfoTable, true) }},
		{name: "sysstats", help: "display system uptime and packet counts",
			run: func(r *Runner, a []string) { r.vdc(0, sysstatsTable, false) }},
		{name: "timeout", args: []string{"msec"}, help: "set the primary receive time out", run: (*Runner).cmdTimeout},
		{name: "timerstats", help: "display interval timer counters",
			run: func(r *Runner, a []string) { r.vdc(0, timerstatsTable, false) }},
		{name: "version", help: "print version number", run: func(r *Runner, a []string) { fmt.Fprintln(r.Out, r.Version) }},
		{name: "writelist", args: []string{"assocID"}, help: "write the system or peer variables included in the variable list",
			run: (*Runner).cmdWritelist},
		{name: "writevar", args: []string{"assocID", "name=value,[...]"}, minArgs: 2,
			help: "write system or peer variables", run: (*Runner).cmdWritevar},
	}
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
}

func (r *Runner) cmdHelp(args []string) {
	if len(args) == 1 {
		var match *command
		n := 0
		for i := range commands {
			if commands[i].name == args[0] {
				match, n = &commands[i], 1
				break
			}
			if strings.HasPrefix(commands[i].name, args[0]) {
				match = &commands[i]
				n++
			}
		}
		switch n {
		case 0:
			fmt.Fprintf(r.Err, "Command `%s' is unknown\n", args[0])
		case 1:
			r.printUsage(r.Out, match)
		default:
			fmt.Fprintf(r.Err, "Command `%s' is ambiguous\n", args[0])
		}
		return
	}
	fmt.Fprintln(r.Out, "ntpq commands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	width++
	cols := 4
	rows := (len(commands) + cols - 1) / cols
	for row := 0; row < rows; row++ {
		for col := 0; col < cols; col++ {
			if i := col*rows + row; i < len(commands) {
				fmt.Fprintf(r.Out, "%-*s", width, commands[i].name)
			}
		}
		fmt.Fprintln(r.Out)
	}
}

func (r *Runner) cmdHost(args []string) {
	if len(args) == 0 {
		if r.currentHost == "" {
			fmt.Fprintln(r.Out, "no current host")
		} else {
			fmt.Fprintf(r.Out, "current host is %s\n", r.currentHost)
		}
		return
	}
	family := 0
	if len(args) == 2 || args[0] == "-4" || args[0] == "-6" {
		switch args[0] {
		case "-4":
			family = 4
		case "-6":
			family = 6
		default:
			r.usage(r.mustFind("host"))
			return
		}
		args = args[1:]
		if len(args) == 0 {
			r.usage(r.mustFind("host"))
			return
		}
	}
	if r.OpenHost(args[0], family) {
		fmt.Fprintf(r.Out, "current host set to %s\n", r.currentHost)
	} else if r.currentHost != "" {
		fmt.Fprintf(r.Out, "current host remains %s\n", r.currentHost)
	} else {
		fmt.Fprintln(r.Out, "still no current host")
	}
}

func (r *Runner) mustFind(name string) *command {
	c, _ := r.findCommand(name)
	return c
}

func (r *Runner) cmdHostnames(args []string) {
	shown := !r.Numeric
	r.toggle(args, &shown, "yes", "no", "hostnames being shown", "hostnames not being shown")
	r.Numeric = !shown
}

// toggle is the shape of ntpq's two-valued settings (hostnames, authenticate):
// without an argument it prints the current state in classic's words; with on or off it
// sets it; anything else is classic's "What?".
func (r *Runner) toggle(args []string, v *bool, on, off, onMsg, offMsg string) {
	if len(args) == 0 {
		if *v {
			fmt.Fprintln(r.Out, onMsg)
		} else {
			fmt.Fprintln(r.Out, offMsg)
		}
		return
	}
	switch args[0] {
	case on:
		*v = true
	case off:
		*v = false
	default:
		fmt.Fprintln(r.Err, "What?")
	}
}

func (r *Runner) cmdTimeout(args []string) {
	if len(args) == 0 {
		fmt.Fprintf(r.Out, "primary timeout %d ms\n", r.timeout.Milliseconds())
		return
	}
	ms, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil {
		fmt.Fprintf(r.Err, "***Illegal unsigned value %s\n", args[0])
		return
	}
	r.timeout = time.Duration(ms) * time.Millisecond
	if r.session != nil {
		r.session.Timeout = r.timeout
	}
}

func (r *Runner) cmdDelay(args []string) {
	if len(args) == 0 {
		fmt.Fprintf(r.Out, "delay %d ms\n", r.delay.Milliseconds())
		return
	}
	ms, err := strconv.ParseInt(args[0], 10, 32)
	if err != nil {
		fmt.Fprintf(r.Err, "***Illegal integer value %s\n", args[0])
		return
	}
	r.delay = time.Duration(ms) * time.Millisecond
}

func (r *Runner) cmdDebug(args []string) {
	if len(args) == 0 {
		fmt.Fprintf(r.Out, "debug level is %d\n", r.Debug)
		return
	}
	switch args[0] {
	case "no":
		r.Debug = 0
	case "more":
		r.Debug++
	case "less":
		if r.Debug > 0 {
			r.Debug--
		}
	default:
		fmt.Fprintln(r.Err, "What?")
	}
}

// cmdDrefid differs from the other toggles in classic ntpq: it confirms a change ("drefid
// value set to hash") and prints its "What?" on standard output.
func (r *Runner) cmdDrefid(args []string) {
	if len(args) == 0 {
		if r.RefidHash {
			fmt.Fprintln(r.Out, "drefid value is hash")
		} else {
			fmt.Fprintln(r.Out, "drefid value is ipv4")
		}
		return
	}
	switch args[0] {
	case "hash", "ipv4":
		r.RefidHash = args[0] == "hash"
		fmt.Fprintf(r.Out, "drefid value set to %s\n", args[0])
	default:
		fmt.Fprintln(r.Out, "What?")
	}
}

func (r *Runner) cmdNtpversion(args []string) {
	if len(args) == 0 {
		fmt.Fprintf(r.Out, "NTP version being claimed is %d\n", r.pktVersion)
		return
	}
	v, err := strconv.Atoi(args[0])
	if err != nil || v < 1 || v > 4 {
		fmt.Fprintln(r.Err, "versions 1 to 4, please")
		return
	}
	r.pktVersion = uint8(v)
	r.applySession()
}

func (r *Runner) cmdKeyid(args []string) {
	if len(args) == 0 {
		if r.keyID == 0 {
			fmt.Fprintln(r.Out, "no keyid defined")
		} else {
			fmt.Fprintf(r.Out, "keyid is %d\n", r.keyID)
		}
		return
	}
	id, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil {
		fmt.Fprintf(r.Err, "***Illegal unsigned value %s\n", args[0])
		return
	}
	r.keyID = uint32(id)
	r.applySession()
}

func (r *Runner) cmdKeytype(args []string) {
	if len(args) == 0 {
		k := keys.NewSet()
		typ := r.keyType
		if typ == "" {
			typ = "md5"
		}
		k.Add(1, typ, nil)
		k.Trust(1)
		fmt.Fprintf(r.Out, "keytype is %s with %d octet digests\n", strings.ToUpper(typ), k.Size(1))
		return
	}
	typ := strings.ToLower(args[0])
	if typ == "sha" {
		typ = "sha1" // gontp's ntpq has always taken "sha" for SHA1
	}
	if err := keys.NewSet().Add(1, typ, nil); err != nil {
		fmt.Fprintf(r.Out, "keytype is not valid. Type \"help keytype\" for the available digest types.\n")
		return
	}
	r.keyType = typ
	r.applySession()
}

func (r *Runner) cmdPasswd(args []string) {
	if len(args) == 0 {
		if r.keyID == 0 {
			if !r.ensureKey() {
				return
			}
			return
		}
		s := ""
		if r.ReadLine != nil {
			s, _ = r.ReadLine(strings.ToUpper(r.keyType)+" Password: ", true)
		}
		if s == "" {
			fmt.Fprintln(r.Err, "Invalid password")
			return
		}
		r.passwd = keySecret(s)
	} else {
		r.passwd = keySecret(args[0])
	}
	r.applySession()
}

func (r *Runner) cmdAuthenticate(args []string) {
	r.toggle(args, &r.authAll, "yes", "no", "authenticated requests being sent", "unauthenticated requests being sent")
}

func (r *Runner) cmdReadvar(args []string) {
	var assoc uint16
	if len(args) > 0 {
		a, ok := r.assocArg(args[0])
		if !ok {
			return
		}
		assoc = a
	}
	var vl []Var
	for _, a := range args[min(1, len(args)):] {
		vl = addVars(vl, a)
	}
	kind := StatusSys
	if assoc != 0 {
		kind = StatusPeer
	}
	r.dolist(vl, assoc, OpReadVar, kind)
}

func (r *Runner) cmdReadlist(args []string) {
	var assoc uint16
	if len(args) > 0 {
		a, ok := r.assocArg(args[0])
		if !ok {
			return
		}
		assoc = a
	}
	kind := StatusSys
	if assoc != 0 {
		kind = StatusPeer
	}
	r.dolist(r.varlist, assoc, OpReadVar, kind)
}

func (r *Runner) cmdClockvar(args []string) {
	var assoc uint16
	if len(args) > 0 {
		a, ok := r.assocArg(args[0])
		if !ok {
			return
		}
		assoc = a
	}
	var vl []Var
	if len(args) > 1 {
		vl = addVars(vl, args[1])
	}
	r.dolist(vl, assoc, OpReadClock, StatusClock)
}

func (r *Runner) cmdClocklist(args []string) {
	var assoc uint16
	if len(args) > 0 {
		a, ok := r.assocArg(args[0])
		if !ok {
			return
		}
		assoc = a
	}
	r.dolist(r.varlist, assoc, OpReadClock, StatusClock)
}

func (r *Runner) cmdRmvars(args []string) {
	for _, v := range ParseVars([]byte(args[0])) {
		found := false
		for i := range r.varlist {
			if r.varlist[i].Name == v.Name {
				r.varlist = append(r.varlist[:i], r.varlist[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			fmt.Fprintf(r.Err, "Variable `%s' not found\n", v.Name)
		}
	}
}

func (r *Runner) cmdShowvars([]string) {
	if len(r.varlist) == 0 {
		fmt.Fprintln(r.Out, "No variables on list")
		return
	}
	for _, v := range r.varlist {
		if v.Value == "" {
			fmt.Fprintln(r.Out, v.Name)
		} else {
			fmt.Fprintf(r.Out, "%s=%s\n", v.Name, v.Value)
		}
	}
}

// findRange resolves two association IDs to positions in the association list.
func (r *Runner) findRange(a1, a2 string) (int, int, bool) {
	if len(r.assocs) == 0 {
		r.getAssocs()
	}
	var idx [2]int
	for k, s := range []string{a1, a2} {
		id, ok := r.assocArg(s)
		if !ok {
			return 0, 0, false
		}
		idx[k] = -1
		for i, e := range r.assocs {
			if e.id == id {
				idx[k] = i
			}
		}
		if idx[k] < 0 {
			fmt.Fprintf(r.Err, "***Association ID %d not found in list\n", id)
			return 0, 0, false
		}
	}
	if idx[0] > idx[1] {
		idx[0], idx[1] = idx[1], idx[0]
	}
	return idx[0], idx[1], true
}

func (r *Runner) cmdMreadlist(args []string) {
	from, to, ok := r.findRange(args[0], args[1])
	if !ok {
		return
	}
	for i := from; i <= to; i++ {
		if i != from {
			fmt.Fprintln(r.Out)
		}
		if !r.dolist(r.varlist, r.assocs[i].id, OpReadVar, StatusPeer) {
			return
		}
	}
}

func (r *Runner) cmdMreadvar(args []string) {
	from, to, ok := r.findRange(args[0], args[1])
	if !ok {
		return
	}
	vl := r.varlist
	if len(args) > 2 {
		vl = addVars(nil, args[2])
	}
	for i := from; i <= to; i++ {
		if !r.dolist(vl, r.assocs[i].id, OpReadVar, StatusPeer) {
			return
		}
	}
}

func (r *Runner) cmdWritelist(args []string) {
	var assoc uint16
	if len(args) > 0 {
		a, ok := r.assocArg(args[0])
		if !ok {
			return
		}
		assoc = a
	}
	r.write(assoc, makeQueryData(r.varlist))
}

func (r *Runner) cmdWritevar(args []string) {
	assoc, ok := r.assocArg(args[0])
	if !ok {
		return
	}
	r.write(assoc, makeQueryData(addVars(nil, args[1])))
}

func (r *Runner) write(assoc uint16, data []byte) {
	resp, ok := r.query(OpWriteVar, assoc, data, true)
	if !ok {
		return
	}
	fmt.Fprint(r.Out, r.serverPrefix())
	if len(resp.Data) == 0 {
		fmt.Fprintln(r.Out, "done! (no data returned)")
		return
	}
	kind := StatusSys
	if assoc != 0 {
		kind = StatusPeer
	}
	fmt.Fprintf(r.Out, "associd=%d ", assoc)
	r.printVars(r.Out, resp.Data, resp.Status, kind, false)
}

func (r *Runner) cmdPstats(args []string) {
	assoc, ok := r.assocArg(args[0])
	if !ok {
		return
	}
	if assoc == 0 {
		fmt.Fprintf(r.Err, "***Invalid association ID %d specified\n", assoc)
		return
	}
	r.vdc(assoc, pstatsTable, true)
}

func (r *Runner) cmdConfig(args []string) {
	resp, ok := r.query(OpConfigure, 0, []byte(args[0]), true)
	if !ok {
		return
	}
	text := string(resp.Data)
	text = strings.TrimSuffix(text, "\n")
	var col int
	if n, _ := fmt.Sscanf(text, "column %d syntax error", &col); n == 1 && col >= 0 && col <= len(args[0])+1 {
		if r.Interactive {
			fmt.Fprint(r.Out, "             *")
		} else {
			fmt.Fprintln(r.Out, args[0])
		}
		fmt.Fprint(r.Out, strings.Repeat("_", col)+"^\n")
	}
	fmt.Fprintln(r.Out, text)
}

func (r *Runner) cmdConfigFromFile(args []string) {
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(r.Out, "ERROR!! Couldn't open file: %s\n", args[0])
		return
	}
	fmt.Fprintln(r.Out, "Sending configuration file, one line at a time.")
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimRightFunc(line, func(c rune) bool { return c <= ' ' })
		if line == "" {
			continue
		}
		var resp Response
		var err error
		for try := 0; try < 3; try++ {
			if err = r.needKey(); err != nil {
				return
			}
			resp, err = r.session.Query(OpConfigure, 0, []byte(line), true)
			if err == nil {
				break
			}
		}
		if err != nil {
			fmt.Fprintf(r.Out, "Line No: %d query failed: %s\nSubsequent lines not sent.\n", i+1, line)
			return
		}
		text := strings.TrimRightFunc(string(resp.Data), func(c rune) bool { return c <= ' ' })
		fmt.Fprintf(r.Out, "Line No: %d %s: %s\n", i+1, text, line)
	}
	fmt.Fprintln(r.Out, "Done sending file")
}

func (r *Runner) needKey() error {
	if r.session == nil {
		fmt.Fprintf(r.Err, "***No host open, use `host' command\n")
		return errNoHost
	}
	if !r.ensureKey() {
		return ErrNoKey
	}
	return nil
}

var errNoHost = fmt.Errorf("no host open")

func (r *Runner) cmdSaveconfig(args []string) {
	resp, ok := r.query(OpSaveConfig, 0, []byte(args[0]), true)
	if !ok {
		return
	}
	if len(resp.Data) == 0 {
		fmt.Fprint(r.Out, "(no response message, curiously)")
		return
	}
	fmt.Fprint(r.Out, string(resp.Data))
}
