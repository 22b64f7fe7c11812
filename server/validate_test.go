package server

import (
	"regexp"
	"strings"
	"testing"
)

// idRule is validID's rule as a regular expression, the form it was written
// in before it was checked byte by byte.
var idRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

// validID accepts exactly what idRule does: the ids a path may carry and
// nothing that could change an upstream path or query's meaning.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{
		"", "a", "_a", "-a", "a_b-c", "5f3a9c1e2b4d6a7c8e9f0a1b", "ocQHyuzHvysMo5N5VsXc",
		"a/b", "a?b", "a%2Fb", "a b", "a.b", "é", "a\x00", strings.Repeat("a", 100), strings.Repeat("a", 101),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validID(s), idRule.MatchString(s); got != want {
			t.Fatalf("validID(%q) = %v, the rule says %v", s, got, want)
		}
	})
}
