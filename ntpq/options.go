// SPDX-License-Identifier: BSD-2-Clause

package ntpq

import (
	"bufio"
	"errors"
	"fmt"
	"gontp/internal/cli"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"gontp/internal/keys"
)

// Options is the parsed command line of classic ntpq 4.2.8p15 (compat.md 5.2), plus NTPsec's
// -k keyfile / -a keyid and -W width, which scripts written for NTPsec pass.
type Options struct {
	Commands    []string
	Hosts       []Host
	Debug       int
	Interactive bool
	Numeric     bool
	Wide        bool
	RefidHash   bool
	OldRV       bool
	Version     bool
	Help        bool
	KeyFile     string
	KeyID       uint32
	Width       int
	// JSON is --json (gontp's): machine output for peers, readvar, associations, sysinfo,
	// sysstats and mrulist.
	JSON bool
}

// Host is one host operand with the address family in force where it appeared (-4/-6 may
// stand between hosts).
type Host struct {
	Name   string
	Family int
}

// UsageError is a command-line mistake; the message is what classic prints.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Command is ntpq's command line: classic ntpq 4.2.8p15's options (`ntpq --help`) plus
// NTPsec's -k, -a and -W. It parses argv, prints --help and writes the manual page (make man).
var Command = cli.Program{
	Name:     "ntpq",
	Section:  1,
	Summary:  "standard NTP query program (gontp)",
	Title:    "ntpq - standard NTP query program - Ver. 4.2.8p15 (gontp)",
	Operands: "[ host ...]",
	Style:    cli.Libopts,
	// gontp's ntpq has always taken a repeated option (the last one wins) and -4 and -6
	// between hosts, each applying to the hosts after it.
	LastWins: true,
	Options: []cli.Option{
		{Short: '4', Long: "ipv4", Desc: "Resolve the hosts after it to IPv4 addresses"},
		{Short: '6', Long: "ipv6", Desc: "Resolve the hosts after it to IPv6 addresses"},
		{Short: 'c', Long: "command", Arg: cli.String, ArgName: "command", Multi: true, Desc: "Run this command and exit",
			Detail: "Several -c run in order, against each host."},
		{Short: 'd', Long: "debug-level", Multi: true, Desc: "Raise the debug level by one"},
		{Short: 'D', Long: "set-debug-level", Arg: cli.Number, ArgName: "level", Multi: true, Desc: "Set the debug level"},
		{Short: 'i', Long: "interactive", Desc: "Read commands from standard input even with -c or -p",
			Detail: "Cannot be given with -c or -p."},
		{Short: 'n', Long: "numeric", Desc: "Print host addresses, not names"},
		{Long: "old-rv", Desc: "Always print the status line with readvar"},
		{Long: "json", Desc: "Print peers, readvar, associations, sysinfo, sysstats and mrulist as JSON (gontp)",
			Detail: "One JSON document with numbers as numbers in base units: seconds, frequencies as ratios, timestamps as seconds since 1970, reach as a number. Classic ntpq has no such option; without it every output is classic's."},
		{Short: 'p', Long: "peers", Desc: "Print the list of peers (the peers command)",
			Detail: "Runs before the -c commands, as in classic's ntpq."},
		{Short: 'r', Long: "refid", Arg: cli.Keyword, ArgName: "hash|ipv4", Desc: "Show stratum 2+ refids as hash or ipv4 (hash, ipv4)"},
		{Short: 'w', Long: "wide", Desc: "Print the full remote name on a line of its own"},
		{Short: 'W', Long: "width", Arg: cli.Number, ArgName: "columns", Desc: "Terminal width; more than 80 behaves like -w (NTPsec)"},
		{Short: 'k', Long: "keyfile", Arg: cli.String, ArgName: "file", Desc: "Keys file for authenticated requests (NTPsec)"},
		{Short: 'a', Long: "authentication", Arg: cli.Number, ArgName: "keyid", Desc: "Key ID from the keys file (NTPsec)"},
		{Long: "version", Arg: cli.Optional, ArgName: "keyword", Desc: "Print the version and exit"},
		{Short: '?', Long: "help", Desc: "Print this list and exit"},
	},
	Description: `ntpq queries NTP daemons with mode 6 control messages (RFC 9327): the list of peers, the system and peer variables, the MRU list of clients. gontp's ntpq prints what classic ntpq 4.2.8p15 prints, byte for byte where scripts parse it (ntpq -p, rv, as), and talks to classic ntpd, NTPsec and gontp's ntpd alike.

Without -c, -p or a command on standard input it reads commands interactively. Hosts default to localhost; each command runs against each host in turn.`,
	Sections: []cli.Section{
		{Title: "See also", Text: "ntpd(8), ntpdate(8), ntp.conf(5)"},
	},
}

// usageText is the first lines of --help, printed after a command-line error.
var usageText = Command.Title + "\n" + Command.Usage(Command.Name)

// ParseArgs parses ntpq's command line. -p adds "peers" before the -c commands, as classic
// does.
func ParseArgs(args []string) (*Options, error) {
	o := &Options{}
	family := 0
	peers := false
	var cmds []string
	bad := func(format string, a ...any) error {
		return &UsageError{Msg: "ntpq: " + fmt.Sprintf(format, a...) + "\n" + usageText +
			"Try 'ntpq --help' for more information.\n"}
	}
	p, err := Command.Parse(args)
	if err != nil {
		var ce *cli.Error
		if !errors.As(err, &ce) {
			return nil, bad("%v", err)
		}
		switch {
		case ce.Kind == cli.NeedsValue && ce.Letter:
			return nil, bad("option requires an argument -- %s", ce.Given)
		case ce.Kind == cli.NeedsValue:
			return nil, bad("option '--%s' requires an argument", ce.Given)
		case ce.Kind == cli.BadValue && ce.Opt.Long == "set-debug-level":
			return nil, bad("invalid debug level '%s'", ce.Value)
		case ce.Kind == cli.BadValue && ce.Opt.Long == "width":
			return nil, bad("invalid width '%s'", ce.Value)
		case ce.Kind == cli.BadValue && ce.Opt.Long == "authentication":
			return nil, bad("invalid key ID '%s'", ce.Value)
		}
		return nil, bad("%v", err)
	}
	for _, it := range p.Items {
		if it.Opt == nil {
			o.Hosts = append(o.Hosts, Host{it.Value, family})
			continue
		}
		v := it.Value
		switch it.Opt.Long {
		case "ipv4":
			family = 4
		case "ipv6":
			family = 6
		case "debug-level":
			o.Debug++
		case "interactive":
			o.Interactive = true
		case "numeric":
			o.Numeric = true
		case "old-rv":
			o.OldRV = true
		case "json":
			o.JSON = true
		case "peers":
			peers = true
		case "wide":
			o.Wide = true
		case "version":
			o.Version = true
		case "help":
			o.Help = true
		case "command":
			cmds = append(cmds, v)
		case "set-debug-level":
			o.Debug, _ = strconv.Atoi(v) // a number: checked by the parser
		case "refid":
			if err := o.setRefid(v); err != nil {
				return nil, bad("%v", err)
			}
		case "width":
			o.Width, _ = strconv.Atoi(v) // a number: checked by the parser
		case "keyfile":
			o.KeyFile = v
		case "authentication":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return nil, bad("invalid key ID '%s'", v)
			}
			o.KeyID = uint32(n)
		}
	}
	if o.Interactive && (peers || len(cmds) > 0) {
		return nil, bad("the 'interactive' option conflicts with the 'command' and 'peers' options")
	}
	if peers {
		o.Commands = append(o.Commands, "peers")
	}
	o.Commands = append(o.Commands, cmds...)
	if o.Width > 80 {
		o.Wide = true
	}
	return o, nil
}

func (o *Options) setRefid(v string) error {
	switch v {
	case "hash":
		o.RefidHash = true
	case "ipv4":
		o.RefidHash = false
	default:
		return fmt.Errorf("invalid refid keyword '%s' (hash or ipv4)", v)
	}
	return nil
}

// ReadKeyFile finds key id in an ntp.keys file ("id type secret" lines, '#' comments).
func ReadKeyFile(path string, id uint32) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ntpq: keys file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(s)
		if len(fs) < 3 {
			continue
		}
		n, err := strconv.ParseUint(fs[0], 10, 32)
		if err != nil || uint32(n) != id {
			continue
		}
		k := keys.NewSet()
		if err := k.Add(id, fs[1], nil); err != nil {
			return nil, fmt.Errorf("ntpq: %s:%d: %w", path, line, err)
		}
		return &Key{ID: id, Type: strings.ToLower(k.Key(id).Type), Secret: keySecret(fs[2])}, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ntpq: %s: %w", path, err)
	}
	return nil, fmt.Errorf("ntpq: %s: no key %d", path, id)
}

// Env is what Main needs from the process: standard streams and whether stdin is a terminal.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	StdinIsTTY     bool
	// Prog is argv[0], for error messages.
	Prog string
	// ReadSecret reads a password without echo (nil: read a line from Stdin).
	ReadSecret func(prompt string) (string, error)

	// Overrides for tests (nil: the real network, resolver, clock and local zone).
	Dial    func(host string, family int) (Conn, string, error)
	Resolve func(netip.Addr) string
	Now     func() time.Time
	Loc     *time.Location
}

// Main runs ntpq with command-line arguments args and returns the exit status.
func Main(args []string, env Env) int {
	o, err := ParseArgs(args)
	if err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			fmt.Fprint(env.Stderr, ue.Msg)
			return 1
		}
		fmt.Fprintln(env.Stderr, err)
		return 1
	}
	if o.Help {
		Command.Help(env.Stdout)
		return 0
	}
	if o.Version {
		fmt.Fprintln(env.Stdout, VersionString)
		return 0
	}
	in := bufio.NewReader(env.Stdin)
	r := NewRunner(env.Stdout, env.Stderr)
	r.Numeric, r.Wide, r.RefidHash, r.OldRV, r.Debug = o.Numeric, o.Wide, o.RefidHash, o.OldRV, o.Debug
	r.JSON = o.JSON
	r.Version = VersionString
	r.Prog = env.Prog
	r.Resolve, r.Now, r.Loc = reverseDNS, env.Now, env.Loc
	if env.Resolve != nil {
		r.Resolve = env.Resolve
	}
	r.Dial = func(host string, family int) (Conn, string, error) {
		network := "udp"
		switch family {
		case 4:
			network = "udp4"
		case 6:
			network = "udp6"
		}
		return Dial(network, strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	}
	if env.Dial != nil {
		r.Dial = env.Dial
	}
	r.ReadLine = func(prompt string, secret bool) (string, error) {
		if secret && env.ReadSecret != nil {
			return env.ReadSecret(prompt)
		}
		fmt.Fprint(env.Stderr, prompt)
		s, err := in.ReadString('\n')
		return strings.TrimRight(s, "\r\n"), err
	}
	if o.KeyFile != "" {
		if o.KeyID == 0 {
			fmt.Fprintln(env.Stderr, "ntpq: -k needs -a to name the key ID")
			return 1
		}
		k, err := ReadKeyFile(o.KeyFile, o.KeyID)
		if err != nil {
			fmt.Fprintln(env.Stderr, err)
			return 1
		}
		r.keyID, r.keyType, r.passwd = k.ID, k.Type, k.Secret
	}
	if len(o.Hosts) == 0 {
		o.Hosts = []Host{{Name: "localhost"}}
	}
	r.NumHosts = len(o.Hosts)
	if r.NumHosts > 1 {
		for _, h := range o.Hosts {
			name := h.Name
			if a, err := netip.ParseAddr(strings.Trim(h.Name, "[]")); err == nil {
				name = r.nntohost(a)
			} else if ips, err := net.LookupIP(h.Name); err == nil && len(ips) > 0 {
				if a, ok := netip.AddrFromSlice(ips[0]); ok {
					name = r.nntohost(a.Unmap())
				}
			}
			r.MaxHostLen = max(r.MaxHostLen, len(name))
		}
	}
	defer r.Close()
	if o.JSON {
		// JSON for scripts: the commands run as usual and one document is printed at the
		// end; the exit status says whether every command gave its result.
		defer func() {
			if err := r.FlushJSON(env.Stdout); err != nil {
				fmt.Fprintln(env.Stderr, "ntpq:", err)
			}
		}()
	}
	if len(o.Commands) > 0 && !o.Interactive {
		for i, h := range o.Hosts {
			if !r.OpenHost(h.Name, h.Family) {
				r.jsonFailed = true
				continue
			}
			if i > 0 && !o.JSON {
				fmt.Fprintln(env.Stdout)
			}
			for j, c := range o.Commands {
				if j > 0 && !o.JSON {
					fmt.Fprintln(env.Stdout)
				}
				r.Run(c)
				if r.Quit() {
					return 0
				}
			}
		}
		if o.JSON && r.jsonFailed {
			return 1
		}
		return 0
	}
	// Interactive (or commands from a non-terminal stdin): one host, the first.
	r.OpenHost(o.Hosts[0].Name, o.Hosts[0].Family)
	r.Interactive = o.Interactive || env.StdinIsTTY
	for {
		// Like classic (its line editor prompts on a terminal only), no prompt when stdin is
		// a pipe, even with -i.
		if env.StdinIsTTY {
			fmt.Fprint(env.Stdout, "ntpq> ")
		}
		line, err := in.ReadString('\n')
		if line != "" {
			r.Run(strings.TrimRight(line, "\r\n"))
			if r.Quit() {
				return 0
			}
		}
		if err != nil {
			// EOF ends the session (classic ntpq -i busy-loops here; compat.md 8 item 14).
			if env.StdinIsTTY {
				fmt.Fprintln(env.Stdout)
			}
			return 0
		}
	}
}

// VersionString is what `ntpq --version` and the `version` command print.
const VersionString = "ntpq gontp (compatible with ntpq 4.2.8p15)"

// reverseDNS names an address by reverse lookup (the system resolver, /etc/hosts first), the
// first name without a trailing dot; "" when there is none.
func reverseDNS(a netip.Addr) string {
	names, err := net.LookupAddr(a.String())
	if err != nil || len(names) == 0 {
		return ""
	}
	return strings.TrimSuffix(names[0], ".")
}
