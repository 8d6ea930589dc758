// SPDX-License-Identifier: BSD-2-Clause

package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
)

// WriteTrace writes the samples as CSV: true time (s), the clock's offset from true time
// (s), its remaining frequency error (ppm) and the system peer.
func (r *Result) WriteTrace(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, "time_s,offset_s,freq_error_ppm,sys_peer")
	for _, s := range r.Samples {
		fmt.Fprintf(b, "%s,%s,%s,%s\n", strconv.FormatFloat(s.T.Seconds(), 'f', -1, 64),
			strconv.FormatFloat(s.Offset, 'g', 9, 64), strconv.FormatFloat(s.FreqErr, 'g', 6, 64),
			s.SysPeer)
	}
	return b.Flush()
}

// Plot geometry, in SVG user units.
const (
	plotW, plotH   = 900, 420
	padL, padR     = 90, 20
	padT, padB     = 40, 50
	plotBuckets    = 1200
	plotTicksY     = 4 // on each side of zero
	plotTicksX     = 8
	plotLineColour = "#1f5fa8"
)

// WritePlot draws the true offset over time as an SVG image. The vertical range is set by
// the largest offset after synchronisation (the initial offset would flatten everything
// that matters); larger values are clipped to the frame. Each of up to 1200 time buckets
// draws its minimum and maximum so that no spike is lost.
func (r *Result) WritePlot(w io.Writer) error {
	b := bufio.NewWriter(w)
	sc := r.Scenario
	span := sc.Duration.Seconds()
	lim := 0.0
	for _, s := range r.Samples {
		if s.T.Seconds() >= r.SyncTime || math.IsInf(r.SyncTime, 1) {
			lim = math.Max(lim, math.Abs(s.Offset))
		}
	}
	if lim == 0 {
		lim = 1e-6
	}
	lim = niceCeil(lim)
	x := func(t float64) float64 { return padL + t/span*(plotW-padL-padR) }
	y := func(v float64) float64 {
		v = math.Max(-lim, math.Min(lim, v))
		return padT + (lim-v)/(2*lim)*(plotH-padT-padB)
	}
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotW, plotH)
	fmt.Fprintf(b, `<text x="%d" y="22" font-size="15">%s: clock offset from true time</text>`+"\n", padL, xmlEscape(sc.Name))
	// Grid and labels.
	for i := -plotTicksY; i <= plotTicksY; i++ {
		v := lim * float64(i) / plotTicksY
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>`+"\n", padL, plotW-padR, y(v), y(v),
			map[bool]string{true: "#888", false: "#e4e4e4"}[i == 0])
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL-6, y(v)+4, xmlEscape(fmtSeconds(v)))
	}
	for i := 0; i <= plotTicksX; i++ {
		t := span * float64(i) / plotTicksX
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#e4e4e4"/>`+"\n", x(t), x(t), padT, plotH-padB)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(t), plotH-padB+16, xmlEscape(fmtHours(t)))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">simulated time</text>`+"\n", (plotW+padL)/2, plotH-10)
	fmt.Fprintf(b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">clock minus true time</text>`+"\n",
		(plotH+padT-padB)/2)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n",
		padL, padT, plotW-padL-padR, plotH-padT-padB)
	// The data: min and max per bucket.
	if len(r.Samples) > 0 {
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1" points="`, plotLineColour)
		bucket := span / plotBuckets
		i := 0
		for k := 0; k < plotBuckets && i < len(r.Samples); k++ {
			end := float64(k+1) * bucket
			lo, hi, n := math.Inf(1), math.Inf(-1), 0
			var tlo, thi float64
			for ; i < len(r.Samples) && r.Samples[i].T.Seconds() < end; i++ {
				s := r.Samples[i]
				if s.Offset < lo {
					lo, tlo = s.Offset, s.T.Seconds()
				}
				if s.Offset > hi {
					hi, thi = s.Offset, s.T.Seconds()
				}
				n++
			}
			if n == 0 {
				continue
			}
			if tlo > thi {
				lo, hi, tlo, thi = hi, lo, thi, tlo
			}
			fmt.Fprintf(b, "%.1f,%.1f %.1f,%.1f ", x(tlo), y(lo), x(thi), y(hi))
		}
		fmt.Fprintln(b, `"/>`)
	}
	fmt.Fprintln(b, "</svg>")
	return b.Flush()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtHours(s float64) string {
	switch {
	case s >= 2*86400:
		return strconv.FormatFloat(s/86400, 'f', -1, 64) + "d"
	case s >= 3600:
		return strconv.FormatFloat(math.Round(s/360)/10, 'f', -1, 64) + "h"
	case s >= 60:
		return strconv.FormatFloat(math.Round(s/6)/10, 'f', -1, 64) + "m"
	}
	return strconv.FormatFloat(math.Round(s*10)/10, 'f', -1, 64) + "s"
}

func xmlEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			out = append(out, "&lt;"...)
		case '>':
			out = append(out, "&gt;"...)
		case '&':
			out = append(out, "&amp;"...)
		case '"':
			out = append(out, "&quot;"...)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
