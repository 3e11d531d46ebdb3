// Package spell suggests what a user meant when a name or key is not one of the known ones.
package spell

import (
	"fmt"
	"strings"
)

// Suggest returns ` (did you mean "x"?)` for the known word closest to word (case-insensitively)
// within two edits, or "".
func Suggest(word string, known []string) string {
	best, dist := "", 3
	for _, k := range known {
		if e := Distance(strings.ToLower(word), k); e < dist {
			best, dist = k, e
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Distance is the Levenshtein distance between a and b; words longer than 64 bytes are never
// close (99), so a hostile input costs nothing.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
