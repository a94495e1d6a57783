package mail

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/gatehouse-dev/gatehouse"
)

// Security says how a connection to the SMTP server is protected.
type Security int

// The security modes, one per URL scheme.
const (
	// StartTLS (smtp://) connects in clear and upgrades with STARTTLS before
	// anything else is said. A server that does not offer STARTTLS is refused:
	// falling back to clear text would let anyone on the path strip it.
	StartTLS Security = iota
	// ImplicitTLS (smtps://) speaks TLS from the first byte.
	ImplicitTLS
	// NoTLS (smtp+plain://) never encrypts. It is allowed only to a loopback
	// address, where nothing crosses a network.
	NoTLS
)

// String returns the URL scheme of the mode.
func (s Security) String() string {
	switch s {
	case StartTLS:
		return "smtp"
	case ImplicitTLS:
		return "smtps"
	case NoTLS:
		return "smtp+plain"
	}
	return "Security(" + strconv.Itoa(int(s)) + ")"
}

// defaultPort returns the port the scheme of s implies.
func (s Security) defaultPort() int {
	switch s {
	case ImplicitTLS:
		return 465
	case NoTLS:
		return 25
	}
	return 587
}

// DefaultTimeout bounds one delivery (connect, TLS, AUTH and the whole mail
// transaction) when neither SMTPConfig.Timeout nor the context says less.
const DefaultTimeout = 30 * time.Second

// SMTPConfig says how to reach the SMTP server. ParseSMTPURL fills it from
// GATEHOUSE_SMTP_URL.
type SMTPConfig struct {
	Host     string
	Port     int // 0 means the default port of Security
	Security Security
	// Username and Password are sent with SMTP AUTH; without a Username no
	// AUTH is attempted.
	Username string
	Password string
	// TLSConfig, when set, is used for STARTTLS and implicit TLS (a copy is
	// made; ServerName defaults to Host). Tests set it to trust a self-signed
	// certificate.
	TLSConfig *tls.Config
	// Timeout bounds one delivery; 0 means DefaultTimeout.
	Timeout time.Duration
}

// String returns the configuration as an SMTP URL with the password
// redacted, fit for a log line.
func (c SMTPConfig) String() string {
	u := url.URL{Scheme: c.Security.String(), Host: net.JoinHostPort(c.Host, strconv.Itoa(c.port()))}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, c.Password)
	}
	return u.Redacted()
}

func (c SMTPConfig) port() int {
	if c.Port == 0 {
		return c.Security.defaultPort()
	}
	return c.Port
}

// ParseSMTPURL parses an SMTP URL:
//
//	smtp://user:pass@host:587      STARTTLS, mandatory (default port 587)
//	smtps://user:pass@host:465     implicit TLS (default port 465)
//	smtp+plain://host:port         no TLS at all, only to localhost or a loopback address (default port 25)
//
// User and password are optional and percent-decoded. Errors wrap
// gatehouse.ErrInvalid and never repeat the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Error repeats the whole URL, password included; keep only the
		// reason so that the password cannot end up in a log line.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return SMTPConfig{}, fmt.Errorf("%w: SMTP URL: %w", gatehouse.ErrInvalid, err)
	}
	var cfg SMTPConfig
	switch u.Scheme {
	case "smtp":
		cfg.Security = StartTLS
	case "smtps":
		cfg.Security = ImplicitTLS
	case "smtp+plain":
		cfg.Security = NoTLS
	case "":
		return SMTPConfig{}, fmt.Errorf("%w: SMTP URL has no scheme (want smtp://, smtps:// or smtp+plain://)", gatehouse.ErrInvalid)
	default:
		return SMTPConfig{}, fmt.Errorf("%w: SMTP URL scheme %q is not supported (want smtp://, smtps:// or smtp+plain://)", gatehouse.ErrInvalid, u.Scheme)
	}
	if u.Opaque != "" {
		return SMTPConfig{}, fmt.Errorf("%w: SMTP URL must look like %s://host:port", gatehouse.ErrInvalid, u.Scheme)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return SMTPConfig{}, fmt.Errorf("%w: SMTP URL must not have a path, query or fragment (percent-encode '/', '?' and '#' in the password)", gatehouse.ErrInvalid)
	}
	cfg.Host = u.Hostname()
	if cfg.Host == "" {
		return SMTPConfig{}, fmt.Errorf("%w: SMTP URL has no host", gatehouse.ErrInvalid)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("%w: SMTP URL port %q is not a number from 1 to 65535", gatehouse.ErrInvalid, p)
		}
		cfg.Port = n
	} else {
		cfg.Port = cfg.Security.defaultPort()
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
		if cfg.Username == "" && cfg.Password != "" {
			return SMTPConfig{}, fmt.Errorf("%w: SMTP URL has a password but no user", gatehouse.ErrInvalid)
		}
	}
	if err := checkPlain(cfg); err != nil {
		return SMTPConfig{}, err
	}
	return cfg, nil
}

// checkPlain refuses NoTLS to anything but the local machine: without TLS the
// password and every one-time code in the mail would cross the network in
// clear text, readable and changeable by anyone on the path.
func checkPlain(cfg SMTPConfig) error {
	if cfg.Security == NoTLS && !isLoopback(cfg.Host) {
		return fmt.Errorf("%w: smtp+plain:// sends credentials and codes unencrypted, so it is allowed only to localhost or a loopback address, not %q; use smtp:// (STARTTLS) or smtps:// (TLS)",
			gatehouse.ErrInvalid, cfg.Host)
	}
	return nil
}

// isLoopback reports whether host names the local machine without a DNS
// lookup: "localhost" or a loopback IP address. Other names are refused even
// if they resolve to 127.0.0.1 today, because DNS can change under us.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// SMTP is a Sender that delivers through an SMTP server, one connection per
// message. A connection per message costs a handshake, but the outbox sends
// few messages and a fresh connection never trips over a server's idle
// timeout.
type SMTP struct {
	// Brands, when set, gives every e-mail an HTML alternative in its
	// workspace's branding (SPEC §16), read as the message is sent; nil
	// sends the plain text alone.
	Brands BrandStore

	cfg       SMTPConfig
	from      *netmail.Address
	msgDomain string // right-hand side of Message-IDs and Content-IDs
}

// NewSMTP returns an SMTP sender for cfg whose messages come from from, an
// RFC 5322 address such as "Gatehouse <no-reply@example.com>". It checks both
// now, so that a bad configuration stops the server at start-up rather than
// failing every delivery.
func NewSMTP(cfg SMTPConfig, from string) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("%w: SMTP host is empty", gatehouse.ErrInvalid)
	}
	if cfg.Port == 0 {
		cfg.Port = cfg.Security.defaultPort()
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: SMTP port %d is not from 1 to 65535", gatehouse.ErrInvalid, cfg.Port)
	}
	switch cfg.Security {
	case StartTLS, ImplicitTLS, NoTLS:
	default:
		return nil, fmt.Errorf("%w: SMTP security mode %d is unknown", gatehouse.ErrInvalid, cfg.Security)
	}
	// Checked again here, not only in ParseSMTPURL, so that a hand-built
	// SMTPConfig cannot send codes in clear text across a network either.
	if err := checkPlain(cfg); err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: SMTP timeout %v is negative", gatehouse.ErrInvalid, cfg.Timeout)
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%w: mail from %q: %w", gatehouse.ErrInvalid, from, err)
	}
	s := &SMTP{cfg: cfg, from: addr, msgDomain: addr.Address[strings.LastIndexByte(addr.Address, '@')+1:]}
	if _, err := s.client(s.timeout(), nil); err != nil {
		return nil, fmt.Errorf("%w: SMTP client for %s: %w", gatehouse.ErrInvalid, cfg, err)
	}
	return s, nil
}

func (s *SMTP) timeout() time.Duration {
	if s.cfg.Timeout > 0 {
		return s.cfg.Timeout
	}
	return DefaultTimeout
}

func (s *SMTP) addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

// tlsConfig returns a copy of the configured TLS settings with the defaults
// filled in; a copy, because the caller's config may be shared.
func (s *SMTP) tlsConfig() *tls.Config {
	c := &tls.Config{}
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = s.cfg.Host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// Preferred SMTP AUTH mechanisms, strongest first, in go-mail's own ranking.
// We list them ourselves instead of using SMTPAuthAutoDiscover because our
// dialer does implicit TLS itself, and go-mail then no longer knows that the
// connection is encrypted and would rule out PLAIN and LOGIN. They stay safe:
// go-mail's PLAIN and LOGIN refuse to send a password without TLS (except to
// localhost).
var (
	authOverTLS = []gomail.SMTPAuthType{
		gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256,
		gomail.SMTPAuthSCRAMSHA1PLUS, gomail.SMTPAuthSCRAMSHA1,
		gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
	}
	// authNoTLS allows PLAIN and LOGIN without TLS: NoTLS is only accepted
	// for loopback hosts, so the password never leaves the machine.
	authNoTLS = []gomail.SMTPAuthType{
		gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5,
		gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc,
	}
)

// client returns a go-mail client for one delivery that dials with dial (nil
// means a throw-away dialer, enough for checking the options).
func (s *SMTP) client(timeout time.Duration, dial gomail.DialContextFunc) (*gomail.Client, error) {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(timeout),
		gomail.WithDialContextFunc(dial),
		// One message per connection, closed with QUIT right after: an RSET
		// would add nothing, and a failed RSET after an accepted message
		// would be reported as a failure and the message sent twice.
		gomail.WithoutRset(),
	}
	auth := authOverTLS
	switch s.cfg.Security {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(s.tlsConfig()))
	case ImplicitTLS:
		// WithSSL keeps go-mail from attempting STARTTLS; the TLS handshake
		// itself happens in our dialer.
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSConfig(s.tlsConfig()))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		auth = authNoTLS
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(auth...),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// message builds the e-mail for m: its plain text, and with Brands an HTML
// alternative in the workspace's branding with the logo as an inline part.
// A recipient that is not an address is a permanent failure: no retry will
// make it one. Failing to read the branding is not: the next attempt may.
func (s *SMTP) message(ctx context.Context, m gatehouse.Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, permanent(fmt.Errorf("message %d: recipient %q: %w", m.ID, m.To, err))
	}
	// go-mail Q-encodes a subject with non-ASCII or control characters, so
	// a CR or LF in it cannot start a header of its own.
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(strings.ToLower(rand.Text()) + "@" + s.msgDomain)
	// RFC 3834: codes and links are machine-made; auto-responders and
	// out-of-office replies should stay quiet.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	if s.Brands == nil {
		return msg, nil
	}
	// The branding is read now rather than stored with the message: the
	// logo would be copied into every queued message (and the text is
	// scrubbed once sent anyway), and mail sent after a branding change
	// shows the new brand.
	b, ok, err := LoadBrand(ctx, s.Brands, m.WorkspaceID)
	if err != nil || !ok {
		return msg, err
	}
	logoSrc := ""
	if len(b.Logo) > 0 {
		// The logo travels inside the message: a remote image is blocked by
		// most mail clients, and fetching it would tell the server who
		// opened which e-mail when.
		cid := "logo-" + b.LogoID + "@" + s.msgDomain
		if err := msg.EmbedReader("logo.png", bytes.NewReader(b.Logo),
			gomail.WithFileContentID("<"+cid+">"), gomail.WithFileContentType("image/png")); err != nil {
			return nil, fmt.Errorf("message %d: embed logo: %w", m.ID, err)
		}
		logoSrc = "cid:" + cid
	}
	html, err := HTML(b, m.Subject, m.Body, logoSrc)
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", m.ID, err)
	}
	msg.AddAlternativeString(gomail.TypeTextHTML, html)
	return msg, nil
}

// Send delivers m over a new connection, within the context's deadline and
// at most the configured timeout. A 5xx reply to the message (sender,
// recipient or content refused) wraps ErrPermanent. Failures to connect,
// negotiate TLS or authenticate stay temporary: they are the server's or the
// operator's to fix, not the message's, and the message should go out once
// they are fixed.
func (s *SMTP) Send(ctx context.Context, m gatehouse.Message) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	msg, err := s.message(ctx, m)
	if err != nil {
		return err
	}
	dl, _ := ctx.Deadline() // always set by WithTimeout
	timeout := time.Until(dl)
	if timeout <= 0 || ctx.Err() != nil {
		return fmt.Errorf("send message %d to %s: %w", m.ID, m.To, cmp.Or(ctx.Err(), context.DeadlineExceeded))
	}

	// Our own dialer holds on to the connection so that it is closed however
	// the delivery ends (go-mail leaves it open when EHLO, STARTTLS or AUTH
	// fails) and as soon as ctx is done, which aborts a stalled server
	// mid-conversation instead of waiting for a read deadline.
	var conn net.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close() // usually closed by QUIT already
		}
	}()
	dial := func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d gomail.DialContextFunc = (&net.Dialer{}).DialContext
		if s.cfg.Security == ImplicitTLS {
			d = (&tls.Dialer{Config: s.tlsConfig()}).DialContext
		}
		c, err := d(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		conn = c
		// ctx, not dialCtx: go-mail cancels dialCtx as soon as the
		// connection is set up.
		context.AfterFunc(ctx, func() { _ = c.Close() })
		return c, nil
	}

	// go-mail's own deadlines are only a backstop a second behind ctx, so
	// that it is ctx that ends a stalled delivery and the error says so.
	c, err := s.client(timeout+time.Second, dial)
	if err != nil {
		return fmt.Errorf("SMTP client for %s: %w", s.cfg, err)
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return withContext(ctx, fmt.Errorf("connect to SMTP server %s: %w", s.addr(), err))
	}
	// A failing QUIT is ignored: once the server has accepted the message,
	// reporting an error would make the outbox send it again.
	defer func() { _ = c.CloseWithSMTPClient(sc) }()
	if err = c.SendWithSMTPClient(sc, msg); err == nil {
		return nil
	}
	err = fmt.Errorf("send message %d to %s via %s: %w", m.ID, m.To, s.addr(), err)
	if se, ok := errors.AsType[*gomail.SendError](err); ok && isPermanentSendError(se) {
		return permanent(err)
	}
	return withContext(ctx, err)
}

// isPermanentSendError reports whether go-mail's error means the message
// itself was refused: a 5xx reply to MAIL, RCPT or DATA, or a message the
// server can never take.
func isPermanentSendError(se *gomail.SendError) bool {
	if code := se.ErrorCode(); code >= 500 && code <= 599 {
		return true
	}
	switch se.Reason {
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		return true
	}
	return false
}

// withContext adds the context's error to err when the context ended, so the
// log says "deadline exceeded" instead of only "use of closed network
// connection".
func withContext(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
