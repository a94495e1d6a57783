package web

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"

	"github.com/gatehouse-dev/gatehouse"
)

// The portal home is the page clients open most, and html/template spent
// most of its time there in reflection (each {{.Field}} looked up by name,
// each escaper called through reflect.Value.Call). writePortalHome writes
// the same bytes with plain code: the templates (layout.html,
// pages/portal.html, partials/portal.html) stay the page's source, and
// TestPortalHomeWriterMatchesTemplate and FuzzPortalHomeWriter check that
// the two agree byte for byte, hostile strings included. A change to those
// templates must be made here too; those tests fail until it is.

// writeHTML writes s escaped as html/template escapes text and quoted
// attribute values (its htmlEscaper, rcdataEscaper and attrEscaper for a
// plain string): NUL becomes U+FFFD and " & ' + < > become entities. Every
// byte it changes is ASCII, so working on bytes is the same as its rune
// loop (a malformed UTF-8 byte passes through unchanged there too).
func writeHTML(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case 0:
			esc = "\uFFFD"
		case '"':
			esc = "&#34;"
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '+':
			esc = "&#43;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// writeURLQueryValue writes s as html/template writes a value in the
// query of a URL inside a quoted attribute: percent-encoded (lower-case
// hex) except the unreserved characters of RFC 3986, after which the
// attribute escaper has nothing left to change.
func writeURLQueryValue(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

func writeInt(b *bytes.Buffer, n int64) {
	var a [20]byte
	b.Write(strconv.AppendInt(a[:0], n, 10))
}

// layoutHead is the layout up to the header's brand link, which only
// changes with the workspace: kept per workspace as last rendered, and
// made again when anything it shows changes.
type layoutHead struct {
	mu   sync.Mutex
	byWS map[int64]*headEntry
}

// headEntry is a workspace's head as made, with what it was made from.
// It is never changed once kept, only replaced.
type headEntry struct {
	title, name, accent, logo string
	updated                   int64
	html                      []byte
}

// maxHeads bounds the kept heads; past it they are dropped and made again.
const maxHeads = 4096

var (
	cssStyle   = mustStatic("style.css")
	cssMFA     = mustStatic("mfa.css")
	favicon    = mustStatic("favicon.svg")
	countdownJ = mustStatic("countdown.js")
)

func mustStatic(name string) string {
	p, err := staticPath(name)
	if err != nil {
		panic(err) // the file is embedded at build time
	}
	return p
}

// write writes the layout's start for the workspace (nil on the base host)
// with the page's title.
func (h *layoutHead) write(b *bytes.Buffer, title string, ws *gatehouse.Workspace) {
	if ws == nil {
		writeHead(b, title, ws)
		return
	}
	name, updated := ws.DisplayName(), ws.UpdatedAt.Unix()
	h.mu.Lock()
	e := h.byWS[ws.ID]
	h.mu.Unlock()
	if e != nil && e.title == title && e.name == name && e.accent == ws.Brand.Accent && e.logo == ws.Brand.Logo && e.updated == updated {
		b.Write(e.html)
		return
	}
	start := b.Len()
	writeHead(b, title, ws)
	e = &headEntry{title: title, name: name, accent: ws.Brand.Accent, logo: ws.Brand.Logo, updated: updated,
		html: bytes.Clone(b.Bytes()[start:])}
	h.mu.Lock()
	if h.byWS == nil || len(h.byWS) >= maxHeads {
		h.byWS = map[int64]*headEntry{}
	}
	h.byWS[ws.ID] = e
	h.mu.Unlock()
}

// writeHead writes layout.html from its start to the end of the header's
// brand link.
func writeHead(b *bytes.Buffer, title string, ws *gatehouse.Workspace) {
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
	writeHTML(b, title)
	if ws != nil {
		b.WriteString(" · ")
		writeHTML(b, brandName(ws))
	}
	b.WriteString("</title>\n<link rel=\"stylesheet\" href=\"" + cssStyle + "\">\n<link rel=\"stylesheet\" href=\"" + cssMFA + "\">\n")
	if ws != nil && ws.Brand.Accent != "" {
		b.WriteString("<link rel=\"stylesheet\" href=\"/brand.css?v=")
		writeInt(b, ws.UpdatedAt.Unix())
		b.WriteString("\">")
	}
	b.WriteString("\n<link rel=\"icon\" href=\"" + favicon + "\" type=\"image/svg+xml\">\n</head>\n<body>\n<header class=\"top\">\n  <a class=\"brand\" href=\"/\">")
	if ws != nil && ws.Brand.Logo != "" {
		b.WriteString("<img src=\"/brand/logo.png?v=")
		writeURLQueryValue(b, ws.Brand.Logo)
		b.WriteString("\" alt=\"\" height=\"32\">")
	}
	writeHTML(b, brandName(ws))
	b.WriteString("</a>\n  ")
}

// writeLayoutNav writes the rest of layout.html's header and the start of
// main, up to the page's content.
func writeLayoutNav(b *bytes.Buffer, p *page) {
	switch {
	case p.User != nil && p.Pending:
		b.WriteString("\n  <nav aria-label=\"Account\">\n    <form method=\"post\" action=\"/logout\" class=\"inline\">" +
			"<button type=\"submit\" class=\"link\">Sign out</button></form>\n  </nav>\n  ")
	case p.User != nil:
		b.WriteString("\n  <nav aria-label=\"Main\">\n    ")
		if p.User.Role.IsStaff() {
			b.WriteString("<a href=\"/dashboard\">Dashboard</a> <a href=\"/dashboard/clients\">Clients</a>")
			if p.User.Role.CanManageUsers() {
				b.WriteString(" <a href=\"/dashboard/users\">Users</a>")
			}
			b.WriteString("\n    ")
		} else {
			b.WriteString("<a href=\"/portal\">Home</a> <a href=\"/portal/documents\">Documents</a> <a href=\"/portal/messages\">Messages</a>")
		}
		b.WriteString("\n    <a href=\"/account/security\">Security</a>\n    <span class=\"who\">")
		writeHTML(b, p.User.Email)
		b.WriteString("</span>\n    <form method=\"post\" action=\"/logout\" class=\"inline\">" +
			"<button type=\"submit\" class=\"link\">Sign out</button></form>\n  </nav>\n  ")
	}
	b.WriteString("\n</header>\n<main>\n")
	if p.Flash != "" {
		b.WriteString("<p class=\"flash\" role=\"status\">")
		writeHTML(b, p.Flash)
		b.WriteString("</p>")
	}
	b.WriteString("\n")
}

// writeLayoutEnd writes layout.html after the page's content (a page
// without a "scripts" block).
func writeLayoutEnd(b *bytes.Buffer) {
	b.WriteString("\n</main>\n<footer>Protected by Gatehouse</footer>\n<script src=\"" + countdownJ + "\"></script>\n\n</body>\n</html>\n")
}

// writePortalHome writes the "portal" page as its template would.
func (s *Server) writePortalHome(b *bytes.Buffer, p *portalPage) {
	s.heads.write(b, p.Title, p.Workspace)
	writeLayoutNav(b, &p.page)

	b.WriteString("\n<h1>Welcome")
	if p.User != nil && p.User.Name != "" {
		b.WriteString(", ")
		writeHTML(b, p.User.Name)
	}
	b.WriteString("</h1>\n")
	if len(p.Open) > 0 {
		b.WriteString("\n<section class=\"card\">\n<h2>We need from you</h2>\n<ul class=\"requests\">\n")
		for i := range p.Open {
			r := &p.Open[i]
			b.WriteString("<li><strong>")
			writeHTML(b, r.Title)
			b.WriteString("</strong>")
			if r.Due != "" {
				b.WriteString(" <span class=\"meta\">due ")
				writeHTML(b, r.Due)
				b.WriteString("</span>")
			}
			if r.Overdue {
				b.WriteString(" <span class=\"tag bad\">Overdue</span>")
			}
			b.WriteString("\n  ")
			writeNote(b, r.Note)
			b.WriteString("</li>\n")
		}
		b.WriteString("\n</ul>\n<p><a href=\"/portal/documents\">Upload a document</a></p>\n</section>\n")
	}
	b.WriteString("\n<section class=\"card\">\n<h2>Recent documents</h2>\n")
	writeDocList(b, p.Documents)
	b.WriteString("\n<p><a href=\"/portal/documents\">All documents</a></p>\n</section>\n<section class=\"card\">\n<h2>Latest messages</h2>\n")
	writeConversation(b, p.Messages)
	b.WriteString("\n<p><a href=\"/portal/messages\">Open the conversation</a></p>\n</section>\n" +
		"<section class=\"card twostep\">\n<h2>Two-step verification</h2>\n")
	switch {
	case p.TwoStep.On:
		b.WriteString("<p>On: you confirm sign-ins with your ")
		writeHTML(b, p.TwoStep.Methods)
		b.WriteString(".</p>\n<p><a href=\"/account/security\">Manage</a></p>\n")
	case p.TwoStep.Invite:
		b.WriteString("<p>Your files are protected by your password alone. Turn on two-step verification so that a stolen password is not enough.</p>\n" +
			"<p><a class=\"button\" href=\"/account/security\">Turn it on</a></p>\n")
	default:
		b.WriteString("<p>Off.</p>")
	}
	b.WriteString("\n</section>\n")

	writeLayoutEnd(b)
}

// writeDocList writes the "doclist" partial.
func writeDocList(b *bytes.Buffer, docs []documentRow) {
	if len(docs) == 0 {
		b.WriteString("\n\n<p class=\"hint\">No documents yet.</p>\n\n")
		return
	}
	b.WriteString("\n\n<ul class=\"docs\">\n")
	for i := range docs {
		d := &docs[i]
		b.WriteString("<li>\n  <a class=\"document-link\" href=\"/documents/")
		writeInt(b, d.ID)
		b.WriteString("\">")
		writeHTML(b, d.Title)
		b.WriteString("</a>")
		if d.Sensitive {
			b.WriteString(" <span class=\"tag\">Sensitive</span>")
		}
		b.WriteString("\n  <span class=\"meta\">")
		writeHTML(b, d.Type)
		b.WriteString(" · ")
		writeHTML(b, d.Size)
		b.WriteString(" · ")
		writeHTML(b, d.Uploaded)
		if d.Uploader != "" {
			b.WriteString(" · ")
			writeHTML(b, d.Uploader)
		}
		b.WriteString("</span>\n  ")
		writeNote(b, d.Note)
		b.WriteString("\n</li>\n")
	}
	b.WriteString("\n</ul>\n\n")
}

// writeNote writes a request's or document's note, if it has one.
func writeNote(b *bytes.Buffer, note string) {
	if note != "" {
		b.WriteString("<span class=\"note\">")
		writeHTML(b, note)
		b.WriteString("</span>")
	}
}

// writeConversation writes the "conversation" partial. A body's line
// breaks stay as typed: the stylesheet shows them (white-space: pre-wrap).
func writeConversation(b *bytes.Buffer, ms []messageRow) {
	if len(ms) == 0 {
		b.WriteString("\n\n<p class=\"hint\">No messages yet.</p>\n\n")
		return
	}
	b.WriteString("\n\n<ol class=\"conversation\">\n")
	for i := range ms {
		m := &ms[i]
		b.WriteString("<li class=\"msg")
		if m.Staff {
			b.WriteString(" staff")
		}
		if m.Unread {
			b.WriteString(" unread")
		}
		b.WriteString("\"")
		if i == len(ms)-1 {
			b.WriteString(" id=\"latest\"")
		}
		b.WriteString(">\n  <p class=\"meta\"><strong>")
		writeHTML(b, m.Author)
		b.WriteString("</strong> · ")
		writeHTML(b, m.At)
		if m.Unread {
			b.WriteString(" <span class=\"tag new\">New</span>")
		}
		b.WriteString("</p>\n  <p class=\"body\">")
		writeHTML(b, m.Body)
		b.WriteString("</p>\n</li>\n")
	}
	b.WriteString("\n</ol>\n\n")
}

// renderPortalHome writes the portal home with the status, as render
// would with the "portal" template.
func (s *Server) renderPortalHome(w http.ResponseWriter, status int, p *portalPage) {
	buf := getBuffer()
	defer putBuffer(buf)
	s.writePortalHome(buf, p)
	h := w.Header()
	h["Content-Type"] = htmlType
	h["Cache-Control"] = noStore
	writeBody(w, status, buf)
}
