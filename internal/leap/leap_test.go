// SPDX-License-Identifier: BSD-2-Clause

package leap

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const sample = `#	leap-seconds.list, a test copy
#$	3676924800
#@	3707596800
#
3550089600	35	# 1 Jul 2012
3644697600	36	# 1 Jul 2015
3692217600	37	# 1 Jan 2017
`

// withHash appends the "#h" line the publisher would: SHA-1 over the digits of the "#$"
// and "#@" values and of the data lines, in file order, as five hex words.
func withHash(body string) string {
	h := sha1.New()
	for _, l := range strings.Split(body, "\n") {
		switch {
		case strings.HasPrefix(l, "#$"), strings.HasPrefix(l, "#@"):
			l = l[2:]
		case strings.HasPrefix(l, "#"):
			continue
		default:
			l, _, _ = strings.Cut(l, "#")
		}
		for _, c := range l {
			if c >= '0' && c <= '9' {
				h.Write([]byte{byte(c)})
			}
		}
	}
	sum := h.Sum(nil)
	return body + fmt.Sprintf("#h\t%x %x %x %x %x\n", sum[0:4], sum[4:8], sum[8:12], sum[12:16], sum[16:20])
}

func TestSystemFile(t *testing.T) {
	const path = "/usr/share/zoneinfo/leap-seconds.list"
	data, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (CI installs tzdata)", path, err)
		}
		t.Skipf("no %s: %v", path, err)
	}
	tab, err := Parse(bytes.NewReader(data), true)
	if err != nil {
		t.Fatalf("the distribution's leap-seconds.list fails: %v", err)
	}
	if !tab.Hashed || tab.Last().TAI != 37 || !tab.Last().At.Equal(time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("last entry %+v hashed %v", tab.Last(), tab.Hashed)
	}
	if got := tab.TAI(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); got != 37 {
		t.Errorf("TAI-UTC in 2020: %d", got)
	}
	if got := tab.TAI(time.Date(1990, 6, 1, 0, 0, 0, 0, time.UTC)); got != 25 {
		t.Errorf("TAI-UTC in mid 1990: %d", got)
	}
	t.Log(tab.LoadedMessage(path))
	// One changed digit breaks the hash.
	bad := bytes.Replace(data, []byte("3692217600\t37"), []byte("3692217600\t38"), 1)
	if bytes.Equal(bad, data) {
		bad = bytes.Replace(data, []byte("37"), []byte("38"), 1)
	}
	if _, err := Parse(bytes.NewReader(bad), true); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("tampered file: %v, want ErrHashMismatch", err)
	}
	if _, err := Parse(bytes.NewReader(bad), false); err != nil && !strings.Contains(err.Error(), "TAI offset changes") &&
		!errors.Is(err, ErrNotMonthEnd) {
		t.Errorf("tampered file with ignorehash: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"no hash":        sample,
		"bad hash":       sample + "#h 1 2 3\n",
		"hash mismatch":  sample + "#h 1 2 3 4 5\n",
		"no expiry":      "#$ 1\n2272060800 10\n",
		"empty":          "#@ 3707596800\n",
		"bad time":       "#@ 3707596800\nabc 10\n",
		"one field":      "#@ 3707596800\n2272060800\n",
		"not increasing": "#@ 3707596800\n2287785600 10\n2272060800 11\n",
		"jump":           "#@ 3707596800\n2272060800 10\n2287785600 13\n",
	}
	for name, in := range cases {
		if _, err := Parse(strings.NewReader(in), true); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	tab, err := Parse(strings.NewReader(sample), false)
	if err != nil || tab.Hashed {
		t.Fatalf("ignorehash: %v", err)
	}
	tab, err = Parse(strings.NewReader(withHash(sample)), true)
	if err != nil || !tab.Hashed {
		t.Fatalf("hashed sample: %v", err)
	}
}

func TestNextLeapAndExpiry(t *testing.T) {
	tab, err := Parse(strings.NewReader(sample), false)
	if err != nil {
		t.Fatal(err)
	}
	at, ins, ok := tab.NextLeap(time.Date(2016, 12, 31, 12, 0, 0, 0, time.UTC))
	if !ok || !ins || !at.Equal(time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("31 Dec 2016: next leap %v insert %v ok %v, want an insertion at 1 Jan 2017", at, ins, ok)
	}
	if _, _, ok := tab.NextLeap(time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("after the last leap nothing is next")
	}
	var w Warner
	now := tab.Expires.Add(48 * time.Hour)
	if !tab.Expired(now) {
		t.Error("not expired")
	}
	msg, ok := w.Check(tab, "/x", now)
	if !ok || msg != "leapsecond file ('/x'): expired 2 days ago" {
		t.Errorf("%q %v", msg, ok)
	}
	if _, ok := w.Check(tab, "/x", now.Add(time.Hour)); ok {
		t.Error("warned again within the day")
	}
	if _, ok := w.Check(tab, "/x", now.Add(25*time.Hour)); !ok {
		t.Error("no warning the next day")
	}
	var w2 Warner
	if msg, ok := w2.Check(tab, "/x", tab.Expires.Add(-36*time.Hour)); !ok || !strings.Contains(msg, "less than 2 days") {
		t.Errorf("near expiry: %q %v", msg, ok)
	}
	if _, ok := w2.Check(tab, "/y", tab.Expires.Add(-60*24*time.Hour)); ok {
		t.Error("warned 60 days before expiry")
	}
}

// TestLeapNotAtMonthEnd: a leap second announced for another midnight than a month's end
// is bad input: the file is rejected with the line that says it.
func TestLeapNotAtMonthEnd(t *testing.T) {
	// 3692304000 is 2 Jan 2017 00:00:00 UTC.
	in := "#@ 3707596800\n3644697600 36\n3692304000 37\n"
	_, err := Parse(strings.NewReader(in), false)
	if !errors.Is(err, ErrNotMonthEnd) || !strings.Contains(err.Error(), "line 3:") ||
		!strings.Contains(err.Error(), "2017-01-02 00:00:00") {
		t.Fatalf("err %v, want ErrNotMonthEnd on line 3 naming 2017-01-02", err)
	}
	// One second off midnight is as wrong.
	in = "#@ 3707596800\n3692217601 37\n"
	if _, err := Parse(strings.NewReader(in), false); !errors.Is(err, ErrNotMonthEnd) {
		t.Fatalf("err %v, want ErrNotMonthEnd", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample), true)
	f.Add([]byte(sample+"#h 1 2 3 4 5\n"), true)
	if data, err := os.ReadFile("/usr/share/zoneinfo/leap-seconds.list"); err == nil {
		f.Add(data, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, check bool) {
		tab, err := Parse(bytes.NewReader(data), check)
		if err != nil {
			return
		}
		if len(tab.Entries) == 0 || tab.Expires.IsZero() {
			t.Fatalf("accepted a table without entries or expiry")
		}
		for i := 1; i < len(tab.Entries); i++ {
			if !tab.Entries[i].At.After(tab.Entries[i-1].At) {
				t.Fatalf("entries out of order")
			}
		}
		now := tab.Entries[0].At
		tab.TAI(now)
		tab.NextLeap(now)
		var w Warner
		w.Check(tab, "f", now)
		_ = tab.LoadedMessage("f")
	})
}
