package gatehouse_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"ascii", "abcdef", 5, "abcde"},
		{"two-byte character at the cut", "abcdé", 5, "abcd"},
		{"two-byte character before the cut", "abcé", 5, "abcé"},
		{"four-byte character across the cut", "ab😀cd", 4, "ab"},
		{"zero", "é", 0, ""},
		{"invalid bytes dropped", "ab\xffcd", 10, "abcd"},
		{"invalid bytes dropped before cutting", "\xff\xfeabcdé", 5, "abcd"},
		{"negative", "abc", -1, ""},
		{"NUL dropped", "lost phone\x00", 20, "lost phone"},
		{"control characters dropped, lines and tabs kept", "a\x00b\r\nc\td\x1b[1me\x7f", 20, "ab\nc\td[1me"},
		{"control characters dropped before cutting", "\x00\x01abcdé", 5, "abcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gatehouse.Truncate(tt.s, tt.n)
			if got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
			if !utf8.ValidString(got) || len(got) > max(tt.n, 0) {
				t.Errorf("Truncate(%q, %d) = %q: invalid or too long", tt.s, tt.n, got)
			}
		})
	}
	// Every cut of a string of mixed widths is a prefix that is valid.
	s := strings.Repeat("aé€😀", 20)
	for n := range len(s) + 2 {
		got := gatehouse.Truncate(s, n)
		if !strings.HasPrefix(s, got) || !utf8.ValidString(got) || len(got) > n || len(got) < n-3 {
			t.Fatalf("Truncate(s, %d) = %q", n, got)
		}
	}
}
