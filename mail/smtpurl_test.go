package mail_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mail"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    mail.SMTPConfig
		wantErr string // substring of the error; "" means success
	}{
		{
			name: "smtp with credentials and port",
			raw:  "smtp://user:pass@mail.example.com:2525",
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 2525, Security: mail.StartTLS, Username: "user", Password: "pass"},
		},
		{
			name: "smtp default port 587",
			raw:  "smtp://mail.example.com",
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 587, Security: mail.StartTLS},
		},
		{
			name: "smtp trailing slash and surrounding space",
			raw:  "  smtp://mail.example.com:587/ ",
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 587, Security: mail.StartTLS},
		},
		{
			name: "scheme is case-insensitive",
			raw:  "SMTP://mail.example.com",
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 587, Security: mail.StartTLS},
		},
		{
			name: "smtps with credentials",
			raw:  "smtps://user:pass@mail.example.com:465",
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 465, Security: mail.ImplicitTLS, Username: "user", Password: "pass"},
		},
		{
			name: "smtps default port 465",
			raw:  "smtps://mail.example.com",
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 465, Security: mail.ImplicitTLS},
		},
		{
			name: "escaped credentials are decoded",
			raw:  "smtp://apikey%40example.com:p%3Ass%2Fw%23rd%25%20x@mail.example.com",
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 587, Security: mail.StartTLS, Username: "apikey@example.com", Password: "p:ss/w#rd% x"},
		},
		{
			name: "user without password",
			raw:  "smtp://user@mail.example.com",
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 587, Security: mail.StartTLS, Username: "user"},
		},
		{
			name: "IPv6 host",
			raw:  "smtps://[2001:db8::25]:465",
			want: mail.SMTPConfig{Host: "2001:db8::25", Port: 465, Security: mail.ImplicitTLS},
		},
		{
			name: "smtp+plain to 127.0.0.1",
			raw:  "smtp+plain://127.0.0.1:1025",
			want: mail.SMTPConfig{Host: "127.0.0.1", Port: 1025, Security: mail.NoTLS},
		},
		{
			name: "smtp+plain to another loopback address",
			raw:  "smtp+plain://127.0.0.53:25",
			want: mail.SMTPConfig{Host: "127.0.0.53", Port: 25, Security: mail.NoTLS},
		},
		{
			name: "smtp+plain to localhost with credentials",
			raw:  "smtp+plain://u:p@LocalHost:1025",
			want: mail.SMTPConfig{Host: "LocalHost", Port: 1025, Security: mail.NoTLS, Username: "u", Password: "p"},
		},
		{
			name: "smtp+plain to [::1]",
			raw:  "smtp+plain://[::1]:2525",
			want: mail.SMTPConfig{Host: "::1", Port: 2525, Security: mail.NoTLS},
		},
		{
			name: "smtp+plain default port 25",
			raw:  "smtp+plain://localhost",
			want: mail.SMTPConfig{Host: "localhost", Port: 25, Security: mail.NoTLS},
		},
		{name: "smtp+plain to a remote host is refused", raw: "smtp+plain://example.com:25", wantErr: "only to localhost or a loopback address"},
		{name: "smtp+plain to a private address is refused", raw: "smtp+plain://10.0.0.5:25", wantErr: "only to localhost or a loopback address"},
		{name: "smtp+plain to a localhost look-alike is refused", raw: "smtp+plain://localhost.example.com:25", wantErr: "only to localhost or a loopback address"},
		{name: "unsupported scheme", raw: "http://mail.example.com", wantErr: `scheme "http" is not supported`},
		{name: "no scheme", raw: "mail.example.com:587", wantErr: "not supported"},
		{name: "empty", raw: "", wantErr: "no scheme"},
		{name: "missing host", raw: "smtp://:587", wantErr: "no host"},
		{name: "missing host with credentials", raw: "smtps://user:pass@", wantErr: "no host"},
		{name: "port not a number", raw: "smtp://mail.example.com:abc", wantErr: "port"},
		{name: "port zero", raw: "smtp://mail.example.com:0", wantErr: `port "0"`},
		{name: "port too large", raw: "smtp://mail.example.com:65536", wantErr: `port "65536"`},
		{name: "path", raw: "smtp://mail.example.com/inbox", wantErr: "path, query or fragment"},
		{name: "query", raw: "smtp://mail.example.com?tls=off", wantErr: "path, query or fragment"},
		{name: "password without user", raw: "smtp://:secret@mail.example.com", wantErr: "password but no user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mail.ParseSMTPURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseSMTPURL(%q) = %+v, want error containing %q", tt.raw, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseSMTPURL(%q) error = %q, want it to contain %q", tt.raw, err, tt.wantErr)
				}
				if !errors.Is(err, gatehouse.ErrInvalid) {
					t.Errorf("ParseSMTPURL(%q) error = %v, want it to wrap gatehouse.ErrInvalid", tt.raw, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSMTPURL(%q): %v", tt.raw, err)
			}
			if got != tt.want {
				t.Errorf("ParseSMTPURL(%q) = %+v, want %+v", tt.raw, got, tt.want)
			}
		})
	}
}

// The password must never reach a log line through an error or the config's
// String, even when the URL is malformed.
func TestSMTPURLNeverShowsPassword(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	tests := []struct {
		name string
		raw  string
	}{
		{name: "bad port", raw: "smtp://user:" + secret + "@mail.example.com:abc"},
		{name: "bad escape", raw: "smtp://user:" + secret + "%zz@mail.example.com"},
		{name: "plain to remote", raw: "smtp+plain://user:" + secret + "@example.com:25"},
		{name: "bad scheme", raw: "ftp://user:" + secret + "@mail.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mail.ParseSMTPURL(tt.raw)
			if err == nil {
				t.Fatalf("ParseSMTPURL(%q): want an error", tt.raw)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}

	cfg, err := mail.ParseSMTPURL("smtps://user:" + secret + "@mail.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.String(); strings.Contains(s, secret) || s != "smtps://user:xxxxx@mail.example.com:465" {
		t.Errorf("String() = %q, want the password redacted", s)
	}
}

func TestNewSMTPValidates(t *testing.T) {
	good := mail.SMTPConfig{Host: "mail.example.com", Security: mail.StartTLS}
	tests := []struct {
		name    string
		cfg     mail.SMTPConfig
		from    string
		wantErr string
	}{
		{name: "default from", cfg: good, from: mail.DefaultFrom},
		{name: "bare address", cfg: good, from: "no-reply@example.com"},
		{name: "display name with non-ASCII", cfg: good, from: `"Zoë's Portal" <portal@example.com>`},
		{name: "empty from", cfg: good, from: "", wantErr: "mail from"},
		{name: "from not an address", cfg: good, from: "Gatehouse", wantErr: "mail from"},
		{name: "from with two addresses", cfg: good, from: "a@example.com, b@example.com", wantErr: "mail from"},
		{name: "no host", cfg: mail.SMTPConfig{}, from: mail.DefaultFrom, wantErr: "host is empty"},
		{name: "bad port", cfg: mail.SMTPConfig{Host: "mail.example.com", Port: 70000}, from: mail.DefaultFrom, wantErr: "port 70000"},
		{
			name:    "hand-built plain config to a remote host",
			cfg:     mail.SMTPConfig{Host: "mail.example.com", Port: 25, Security: mail.NoTLS},
			from:    mail.DefaultFrom,
			wantErr: "only to localhost",
		},
		{name: "unknown security", cfg: mail.SMTPConfig{Host: "mail.example.com", Security: 7}, from: mail.DefaultFrom, wantErr: "security mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mail.NewSMTP(tt.cfg, tt.from)
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("NewSMTP: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, gatehouse.ErrInvalid) {
				t.Errorf("NewSMTP error = %v, want an ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}
