package mfa

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pquerna/otp"
)

// The fuzz targets below state what must hold for any input, not how the
// code gets there. Seeds live in testdata/fuzz/<name>; .ci/run runs each
// target for a few seconds.

// FuzzNormalizeCode: an accepted code is exactly six ASCII digits, is the
// input without its whitespace, and normalises to itself.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "123\u00a0456", "１２３４５６", "12345", "1234567", "", "12a456", "\t123456\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code, ok := NormalizeCode(in)
		if !ok {
			if code != "" {
				t.Fatalf("refused %q but returned %q", in, code)
			}
			return
		}
		if len(code) != 6 {
			t.Fatalf("accepted %q as %q, not six characters", in, code)
		}
		for i := 0; i < len(code); i++ {
			if code[i] < '0' || code[i] > '9' {
				t.Fatalf("accepted %q as %q, not ASCII digits", in, code)
			}
		}
		if stripped := strings.Join(strings.FieldsFunc(in, unicode.IsSpace), ""); stripped != code {
			t.Fatalf("accepted %q as %q, but without whitespace it is %q", in, code, stripped)
		}
		if again, ok := NormalizeCode(code); !ok || again != code {
			t.Fatalf("%q does not normalise to itself: %q, %v", code, again, ok)
		}
	})
}

// FuzzNormalizeRecoveryCode: an accepted code is 16 symbols of the
// alphabet, normalises to itself, and so does its printed form, in any
// case; every input of the printed form is accepted.
func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range []string{"abcd-efgh-jkmn-pqrs", "ABCD EFGH JKMN PQRS", "abcdefghjkmnpqrs", "il0o-1234-5678-9abc", "abcd–efgh—jkmn-pqrs", "abcd-efgh-jkmn-pqr", "ａbcd-efgh-jkmn-pqrs", "abcd-efgh-jkmn-pqrsu", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code, ok := NormalizeRecoveryCode(in)
		if !ok {
			return
		}
		if len(code) != RecoveryCodeLen {
			t.Fatalf("accepted %q as %q, want %d symbols", in, code, RecoveryCodeLen)
		}
		for _, r := range code {
			if !strings.ContainsRune(RecoveryAlphabet, r) {
				t.Fatalf("accepted %q as %q, which has %q outside the alphabet", in, code, r)
			}
		}
		for _, form := range []string{code, FormatRecoveryCode(code), strings.ToUpper(FormatRecoveryCode(code)), " " + code + "\n"} {
			if again, ok := NormalizeRecoveryCode(form); !ok || again != code {
				t.Fatalf("%q (from %q) normalises to %q, %v; want %q", form, in, again, ok, code)
			}
		}
	})
}

// FuzzParsePhone: an accepted number is E.164 (a plus and at most 15
// digits) and parses to itself from any country.
func FuzzParsePhone(f *testing.F) {
	for _, s := range [][2]string{
		{"GB", "07700 900123"}, {"US", "(201) 555-0123"}, {"FR", "+33 6 12 34 56 78"}, {"DE", "0151 23456789"},
		{"gb", "+44 7700 900123"}, {"XX", "123"}, {"", ""}, {"US", "+1 800 555 0199"}, {"IN", "+91 98765 43210 ext. 5"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, country, number string) {
		e164, region, err := ParsePhone(country, number)
		if err != nil {
			if e164 != "" || region != "" {
				t.Fatalf("refused (%q, %q) but returned %q, %q", country, number, e164, region)
			}
			return
		}
		if len(e164) < 2 || len(e164) > 16 || e164[0] != '+' || strings.Trim(e164[1:], "0123456789") != "" {
			t.Fatalf("(%q, %q) gave %q, not E.164", country, number, e164)
		}
		again, _, err := ParsePhone("US", e164)
		if err != nil || again != e164 {
			t.Fatalf("%q from (%q, %q) parses back as %q, %v", e164, country, number, again, err)
		}
	})
}

// FuzzTOTPURI: whatever a workspace and an address are called, the URI is
// one an app reads back to the same secret, the issuer and account without
// colons and extra spaces, and nothing else.
func FuzzTOTPURI(f *testing.F) {
	for _, s := range [][2]string{
		{"Acme", "ann@acme.test"}, {"Smith & Jones", "a+b@x.test"}, {"A:B", "c:d@e"}, {"  spaced  out ", "x"},
		{"?#%/=", "&secret=AAAA"}, {"Ünïcödé", "名前@例え.jp"}, {"", "only-account"},
	} {
		f.Add(s[0], s[1])
	}
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	clean := func(s string) string { return strings.Join(strings.Fields(strings.ReplaceAll(s, ":", "")), " ") }
	f.Fuzz(func(t *testing.T, issuer, account string) {
		if !utf8.ValidString(issuer) || !utf8.ValidString(account) || clean(account) == "" {
			return // names come from UTF-8 forms; an account is never empty
		}
		uri := TOTPURI(secret, issuer, account)
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("TOTPURI(%q, %q) = %q does not parse: %v", issuer, account, uri, err)
		}
		if q := u.Query(); len(q) != 5 && len(q) != 4 {
			t.Fatalf("TOTPURI(%q, %q) has query %v: a name leaked into the parameters", issuer, account, q)
		}
		key, err := otp.NewKeyFromURL(uri)
		if err != nil {
			t.Fatalf("pquerna cannot read %q: %v", uri, err)
		}
		if key.Secret() != secret || key.Issuer() != clean(issuer) || key.AccountName() != clean(account) || key.Period() != 30 {
			t.Fatalf("TOTPURI(%q, %q) = %q reads back as issuer %q account %q secret %q", issuer, account, uri, key.Issuer(), key.AccountName(), key.Secret())
		}
	})
}
