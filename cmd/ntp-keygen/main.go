// SPDX-License-Identifier: BSD-2-Clause

// Command ntp-keygen is gontp's drop-in for the part of classic ntp-keygen 4.2.8p15 that
// Debian's symmetric-key workflow uses: `ntp-keygen -M` writes ntpkey_MD5key_HOST.FSTAMP
// (ten MD5 and ten SHA1 keys) in the current directory, mode 0600, and points the ntp.keys
// link at it. Autokey (host keys, certificates, IFF/GQ/MV identity schemes) is public-key
// authentication that gontp does not implement; every option for it is refused by name.
package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"time"

	"gontp/internal/cli"
	"gontp/internal/keys"
)

// noAutokey is why every option for Autokey is refused.
const noAutokey = "Autokey is not implemented; gontp makes symmetric keys only (-M)"

// command is classic ntp-keygen 4.2.8p15's option table (`ntp-keygen --help`).
var command = cli.Program{
	Name:    "ntp-keygen",
	Section: 8,
	Summary: "make symmetric keys for NTP authentication (gontp)",
	Title:   "ntp-keygen (ntp) - Create a NTP host key - Ver. 4.2.8p15 (gontp)",
	Style:   cli.Libopts,
	Options: []cli.Option{
		{Short: 'b', Long: "imbits", Arg: cli.Number, ArgName: "imbits", Desc: "identity modulus bits", Missing: noAutokey, Refused: true},
		{Short: 'c', Long: "certificate", Arg: cli.String, ArgName: "scheme", Desc: "certificate scheme", Missing: noAutokey, Refused: true},
		{Short: 'C', Long: "cipher", Arg: cli.String, ArgName: "cipher", Desc: "privatekey cipher", Missing: noAutokey, Refused: true},
		{Short: 'd', Long: "debug-level", Multi: true, Desc: "Increase debug verbosity level", Detail: "Accepted; no effect."},
		{Short: 'D', Long: "set-debug-level", Arg: cli.Number, ArgName: "level", Multi: true, Desc: "Set the debug verbosity level", Detail: "Accepted; no effect."},
		{Short: 'e', Long: "id-key", Desc: "Write IFF or GQ identity keys", Missing: noAutokey, Refused: true},
		{Short: 'G', Long: "gq-params", Desc: "Generate GQ parameters and keys", Missing: noAutokey, Refused: true},
		{Short: 'H', Long: "host-key", Desc: "generate RSA host key", Missing: noAutokey, Refused: true},
		{Short: 'I', Long: "iffkey", Desc: "generate IFF parameters", Missing: noAutokey, Refused: true},
		{Short: 'i', Long: "ident", Arg: cli.String, ArgName: "group", Desc: "set Autokey group name", Missing: noAutokey, Refused: true},
		{Short: 'l', Long: "lifetime", Arg: cli.Number, ArgName: "lifetime", Desc: "set certificate lifetime", Missing: noAutokey, Refused: true},
		{Short: 'm', Long: "modulus", Arg: cli.Number, ArgName: "modulus", Desc: "prime modulus", Missing: noAutokey, Refused: true},
		{Short: 'M', Long: "md5key", Desc: "generate symmetric keys",
			Detail: "Writes ntpkey_MD5key_HOST.FSTAMP in the current directory (HOST is the host name, FSTAMP the NTP seconds of the moment) with ten MD5 keys (ids 1 to 10, 20 printable characters each) and ten SHA1 keys (ids 11 to 20, 20 random octets in hex), in classic's layout, readable by its owner only, and points the link ntp.keys at it."},
		{Short: 'P', Long: "pvt-cert", Desc: "generate PC private certificate", Missing: noAutokey, Refused: true},
		{Short: 'p', Long: "password", Arg: cli.String, ArgName: "passwd", Desc: "local private password", Missing: noAutokey, Refused: true},
		{Short: 'q', Long: "export-passwd", Arg: cli.String, ArgName: "passwd", Desc: "export IFF or GQ group keys with password", Missing: noAutokey, Refused: true},
		{Short: 's', Long: "subject-name", Arg: cli.String, ArgName: "host@group", Desc: "set host and optionally group name", Missing: noAutokey, Refused: true},
		{Short: 'S', Long: "sign-key", Arg: cli.String, ArgName: "sign", Desc: "generate sign key (RSA or DSA)", Missing: noAutokey, Refused: true},
		{Short: 'T', Long: "trusted-cert", Desc: "trusted certificate (TC scheme)", Missing: noAutokey, Refused: true},
		{Short: 'V', Long: "mv-params", Arg: cli.Number, ArgName: "num", Desc: "generate <num> MV parameters", Missing: noAutokey, Refused: true},
		{Short: 'v', Long: "mv-keys", Arg: cli.Number, ArgName: "num", Desc: "update <num> MV keys", Missing: noAutokey, Refused: true},
		{Long: "version", Arg: cli.Optional, ArgName: "keyword", Desc: "output version information and exit"},
		{Short: '?', Long: "help", Desc: "display extended usage information and exit"},
	},
	Description: `ntp-keygen -M makes the symmetric keys that ntpd(8) and ntpq(1) use to authenticate NTP packets and runtime configuration. Copy the keys a server and its clients share into their /etc/ntp.keys and name them in trustedkey (see ntp.conf(5)); controlkey names the key ntpq's :config and saveconfig must use.

Classic ntp-keygen also makes Autokey host keys, certificates and identity parameters, and does so when called without options. gontp does not implement Autokey: every option for it, and a call without -M, is refused with a message naming it.`,
	Sections: []cli.Section{
		{Title: "Files", Items: []cli.Entry{
			{Tag: "ntpkey_MD5key_HOST.FSTAMP", Text: "The keys, mode 0600 (classic's umask leaves 0640)."},
			{Tag: "ntp.keys", Text: "A symbolic link to the newest key file; an existing link is replaced, a regular file of that name is left alone."},
		}},
		{Title: "Exit status", Text: "0 when the keys are written; 1 for an option gontp refuses or a file that cannot be written."},
		{Title: "See also", Text: "ntpd(8), ntpq(1), ntp.conf(5)"},
	},
}

func main() { os.Exit(run(os.Args[1:], os.Stderr, time.Now())) }

// run is ntp-keygen with its arguments; messages go to stderr, as classic's do.
func run(args []string, stderr io.Writer, now time.Time) int {
	p, err := command.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "ntp-keygen: %v\n%s", err, command.Usage("ntp-keygen"))
		return 1
	}
	if p.Has("help") {
		command.Help(os.Stdout)
		return 0
	}
	if p.Has("version") {
		fmt.Println("ntp-keygen gontp (compatible with ntp-keygen 4.2.8p15)")
		return 0
	}
	for _, o := range p.Given() {
		if o.Missing != "" && o.Refused {
			fmt.Fprintf(stderr, "ntp-keygen: option %s: %s\n", o.Name(), o.Missing)
			return 1
		}
	}
	if !p.Has("md5key") {
		fmt.Fprintln(stderr, "ntp-keygen: without options classic ntp-keygen makes an Autokey host key and certificate; Autokey is not implemented, use -M for symmetric keys")
		return 1
	}
	if err := generate(stderr, now); err != nil {
		fmt.Fprintf(stderr, "ntp-keygen: %v\n", err)
		return 1
	}
	return 0
}

// generate writes the key file and the ntp.keys link in the current directory, with classic's
// messages.
func generate(stderr io.Writer, now time.Time) error {
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	name := keys.KeygenName(host, now)
	fmt.Fprintln(stderr, "Generating new md5 file and link")
	// The keys are secrets: readable by the owner only.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := keys.WriteKeygen(f, name, now, rand.Reader); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Classic replaces an existing ntp.keys link and leaves a regular file alone.
	if fi, err := os.Lstat("ntp.keys"); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		os.Remove("ntp.keys")
	}
	if err := os.Symlink(name, "ntp.keys"); err != nil {
		return fmt.Errorf("link ntp.keys: %w", err)
	}
	fmt.Fprintf(stderr, "ntp.keys->%s\n", name)
	return nil
}
