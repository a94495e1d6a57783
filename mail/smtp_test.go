package mail_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mail"
)

// smtpServer is a real SMTP server on 127.0.0.1 that records what it receives.
type smtpServer struct {
	Addr string // host:port

	// Set before sending to make the server refuse at that step.
	MailErr, RcptErr, DataErr *smtp.SMTPError
	// User and Pass, when set, make the server require AUTH PLAIN.
	User, Pass string

	mu       sync.Mutex
	received []received
}

// received is one message the test server accepted.
type received struct {
	From     string
	To       []string
	Data     []byte
	AuthUser string
	TLS      bool
}

type serverOptions struct {
	startTLS    *tls.Config // offer STARTTLS with this config
	implicitTLS *tls.Config // speak TLS from the first byte
}

// startSMTP starts a test SMTP server and stops it when the test ends.
func startSMTP(tb testing.TB, opts serverOptions) *smtpServer {
	tb.Helper()
	ts := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &smtpSession{ts: ts, tls: isTLS}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.TLSConfig = opts.startTLS
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if opts.implicitTLS != nil {
		l = tls.NewListener(l, opts.implicitTLS)
	}
	ts.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l) // returns when closed
	}()
	tb.Cleanup(func() {
		_ = srv.Close()
		// Also close the listener ourselves: if Serve has not registered it
		// yet, srv.Close cannot, and Serve would accept forever.
		_ = l.Close()
		<-done
	})
	return ts
}

func (ts *smtpServer) Received() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.received...)
}

type smtpSession struct {
	ts       *smtpServer
	tls      bool
	authUser string
	cur      received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if s.ts.User == "" || user != s.ts.User || pass != s.ts.Pass {
			return smtp.ErrAuthFailed
		}
		s.authUser = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.User != "" && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	if s.ts.MailErr != nil {
		return s.ts.MailErr
	}
	s.cur = received{From: from, AuthUser: s.authUser, TLS: s.tls}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.ts.RcptErr != nil {
		return s.ts.RcptErr
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.ts.DataErr != nil {
		return s.ts.DataErr
	}
	s.cur.Data = b
	s.ts.mu.Lock()
	s.ts.received = append(s.ts.received, s.cur)
	s.ts.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.cur = received{} }
func (s *smtpSession) Logout() error { return nil }

// newSender returns an SMTP sender for url, failing the test on error.
func newSender(tb testing.TB, url string, tlsConfig *tls.Config) *mail.SMTP {
	tb.Helper()
	cfg, err := mail.ParseSMTPURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.TLSConfig = tlsConfig
	cfg.Timeout = 10 * time.Second
	s, err := mail.NewSMTP(cfg, "Gatehouse <no-reply@gatehouse.test>")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// parsedMail is a received message, decoded. Body is the text/plain part
// (the whole body of a single-part message), HTML the text/html part, and
// Inline the other parts of a multipart message.
type parsedMail struct {
	From, To, Subject, MessageID, ContentType, AutoSubmitted string
	Date                                                     time.Time
	Body, HTML                                               string
	Inline                                                   []mimePart
}

// mimePart is a non-text part of a received message.
type mimePart struct {
	ContentType, ContentID, Disposition string
	Data                                []byte
}

func parseMail(tb testing.TB, data []byte) parsedMail {
	tb.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	dec := new(mime.WordDecoder)
	header := func(name string) string {
		v, err := dec.DecodeHeader(msg.Header.Get(name))
		if err != nil {
			tb.Fatalf("header %s: %v", name, err)
		}
		return v
	}
	date, err := msg.Header.Date()
	if err != nil {
		tb.Errorf("Date header: %v", err)
	}
	p := parsedMail{
		From:          header("From"),
		To:            header("To"),
		Subject:       header("Subject"),
		MessageID:     msg.Header.Get("Message-ID"),
		ContentType:   msg.Header.Get("Content-Type"),
		AutoSubmitted: msg.Header.Get("Auto-Submitted"),
		Date:          date,
	}
	p.addPart(tb, textproto.MIMEHeader(msg.Header), msg.Body)
	return p
}

// addPart decodes one MIME entity into p, descending into multiparts.
func (p *parsedMail) addPart(tb testing.TB, h textproto.MIMEHeader, body io.Reader) {
	tb.Helper()
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		tb.Fatalf("Content-Type %q: %v", ct, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				tb.Fatalf("%s: %v", mt, err)
			}
			p.addPart(tb, part.Header, part)
		}
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		tb.Fatal(err)
	}
	switch mt {
	case "text/plain":
		p.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	case "text/html":
		p.HTML = strings.ReplaceAll(string(b), "\r\n", "\n")
	default:
		p.Inline = append(p.Inline, mimePart{ContentType: mt, ContentID: h.Get("Content-ID"), Disposition: h.Get("Content-Disposition"), Data: b})
	}
}

func testMessage() gatehouse.Message {
	return gatehouse.Message{
		ID:          42,
		WorkspaceID: 7,
		Channel:     "email",
		To:          "ada@example.com",
		Subject:     "Ihr Anmeldecode für Acme: 123456",
		Body:        "Your sign-in code is 123456.\n\nIt expires in 10 minutes. Grüße — Acme\n",
	}
}

func TestSMTPSendPlain(t *testing.T) {
	tests := []struct {
		name       string
		user, pass string // server requires AUTH when set
		url        func(addr string) string
		wantAuth   string
	}{
		{
			name: "no auth",
			url:  func(addr string) string { return "smtp+plain://" + addr },
		},
		{
			name: "AUTH PLAIN with escaped password",
			user: "mailer", pass: "p@ss:w/rd",
			url:      func(addr string) string { return "smtp+plain://mailer:p%40ss%3Aw%2Frd@" + addr },
			wantAuth: "mailer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, serverOptions{})
			srv.User, srv.Pass = tt.user, tt.pass
			s := newSender(t, tt.url(srv.Addr), nil)

			before := time.Now().Add(-time.Second)
			m := testMessage()
			if err := s.Send(t.Context(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}

			got := srv.Received()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			r := got[0]
			if r.From != "no-reply@gatehouse.test" {
				t.Errorf("MAIL FROM = %q, want no-reply@gatehouse.test", r.From)
			}
			if len(r.To) != 1 || r.To[0] != m.To {
				t.Errorf("RCPT TO = %q, want [%s]", r.To, m.To)
			}
			if r.AuthUser != tt.wantAuth {
				t.Errorf("authenticated as %q, want %q", r.AuthUser, tt.wantAuth)
			}
			p := parseMail(t, r.Data)
			if p.From != `"Gatehouse" <no-reply@gatehouse.test>` && p.From != "Gatehouse <no-reply@gatehouse.test>" {
				t.Errorf("From: %q", p.From)
			}
			if p.To != "<ada@example.com>" && p.To != "ada@example.com" {
				t.Errorf("To: %q, want ada@example.com", p.To)
			}
			if p.Subject != m.Subject {
				t.Errorf("Subject: %q, want %q", p.Subject, m.Subject)
			}
			if strings.TrimRight(p.Body, "\n") != strings.TrimRight(m.Body, "\n") {
				t.Errorf("body:\n%q\nwant\n%q", p.Body, m.Body)
			}
			if !strings.HasPrefix(p.ContentType, "text/plain") || !strings.Contains(strings.ToLower(p.ContentType), "utf-8") {
				t.Errorf("Content-Type: %q, want text/plain; charset=UTF-8", p.ContentType)
			}
			if !strings.HasPrefix(p.MessageID, "<") || !strings.HasSuffix(p.MessageID, "@gatehouse.test>") {
				t.Errorf("Message-ID: %q, want <…@gatehouse.test>", p.MessageID)
			}
			if p.Date.Before(before) || p.Date.After(time.Now().Add(time.Second)) {
				t.Errorf("Date: %v, want about now", p.Date)
			}
			if p.AutoSubmitted != "auto-generated" {
				t.Errorf("Auto-Submitted: %q", p.AutoSubmitted)
			}
		})
	}
}

// Replies to the message itself decide whether the outbox retries: 5xx is
// final, 4xx is worth another attempt.
func TestSMTPSendErrorClassification(t *testing.T) {
	tests := []struct {
		name          string
		mailErr       *smtp.SMTPError
		rcptErr       *smtp.SMTPError
		dataErr       *smtp.SMTPError
		wantPermanent bool
	}{
		{
			name:          "550 mailbox unavailable",
			rcptErr:       &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
			wantPermanent: true,
		},
		{
			name:          "451 try again later",
			rcptErr:       &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "greylisted, try again later"},
			wantPermanent: false,
		},
		{
			name:          "553 sender refused",
			mailErr:       &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender not allowed"},
			wantPermanent: true,
		},
		{
			name:          "554 content rejected after DATA",
			dataErr:       &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "message rejected"},
			wantPermanent: true,
		},
		{
			name:          "452 mailbox full after DATA",
			dataErr:       &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"},
			wantPermanent: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, serverOptions{})
			srv.MailErr, srv.RcptErr, srv.DataErr = tt.mailErr, tt.rcptErr, tt.dataErr
			s := newSender(t, "smtp+plain://"+srv.Addr, nil)

			err := s.Send(t.Context(), testMessage())
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if got := mail.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.wantPermanent)
			}
			if n := len(srv.Received()); n != 0 {
				t.Errorf("server kept %d messages, want 0", n)
			}
		})
	}
}

// Failures before the mail transaction are about the server or the
// configuration, never the message, so they stay temporary.
func TestSMTPSendConnectionFailuresAreTemporary(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		err = newSender(t, "smtp+plain://"+addr, nil).Send(t.Context(), testMessage())
		if err == nil || mail.IsPermanent(err) {
			t.Errorf("Send = %v, want a temporary error", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := startSMTP(t, serverOptions{})
		srv.User, srv.Pass = "mailer", "right"
		err := newSender(t, "smtp+plain://mailer:wrong@"+srv.Addr, nil).Send(t.Context(), testMessage())
		if err == nil || mail.IsPermanent(err) {
			t.Fatalf("Send = %v, want a temporary error", err)
		}
		if !strings.Contains(err.Error(), "535") {
			t.Errorf("error %q should carry the server's 535 reply", err)
		}
	})
	t.Run("server stalls past the deadline", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			// Accept and say nothing, like a black-holed server.
			c, err := l.Accept()
			if err == nil {
				accepted <- c
			}
			close(accepted)
		}()
		t.Cleanup(func() {
			l.Close()
			if c, ok := <-accepted; ok {
				c.Close()
			}
		})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = newSender(t, "smtp+plain://"+l.Addr().String(), nil).Send(ctx, testMessage())
		if err == nil || mail.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send = %v, want a temporary deadline error", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %v, want it to stop at the context's deadline", d)
		}
	})
}

func TestSMTPSendInvalidRecipientIsPermanent(t *testing.T) {
	srv := startSMTP(t, serverOptions{})
	s := newSender(t, "smtp+plain://"+srv.Addr, nil)
	for _, to := range []string{"", "not an address", "a@example.com\r\nBcc: victim@example.com"} {
		m := testMessage()
		m.To = to
		err := s.Send(t.Context(), m)
		if !mail.IsPermanent(err) {
			t.Errorf("Send to %q = %v, want a permanent error", to, err)
		}
	}
	if n := len(srv.Received()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

// selfSigned returns a server certificate for 127.0.0.1 and a client config
// that trusts only it.
func selfSigned(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gatehouse test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestSMTPSendTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name   string
		opts   serverOptions
		scheme string
	}{
		{name: "STARTTLS", opts: serverOptions{startTLS: serverTLS}, scheme: "smtp"},
		{name: "implicit TLS", opts: serverOptions{implicitTLS: serverTLS}, scheme: "smtps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.opts)
			srv.User, srv.Pass = "mailer", "secret"
			s := newSender(t, tt.scheme+"://mailer:secret@"+srv.Addr, clientTLS)
			if err := s.Send(t.Context(), testMessage()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Received()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			if !got[0].TLS {
				t.Error("message was not sent over TLS")
			}
			if got[0].AuthUser != "mailer" {
				t.Errorf("authenticated as %q, want mailer", got[0].AuthUser)
			}
			if p := parseMail(t, got[0].Data); p.Subject != testMessage().Subject {
				t.Errorf("Subject: %q", p.Subject)
			}
		})
	}
}

func TestSMTPSendTLSFailures(t *testing.T) {
	serverTLS, _ := selfSigned(t)
	tests := []struct {
		name    string
		opts    serverOptions
		scheme  string
		wantErr string
	}{
		{
			name:    "smtp:// refuses a server without STARTTLS",
			opts:    serverOptions{},
			scheme:  "smtp",
			wantErr: "STARTTLS",
		},
		{
			name:    "STARTTLS with an untrusted certificate",
			opts:    serverOptions{startTLS: serverTLS},
			scheme:  "smtp",
			wantErr: "certificate",
		},
		{
			name:    "implicit TLS with an untrusted certificate",
			opts:    serverOptions{implicitTLS: serverTLS},
			scheme:  "smtps",
			wantErr: "certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.opts)
			srv.User, srv.Pass = "mailer", "secret"
			// No TLSConfig: the system roots do not trust the test certificate.
			s := newSender(t, tt.scheme+"://mailer:secret@"+srv.Addr, nil)
			err := s.Send(t.Context(), testMessage())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Send = %v, want an error about %s", err, tt.wantErr)
			}
			if mail.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = true, want a temporary error", err)
			}
			if n := len(srv.Received()); n != 0 {
				t.Errorf("server received %d messages, want 0", n)
			}
		})
	}
}
