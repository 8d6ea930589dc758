// SPDX-License-Identifier: BSD-2-Clause

// Command ntpdc is gontp's ntpdc: classic ntpdc 4.2.8p15's read-only commands (peers,
// dmpeers, listpeers, showpeer, sysinfo, sysstats, kerninfo, loopinfo, iostats, memstats,
// timerstats, and pstats, ctlstats, authinfo, reslist, monlist, clockstat, and the
// authenticated ifstats and ifreload) over mode 7, with classic's options and output, for
// classic ntpd servers and gontp's (after `enable mode7`). Classic's write commands are named
// and refused. The requests and their answers are in query.go, the signing of authenticated
// ones in auth.go, the printing in ops.go, stats.go and clock.go.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gontp/internal/cli"
)

// command is ntpdc's option table: classic ntpdc 4.2.8p15's (`ntpdc --help`).
var command = cli.Program{
	Name:     "ntpdc",
	Section:  1,
	Summary:  "vendor-specific NTPD control program (gontp)",
	Title:    "ntpdc - vendor-specific NTPD control program - Ver. 4.2.8p15 (gontp)",
	Operands: "[ host ...]",
	Style:    cli.Libopts,
	Options: []cli.Option{
		{Short: '4', Long: "ipv4", Prohibits: []string{"ipv6"}, Desc: "Force IPv4 DNS name resolution"},
		{Short: '6', Long: "ipv6", Prohibits: []string{"ipv4"}, Desc: "Force IPv6 DNS name resolution"},
		{Short: 'c', Long: "command", Arg: cli.String, ArgName: "cmd", Multi: true, Desc: "run a command and exit"},
		{Short: 'd', Long: "debug-level", Multi: true, Desc: "Increase debug verbosity level", Missing: "ntpdc prints no debug traces"},
		{Short: 'D', Long: "set-debug-level", Arg: cli.Number, ArgName: "number", Multi: true, Desc: "Set the debug verbosity level",
			Missing: "ntpdc prints no debug traces"},
		{Short: 'i', Long: "interactive", Prohibits: []string{"command", "listpeers", "peers", "showpeers"}, Desc: "Force ntpq to operate in interactive mode"},
		{Short: 'l', Long: "listpeers", Prohibits: []string{"command"}, Desc: "Print a list of the peers"},
		{Short: 'n', Long: "numeric", Desc: "numeric host addresses"},
		{Short: 'p', Long: "peers", Prohibits: []string{"command"}, Desc: "Print a list of the peers"},
		{Short: 's', Long: "showpeers", Prohibits: []string{"command"}, Desc: "Show a list of the peers"},
		{Long: "version", Arg: cli.Optional, ArgName: "keyword", Desc: "output version information and exit"},
		{Short: '?', Long: "help", Desc: "display extended usage information and exit"},
		{Short: '!', Long: "more-help", Desc: "extended usage information passed thru pager"},
	},
	Description: `ntpdc asks an NTP daemon for its peers, system variables, counters and kernel state over mode 7, the private protocol of classic ntpd. gontp's ntpdc has classic ntpdc 4.2.8p15's read-only commands, with classic's output: peers, dmpeers, listpeers, showpeer, pstats, sysinfo, sysstats, kerninfo, loopinfo, iostats, memstats, timerstats, ctlstats, authinfo, reslist, monlist and clockstat, and the authenticated ifstats and ifreload, plus keyid, keytype, passwd, help, host, version and quit. ifstats and ifreload are signed with the key given by keyid, keytype (md5 or sha1) and passwd, as classic ntpdc signs them (the server needs it as its requestkey); without them ntpdc asks "Keyid: " and "MD5 Password: " on the terminal (the password without echo), or reads standard input when there is none. The password is never printed. Without -c it reads commands from standard input, with the prompt "ntpdc> " when that is a terminal; with several hosts each command's output follows a line "--- HOST ---". It talks to classic ntpd and to gontp's ntpd (which answers peers, dmpeers, listpeers, showpeer, sysinfo, sysstats and kerninfo after "enable mode7"). Classic ntpd 4.2.8p15 answers monlist with "data not found" (the list was a traffic amplifier); older servers' lists are printed.

Classic's write commands (addserver, unconfig, enable, restrict, fudge, trustedkey, requestkey, traps, ...) and clkbug are refused by name, as are keytype's OpenSSL digests other than md5 and sha1. ntpq(1) (mode 6) does all of this and more.`,
	Sections: []cli.Section{{Title: "See also", Text: "ntpq(1), ntpd(8)"}},
}

const version = "ntpdc 4.2.8p15 (gontp)"

// client is one run of ntpdc.
type client struct {
	s       *session
	numeric bool
	family  string
	stdout  io.Writer
	stderr  io.Writer
	prompt  bool // stdin is a terminal: print "ntpdc> " before each command
	in      *bufio.Reader
	auth    *auth // the keyid, keytype and passwd commands' key (auth.go)
}

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

func usageTail() string {
	return command.Title + "\n" + command.Usage(command.Name) + "Try 'ntpdc --help' for more information.\n"
}

// run is ntpdc; it returns the exit status.
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p, err := command.Parse(argv[1:])
	if err != nil {
		var ce *cli.Error
		msg := "ntpdc error:  " + err.Error()
		if errors.As(err, &ce) {
			switch ce.Kind {
			case cli.Unknown:
				msg = argv[0] + ": illegal option -- " + ce.Given
			case cli.Conflict:
				msg = fmt.Sprintf("ntpdc error:  the '%s' and '%s' options conflict", ce.Opt.Long, ce.Other.Long)
			}
		}
		fmt.Fprint(stderr, msg+"\n"+usageTail())
		return 1
	}
	if p.Has("help") || p.Has("more-help") {
		_ = command.Help(stdout)
		return 0
	}
	if p.Has("version") {
		fmt.Fprintln(stdout, version)
		return 0
	}
	c := &client{numeric: p.Has("numeric"), family: "udp", stdout: stdout, stderr: stderr, in: bufio.NewReader(stdin)}
	c.auth = newAuth(c.in)
	if p.Has("ipv4") {
		c.family = "udp4"
	} else if p.Has("ipv6") {
		c.family = "udp6"
	}
	var cmds []string
	if p.Has("listpeers") {
		cmds = append(cmds, "listpeers")
	}
	if p.Has("peers") {
		cmds = append(cmds, "peers")
	}
	if p.Has("showpeers") {
		cmds = append(cmds, "dmpeers")
	}
	cmds = append(cmds, p.All("command")...)
	hosts := p.Operands
	if len(hosts) == 0 {
		hosts = []string{"localhost"}
	}
	progname := filepath.Base(argv[0])
	if f, ok := stdin.(*os.File); ok {
		c.prompt = isTerminal(int(f.Fd()))
	}
	for _, h := range hosts {
		if !c.open(h, progname) {
			continue
		}
		if len(cmds) == 0 || p.Has("interactive") {
			c.interactive()
		} else {
			for _, cmd := range cmds {
				// Classic's main loop: with several hosts, each command's output is
				// preceded by the host's name as given.
				if len(hosts) > 1 {
					fmt.Fprintf(c.stdout, "--- %s ---\n", h)
				}
				if !c.docmd(cmd) {
					break
				}
			}
		}
		c.s.conn.Close()
	}
	return 0
}

// isTerminal says whether fd is a terminal: classic ntpdc prompts ("ntpdc> ") only then.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// resolve finds a host's address in the family -4/-6 ask for.
func (c *client) resolve(name string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return a.Unmap(), nil
	}
	network := map[string]string{"udp": "ip", "udp4": "ip4", "udp6": "ip6"}[c.family]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, name)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("no address for %s", name)
	}
	return addrs[0].Unmap(), nil
}

// serverPort is NTP's port, which classic ntpdc always asks; the tests point it at a
// scripted server.
var serverPort uint16 = 123

// open is classic's openhost: a connected UDP socket to the host's port 123.
func (c *client) open(host, progname string) bool {
	a, err := c.resolve(host)
	if err != nil {
		fmt.Fprintf(c.stderr, "***Can't find host %s\n", host)
		return false
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, serverPort)))
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: socket: %s\n", progname, cError(err))
		return false
	}
	c.s = &session{conn: conn, host: host, impl: implXntpd, timeout: 5 * time.Second, stimeout: 2 * time.Second,
		stderr: c.stderr, progname: progname, sign: c.sign}
	return true
}

// interactive reads commands from stdin until quit or its end; on a terminal each is asked
// for with classic's prompt "ntpdc> " (classic prints no prompt when stdin is a pipe or a file).
func (c *client) interactive() {
	for {
		if c.prompt {
			fmt.Fprint(c.stdout, "ntpdc> ")
		}
		line, err := c.in.ReadString('\n')
		if line == "" && err != nil {
			return
		}
		if !c.docmd(strings.TrimSuffix(line, "\n")) {
			return
		}
	}
}

// builtins are ntpdc's own commands besides the queries.
var builtins = []string{"help", "host", "quit", "exit", "version"}

// docmd runs one command line; false ends the session (quit).
func (c *client) docmd(line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return true
	}
	name, args := f[0], f[1:]
	var all []string
	for k := range ops {
		all = append(all, k)
	}
	all = append(append(all, classicOnly...), builtins...)
	var match []string
	for _, k := range all {
		if k == name {
			match = []string{k}
			break
		}
		if strings.HasPrefix(k, name) {
			match = append(match, k)
		}
	}
	switch {
	case len(match) == 0:
		fmt.Fprintf(c.stderr, "***Command `%s' unknown\n", name)
		return true
	case len(match) > 1:
		sort.Strings(match)
		fmt.Fprintf(c.stderr, "***Command `%s' ambiguous\n", name)
		return true
	}
	switch name = match[0]; name {
	case "quit", "exit":
		return false
	case "version":
		fmt.Fprintln(c.stdout, version)
	case "help":
		sort.Strings(all)
		fmt.Fprintln(c.stdout, "ntpdc commands:")
		for i, k := range all {
			fmt.Fprintf(c.stdout, "%-12s ", k)
			if i%6 == 5 {
				fmt.Fprintln(c.stdout)
			}
		}
		fmt.Fprintln(c.stdout)
	case "host":
		if len(args) > 0 {
			old := c.s
			if c.open(args[0], old.progname) {
				old.conn.Close()
				fmt.Fprintf(c.stdout, "current host is %s\n", args[0])
			}
		} else {
			fmt.Fprintf(c.stdout, "current host is %s\n", c.s.host)
		}
	default:
		if op, ok := ops[name]; ok {
			op(c, args, c.stdout)
			return true
		}
		fmt.Fprintf(c.stderr, "***Command `%s' is not available in gontp's ntpdc (it sends no write requests, and clkbug is not kept); use ntpq\n", name)
	}
	return true
}
