package main

import (
	"bytes"
	"image/png"
	"os"
	"testing"

	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mail"
)

// A server that mails through SMTP brands its e-mail from its own store
// (SPEC §16); the mail package's tests cover what the branding looks like.
func TestNewAppBrandsSMTPMail(t *testing.T) {
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: 2525, Security: mail.NoTLS}, mail.DefaultFrom)
	if err != nil {
		t.Fatal(err)
	}
	m := newMain(nil, &syncBuffer{}, &syncBuffer{})
	a, err := m.newApp(t.Context(), config{DataDir: t.TempDir(), BaseURL: testBaseURL}, s, m.logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.store.Close() })
	if s.Brands != a.store {
		t.Errorf("SMTP sender's Brands = %v, want the app's store", s.Brands)
	}
}

// The demo's logo is the one the web tests brand their screenshots with,
// so the committed pictures show what `serve --demo` shows.
func TestDemoLogoMatchesScreenshots(t *testing.T) {
	got, err := demoLogo()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../web/testdata/logo-harbour-pine.png")
	if err != nil {
		t.Fatal(err)
	}
	// Pixels, not bytes: another Go release may compress the same image
	// differently.
	a, errA := png.Decode(bytes.NewReader(got))
	b, errB := png.Decode(bytes.NewReader(want))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	same := a.Bounds() == b.Bounds()
	for y := a.Bounds().Min.Y; same && y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; same && x < a.Bounds().Max.X; x++ {
			same = a.At(x, y) == b.At(x, y)
		}
	}
	if !same {
		t.Error("demoLogo() draws another picture than web/testdata/logo-harbour-pine.png; write the new one there")
	}
	if _, err := account.NormalizeLogo(got); err != nil {
		t.Errorf("the demo logo is refused: %v", err)
	}
}
