package sqlite

import "testing"

// TestUnpackRefusesMalformed feeds unpack what SQLite never writes: each
// is refused, never read past its end.
func TestUnpackRefusesMalformed(t *testing.T) {
	read := func(s string) error {
		u := unpack{s: s}
		for u.more() {
			a, n := u.int(), u.int()
			_ = a
			u.text(n)
		}
		return u.err
	}
	if err := read("7 3 abc1 0 "); err != nil {
		t.Fatalf("well-formed rows: %v", err)
	}
	for _, s := range []string{"7", "7 ", "x 1 a", "7 4 abc", "7 -1 abc", "7 99999999999999999999 a", "7 3 abc1"} {
		if err := read(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}
