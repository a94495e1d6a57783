package gatehouse

import (
	"strings"
	"unicode/utf8"
)

// Truncate returns s cut to at most n bytes, always valid UTF-8 without
// control characters: invalid byte sequences (a header may carry any
// bytes) and control characters other than line feed and tab (NUL, CR,
// ESC, DEL…) are dropped first, and the cut falls on a character boundary.
// Every length limit on stored text uses it: PostgreSQL refuses a text
// value with a split character or a NUL, which would turn a long user
// agent or a reset reason with a stray byte into a failed request.
func Truncate(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	if strings.IndexFunc(s, isDropped) >= 0 {
		s = strings.Map(func(r rune) rune {
			if isDropped(r) {
				return -1
			}
			return r
		}, s)
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}

// isDropped reports the control characters Truncate drops: C0 but line
// feed and tab (multi-line text such as a reason or a delivery error keeps
// its lines), and DEL.
func isDropped(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f
}
