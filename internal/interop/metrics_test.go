// SPDX-License-Identifier: BSD-2-Clause

package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gontp/internal/testnet"
)

// wantMetrics are the metrics issue 18 lists: system, per association, server, control,
// statistics files and build information.
var wantMetrics = []string{
	"ntp_build_info",
	"ntp_system_stratum", "ntp_system_offset_seconds", "ntp_system_frequency_ratio",
	"ntp_system_jitter_seconds", "ntp_system_clock_jitter_seconds", "ntp_system_clock_wander_ratio",
	"ntp_system_root_delay_seconds", "ntp_system_root_dispersion_seconds", "ntp_system_leap_indicator",
	"ntp_system_clock_state", "ntp_system_synchronized", "ntp_system_sync_source_info",
	"ntp_system_poll_interval_seconds", "ntp_system_precision_seconds",
	"ntp_peer_info", "ntp_peer_reach", "ntp_peer_offset_seconds", "ntp_peer_delay_seconds",
	"ntp_peer_jitter_seconds", "ntp_peer_dispersion_seconds", "ntp_peer_poll_interval_seconds",
	"ntp_peer_stratum", "ntp_peer_packets_sent_total", "ntp_peer_packets_received_total",
	"ntp_server_uptime_seconds", "ntp_server_packets_received_total", "ntp_server_packets_processed_total",
	"ntp_server_packets_sent_total", "ntp_server_packets_dropped_total", "ntp_server_restricted_total",
	"ntp_server_rate_limited_total", "ntp_server_kod_sent_total", "ntp_server_mru_entries",
	"ntp_engine_packets_dropped_total",
	"ntp_control_requests_total", "ntp_control_responses_total", "ntp_control_errors_total",
	"ntp_stats_lines_written_total", "ntp_stats_dropped_total", "ntp_stats_failed_total",
}

// httpGet fetches url from inside h's network namespace (the connection is made there; the
// rest does not depend on the namespace).
func httpGet(h *testnet.Host, url string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	if err := h.Do(func() error {
		var err error
		conn, err = net.DialTimeout("tcp", req.URL.Host, 5*time.Second)
		return err
	}); err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	req.Close = true
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return b, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return b, err
}

// TestMetricsScrapedByPrometheus: gontp with `metrics ADDR:9975` synchronises to chronyd in
// the private network; a real Prometheus server (Debian's), started on a private address
// with a configuration of the test's own, scrapes it; every listed metric arrives, the
// target is up, and `promtool check metrics` finds nothing to complain about.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	t.Parallel() // minutes of waiting on its own network: runs beside the others
	testnet.Reference(t, "chronyd")
	prom, promtool := needProgram(t, "prometheus"), needProgram(t, "promtool")
	ntpd := binary(t, "ntpd")
	tn := testnet.New(t)
	ch, gh, ph := tn.Host("chrony"), tn.Host("gontp"), tn.Host("prometheus")
	testnet.Chronyd(t, ch, "local stratum 8\nallow\n")
	target := fmt.Sprintf("%s:9975", gh.Addr())
	conf := testnet.WriteFile(t, "ntp.conf", fmt.Sprintf("server %s iburst minpoll 4\nmetrics %s\nmetrics 127.0.0.1:9975\n", ch.Addr(), target))
	glog := filepath.Join(t.TempDir(), "ntpd.log")
	gh.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		ntpd, "-n", "-c", conf, "-l", glog, "--virtual-clock", "0.01,0")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(glog)
			t.Logf("gontp's log:\n%s", b)
		}
	}()
	// Synchronised first, so that the sync source and the system peer's series exist.
	var body []byte
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		body, err = httpGet(gh, "http://"+target+"/metrics")
		if err == nil && bytes.Contains(body, []byte("\nntp_system_synchronized 1\n")) {
			break
		}
	}
	if !bytes.Contains(body, []byte("\nntp_system_synchronized 1\n")) {
		t.Fatalf("gontp not synchronised after 60 s (%v):\n%s", err, body)
	}
	if b, err := httpGet(gh, "http://127.0.0.1:9975/metrics"); err != nil || !bytes.Contains(b, []byte("ntp_build_info")) {
		t.Errorf("second metrics line (127.0.0.1:9975): %v", err)
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	dir := t.TempDir()
	promConf := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(promConf, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gontp
    static_configs:
      - targets: ['%s']
`, target)), 0o644)
	if out, err := exec.Command(promtool, "check", "config", promConf).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	p := ph.Start(t, prom, "--config.file="+promConf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:9090")
	api := "http://127.0.0.1:9090/api/v1/"
	var names struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	missing := wantMetrics
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && len(missing) > 0; time.Sleep(time.Second) {
		b, err := httpGet(ph, api+"label/__name__/values")
		if err != nil || json.Unmarshal(b, &names) != nil {
			continue
		}
		have := map[string]bool{}
		for _, n := range names.Data {
			have[n] = true
		}
		missing = missing[:0:0]
		for _, n := range wantMetrics {
			if !have[n] {
				missing = append(missing, n)
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("Prometheus has not scraped %v; its log:\n%s", missing, p.Log())
	}
	b, err := httpGet(ph, api+`query?query=up%7Bjob%3D%22gontp%22%7D`)
	if err != nil || !strings.Contains(string(b), `"value":[`) || !strings.Contains(string(b), `,"1"]`) {
		t.Errorf("up{job=gontp}: %v %s", err, b)
	}
	b, err = httpGet(ph, api+`query?query=ntp_peer_info%7Bselection%3D%22sys_peer%22%7D`)
	if err != nil || !strings.Contains(string(b), ch.Addr().String()) {
		t.Errorf("ntp_peer_info{selection=\"sys_peer\"}: %v %s", err, b)
	}
	t.Logf("Prometheus scraped all %d metrics; a sample of the endpoint:\n%s", len(wantMetrics), grepLines(body, "ntp_system_", "ntp_peer_info"))
}

// needProgram returns the path of a program scripts/install-test-deps installs; without it
// the test skips, or fails under CI=true.
func needProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s is not installed (scripts/install-test-deps installs it): %v", name, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// grepLines returns the lines of b that start with one of prefixes.
func grepLines(b []byte, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestNtpqJSON: gontp's `ntpq --json` against gontp's daemon (synchronised to chronyd in the
// private network): every covered command's output parses with `python3 -m json.tool`, and
// the peers rows agree with the text table printed just before or just after.
func TestNtpqJSON(t *testing.T) {
	testnet.Reference(t, "chronyd")
	ntpd, ntpq := binary(t, "ntpd"), binary(t, "ntpq")
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = "python3"
	}
	tn := testnet.New(t)
	ch, gh, cli := tn.Host("chrony"), tn.Host("gontp"), tn.Host("client")
	testnet.Chronyd(t, ch, "local stratum 8\nallow\n")
	conf := testnet.WriteFile(t, "ntp.conf", fmt.Sprintf("server %s iburst minpoll 6\nserver 198.18.0.250 minpoll 6\n", ch.Addr()))
	gh.Start(t, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		ntpd, "-n", "-c", conf, "--virtual-clock", "0.01,0")
	if _, err := cli.WaitSynced(gh.Addr(), 60*time.Second); err != nil {
		t.Fatalf("gontp not synchronised: %v", err)
	}
	host := gh.Addr().String()
	for _, args := range [][]string{{"-p"}, {"-c", "rv"}, {"-c", "rv &1"}, {"-c", "associations"}, {"-c", "sysinfo"},
		{"-c", "sysstats"}, {"-c", "mrulist"}, {"-c", "rv", "-c", "as"}} {
		out, stderr, err := runIn(cli, ntpq, append(append([]string{"--json"}, args...), host)...)
		if err != nil {
			t.Errorf("ntpq --json %v: %v\n%s", args, err, stderr)
			continue
		}
		tool := exec.Command(py, "-m", "json.tool")
		tool.Stdin = strings.NewReader(out)
		if b, err := tool.CombinedOutput(); err != nil {
			t.Errorf("ntpq --json %v | python3 -m json.tool: %v\n%s\ninput:\n%s", args, err, b, out)
		}
	}
	a, _, errA := runIn(cli, ntpq, "-pn", host)
	js, _, errJ := runIn(cli, ntpq, "--json", "-pn", host)
	b, _, errB := runIn(cli, ntpq, "-pn", host)
	if errA != nil || errJ != nil || errB != nil {
		t.Fatalf("ntpq: %v %v %v", errA, errJ, errB)
	}
	var doc struct {
		Host    string
		Command string
		Result  struct {
			Peers []struct {
				Tally, Remote, RefID, Type string
				Stratum                    int
				When                       *int64
				Poll                       int64
				Reach                      uint64
				Delay, Offset, Jitter      float64
			}
		}
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if doc.Command != "peers" || len(doc.Result.Peers) != 2 {
		t.Fatalf("want the two peers:\n%s", js)
	}
	var lines []string
	for _, p := range doc.Result.Peers {
		when := "-" // the table shows 0 seconds as "-" too
		if p.When != nil && *p.When != 0 {
			when = fmt.Sprint(*p.When)
		}
		ms := func(s float64) string { return fmt.Sprintf("%.3f", s*1e3) }
		lines = append(lines, fmt.Sprintf("%s%s %s %d %s %s %d %o %s %s %s", strings.TrimSpace(p.Tally), p.Remote, p.RefID, p.Stratum, p.Type,
			when, p.Poll, p.Reach, ms(p.Delay), strings.TrimPrefix(ms(p.Offset), "+"), ms(p.Jitter)))
	}
	// The text rows, tokens joined by one blank ("+" of the offset dropped, "-" when kept).
	norm := func(text string) []string {
		var rows []string
		for _, l := range strings.Split(strings.TrimSpace(text), "\n")[2:] {
			f := strings.Fields(l)
			f[len(f)-2] = strings.TrimPrefix(f[len(f)-2], "+")
			rows = append(rows, strings.Join(f, " "))
		}
		return rows
	}
	ra, rb := norm(a), norm(b)
	for i, l := range lines {
		if (i >= len(ra) || l != ra[i]) && (i >= len(rb) || l != rb[i]) {
			t.Errorf("JSON row %d does not agree with the table:\njson: %s\ntext: %v\ntext: %v", i, l, ra, rb)
		}
	}
	t.Logf("ntpq -pn:\n%s\nntpq --json -pn:\n%s", a, js)
}
