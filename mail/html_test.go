package mail_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mail"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

// brandStore is a mail.BrandStore over one workspace and its logo.
type brandStore struct {
	ws   *gatehouse.Workspace // nil: no such workspace
	logo *gatehouse.Logo      // nil: no logo
	err  error                // returned by every call when set
}

func (s brandStore) FindWorkspaceByID(_ context.Context, id int64) (*gatehouse.Workspace, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.ws == nil || s.ws.ID != id {
		return nil, gatehouse.ErrNotFound
	}
	w := *s.ws
	return &w, nil
}

func (s brandStore) FindLogo(_ context.Context, id int64) (*gatehouse.Logo, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.logo == nil || s.ws == nil || s.ws.ID != id {
		return nil, gatehouse.ErrNotFound
	}
	return s.logo, nil
}

// testPNG draws a small PNG, like the re-encoded logos the store holds.
func testPNG(tb testing.TB) []byte {
	tb.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 4))
	for x := range 8 {
		img.Set(x, 1, color.NRGBA{R: 11, G: 92, B: 173, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// hostileName is a display name that would inject markup if it were not
// escaped (the branding form refuses only control characters and length).
const hostileName = `Acme <script>alert(1)</script> & "Co" <img src=x onerror=alert(2)>`

// brandedMessage is a mail with a link, trailing punctuation and a code.
func brandedMessage() gatehouse.Message {
	return gatehouse.Message{
		ID: 43, WorkspaceID: 7, Channel: "email", To: "ada@example.com",
		Subject: "123456 is your Acme code",
		Body: "Your " + hostileName + " sign-in code is 123456\n\n" +
			"Sign in at https://acme.gatehouse.test/login, or reset your password at https://acme.gatehouse.test/password/reset/tok_EN-xy.\n" +
			"It works once, for 10 minutes.\n",
	}
}

var (
	linkInText = regexp.MustCompile(`https?://[^\s,]*[^\s,.]`)
	codeInText = regexp.MustCompile(`\b[0-9]{6}\b`)
)

// The HTML alternative carries the workspace's name, accent and logo (an
// inline part, never a remote image), escapes what the owner typed, and
// holds the same links and codes as the text part, which is sent as it was.
func TestSMTPSendBranded(t *testing.T) {
	logo := &gatehouse.Logo{ID: "0123456789abcdef", PNG: testPNG(t)}
	ws := &gatehouse.Workspace{ID: 7, Name: "acme", Brand: gatehouse.Brand{DisplayName: hostileName, Accent: "#0b5cad", Logo: logo.ID}}
	srv := startSMTP(t, serverOptions{})
	s := newSender(t, "smtp+plain://"+srv.Addr, nil)
	s.Brands = brandStore{ws: ws, logo: logo}

	m := brandedMessage()
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	p := parseMail(t, got[0].Data)
	if !strings.HasPrefix(p.ContentType, "multipart/") {
		t.Errorf("Content-Type: %q, want multipart", p.ContentType)
	}
	if strings.TrimRight(p.Body, "\n") != strings.TrimRight(m.Body, "\n") {
		t.Errorf("text part:\n%q\nwant\n%q", p.Body, m.Body)
	}
	if p.HTML == "" {
		t.Fatalf("no text/html part in\n%s", got[0].Data)
	}
	h := p.HTML

	// Escaped: the name is text, not markup, wherever it appears.
	if strings.Contains(h, "<script") || strings.Contains(h, "<img src=x") {
		t.Errorf("hostile display name reached the HTML unescaped:\n%s", h)
	}
	if !strings.Contains(h, "Acme &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;") {
		t.Errorf("HTML lacks the escaped display name:\n%s", h)
	}
	if !strings.Contains(h, "#0b5cad") {
		t.Errorf("HTML lacks the accent #0b5cad:\n%s", h)
	}

	// The logo: one inline PNG, the stored bytes, referenced by its cid.
	if len(p.Inline) != 1 {
		t.Fatalf("inline parts: %d, want 1 (the logo)", len(p.Inline))
	}
	img := p.Inline[0]
	if img.ContentType != "image/png" || !bytes.Equal(img.Data, logo.PNG) || !strings.HasPrefix(img.Disposition, "inline") {
		t.Errorf("logo part: %s, %s, %d bytes; want image/png, inline, the stored %d bytes", img.ContentType, img.Disposition, len(img.Data), len(logo.PNG))
	}
	cid := strings.TrimSuffix(strings.TrimPrefix(img.ContentID, "<"), ">")
	if cid == "" || cid == img.ContentID {
		t.Fatalf("logo Content-ID %q, want <…>", img.ContentID)
	}
	if !strings.Contains(h, `src="cid:`+cid+`"`) {
		t.Errorf("HTML does not show the logo by cid:%s:\n%s", cid, h)
	}
	// Nothing is loaded from anywhere: every src is the cid.
	for _, src := range regexp.MustCompile(`src="([^"]*)"`).FindAllStringSubmatch(h, -1) {
		if src[1] != "cid:"+cid {
			t.Errorf("HTML loads %q", src[1])
		}
	}

	// The same links and codes as the text, and no other link.
	links := linkInText.FindAllString(m.Body, -1)
	if len(links) != 2 {
		t.Fatalf("test message has %d links: %q", len(links), links)
	}
	var hrefs []string
	for _, a := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(h, -1) {
		hrefs = append(hrefs, a[1])
	}
	if strings.Join(hrefs, " ") != strings.Join(links, " ") {
		t.Errorf("HTML links %q, want the text's %q", hrefs, links)
	}
	for _, c := range codeInText.FindAllString(m.Body, -1) {
		if !strings.Contains(h, ">"+c+"</strong>") {
			t.Errorf("HTML lacks the code %s", c)
		}
	}
	if !strings.Contains(h, "<title>123456 is your Acme code</title>") {
		t.Errorf("HTML title is not the subject:\n%s", h)
	}
}

// Without a logo the header is the display name in the accent colour, and
// no part is attached; a workspace that is gone gets its text alone; a store
// that fails is a failure worth retrying, not a mail without branding.
func TestSMTPSendBrandFallbacks(t *testing.T) {
	t.Run("no logo", func(t *testing.T) {
		srv := startSMTP(t, serverOptions{})
		s := newSender(t, "smtp+plain://"+srv.Addr, nil)
		s.Brands = brandStore{ws: &gatehouse.Workspace{ID: 7, Name: "Acme Tax", Brand: gatehouse.Brand{Accent: "not a colour"}}}
		if err := s.Send(t.Context(), brandedMessage()); err != nil {
			t.Fatal(err)
		}
		p := parseMail(t, srv.Received()[0].Data)
		if len(p.Inline) != 0 || strings.Contains(p.HTML, "cid:") {
			t.Errorf("a workspace without a logo got %d inline parts", len(p.Inline))
		}
		if !strings.Contains(p.HTML, ">Acme Tax</td>") || !strings.Contains(p.HTML, mail.DefaultAccent) {
			t.Errorf("HTML lacks the workspace name or the default accent for a bad one:\n%s", p.HTML)
		}
	})
	t.Run("workspace gone", func(t *testing.T) {
		srv := startSMTP(t, serverOptions{})
		s := newSender(t, "smtp+plain://"+srv.Addr, nil)
		s.Brands = brandStore{}
		m := brandedMessage()
		if err := s.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		p := parseMail(t, srv.Received()[0].Data)
		if !strings.HasPrefix(p.ContentType, "text/plain") || p.HTML != "" || strings.TrimRight(p.Body, "\n") != strings.TrimRight(m.Body, "\n") {
			t.Errorf("Content-Type %q, HTML %d bytes; want the text alone", p.ContentType, len(p.HTML))
		}
	})
	t.Run("store fails", func(t *testing.T) {
		srv := startSMTP(t, serverOptions{})
		s := newSender(t, "smtp+plain://"+srv.Addr, nil)
		down := errors.New("database is down")
		s.Brands = brandStore{err: down}
		err := s.Send(t.Context(), brandedMessage())
		if !errors.Is(err, down) || mail.IsPermanent(err) {
			t.Errorf("Send = %v, want the store's error, temporary", err)
		}
		if n := len(srv.Received()); n != 0 {
			t.Errorf("server received %d messages", n)
		}
	})
}

// The stores hand the SMTP sender what the branding page saved: the
// display name, the accent and the re-encoded logo.
func TestSMTPSendBrandFromStore(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := t.Context()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2041, 3, 4, 5, 6, 7, 0, time.UTC)
	ws := gatehouse.NewWorkspace("acme", "acme", gatehouse.PlanStarter, now)
	if err := db.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	logo := &gatehouse.Logo{ID: "feedfacefeedface", PNG: testPNG(t), UpdatedAt: now}
	if _, err := db.SetBrand(ctx, ws.ID, gatehouse.Brand{DisplayName: "Acme Tax", Accent: "#0b5cad"}, logo, now, nil); err != nil {
		t.Fatal(err)
	}
	srv := startSMTP(t, serverOptions{})
	s := newSender(t, "smtp+plain://"+srv.Addr, nil)
	s.Brands = db
	m := brandedMessage()
	m.WorkspaceID = ws.ID
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, srv.Received()[0].Data)
	if len(p.Inline) != 1 || !bytes.Equal(p.Inline[0].Data, logo.PNG) {
		t.Fatalf("inline parts %d, want the stored logo", len(p.Inline))
	}
	if !strings.Contains(p.HTML, `>Acme Tax</td>`) || !strings.Contains(p.HTML, "#0b5cad") {
		t.Errorf("HTML lacks the stored brand:\n%s", p.HTML)
	}
}

// HTML makes links of addresses (without the punctuation after them) and
// shows codes, keeping every other word of the text.
func TestHTMLText(t *testing.T) {
	h, err := mail.HTML(mail.Brand{Name: "Acme"}, "s", "Go to https://a.test/x?y=1&z=2, then http://b.test.\nCode 654321; not 1234567.", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<a href="https://a.test/x?y=1&amp;z=2"`, `>https://a.test/x?y=1&amp;z=2</a>, then `,
		`<a href="http://b.test"`, `>http://b.test</a>.<br>Code `,
		`>654321</strong>; not 1234567.`,
	} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q:\n%s", want, h)
		}
	}
}
