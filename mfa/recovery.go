package mfa

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"unicode"
)

// RecoveryCodeCount is how many recovery codes a user gets at a time.
const RecoveryCodeCount = 8

// RecoveryWarnAt is the number of unused recovery codes at or below which the
// user is warned to generate a new set.
const RecoveryWarnAt = 2

// RecoveryAlphabet is the alphabet of recovery codes: Douglas Crockford's
// base32 in lower case. Of 0-9 and a-z it leaves out i, l and o, which are
// easily mistaken for 1 and 0, and u (so that codes do not spell words).
//
// No 32 symbols of 0-9a-z avoid every look-alike pair, so instead of
// dropping a pair the input side forgives it, as Crockford specifies: i and l
// are read as 1, o as 0. Whatever a user believes they see on a printout,
// the code is read the same.
const RecoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// RecoveryCodeLen is the number of symbols in a recovery code. Each symbol
// carries 5 bits, so a code carries 80 bits: out of reach of guessing even
// if the attempt limits were bypassed, and more than the 64 bits SPEC §4
// asks for.
const RecoveryCodeLen = 16

// recoveryBytes is the randomness of one code: 10 bytes are exactly 80 bits,
// exactly 16 base32 symbols, so every code is equally likely.
const recoveryBytes = RecoveryCodeLen * 5 / 8

var recoveryEncoding = base32.NewEncoding(RecoveryAlphabet).WithPadding(base32.NoPadding)

// NewRecoveryCodes returns RecoveryCodeCount new, distinct recovery codes in
// canonical form (16 symbols, no hyphens): store their MACs and show them
// with FormatRecoveryCode.
func NewRecoveryCodes() ([]string, error) {
	codes := make([]string, 0, RecoveryCodeCount)
	seen := make(map[string]bool, RecoveryCodeCount)
	b := make([]byte, recoveryBytes)
	for len(codes) < RecoveryCodeCount {
		// crypto/rand.Read never returns an error: it crashes the program
		// if the system's randomness fails.
		rand.Read(b)
		c := recoveryEncoding.EncodeToString(b)
		// A repeat is astronomically unlikely at 80 bits, but two equal
		// codes would share a MAC and break "each code works once".
		if seen[c] {
			continue
		}
		seen[c] = true
		codes = append(codes, c)
	}
	return codes, nil
}

// FormatRecoveryCode returns a canonical code as shown to the user, in
// groups of four separated by hyphens: xxxx-xxxx-xxxx-xxxx.
func FormatRecoveryCode(canonical string) string {
	var b strings.Builder
	for i := 0; i < len(canonical); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(canonical[i:min(i+4, len(canonical))])
	}
	return b.String()
}

// NormalizeRecoveryCode returns the canonical form of a typed recovery code,
// the form its MAC is made of, and reports whether it is one. Case does not
// matter; hyphens (and other dashes a word processor may have put in their
// place) and whitespace are ignored wherever they are; i and l are read as
// 1, and o as 0. What remains must be 16 symbols of RecoveryAlphabet.
func NormalizeRecoveryCode(input string) (string, bool) {
	if len(input) > 4*RecoveryCodeLen {
		return "", false
	}
	var b strings.Builder
	for _, r := range input {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) {
			continue
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		switch r {
		case 'i', 'l':
			r = '1'
		case 'o':
			r = '0'
		}
		// Only ASCII symbols of the alphabet: no Unicode case folding that
		// could turn some other character into a valid symbol.
		if r > unicode.MaxASCII || !strings.ContainsRune(RecoveryAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != RecoveryCodeLen {
		return "", false
	}
	return b.String(), true
}
