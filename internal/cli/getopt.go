// SPDX-License-Identifier: BSD-2-Clause

package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// Getopt walks args as classic's ntp_getopt (POSIX getopt) does for a Getopt-style program
// such as ntpdate or ntptime: letters may be clustered (-qu), a value attached (-p2) or the
// next argument (-p 2), and the options end at the first operand or at "--". It calls visit
// for each letter of the table with its value, and returns the operands and, in the order
// they arose, classic's messages for an unknown letter ("PROG: unknown option -x") or a
// missing value ("PROG: option requires argument -x") and those visit returns (non-empty);
// parsing goes on after any of them, as classic's loop does.
func (p *Program) Getopt(prog string, args []string, visit func(o *Option, arg string) (msg string)) (operands, msgs []string) {
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			opt := p.Lookup(c)
			if opt == nil {
				msgs = append(msgs, fmt.Sprintf("%s: unknown option -%c", prog, c))
				continue
			}
			var arg string
			if opt.Arg != None {
				switch {
				case j+1 < len(a):
					arg = a[j+1:]
				case i+1 < len(args):
					i++
					arg = args[i]
				default:
					msgs = append(msgs, fmt.Sprintf("%s: option requires argument -%c", prog, c))
					j = len(a)
					continue
				}
				j = len(a)
			}
			if m := visit(opt, arg); m != "" {
				msgs = append(msgs, m)
			}
		}
	}
	return args[i:], msgs
}

// Atoi is C's atoi, as classic's programs read numeric values: leading blanks, an optional
// sign, then digits up to the first non-digit; no digits gives 0. Values are clamped to the
// int32 range instead of overflowing.
func Atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := int64(0)
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			break
		}
		n = min(n*10+int64(c-'0'), 1<<31)
	}
	if neg {
		n = -n
	}
	return int(max(min(n, 1<<31-1), -1<<31))
}

// Atof is C's atof for the decimal forms classic's options take: the longest prefix that
// parses as a number, 0 when none does.
func Atof(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	for end := len(s); end > 0; end-- {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
	}
	return 0
}
