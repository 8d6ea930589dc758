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
	"os"
	"strings"
	"time"

	"gontp/internal/keys"
)

const usage = `ntp-keygen (gontp) - Create NTP symmetric keys - compatible with ntp-keygen 4.2.8p15
Usage:  ntp-keygen -M
   -M, --md5key     generate symmetric keys (ntpkey_MD5key_HOST.FSTAMP and the ntp.keys link)
   -d, --debug-level  accepted, no effect
   -?, --help       display this text
       --version    output version information and exit
Autokey options (-b -c -C -e -G -H -I -i -l -m -P -p -q -S -s -T -V -v) are refused:
gontp does not implement Autokey; use symmetric keys (-M).
`

// autokey are classic's options that make or use Autokey keys and certificates.
var autokey = map[string]string{
	"b": "imbits", "c": "certificate", "C": "cipher", "e": "id-key", "G": "gq-params",
	"H": "host-key", "I": "iffkey", "i": "ident", "l": "lifetime", "m": "modulus",
	"P": "pvt-cert", "p": "password", "q": "export-passwd", "S": "sign-key",
	"s": "subject-name", "T": "trusted-cert", "V": "mv-params", "v": "mv-keys",
}

func main() {
	md5 := false
	for _, arg := range os.Args[1:] {
		switch {
		case arg == "-M" || arg == "--md5key":
			md5 = true
		case arg == "-d" || arg == "--debug-level" || strings.HasPrefix(arg, "-D") || strings.HasPrefix(arg, "--set-debug-level"):
		case arg == "-?" || arg == "--help" || arg == "-h":
			fmt.Print(usage)
			return
		case arg == "--version":
			fmt.Println("ntp-keygen gontp (compatible with ntp-keygen 4.2.8p15)")
			return
		default:
			name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
			long, short := autokey[name]
			if short && !strings.HasPrefix(arg, "--") || strings.HasPrefix(arg, "--") && isLong(name) {
				if !short {
					long = name
				}
				fmt.Fprintf(os.Stderr, "ntp-keygen: option %s (%s) is for Autokey, which gontp does not implement; only symmetric keys (-M) are made\n", arg, long)
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "ntp-keygen: illegal option %s\n%s", arg, usage)
			os.Exit(1)
		}
	}
	if !md5 {
		fmt.Fprint(os.Stderr, "ntp-keygen: without options classic ntp-keygen makes an Autokey host key and certificate, which gontp does not implement; use -M for symmetric keys\n")
		os.Exit(1)
	}
	if err := generate(time.Now()); err != nil {
		fmt.Fprintf(os.Stderr, "ntp-keygen: %v\n", err)
		os.Exit(1)
	}
}

func isLong(name string) bool {
	for _, l := range autokey {
		if l == name {
			return true
		}
	}
	return false
}

// generate writes the key file and the ntp.keys link in the current directory, with classic's
// messages on stderr.
func generate(now time.Time) error {
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	name := keys.KeygenName(host, now)
	fmt.Fprintln(os.Stderr, "Generating new md5 file and link")
	// The keys are secrets: readable by the owner only (classic's umask leaves 0640).
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
	fmt.Fprintf(os.Stderr, "ntp.keys->%s\n", name)
	return nil
}
