package account

import (
	"errors"
	"testing"
)

// The WCAG figures are stated independently: white on white is 1:1, black
// on white 21:1, and #767676 is the well-known lightest grey that passes AA.
func TestContrastOnWhite(t *testing.T) {
	for _, tt := range []struct {
		hex      string
		min, max float64
	}{
		{"#ffffff", 1, 1.001}, {"#000000", 20.99, 21.01}, {"#767676", 4.5, 4.6}, {"#777777", 4.4, 4.5},
	} {
		c, err := ContrastOnWhite(tt.hex)
		if err != nil || c < tt.min || c > tt.max {
			t.Errorf("ContrastOnWhite(%s) = %v, %v; want in [%v, %v]", tt.hex, c, err, tt.min, tt.max)
		}
	}
	for _, bad := range []string{"", "#fff", "2f5bd3", "#2f5bdz", "#2f5bd3 ", "#+f5bd3"} {
		if _, err := ContrastOnWhite(bad); !errors.Is(err, ErrAccentFormat) {
			t.Errorf("ContrastOnWhite(%q) err = %v", bad, err)
		}
	}
}
