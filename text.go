package gatehouse

import (
	"strings"
	"unicode/utf8"
)

// Truncate returns s cut to at most n bytes, always valid UTF-8: invalid
// byte sequences (a header may carry any bytes) are dropped first, and the
// cut falls on a character boundary. Every length limit on stored text uses
// it: PostgreSQL refuses a text value with a split character, which would
// turn a long user agent into a failed sign-in.
func Truncate(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}
