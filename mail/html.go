package mail

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// Brand is how a workspace's e-mail looks (SPEC §16): the name it signs
// with, its accent colour and its logo.
type Brand struct {
	Name string
	// Accent is #rrggbb; anything else gets DefaultAccent. Its contrast on
	// white was checked when the owner saved it.
	Accent string
	// Logo is the workspace's logo as Gatehouse re-encoded it (a PNG), nil
	// for none; LogoID names it by its content.
	Logo   []byte
	LogoID string
}

// DefaultAccent is the product's accent colour (web/static/style.css).
const DefaultAccent = "#2f5bd3"

// BrandStore is where the SMTP sender reads a workspace's branding as it
// sends: the store's workspace and logo.
type BrandStore interface {
	FindWorkspaceByID(ctx context.Context, id int64) (*gatehouse.Workspace, error)
	FindLogo(ctx context.Context, workspaceID int64) (*gatehouse.Logo, error)
}

// LoadBrand returns the branding of the workspace with the ID, and false
// when there is no such workspace (its mail then goes out as text only).
func LoadBrand(ctx context.Context, st BrandStore, workspaceID int64) (Brand, bool, error) {
	ws, err := st.FindWorkspaceByID(ctx, workspaceID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return Brand{}, false, nil
	}
	if err != nil {
		return Brand{}, false, fmt.Errorf("branding of workspace %d: %w", workspaceID, err)
	}
	b := Brand{Name: ws.DisplayName(), Accent: ws.Brand.Accent}
	if ws.Brand.Logo != "" {
		l, err := st.FindLogo(ctx, workspaceID)
		switch {
		case errors.Is(err, gatehouse.ErrNotFound):
			// Removed since the workspace was read: no logo.
		case err != nil:
			return Brand{}, false, fmt.Errorf("logo of workspace %d: %w", workspaceID, err)
		default:
			b.Logo, b.LogoID = l.PNG, l.ID
		}
	}
	return b, true, nil
}

// PreviewHTML renders the HTML part of m as SMTP would send it now, with
// the logo as a data: URL instead of an inline part, for the dev outbox to
// show in a browser. ErrNotFound when m's workspace is gone.
func PreviewHTML(ctx context.Context, st BrandStore, m gatehouse.Message) (string, error) {
	b, ok, err := LoadBrand(ctx, st, m.WorkspaceID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("preview message %d: workspace %d: %w", m.ID, m.WorkspaceID, gatehouse.ErrNotFound)
	}
	src := ""
	if len(b.Logo) > 0 {
		src = "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Logo)
	}
	return HTML(b, m.Subject, m.Body, src)
}

//go:embed templates/message.html
var templateFS embed.FS

var htmlTemplate = template.Must(template.ParseFS(templateFS, "templates/message.html"))

var (
	accentRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	// linkRE finds the links in a text body; codeRE its one-time codes
	// (six digits, as mfa.NewCode makes them).
	linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)
	codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)
)

// span is a run of a line: plain text, a link (Link is its address) or a
// code.
type span struct {
	Text string
	Link string
	Code bool
}

type htmlData struct {
	Subject    string
	Name       string
	Accent     string
	LogoSrc    template.URL
	Paragraphs [][][]span
}

// HTML renders the HTML alternative of an e-mail whose plain text is text:
// the same words, links and codes, in the workspace's brand. logoSrc is the
// image source of the logo ("cid:…" for the inline part), "" for none; it
// is the caller's own, trusted as a URL (html/template would refuse cid:).
// Everything from the text and the brand is escaped by html/template, so a
// hostile display name stays text.
func HTML(b Brand, subject, text, logoSrc string) (string, error) {
	d := htmlData{Subject: subject, Name: b.Name, Accent: b.Accent, LogoSrc: template.URL(logoSrc)}
	if !accentRE.MatchString(d.Accent) {
		d.Accent = DefaultAccent
	}
	text = strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n")
	for _, p := range strings.Split(text, "\n\n") {
		var para [][]span
		for _, l := range strings.Split(strings.Trim(p, "\n"), "\n") {
			para = append(para, spans(l))
		}
		d.Paragraphs = append(d.Paragraphs, para)
	}
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, d); err != nil {
		return "", fmt.Errorf("render HTML e-mail: %w", err)
	}
	return buf.String(), nil
}

// spans splits a line into text, links and codes. A link ends before
// trailing punctuation ("…/login, or"), which stays text, as a reader of
// the plain text would take it.
func spans(line string) []span {
	var out []span
	text := func(s string) {
		for len(s) > 0 {
			loc := codeRE.FindStringIndex(s)
			if loc == nil {
				out = append(out, span{Text: s})
				return
			}
			if loc[0] > 0 {
				out = append(out, span{Text: s[:loc[0]]})
			}
			out = append(out, span{Text: s[loc[0]:loc[1]], Code: true})
			s = s[loc[1]:]
		}
	}
	for len(line) > 0 {
		loc := linkRE.FindStringIndex(line)
		if loc == nil {
			text(line)
			break
		}
		link := strings.TrimRight(line[loc[0]:loc[1]], ".,;:!?)'")
		text(line[:loc[0]])
		out = append(out, span{Text: link, Link: link})
		line = line[loc[0]+len(link):]
	}
	return out
}
