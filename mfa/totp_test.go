package mfa

import (
	"encoding/base32"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	pqtotp "github.com/pquerna/otp/totp"
)

// rfcSecret is the SHA-1 seed of RFC 4226 Appendix D and RFC 6238 Appendix
// B, the ASCII string "12345678901234567890", in base32.
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

// TestTOTPRFC6238 checks pquerna's TOTP against the SHA-1 vectors of RFC 6238
// Appendix B, which have 8 digits. Gatehouse uses the same primitive with 6
// digits; dynamic truncation takes the same 31-bit value modulo 10^digits,
// so the 6-digit code is the last six digits of the 8-digit one, and
// TOTPCode is checked against that too.
func TestTOTPRFC6238(t *testing.T) {
	tests := []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		at := time.Unix(tt.unix, 0).UTC()
		got, err := pqtotp.GenerateCodeCustom(rfcSecret, at, pqtotp.ValidateOpts{
			Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("8-digit code at %d = %s, want %s", tt.unix, got, tt.want)
		}
		six, err := TOTPCode(rfcSecret, at)
		if err != nil {
			t.Fatal(err)
		}
		if six != tt.want[2:] {
			t.Errorf("TOTPCode at %d = %s, want %s", tt.unix, six, tt.want[2:])
		}
	}
}

// TestHOTPRFC4226 checks the HOTP under TOTP against RFC 4226 Appendix D.
func TestHOTPRFC4226(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, w := range want {
		got, err := hotp.GenerateCode(rfcSecret, uint64(counter))
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("hotp counter %d = %s, want %s", counter, got, w)
		}
		got, err = codeAt(rfcSecret, int64(counter))
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("codeAt step %d = %s, want %s", counter, got, w)
		}
	}
}

func TestTOTPStep(t *testing.T) {
	tests := []struct {
		unix int64
		want int64
	}{
		{0, 0}, {29, 0}, {30, 1}, {59, 1}, {1111111109, 37037036}, {1111111111, 37037037},
		{-1, -1}, {-30, -1}, {-31, -2},
	}
	for _, tt := range tests {
		if got := TOTPStep(time.Unix(tt.unix, 0)); got != tt.want {
			t.Errorf("TOTPStep(%d) = %d, want %d", tt.unix, got, tt.want)
		}
	}
}

func mustTOTPCode(tb testing.TB, secret string, at time.Time) string {
	tb.Helper()
	c, err := TOTPCode(secret, at)
	if err != nil {
		tb.Fatalf("TOTPCode: %v", err)
	}
	return c
}

func TestMatchTOTPWindow(t *testing.T) {
	secret := rfcSecret
	now := time.Unix(1700000015, 0) // mid-step
	current := TOTPStep(now)
	tests := []struct {
		name   string
		offset int64 // steps from now
		ok     bool
	}{
		{"two before", -2, false},
		{"previous", -1, true},
		{"current", 0, true},
		{"next", 1, true},
		{"two after", 2, false},
		{"ten before", -10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := mustTOTPCode(t, secret, now.Add(time.Duration(tt.offset)*TOTPPeriod))
			step, ok := MatchTOTP(secret, code, now)
			if ok != tt.ok {
				t.Fatalf("MatchTOTP(code of step %+d) = %d, %v; want ok %v", tt.offset, step, ok, tt.ok)
			}
			if ok && step != current+tt.offset {
				t.Errorf("step = %d, want %d", step, current+tt.offset)
			}
			if !ok && step != 0 {
				t.Errorf("refused code returned step %d, want 0", step)
			}
		})
	}
}

func TestMatchTOTPStepBoundaries(t *testing.T) {
	secret, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1700000010, 0) // first second of a step
	for _, now := range []time.Time{start, start.Add(29 * time.Second), start.Add(29*time.Second + 999*time.Millisecond)} {
		code := mustTOTPCode(t, secret, now)
		if step, ok := MatchTOTP(secret, code, now); !ok || step != TOTPStep(start) {
			t.Errorf("at %v: MatchTOTP = %d, %v; want %d, true", now, step, ok, TOTPStep(start))
		}
	}
}

func TestMatchTOTPRefuses(t *testing.T) {
	now := time.Unix(1700000015, 0)
	valid := mustTOTPCode(t, rfcSecret, now)
	// A 6-digit code that is none of the three accepted ones.
	wrong := "000000"
	for i := 0; ; i++ {
		wrong = strings.Repeat(string(rune('0'+i%10)), 6)
		if _, ok := MatchTOTP(rfcSecret, wrong, now); !ok {
			break
		}
	}
	other, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, secret, code string
	}{
		{"wrong code", rfcSecret, wrong},
		{"empty", rfcSecret, ""},
		{"five digits", rfcSecret, valid[:5]},
		{"seven digits", rfcSecret, valid + "0"},
		{"eight-digit code", rfcSecret, "14050471"},
		{"letters", rfcSecret, "abcdef"},
		{"other user's secret", other, valid},
		{"secret not base32", "not base32!", valid},
		{"empty secret", "", valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "other user's secret" {
				if _, ok := MatchTOTP(other, mustTOTPCode(t, other, now), now); !ok {
					t.Fatal("other secret's own code does not match")
				}
				if c := mustTOTPCode(t, other, now); c == valid {
					t.Skip("codes coincide")
				}
			}
			if step, ok := MatchTOTP(tt.secret, tt.code, now); ok {
				t.Errorf("MatchTOTP(%q, %q) = %d, true; want refused", tt.secret, tt.code, step)
			}
		})
	}
}

// TestMatchTOTPSpacesSameStep shows that normalising opens no replay: the
// spaced and unspaced forms of a code match the same step, and the store
// refuses a step the second time whatever text it came from.
func TestMatchTOTPSpacesSameStep(t *testing.T) {
	now := time.Unix(1700000015, 0)
	code := mustTOTPCode(t, rfcSecret, now)
	want := TOTPStep(now)
	for _, typed := range []string{code, code[:3] + " " + code[3:], " " + code + "\t", code[:3] + "\u00a0" + code[3:], strings.Join(strings.Split(code, ""), " ")} {
		step, ok := MatchTOTP(rfcSecret, typed, now)
		if !ok || step != want {
			t.Errorf("MatchTOTP(%q) = %d, %v; want %d, true", typed, step, ok, want)
		}
	}
}

// TestMatchTOTPEarliestStep uses steps where, for rfcSecret, one code belongs
// to two steps in the window (found by search): the earliest step is
// returned, so a used code cannot come back as a fresh, later step.
func TestMatchTOTPEarliestStep(t *testing.T) {
	at := func(step int64) time.Time { return time.Unix(step*30+7, 0) }
	tests := []struct {
		name string
		now  int64 // step of now
		code string
		want int64
	}{
		{"previous and next", 37353815, "137227", 37353814},
		{"current and next", 37079356, "186519", 37079356},
		{"previous and current", 37079357, "186519", 37079356},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := MatchTOTP(rfcSecret, tt.code, at(tt.now))
			if !ok || step != tt.want {
				t.Errorf("MatchTOTP = %d, %v; want %d, true", step, ok, tt.want)
			}
		})
	}
	// The fixture really has the coincidences it claims.
	for _, s := range []int64{37353814, 37353816} {
		if c, _ := codeAt(rfcSecret, s); c != "137227" {
			t.Fatalf("code of step %d = %s, fixture is wrong", s, c)
		}
	}
	for _, s := range []int64{37079356, 37079357} {
		if c, _ := codeAt(rfcSecret, s); c != "186519" {
			t.Fatalf("code of step %d = %s, fixture is wrong", s, c)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "123456", "123456", true},
		{"leading zeros", "000042", "000042", true},
		{"middle space", "123 456", "123456", true},
		{"spaces everywhere", " 1 2 3 4 5 6 ", "123456", true},
		{"tab and newline", "\t123\n456\r\n", "123456", true},
		{"nbsp", "123\u00a0456", "123456", true},
		{"thin and ideographic space", "123\u2009456\u3000", "123456", true},
		{"empty", "", "", false},
		{"only spaces", "   ", "", false},
		{"five digits", "12345", "", false},
		{"seven digits", "1234567", "", false},
		{"five digits with space", "123 45", "", false},
		{"letters", "12345a", "", false},
		{"all letters", "abcdef", "", false},
		{"hyphen", "123-456", "", false},
		{"full-width digits", "１２３４５６", "", false},
		{"arabic-indic digits", "١٢٣٤٥٦", "", false},
		{"sign", "+12345", "", false},
		{"very long", strings.Repeat(" ", 100) + "123456", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NormalizeCode(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("NormalizeCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNewTOTPSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		s, err := NewTOTPSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 32 || strings.ContainsAny(s, "= ") || s != strings.ToUpper(s) {
			t.Errorf("secret %q: want 32 upper-case unpadded base32 characters", s)
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
		if err != nil {
			t.Fatalf("secret %q does not decode: %v", s, err)
		}
		if len(raw) != 20 {
			t.Errorf("secret decodes to %d bytes, want 20 (160 bits)", len(raw))
		}
		if seen[s] {
			t.Errorf("secret %q repeated", s)
		}
		seen[s] = true
		// pquerna, and so every app, can use it.
		if _, err := pqtotp.GenerateCode(s, time.Unix(1700000000, 0)); err != nil {
			t.Errorf("pquerna rejects secret %q: %v", s, err)
		}
	}
}

func TestTOTPURI(t *testing.T) {
	secret := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	tests := []struct {
		name, issuer, account   string
		wantIssuer, wantAccount string
		wantLabel               string // path after "/", unescaped
	}{
		{"simple", "Acme", "ann@example.com", "Acme", "ann@example.com", "Acme:ann@example.com"},
		{"spaces", "Acme Legal Co", "ann@example.com", "Acme Legal Co", "ann@example.com", "Acme Legal Co:ann@example.com"},
		{"reserved characters", "Smith & Jones + Co / R=D?#%", "a+b@example.com", "Smith & Jones + Co / R=D?#%", "a+b@example.com", "Smith & Jones + Co / R=D?#%:a+b@example.com"},
		{"colons removed", "Acme: Legal", "odd:name@example.com", "Acme Legal", "oddname@example.com", "Acme Legal:oddname@example.com"},
		{"unicode", "Café Zoë", "zoë@example.com", "Café Zoë", "zoë@example.com", "Café Zoë:zoë@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri := TOTPURI(secret, tt.issuer, tt.account)
			if strings.Contains(uri, " ") || strings.Contains(uri, "+") {
				t.Errorf("URI %q holds a raw space or '+'", uri)
			}
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatalf("url.Parse(%q): %v", uri, err)
			}
			if u.Scheme != "otpauth" || u.Host != "totp" {
				t.Errorf("scheme/host = %s/%s, want otpauth/totp", u.Scheme, u.Host)
			}
			if got := strings.TrimPrefix(u.Path, "/"); got != tt.wantLabel {
				t.Errorf("label = %q, want %q", got, tt.wantLabel)
			}
			q := u.Query()
			want := map[string]string{
				"secret": secret, "issuer": tt.wantIssuer,
				"algorithm": "SHA1", "digits": "6", "period": "30",
			}
			for k, v := range want {
				if got := q.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if len(q) != len(want) {
				t.Errorf("query has %d parameters, want %d: %v", len(q), len(want), q)
			}
			// pquerna's Key reads it back the same.
			key, err := otp.NewKeyFromURL(uri)
			if err != nil {
				t.Fatal(err)
			}
			if key.Type() != "totp" || key.Issuer() != tt.wantIssuer || key.AccountName() != tt.wantAccount ||
				key.Secret() != secret || key.Digits() != otp.DigitsSix || key.Period() != 30 || key.Algorithm() != otp.AlgorithmSHA1 {
				t.Errorf("otp.Key = type %s issuer %q account %q secret %s digits %d period %d",
					key.Type(), key.Issuer(), key.AccountName(), key.Secret(), key.Digits(), key.Period())
			}
		})
	}
}

func TestTOTPURICanonicalSecret(t *testing.T) {
	uri := TOTPURI("jbsw y3dp ehpk 3pxp", "Acme", "ann@example.com")
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("secret"); got != "JBSWY3DPEHPK3PXP" {
		t.Errorf("secret = %q, want JBSWY3DPEHPK3PXP", got)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/Acme:ann@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme&algorithm=SHA1&digits=6&period=30") {
		t.Errorf("URI = %s", uri)
	}
}

func TestGroupSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		{"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"},
		{"JBSWY3DPEHPK3PXP", "JBSW Y3DP EHPK 3PXP"},
		{"ABCDEF", "ABCD EF"},
		{"jbsw y3dp", "JBSW Y3DP"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := GroupSecret(tt.in); got != tt.want {
			t.Errorf("GroupSecret(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A secret typed from the grouped form gives the same codes.
	s, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000015, 0)
	if a, b := mustTOTPCode(t, s, now), mustTOTPCode(t, strings.ToLower(GroupSecret(s)), now); a != b {
		t.Errorf("grouped secret gives code %s, want %s", b, a)
	}
}
