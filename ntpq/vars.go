// SPDX-License-Identifier: BSD-2-Clause

package ntpq

// Var is one name=value item of a mode-6 text response. Value is the text after '=' with
// surrounding white space removed and quotes kept (classic ntpq strips quotes only where a
// display asks for it); a name without '=' has an empty Value.
type Var struct {
	Name  string
	Value string
}

// Limits of classic ntpq's item parser (ntpq.c MAXVARLEN, MAXVALLEN): longer names or values
// are skipped.
const (
	maxVarLen = 256
	maxValLen = 2048
)

// ParseVars splits the reassembled text of a mode-6 response into its items the way classic
// ntpq's nextvar does, so that a reply classic ntpq can read is read the same way here:
//   - commas and white space between items are skipped;
//   - a name runs up to '=', ',', CR or LF, trailing white space removed;
//   - a value starting with '"' runs to the closing quote (commas inside are kept); otherwise
//     up to ',' or CR; trailing white space is removed;
//   - after a quoted value anything but ',' or CR (or the end) makes the rest unreadable:
//     parsing stops there, as it does in classic ntpq.
//
// Items whose name or value exceed classic's limits (255, 2047 characters) are dropped.
// ParseVars never fails; malformed input yields the items before the fault.
func ParseVars(data []byte) []Var {
	var out []Var
	i, n := 0, len(data)
	for {
		for i < n && (data[i] == ',' || isSpace(data[i])) {
			i++
		}
		if i >= n {
			return out
		}
		ns := i
		for i < n && data[i] != ',' && data[i] != '=' && data[i] != '\r' && data[i] != '\n' {
			i++
		}
		ne := i
		for ne > ns && isSpace(data[ne-1]) {
			ne--
		}
		name := string(data[ns:ne])
		if i >= n || data[i] != '=' {
			if len(name) < maxVarLen {
				out = append(out, Var{Name: name})
			}
			continue
		}
		i++ // past '='
		for i < n && isSpace(data[i]) && data[i] != '\r' && data[i] != '\n' {
			i++
		}
		vs := i
		if i < n && data[i] == '"' {
			i++
			for i < n && data[i] != '"' {
				i++
			}
			if i < n {
				i++ // closing quote
			}
			if i < n && data[i] != ',' && data[i] != '\r' {
				// Classic gives up on the rest of the response here.
				return out
			}
		} else {
			for i < n && data[i] != ',' && data[i] != '\r' {
				i++
			}
		}
		ve := i
		for ve > vs && isSpace(data[ve-1]) {
			ve--
		}
		if len(name) < maxVarLen && ve-vs < maxValLen {
			out = append(out, Var{Name: name, Value: string(data[vs:ve])})
		}
		if i < n && data[i] == ',' {
			i++
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// Lookup returns the value of the first item called name.
func Lookup(vars []Var, name string) (string, bool) {
	for _, v := range vars {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}
