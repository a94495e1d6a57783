package main

import (
	"testing"

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
