// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import (
	"math"
	"strconv"
	"strings"
)

// tokKind mirrors the token classes of classic ntpd's scanner (ntp_scanner.c), because the
// grammar accepts or rejects a value by its class: "0x10" is an unsigned integer that
// "tos maxclock" refuses, "+5" is a double that "minpoll" refuses, "5." is a double.
type tokKind int

const (
	tkEOC     tokKind = iota + 1 // end of command: newline or end of file
	tkSpecial                    // one of { } ( ) , ; | =
	tkKeyword                    // a word of the classic keyword table
	tkString                     // any other word, or a quoted string
	tkInteger                    // fits a C int (classic T_Integer)
	tkUInt                       // above INT_MAX or hexadecimal (classic T_U_int)
	tkDouble                     // decimal with point, exponent or leading '+' (T_Double)
	tkV4Flag                     // -4
	tkV6Flag                     // -6
)

func (k tokKind) String() string {
	switch k {
	case tkEOC:
		return "end of line"
	case tkSpecial:
		return "punctuation"
	case tkKeyword:
		return "keyword"
	case tkString:
		return "word"
	case tkInteger:
		return "integer"
	case tkUInt:
		return "unsigned integer"
	case tkDouble:
		return "decimal number"
	case tkV4Flag:
		return "-4"
	case tkV6Flag:
		return "-6"
	}
	return "token"
}

type token struct {
	kind   tokKind
	text   string
	pos    Pos
	quoted bool
	ival   int64   // tkInteger (already truncated to 32 bits as classic's atoi does) and tkUInt
	fval   float64 // tkDouble
	wrap   bool    // the decimal digits did not fit 32 bits and were truncated as classic does
}

// follow is classic's "followed by" rule of a keyword: what the next word is read as.
type follow int

const (
	follToken     follow = iota // next word is looked up as keyword or number
	follString                  // next word is a string whatever it looks like (file names, hosts)
	follStringEOC               // every word up to the end of the line is a string
)

// maxLexeme is classic's MAX_LEXEME less the terminating NUL: longer words are refused.
const maxLexeme = 1024

const specialChars = "{}(),;|="

// lexLine splits one line (without its newline) into tokens the way classic ntpd's scanner
// does; it always ends the slice with a tkEOC. A word longer than maxLexeme is reported
// through tooLong; a string without its closing quote, which classic accepts silently,
// through unterminated.
func lexLine(file string, lineNo int, line string) (toks []token, tooLong, unterminated *Pos) {
	state := follToken
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '#':
			i = len(line)
			continue
		}
		pos := Pos{File: file, Line: lineNo, Col: i + 1}
		if c == '"' {
			j := strings.IndexByte(line[i+1:], '"')
			var s string
			if j < 0 { // classic accepts an unterminated string up to the end of the line
				s = line[i+1:]
				i = len(line)
				p := pos
				unterminated = &p
			} else {
				s = line[i+1 : i+1+j]
				i = i + 2 + j
			}
			if s == "" {
				// classic's scanner returns no token at all for "": driftfile "" is
				// driftfile without a name, and setvar a = "" default sets a to "default"
				continue
			}
			if len(s) > maxLexeme && tooLong == nil {
				p := pos
				tooLong = &p
			}
			toks = append(toks, token{kind: tkString, text: s, pos: pos, quoted: true})
			if state != follStringEOC {
				state = follToken
			}
			continue
		}
		if state == follToken && strings.IndexByte(specialChars, c) >= 0 {
			toks = append(toks, token{kind: tkSpecial, text: string(c), pos: pos})
			i++
			if c == '=' {
				// classic: "=" means one string follows, as in setvar Owner = "The Boss"
				state = follString
			}
			continue
		}
		j := i
		for j < len(line) {
			d := line[j]
			if d == ' ' || d == '\t' || d == '\r' || d == '\f' || d == '\v' || d == '#' || d == '"' {
				break
			}
			if state == follToken && strings.IndexByte(specialChars, d) >= 0 {
				break
			}
			j++
		}
		word := line[i:j]
		i = j
		if len(word) > maxLexeme && tooLong == nil {
			p := pos
			tooLong = &p
		}
		t := token{text: word, pos: pos}
		switch {
		case word == "-4":
			t.kind = tkV4Flag
		case word == "-6":
			t.kind = tkV6Flag
		case state != follToken:
			t.kind = tkString
		default:
			if f, ok := keywords[word]; ok {
				t.kind = tkKeyword
				toks = append(toks, t)
				state = f
				continue
			}
			classifyNumber(&t)
		}
		toks = append(toks, t)
		if state == follString && t.kind == tkString {
			state = follToken
		}
	}
	toks = append(toks, token{kind: tkEOC, pos: Pos{File: file, Line: lineNo, Col: len(line) + 1}})
	return toks, tooLong, unterminated
}

// classifyNumber gives a word classic's number class and value: is_integer, then is_u_int,
// then is_double, else a string. Decimal integers that overflow are truncated to 32 bits
// exactly as classic's sscanf/atoi do ("99999999999" becomes 1215752191); the token is
// marked so the parser can warn.
func classifyNumber(t *token) {
	w := t.text
	t.kind = tkString
	if w == "" {
		return
	}
	// is_integer: optional '-', then digits only.
	neg := w[0] == '-'
	digits := w
	if neg {
		digits = w[1:]
	}
	if allDigits(digits) {
		if neg {
			v, wrapped := cStrtol(w)
			t.kind, t.ival, t.wrap = tkInteger, int64(int32(v)), wrapped || v != int64(int32(v))
			return
		}
		u64, sat := cStrtoul(digits)
		if uint32(u64) <= math.MaxInt32 {
			v, _ := cStrtol(w)
			t.kind, t.ival = tkInteger, int64(int32(v))
			t.wrap = sat || u64 > math.MaxInt32
			return
		}
		t.kind, t.ival = tkUInt, int64(uint32(u64))
		t.wrap = sat || u64 > math.MaxUint32
		return
	}
	// is_u_int with a 0x prefix.
	if len(w) >= 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') {
		hex := w[2:]
		ok := true
		for k := 0; k < len(hex); k++ {
			if !isHex(hex[k]) {
				ok = false
				break
			}
		}
		if ok {
			var v uint64
			sat := false
			for k := 0; k < len(hex); k++ {
				d := uint64(hexVal(hex[k]))
				if v > (math.MaxUint64-d)/16 {
					sat = true
					v = math.MaxUint64
					break
				}
				v = v*16 + d
			}
			t.kind, t.ival, t.wrap = tkUInt, int64(uint32(v)), sat || v > math.MaxUint32
			return
		}
	}
	if isCDouble(w) {
		t.kind, t.fval = tkDouble, cAtof(w)
	}
}

func allDigits(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] < '0' || s[k] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// cStrtoul converts decimal digits saturating at 2^64-1 like glibc's strtoul.
func cStrtoul(digits string) (uint64, bool) {
	var v uint64
	for k := 0; k < len(digits); k++ {
		d := uint64(digits[k] - '0')
		if v > (math.MaxUint64-d)/10 {
			return math.MaxUint64, true
		}
		v = v*10 + d
	}
	return v, false
}

// cStrtol converts an optionally negative decimal saturating like glibc's strtol (64 bit).
func cStrtol(w string) (int64, bool) {
	neg := strings.HasPrefix(w, "-")
	if neg {
		w = w[1:]
	}
	u, sat := cStrtoul(w)
	if neg {
		if sat || u > 1<<63 {
			return math.MinInt64, true
		}
		return -int64(u), false
	}
	if sat || u > math.MaxInt64 {
		return math.MaxInt64, true
	}
	return int64(u), false
}

// isCDouble is classic's is_double: [+-]digits[.digits][(e|E)[+-]digits] with at least one
// digit before the exponent; the exponent digits may be missing ("1e" is 1).
func isCDouble(w string) bool {
	i, n := 0, 0
	if i < len(w) && (w[i] == '+' || w[i] == '-') {
		i++
	}
	for i < len(w) && w[i] >= '0' && w[i] <= '9' {
		i++
		n++
	}
	if i < len(w) && w[i] == '.' {
		i++
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			i++
			n++
		}
	}
	if n == 0 {
		return false
	}
	if i < len(w) && (w[i] == 'e' || w[i] == 'E') {
		i++
		if i < len(w) && (w[i] == '+' || w[i] == '-') {
			i++
		}
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			i++
		}
	}
	return i == len(w)
}

// cAtof converts what isCDouble accepted, as C's atof does: an exponent without digits is
// ignored and overflow gives infinity.
func cAtof(w string) float64 {
	if k := strings.IndexAny(w, "eE"); k >= 0 {
		exp := w[k+1:]
		exp = strings.TrimLeft(exp, "+-")
		if exp == "" {
			w = w[:k]
		}
	}
	f, err := strconv.ParseFloat(w, 64)
	if err != nil {
		// ParseFloat reports range errors with ±Inf or 0, which is what C returns too.
		return f
	}
	return f
}

// formatDouble is classic's normal_dtoa: printf("%g") with leading zeros of a negative
// exponent removed ("1e-7", but "1.21575e+09").
func formatDouble(d float64) string {
	switch {
	case math.IsInf(d, 1):
		return "inf"
	case math.IsInf(d, -1):
		return "-inf"
	case math.IsNaN(d):
		return "nan"
	}
	s := strconv.FormatFloat(d, 'g', 6, 64)
	if k := strings.Index(s, "e-"); k >= 0 {
		exp := strings.TrimLeft(s[k+2:], "0")
		s = s[:k+2] + exp
	}
	return s
}
