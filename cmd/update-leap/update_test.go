// SPDX-License-Identifier: BSD-2-Clause

package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// leapList returns a leap-seconds.list with the real table (from tzdata's copy), expiring at
// expires, its hash right unless breakHash.
func leapList(t *testing.T, expires time.Time, breakHash bool) string {
	t.Helper()
	src, err := os.ReadFile("/usr/share/zoneinfo/leap-seconds.list")
	if err != nil {
		t.Skipf("tzdata's leap-seconds.list is needed as the table: %v", err)
	}
	var body, data strings.Builder
	exp := fmt.Sprint(expires.Unix() + ntpUnixOffset)
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(line, "#@"):
			line = "#@\t" + exp
			data.WriteString(exp)
		case strings.HasPrefix(line, "#h"):
			continue
		case strings.HasPrefix(line, "#$"):
			data.WriteString(strings.Join(strings.Fields(line[2:]), ""))
		case line != "" && line[0] >= '0' && line[0] <= '9':
			if k := strings.IndexByte(line, '#'); k >= 0 {
				data.WriteString(strings.Join(strings.Fields(line[:k]), ""))
			}
		}
		if line != "" {
			body.WriteString(line + "\n")
		}
	}
	sum := sha1.Sum([]byte(data.String()))
	h := hex.EncodeToString(sum[:])
	if breakHash {
		h = "0000000" + h[7:]
	}
	fmt.Fprintf(&body, "#h\t%s %s %s %s %s\n", h[0:8], h[8:16], h[16:24], h[24:32], h[32:40])
	return body.String()
}

// server serves the given files on loopback (never anything else: update-leap is always given
// -u pointing here).
func server(t *testing.T, files map[string]string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// TestAgainstClassic runs classic update-leap 4.2.8p15 and gontp's on the same files and the
// same local server, case by case, and compares their standard output, standard error, exit
// status and the installed file. Temporary file names differ and are masked.
func TestAgainstClassic(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("update-leap's comparison needs root (CI=true, so this is a failure)")
		}
		t.Skip("update-leap runs only as root, as classic's")
	}
	classic := filepath.Join(testnet.Reference(t, "classic-update-leap"), "classic-update-leap")
	bin := filepath.Join(t.TempDir(), "update-leap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	now := time.Now()
	good := leapList(t, now.Add(300*24*time.Hour), false)
	soon := leapList(t, now.Add(20*24*time.Hour), false)
	expired := leapList(t, now.Add(-24*time.Hour), false)
	badHash := leapList(t, now.Add(300*24*time.Hour), true)
	url := server(t, map[string]string{"good.list": good, "bad.list": badHash, "expired.list": expired})
	mask := regexp.MustCompile(`/tmp/[A-Za-z0-9_-]+\.list`)

	for _, c := range []struct {
		name     string
		existing string // the target's content before the run; "" means no file
		args     []string
		conf     string // ntp.conf content for -f; the target is then named there
		want     int    // gontp's exit status, which must be classic's
		wantFile string // the target's content after the run
	}{
		{"missing file, good download", "", []string{"-u", url + "/good.list"}, "", 0, good},
		{"good file", good, []string{"-u", url + "/good.list"}, "", 0, good},
		{"expiring soon", soon, []string{"-u", url + "/good.list"}, "", 0, good},
		{"expiring soon, short prefetch", soon, []string{"-e", "10", "-u", url + "/good.list"}, "", 0, soon},
		{"expired", expired, []string{"-u", url + "/good.list"}, "", 0, good},
		{"forced", good, []string{"-F", "-u", url + "/good.list"}, "", 0, good},
		{"bad hash in place", badHash, []string{"-u", url + "/good.list"}, "", 0, good},
		{"bad download", expired, []string{"-u", url + "/bad.list"}, "", 1, expired},
		{"expired download", "", []string{"-u", url + "/expired.list"}, "", 1, ""},
		{"not found", "", []string{"-u", url + "/none.list"}, "", 1, ""},
		{"quiet", "", []string{"-q", "-u", url + "/good.list"}, "", 0, good},
		{"quiet and verbose", "", []string{"-q", "-v", "-u", url + "/good.list"}, "", 1, ""},
		{"clustered flags", good, []string{"-Fe", "-u", url + "/good.list"}, "", 0, good},
		{"unknown option", good, []string{"-x", "-u", url + "/good.list"}, "", 0, good},
		{"help", "", []string{"-h", "-u", url + "/good.list"}, "", 0, ""},
		{"quoted leapfile in ntp.conf", "", []string{"-u", url + "/good.list"}, "leapfile \"%s\"\n", 0, good},
		{"-L and -f", "", []string{"-u", url + "/good.list"}, "-L", 1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			type result struct {
				stdout, stderr, file string
				code                 int
			}
			one := func(prog string) result {
				dir := t.TempDir()
				target := filepath.Join(dir, "leap-seconds.list")
				if c.existing != "" {
					if err := os.WriteFile(target, []byte(c.existing), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args := append([]string{"-t", "-r", "1", "-i", "0"}, c.args...)
				if c.args[0] != "-q" {
					args = append(args, "-v") // every message, debug ones too
				}
				switch {
				case c.conf == "-L":
					args = append(args, "-L", target, "-f", filepath.Join(dir, "ntp.conf"))
				case c.conf != "":
					conf := filepath.Join(dir, "ntp.conf")
					if err := os.WriteFile(conf, []byte(fmt.Sprintf(c.conf, target)), 0o644); err != nil {
						t.Fatal(err)
					}
					args = append(args, "-f", conf)
				default:
					args = append(args, "-L", target)
				}
				cmd := exec.Command(prog, args...)
				var so, se bytes.Buffer
				cmd.Stdout, cmd.Stderr = &so, &se
				cmd.Env = append(os.Environ(), "TZ=UTC", "http_proxy=", "https_proxy=", "HTTP_PROXY=", "HTTPS_PROXY=")
				err := cmd.Run()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				file, _ := os.ReadFile(target)
				clean := func(s string) string {
					return strings.ReplaceAll(mask.ReplaceAllString(s, "/tmp/TEMP.list"), dir, "DIR")
				}
				return result{clean(so.String()), clean(se.String()), string(file), code}
			}
			cr, gr := one(classic), one(bin)
			if cr.stdout != gr.stdout || cr.stderr != gr.stderr || cr.code != gr.code {
				t.Errorf("classic (exit %d):\n%s--- stderr\n%s\ngontp (exit %d):\n%s--- stderr\n%s", cr.code, cr.stdout, cr.stderr, gr.code, gr.stdout, gr.stderr)
			}
			if gr.code != c.want {
				t.Errorf("gontp's exit status %d, want %d", gr.code, c.want)
			}
			if cr.file != gr.file {
				t.Errorf("the installed file differs between classic and gontp")
			}
			if gr.file != c.wantFile {
				t.Errorf("the file after the run is not the expected one (%d bytes, want %d)", len(gr.file), len(c.wantFile))
			}
		})
	}
}

// TestUnquotedLeapfileLine is where gontp does better than classic: Debian's ntp.conf names the
// file without quotes, which classic's pattern misses ("No leapfile directive").
func TestUnquotedLeapfileLine(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "leap.list")
	conf := filepath.Join(dir, "ntp.conf")
	if err := os.WriteFile(conf, []byte("driftfile /var/lib/ntp/ntp.drift\nleapfile "+target+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := leapList(t, time.Now().Add(300*24*time.Hour), false)
	url := server(t, map[string]string{"good.list": good})
	var so, se bytes.Buffer
	code := run([]string{"-t", "-f", conf, "-u", url + "/good.list", "-r", "1"}, env{
		stdout: &so, stderr: &se, uid: 0, now: time.Now, sleep: func(time.Duration) {},
		get:    func(u string, c *http.Client) (*http.Response, error) { return c.Get(u) },
		syslog: func(string) (logWriter, error) { return nil, fmt.Errorf("no syslog in tests") },
	})
	got, _ := os.ReadFile(target)
	if code != 0 || string(got) != good {
		t.Fatalf("exit %d, file %d bytes; stdout %q stderr %q", code, len(got), so.String(), se.String())
	}
	if !strings.Contains(so.String(), "Installed new "+target) {
		t.Errorf("stdout %q", so.String())
	}
}
