package mfa

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// TOTP parameters (RFC 6238). They are what every authenticator app assumes
// when a URI says nothing, and they are written into the URI all the same.
const (
	TOTPDigits     = 6
	TOTPPeriod     = 30 * time.Second
	TOTPSecretSize = 20 // bytes: 160 bits, the length RFC 4226 §4 recommends
	// TOTPSkew is how many steps before and after the current one are
	// accepted, to forgive a phone clock that is a little off and a code
	// typed just as it changed.
	TOTPSkew = 1
)

// maxCodeInput bounds the input NormalizeCode looks at: a code with spaces is
// a few characters long, and anything much longer is not worth scanning.
const maxCodeInput = 64

var totpSecretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpOpts are the options for pquerna's HOTP, which computes the code of
// one step: HMAC-SHA1 and dynamic truncation to 6 digits (RFC 4226 §5.3).
var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTPSecret returns a new random 160-bit TOTP secret as unpadded
// base32, the form authenticator apps expect.
func NewTOTPSecret() (secret string, err error) {
	b := make([]byte, TOTPSecretSize)
	// crypto/rand.Read never returns an error: it crashes the program if the
	// system's randomness fails, rather than handing out a guessable secret.
	rand.Read(b)
	return totpSecretEncoding.EncodeToString(b), nil
}

// TOTPURI returns the otpauth:// URI that authenticator apps read from a QR
// code (Google's Key Uri Format): the label is "issuer:account", and the
// issuer, algorithm, digits and period are repeated as parameters. The
// issuer is the workspace name and the account the user's e-mail.
//
// The URI is built here rather than with pquerna's totp.Generate: that
// escapes values with url.PathEscape, which leaves '&', '=' and '+' as they
// are, so a workspace called "Smith & Jones" came out as issuer "Smith ".
// Here every value is escaped as a query component, with spaces as %20
// (some apps show a '+' literally), and pquerna's otp.Key parses the result
// back to the same issuer, account and secret (see the tests).
//
// A colon may not appear in the issuer or the account, literally or
// escaped: it separates them in the label. Colons are therefore removed.
func TOTPURI(secret, issuer, account string) string {
	issuer = labelPart(issuer)
	account = labelPart(account)
	label := uriEscape(account)
	if issuer != "" {
		label = uriEscape(issuer) + ":" + label
	}
	var q strings.Builder
	q.WriteString("secret=" + uriEscape(canonicalSecret(secret)))
	if issuer != "" {
		q.WriteString("&issuer=" + uriEscape(issuer))
	}
	q.WriteString("&algorithm=SHA1&digits=6&period=30")
	return "otpauth://totp/" + label + "?" + q.String()
}

// labelPart removes colons and surrounding spaces from an issuer or account.
func labelPart(s string) string {
	s = strings.ReplaceAll(s, ":", "")
	return strings.Join(strings.Fields(s), " ")
}

// uriEscape escapes s for a URI path segment or query value alike: every
// reserved character (including '&', '=', '+', '/', '?', '#') is
// percent-encoded, and a space is %20 rather than '+'. '@' is legal in both
// places and stays, so an e-mail account reads as one.
func uriEscape(s string) string {
	return strings.NewReplacer("+", "%20", "%40", "@").Replace(url.QueryEscape(s))
}

// canonicalSecret puts a secret in the form apps expect: upper case,
// unpadded, without the spaces of the grouped form.
func canonicalSecret(secret string) string {
	secret = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '=' {
			return -1
		}
		return unicode.ToUpper(r)
	}, secret)
	return secret
}

// GroupSecret returns the secret in groups of four characters separated by
// spaces, for typing into an app by hand. Apps ignore the spaces, and so
// does this package.
func GroupSecret(secret string) string {
	secret = canonicalSecret(secret)
	var b strings.Builder
	for i := 0; i < len(secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(secret[i:min(i+4, len(secret))])
	}
	return b.String()
}

// NormalizeCode returns a typed 6-digit code without its whitespace
// ("123 456" and "123\u00a0456" become "123456") and reports whether the rest
// is exactly six ASCII digits. Anything else, including full-width or other
// Unicode digits, is refused rather than converted: apps show ASCII digits.
//
// Normalising does not weaken replay protection: the accepted step, not the
// text, is what is recorded and refused a second time, so "123 456" after
// "123456" is still a replay.
func NormalizeCode(input string) (string, bool) {
	if len(input) > maxCodeInput {
		return "", false
	}
	code := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, input)
	if len(code) != TOTPDigits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// TOTPStep returns the RFC 6238 time step of t: Unix seconds divided by 30,
// rounded down.
func TOTPStep(t time.Time) int64 {
	period := int64(TOTPPeriod / time.Second)
	s := t.Unix()
	step := s / period
	if s < 0 && s%period != 0 {
		step-- // round toward minus infinity, as RFC 6238's floor does
	}
	return step
}

// MatchTOTP reports whether code is the secret's code for the step of now or
// one step either side, and returns the step it matched. code is normalised
// with NormalizeCode first.
//
// A matching code is not yet an accepted one: the caller must record the
// step with a conditional store update that succeeds only when the step is
// later than the last one used (Store.UseTOTPStep), so a code, or any other
// code of an already used step, is accepted once, across all instances.
//
// All three candidates are computed and compared, in constant time, without
// stopping at a match, so the time taken does not tell which step matched.
// Should a code match two steps (one chance in a million), the earliest is
// returned: were it the latest, an already used code might be accepted
// again by coinciding with a later step.
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code, valid := NormalizeCode(code)
	if !valid {
		// Keep the comparison loop's input the same length; the result is
		// discarded.
		code = "\x00\x00\x00\x00\x00\x00"
	}
	current := TOTPStep(now)
	matched := 0
	for s := current + TOTPSkew; s >= current-TOTPSkew; s-- {
		want, err := codeAt(secret, s)
		if err != nil {
			return 0, false // not a base32 secret: nothing can match
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		// Walking from the latest step to the earliest, an earlier match
		// overwrites a later one; a mask instead of a branch.
		mask := -int64(eq)
		step = s&mask | step&^mask
		matched |= eq
	}
	if !valid || matched == 0 {
		return 0, false
	}
	return step, true
}

// TOTPCode returns the secret's code at t. MatchTOTP is what checks a code;
// this is for tests and the demo.
func TOTPCode(secret string, t time.Time) (string, error) {
	return codeAt(secret, TOTPStep(t))
}

// codeAt computes the code of one step with pquerna's HOTP (RFC 6238 is
// HOTP with the step as counter), which also decodes the secret's base32,
// ignoring case and missing padding.
func codeAt(secret string, step int64) (string, error) {
	return hotp.GenerateCodeCustom(canonicalSecret(secret), uint64(step), totpOpts)
}
