package mfa

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestRecoveryAlphabet(t *testing.T) {
	if len(RecoveryAlphabet) != 32 {
		t.Fatalf("alphabet has %d symbols, want 32", len(RecoveryAlphabet))
	}
	seen := map[rune]bool{}
	for _, r := range RecoveryAlphabet {
		if seen[r] {
			t.Errorf("symbol %q repeated", r)
		}
		seen[r] = true
	}
	for _, r := range "ilou" {
		if seen[r] {
			t.Errorf("alphabet holds ambiguous symbol %q", r)
		}
	}
}

// TestRecoveryEntropy asserts the bits a code carries from its alphabet and
// length: SPEC §4 asks for at least 64.
func TestRecoveryEntropy(t *testing.T) {
	bits := float64(RecoveryCodeLen) * math.Log2(float64(len(RecoveryAlphabet)))
	if bits < 64 {
		t.Errorf("a recovery code carries %.0f bits, want at least 64", bits)
	}
	if bits != 8*recoveryBytes {
		t.Errorf("a code carries %.0f bits but is drawn from %d random bits", bits, 8*recoveryBytes)
	}
}

var recoveryFormat = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$`)

func TestNewRecoveryCodes(t *testing.T) {
	all := map[string]bool{}
	for range 20 {
		codes, err := NewRecoveryCodes()
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != RecoveryCodeCount || RecoveryCodeCount != 8 {
			t.Fatalf("got %d codes, want 8", len(codes))
		}
		set := map[string]bool{}
		for _, c := range codes {
			if len(c) != RecoveryCodeLen {
				t.Errorf("code %q has %d symbols, want %d", c, len(c), RecoveryCodeLen)
			}
			if set[c] {
				t.Errorf("code %q repeated in one set", c)
			}
			set[c] = true
			if all[c] {
				t.Errorf("code %q repeated across sets", c)
			}
			all[c] = true
			f := FormatRecoveryCode(c)
			if !recoveryFormat.MatchString(f) {
				t.Errorf("FormatRecoveryCode(%q) = %q, want xxxx-xxxx-xxxx-xxxx", c, f)
			}
			if got, ok := NormalizeRecoveryCode(f); !ok || got != c {
				t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q", f, got, ok, c)
			}
			if got, ok := NormalizeRecoveryCode(c); !ok || got != c {
				t.Errorf("canonical code %q does not normalise to itself: %q, %v", c, got, ok)
			}
		}
	}
	// Every symbol shows up across 320 codes (5120 symbols): a code drawn
	// from part of the alphabet would carry fewer bits than claimed.
	used := map[rune]bool{}
	for c := range all {
		for _, r := range c {
			used[r] = true
		}
	}
	if len(used) != len(RecoveryAlphabet) {
		t.Errorf("%d of %d symbols used", len(used), len(RecoveryAlphabet))
	}
}

func TestFormatRecoveryCode(t *testing.T) {
	if got := FormatRecoveryCode("abcd0123efgh4567"); got != "abcd-0123-efgh-4567" {
		t.Errorf("FormatRecoveryCode = %q", got)
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	const canon = "7k2m9p4qa0b1c3d5"
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"canonical", canon, canon, true},
		{"recoveryFormat", "7k2m-9p4q-a0b1-c3d5", canon, true},
		{"upper case", "7K2M-9P4Q-A0B1-C3D5", canon, true},
		{"mixed case no hyphens", "7K2m9P4qA0b1C3d5", canon, true},
		{"spaces", "7k2m 9p4q a0b1 c3d5", canon, true},
		{"surrounding whitespace", "  7k2m-9p4q-a0b1-c3d5\n", canon, true},
		{"hyphens anywhere", "7-k-2m9p4qa0b1c3d5--", canon, true},
		{"en dash from a word processor", "7k2m–9p4q–a0b1–c3d5", canon, true},
		{"nbsp", "7k2m\u00a09p4q\u00a0a0b1\u00a0c3d5", canon, true},
		{"o read as 0", "7k2m-9p4q-aob1-c3d5", canon, true},
		{"O read as 0", "7k2m-9p4q-aOb1-c3d5", canon, true},
		{"l read as 1", "7k2m-9p4q-a0bl-c3d5", canon, true},
		{"I read as 1", "7k2m-9p4q-a0bI-c3d5", canon, true},
		{"empty", "", "", false},
		{"too short", "7k2m-9p4q-a0b1-c3d", "", false},
		{"too long", "7k2m-9p4q-a0b1-c3d5-x", "", false},
		{"u is not a symbol", "7k2m-9p4q-a0b1-c3du", "", false},
		{"punctuation", "7k2m.9p4q.a0b1.c3d5", "", false},
		{"underscore", "7k2m_9p4q_a0b1_c3d5", "", false},
		{"full-width letters", "７k2m-9p4q-a0b1-c3d5", "", false},
		{"kelvin sign folds to k elsewhere", "7\u212a2m-9p4q-a0b1-c3d5", "", false},
		{"very long", strings.Repeat("-", 100) + canon, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NormalizeRecoveryCode(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRecoveryWarnAt(t *testing.T) {
	if RecoveryWarnAt != 2 {
		t.Errorf("RecoveryWarnAt = %d, want 2", RecoveryWarnAt)
	}
}
