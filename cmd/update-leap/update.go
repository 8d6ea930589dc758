// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gontp/internal/cli"
	"gontp/internal/leap"
	"gontp/ntpconf"
)

// command is update-leap's option table: the command line and the manual page.
var command = cli.Program{
	Name:    "update-leap",
	Section: 8,
	Summary: "check and update the leap-seconds file (gontp)",
	Style:   cli.Getopt,
	Options: []cli.Option{
		{Short: 'C', Arg: cli.String, ArgName: "file", Desc: "CA certificate file for https downloads"},
		{Short: 'D', Arg: cli.String, ArgName: "dir", Desc: "Directory of CA certificates for https downloads"},
		{Short: 'e', Arg: cli.Number, ArgName: "days", Desc: "Refresh this many days before expiry (value optional, 60)"},
		{Short: 'F', Desc: "Force the update even if the current file is good"},
		{Short: 'f', Arg: cli.String, ArgName: "ntp.conf", Desc: "The ntp.conf whose leapfile line names the file (default /etc/ntp.conf)"},
		{Short: 'h', Desc: "Show the help text and exit"},
		{Short: 'i', Arg: cli.Number, ArgName: "minutes", Desc: "Minutes between download attempts (value optional, 10)"},
		{Short: 'L', Arg: cli.String, ArgName: "file", Desc: "The leap-seconds file (overrides ntp.conf)"},
		{Short: 'l', Arg: cli.String, ArgName: "facility", Desc: "syslog facility (default LOG_USER)"},
		{Short: 'q', Desc: "Report errors only (not with -v)"},
		{Short: 'r', Arg: cli.Number, ArgName: "tries", Desc: "Download attempts (value optional, 6)"},
		{Short: 's', Desc: "Log to syslog (implied when standard output is not a terminal)"},
		{Short: 't', Desc: "Log to the terminal (implied when standard output is one)"},
		{Short: 'u', Arg: cli.String, ArgName: "url", Desc: "Where to download the file from"},
		{Short: 'v', Desc: "Verbose: show debug messages (not with -q)"},
	},
	Description: `update-leap checks the leap-seconds file that ntpd reads: the file named by -L, or by the leapfile line of ntp.conf (-f). When it is missing, fails its hash check, has expired, or expires within -e days (60), or with -F, update-leap downloads a new copy from -u (https://www.ietf.org/timezones/data/leap-seconds.list by default), checks its hash and expiry, and installs it (mode 0644); a copy that fails is kept as /tmp/leap-seconds.list_corrupt for diagnosis. It exits 0 when the file is good or was replaced, 1 otherwise. gontp's ntpd notices the new file by itself.

Options, messages and exit status are classic update-leap 4.2.8p15's, with two differences: the leapfile line of ntp.conf is read as ntpd reads it (classic finds it only when the path is in double quotes, so Debian's own ntp.conf, which has no quotes, made it fail), and a downloaded file must also pass ntpd's own checks (every leap at the end of a month) before it is installed.`,
	Sections: []cli.Section{
		{Title: "See also", Text: "ntpd(8), ntp.conf(5)"},
	},
}

// The script's defaults.
const (
	defaultSource   = "https://www.ietf.org/timezones/data/leap-seconds.list"
	defaultConf     = "/etc/ntp.conf"
	defaultPrefetch = 60 // days
	defaultTries    = 6
	defaultInterval = 10 // minutes
	runDir          = "/tmp"
	corruptName     = "leap-seconds.list_corrupt"
	ntpUnixOffset   = 2208988800
)

// facilities are the names -l takes.
var facilities = map[string]syslog.Priority{
	"LOG_USER": syslog.LOG_USER, "LOG_DAEMON": syslog.LOG_DAEMON, "LOG_LOCAL0": syslog.LOG_LOCAL0,
	"LOG_LOCAL1": syslog.LOG_LOCAL1, "LOG_LOCAL2": syslog.LOG_LOCAL2, "LOG_LOCAL3": syslog.LOG_LOCAL3,
	"LOG_LOCAL4": syslog.LOG_LOCAL4, "LOG_LOCAL5": syslog.LOG_LOCAL5, "LOG_LOCAL6": syslog.LOG_LOCAL6,
	"LOG_LOCAL7": syslog.LOG_LOCAL7, "LOG_CRON": syslog.LOG_CRON,
}

// logWriter is the part of *syslog.Writer used.
type logWriter interface {
	Err(string) error
	Notice(string) error
	Info(string) error
	Debug(string) error
}

// env is everything update-leap takes from the process, replaceable in tests.
type env struct {
	stdout, stderr io.Writer
	stdoutTTY      bool
	uid            int
	now            func() time.Time
	sleep          func(time.Duration)
	get            func(url string, client *http.Client) (*http.Response, error)
	syslog         func(facility string) (logWriter, error)
}

// level is a syslog priority as the script's logger uses them.
type level int

const (
	logErr level = iota
	logNotice
	logInfo
	logDebug
)

// logger is the script's logger(): debug only with -v, only errors with -q, errors to stderr
// and the rest to stdout on the terminal, everything to syslog when asked.
type logger struct {
	env          env
	debug, quiet bool
	term         bool
	sys          logWriter
}

func (l *logger) log(p level, msg string) {
	if p == logDebug && !l.debug {
		return
	}
	if l.quiet && p != logErr {
		return
	}
	if l.term {
		if p == logErr {
			fmt.Fprintln(l.env.stderr, msg)
		} else {
			fmt.Fprintln(l.env.stdout, msg)
		}
	}
	if l.sys != nil {
		switch p {
		case logErr:
			_ = l.sys.Err(msg)
		case logNotice:
			_ = l.sys.Notice(msg)
		case logInfo:
			_ = l.sys.Info(msg)
		default:
			_ = l.sys.Debug(msg)
		}
	}
}

// options is the parsed command line.
type options struct {
	values map[byte]string
	given  map[byte]bool
}

// optional are the options whose value may be left out, with the value they then take.
var optional = map[byte]string{'e': "60", 'i': "10", 'r': "6"}

// parse reads args as Getopt::Long configured with bundling and no_ignore_case: letters may be
// clustered, a value follows its letter or is the next argument, and -e, -i, -r take an
// optional integer (the next argument only when it is one). An unknown letter is reported and
// skipped, as the script does not look at GetOptions' result.
func parse(args []string, stderr io.Writer) options {
	o := options{values: map[byte]string{}, given: map[byte]bool{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if a == "--help" {
			o.given['h'] = true
			continue
		}
		if strings.HasPrefix(a, "--") {
			fmt.Fprintf(stderr, "Unknown option: %s\n", strings.SplitN(a[2:], "=", 2)[0])
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			continue // the script takes no operands
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			opt := command.Lookup(c)
			if opt == nil {
				fmt.Fprintf(stderr, "Unknown option: %c\n", c)
				continue
			}
			o.given[c] = true
			if opt.Arg == cli.None {
				continue
			}
			rest := a[j+1:]
			if def, ok := optional[c]; ok {
				switch {
				case rest != "" && isInt(rest):
					o.values[c] = rest
				case rest == "" && i+1 < len(args) && isInt(args[i+1]):
					i++
					o.values[c] = args[i]
				default:
					o.values[c] = def
					continue // the rest of the cluster holds more letters
				}
				break
			}
			switch {
			case rest != "":
				o.values[c] = rest
			case i+1 < len(args):
				i++
				o.values[c] = args[i]
			default:
				fmt.Fprintf(stderr, "Option %c requires an argument\n", c)
				delete(o.given, c)
			}
			break
		}
	}
	return o
}

func isInt(s string) bool {
	_, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
	return err == nil
}

// run is the program; it returns the exit status.
func run(args []string, e env) int {
	o := parse(args, e.stderr)
	l := &logger{env: e, debug: o.given['v'], quiet: o.given['q'], term: o.given['t']}
	if o.given['s'] || !e.stdoutTTY {
		facility := "LOG_USER"
		if v, ok := o.values['l']; ok {
			facility = v
		}
		if w, err := e.syslog(facility); err == nil {
			l.sys = w
		}
	} else {
		l.term = true
	}
	fatal := func(msg string) int {
		l.log(logErr, msg)
		return 1
	}
	if o.given['q'] && o.given['v'] {
		return fatal("-q and -v options mutually exclusive")
	}
	if o.given['L'] && o.given['f'] {
		return fatal("-L and -f options mutually exclusive")
	}
	if o.given['h'] {
		fmt.Fprint(e.stdout, helpText(o))
		return 0
	}
	if e.uid != 0 {
		name := strconv.Itoa(e.uid)
		if u, err := user.LookupId(name); err == nil {
			name = u.Username
		}
		return fatal(fmt.Sprintf("User %s (UID %d) tried to run update-leap", name, e.uid))
	}
	src := valueOr(o, 'u', defaultSource)
	conf := valueOr(o, 'f', defaultConf)
	prefetch, _ := strconv.Atoi(valueOr(o, 'e', strconv.Itoa(defaultPrefetch)))
	tries, _ := strconv.Atoi(valueOr(o, 'r', strconv.Itoa(defaultTries)))
	interval, _ := strconv.Atoi(valueOr(o, 'i', strconv.Itoa(defaultInterval)))

	leapfile := o.values['L']
	if leapfile == "" {
		path, err := leapfileOf(conf)
		if err != nil {
			l.log(logErr, err.Error())
		}
		if path == "" {
			return fatal(fmt.Sprintf("No leapfile directive in %s; leapfile location not known", conf))
		}
		leapfile = path
	}
	if fi, err := os.Stat(leapfile); err != nil || fi.Size() == 0 {
		l.log(logDebug, fmt.Sprintf("Leapfile %s is empty", leapfile))
	}
	// The script's test, short-circuited as Perl's ||: a missing file or -F skips the check
	// of the current file and its messages.
	now := e.now()
	_, statErr := os.Stat(leapfile)
	if statErr == nil && !o.given['F'] {
		if current := check(l, leapfile, now); current.ok && current.expires.Unix() >= now.Unix()+int64(prefetch)*86400 {
			l.log(logInfo, fmt.Sprintf("Not time to replace %s", leapfile))
			return 0
		}
	}
	client, err := httpClient(o)
	if err != nil {
		return fatal(fmt.Sprintf("TLS/SSL config error: %v", err))
	}
	for try := 1; try <= tries; try++ {
		l.log(logDebug, fmt.Sprintf("Attempting download from %s, try %d..", src, try))
		tmp, ok := download(l, e, client, src)
		if ok {
			if check(l, tmp, e.now()).ok {
				if err := move(tmp, leapfile); err != nil {
					return fatal(fmt.Sprintf("Moving %s to %s failed: %v", tmp, leapfile, err))
				}
				l.log(logDebug, fmt.Sprintf("Moved %s to %s", tmp, leapfile))
				_ = os.Chmod(leapfile, 0o644)
				l.log(logInfo, fmt.Sprintf("Installed new %s from %s", leapfile, src))
				return 0
			}
			l.log(logErr, fmt.Sprintf("Downloaded file %s rejected -- saved for diagnosis", tmp))
			corrupt := filepath.Join(runDir, corruptName)
			if err := move(tmp, corrupt); err != nil {
				return fatal(fmt.Sprintf("Moving %s to %s failed: %v", tmp, corrupt, err))
			}
			l.log(logDebug, fmt.Sprintf("Moved %s to %s", tmp, corruptName))
			return 1
		}
		if tmp != "" {
			os.Remove(tmp)
		}
		l.log(logInfo, fmt.Sprintf("Download failed. Waiting %d minutes before retrying...", interval))
		e.sleep(time.Duration(interval) * time.Minute)
	}
	return fatal(fmt.Sprintf("Download from %s failed after %d attempts", src, tries))
}

func valueOr(o options, c byte, def string) string {
	if v, ok := o.values[c]; ok {
		return v
	}
	return def
}

// leapfileOf reads conf as ntpd does and returns its leapfile path ("" when it has none).
func leapfileOf(conf string) (string, error) {
	dir, base := filepath.Split(conf)
	if dir == "" {
		dir = "."
	}
	cfg, err := ntpconf.Parse(os.DirFS(dir), base)
	if cfg == nil {
		return "", fmt.Errorf("Can't open <%s>: %w", conf, errors.Unwrap(err))
	}
	path, _, ok := cfg.Leapfile()
	if !ok {
		return "", nil
	}
	return path, nil
}

// verdict is what check found.
type verdict struct {
	ok      bool
	expires time.Time
}

var hashLine = regexp.MustCompile(`^#h\s+([[:xdigit:]]+)\s+([[:xdigit:]]+)\s+([[:xdigit:]]+)\s+([[:xdigit:]]+)\s+([[:xdigit:]]+)`)

// check is the script's verifySHA with its messages, and then ntpd's own parser: a file that
// the script would accept but ntpd would refuse (a leap not at the end of a month, a broken
// data line) is refused too, with the parser's reason.
func check(l *logger, file string, now time.Time) verdict {
	f, err := os.Open(file)
	if err != nil {
		return verdict{}
	}
	defer f.Close()
	var data strings.Builder
	var want string
	var expires time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#$"):
			data.WriteString(line[2:])
		case strings.HasPrefix(line, "#@"):
			data.WriteString(line[2:])
			if n, err := strconv.ParseInt(strings.Join(strings.Fields(line[2:]), ""), 10, 64); err == nil {
				expires = time.Unix(n-ntpUnixOffset, 0)
			}
		case hashLine.MatchString(line):
			m := hashLine.FindStringSubmatch(line)
			for _, w := range m[1:6] {
				want += fmt.Sprintf("%08s", w)
			}
			want = strings.ReplaceAll(want, " ", "0")
		case strings.HasPrefix(line, "#"):
		case line != "" && line[0] >= '0' && line[0] <= '9':
			if k := strings.IndexByte(line, '#'); k >= 0 {
				line = line[:k]
			}
			data.WriteString(line)
		default:
			fmt.Fprintf(l.env.stdout, "Unexpected line: <%s>\n", line)
		}
	}
	if expires.Before(now) {
		l.log(logDebug, "File expired on "+expires.UTC().Format("Mon Jan _2 15:04:05 2006"))
		return verdict{expires: expires}
	}
	if want == "" {
		l.log(logNotice, "no checksum record found in file")
		return verdict{expires: expires}
	}
	sum := sha1.Sum([]byte(strings.Join(strings.Fields(data.String()), "")))
	got := hex.EncodeToString(sum[:])
	if !strings.EqualFold(want, got) {
		l.log(logNotice, fmt.Sprintf("Checksum of %s is invalid EXPECTED: %s COMPUTED: %s", file, want, got))
		return verdict{expires: expires}
	}
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		if _, err := leap.Parse(f, true); err != nil {
			l.log(logNotice, fmt.Sprintf("%s is refused by ntpd: %v", file, err))
			return verdict{expires: expires}
		}
	}
	l.log(logDebug, fmt.Sprintf("Checksum of %s validated", file))
	return verdict{ok: true, expires: expires}
}

// httpClient is HTTP::Tiny's: certificates verified, from -C or -D when given.
func httpClient(o options) (*http.Client, error) {
	tr := &http.Transport{Proxy: nil}
	if o.given['C'] || o.given['D'] {
		pool := x509.NewCertPool()
		var files []string
		if c := o.values['C']; c != "" {
			files = append(files, c)
		}
		if d := o.values['D']; d != "" {
			entries, err := os.ReadDir(d)
			if err != nil {
				return nil, err
			}
			for _, en := range entries {
				files = append(files, filepath.Join(d, en.Name()))
			}
		}
		for _, f := range files {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			pool.AppendCertsFromPEM(pem)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// download fetches src into a temporary file in /tmp and returns its name.
func download(l *logger, e env, client *http.Client, src string) (string, bool) {
	tmp, err := os.CreateTemp(runDir, "update-leap-*.list")
	if err != nil {
		l.log(logErr, fmt.Sprintf("Couldn't write new file contents to temp file: %v", err))
		return "", false
	}
	defer tmp.Close()
	resp, err := e.get(src, client)
	if err != nil {
		return tmp.Name(), false
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return tmp.Name(), false
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return tmp.Name(), false
	}
	l.log(logDebug, fmt.Sprintf("Download of %s succeeded", src))
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		l.log(logErr, fmt.Sprintf("Couldn't write new file contents to temp file: %v", err))
		return tmp.Name(), false
	}
	return tmp.Name(), true
}

// move renames src to dst, copying when they are on different file systems, as File::Copy's
// move does.
func move(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return err
	}
	return os.Remove(src)
}

// helpText is the script's show_help text, with the current values shown.
func helpText(o options) string {
	return fmt.Sprintf(`
Usage: update-leap [options]

Verifies and if necessary, updates leap-second definition file

All arguments are optional:  Default (or current value) shown:
    -C    Absolute path to CA Cert (see SSL/TLS Considerations)
    -D    Path to a CAdir (see SSL/TLS Considerations)
    -e    Specify how long (in days) before expiration the file is to be
    	  refreshed.  Note that larger values imply more frequent refreshes.
          %s
    -F    Force update even if current file is OK and not close to expiring.
    -f    Absolute path ntp.conf file (default /etc/ntp.conf)
          %s
    -h    show help
    -i    Specify number of minutes between retries
          %s
    -L    Absolute path to leapfile on the local system
	  (overrides value in ntp.conf)
    -l    Specify the syslog(3) facility for logging
          %s
    -q    Only report errors (cannot be used with -v)
    -r    Specify number of attempts to retrieve file
          %s
    -s    Send output to syslog(3) - implied if STDOUT has no tty or redirected
    -t    Send output to terminal - implied if STDOUT attached to terminal
    -u    Specify the URL of the master copy to download
          %s
    -v    Verbose - show debug messages (cannot be used with -q)

The following options are not (yet) implemented in the perl version:
    -4    Use only IPv4
    -6    Use only IPv6
    -c    Command to restart NTP after installing a new file
          <none> - ntpd checks file daily
    -p 4|6
          Prefer IPv4 or IPv6 (as specified) addresses, but use either

update-leap will validate the file currently on the local system.

Ordinarily, the leapfile is found using the 'leapfile' directive in
%s.  However, an alternate location can be specified on the
command line with the -L flag.

If the leapfile does not exist, is not valid, has expired, or is
expiring soon, a new copy will be downloaded.  If the new copy is
valid, it is installed.

If the current file is acceptable, no download or restart occurs.

This can be run as a cron job.  As the file is rarely updated, and
leap seconds are announced at least one month in advance (usually
longer), it need not be run more frequently than about once every
three weeks.

SSL/TLS Considerations
-----------------------
The perl modules can usually locate the CA certificate used to verify
the peer's identity.

On BSDs, the default is typically the file /etc/ssl/certs.pem.  On
Linux, the location is typically a path to a CAdir - a directory of
symlinks named according to a hash of the certificates' subject names.

The -C or -D options are available to pass in a location if no CA cert
is found in the default location.

External Dependencies
---------------------
The following perl modules are required:
HTTP::Tiny 	- version >= 0.056
IO::Socket::SSL - version >= 1.56
NET::SSLeay 	- version >= 1.49

Version: 1.004

`, valueOr(o, 'e', "60"), valueOr(o, 'f', defaultConf), valueOr(o, 'i', "10"), valueOr(o, 'l', "LOG_USER"),
		valueOr(o, 'r', "6"), valueOr(o, 'u', defaultSource), valueOr(o, 'f', defaultConf))
}
