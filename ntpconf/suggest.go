// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

import "sort"

// suggest returns the candidate closest to word when it is close enough to be a typo
// (edit distance at most 2, and less than half the word), or "".
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	if len(word) > 40 {
		return ""
	}
	for _, c := range candidates {
		if len(c) > len(word)+2 || len(word) > len(c)+2 {
			continue
		}
		d := editDistance(word, c)
		if d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > 2 || bestD*2 > len(word) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance (Levenshtein plus adjacent
// transpositions, so "ibrust" is one edit from "iburst"). Words longer than 64 bytes are
// never close to a keyword.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	var rows [3][65]int // rows[i%3] is row i of the table
	for j := 0; j <= len(b); j++ {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur, prev, prev2 := &rows[i%3], &rows[(i-1)%3], &rows[(i+1)%3]
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
	}
	return rows[len(a)%3][len(b)]
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// didYouMean formats a suggestion suffix.
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return "; did you mean \"" + s + "\"?"
	}
	return ""
}
