package web

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// hostile are strings that html/template must escape, or must not: markup,
// quotes, entities, plus signs, line breaks, NUL, malformed UTF-8,
// non-characters and characters outside ASCII.
var hostile = []string{
	"",
	"Casey Client",
	`<script>alert("x")</script>`,
	`"><img src=x onerror=alert(1)>`,
	"a & b's +1 &amp; &#39;",
	"line one\nline two\r\nline three",
	"nul\x00byte",
	"bad \xff\xfe utf-8 \xc3",
	"é ü 漢字 🚀 \ufdd0 \uffff",
	"javascript:alert(1)",
	"a b/c?d=e&f#g%20~._-",
}

// TestPortalHomeWriterMatchesTemplate checks that writePortalHome writes
// exactly what the "portal" template writes, for pages with and without
// each part and hostile text in every field a user or client can set.
func TestPortalHomeWriterMatchesTemplate(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{pages: p}
	n := 0
	for i, text := range hostile {
		for variant := range 8 {
			page := portalHomeCase(text, hostile[(i+variant)%len(hostile)], variant)
			comparePortalHome(t, s, fmt.Sprintf("text %d, variant %d", i, variant), page)
			n++
		}
	}
	if n < 80 {
		t.Fatalf("only %d cases", n)
	}
}

// portalHomeCase builds a portal home page with text in every field and
// a shape picked by variant.
func portalHomeCase(text, other string, variant int) *portalPage {
	ws := &gatehouse.Workspace{ID: int64(1 + variant%3), Slug: "acme", Name: "Acme " + text,
		UpdatedAt: time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(variant) * time.Hour)}
	if variant&1 != 0 {
		ws.Brand = gatehouse.Brand{DisplayName: other, Accent: "#123456", Logo: text}
	}
	u := &gatehouse.User{ID: 2, Email: text + "@example.com", Name: other, Role: gatehouse.RoleClient}
	pg := &portalPage{page: page{Title: "Your portal", Workspace: ws, User: u}, space: &space{Client: &portal.Client{ID: 3, Name: text}}}
	switch variant % 4 {
	case 1:
		pg.User.Role = gatehouse.RoleOwner
	case 2:
		pg.User.Role = gatehouse.RoleMember
		pg.Pending = true
	case 3:
		pg.Flash = text
	}
	if variant == 6 {
		pg.Workspace = nil
	}
	switch variant % 3 {
	case 0:
		pg.TwoStep = twoStepCard{On: true, Methods: text}
	case 1:
		pg.TwoStep = twoStepCard{Invite: true}
	}
	if variant >= 2 {
		for j := range variant {
			pg.Open = append(pg.Open, requestRow{ID: int64(j), Title: text, Note: other[:len(other)*(j%2)], Due: text[:len(text)*((j+1)%2)],
				Overdue: j%3 == 0, Open: true})
			pg.Documents = append(pg.Documents, documentRow{ID: int64(1000 + j), Title: text, FileName: other, Note: text[:len(text)*(j%2)],
				Size: "64 KB", Uploaded: "1 Mar 2039 12:00", Uploader: other[:len(other)*(j%2)], Sensitive: j%2 == 0, Type: "PDF"})
			pg.Messages = append(pg.Messages, messageRow{Author: other, Staff: j%2 == 0, Mine: j%3 == 0, Body: text, At: "1 Mar 2039 12:00",
				Unread: j%2 == 1})
		}
	}
	return pg
}

func comparePortalHome(t *testing.T, s *Server, name string, pg *portalPage) {
	t.Helper()
	var want bytes.Buffer
	if err := s.pages.byName["portal"].ExecuteTemplate(&want, "layout.html", *pg); err != nil {
		t.Fatalf("%s: template: %v", name, err)
	}
	// Twice: the second write takes the layout's start from memory.
	for round := range 2 {
		var got bytes.Buffer
		s.writePortalHome(&got, pg)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			i := 0
			for i < min(got.Len(), want.Len()) && got.Bytes()[i] == want.Bytes()[i] {
				i++
			}
			t.Fatalf("%s, round %d: the writer differs from the template at byte %d:\nwriter:   %q\ntemplate: %q",
				name, round+1, i, got.Bytes()[max(0, i-80):min(got.Len(), i+80)], want.Bytes()[max(0, i-80):min(want.Len(), i+80)])
		}
	}
}

// FuzzPortalHomeWriter compares the writer with the template on any text.
//
//	go test ./web -run '^$' -fuzz FuzzPortalHomeWriter
func FuzzPortalHomeWriter(f *testing.F) {
	for i, h := range hostile {
		f.Add(h, hostile[(i+1)%len(hostile)], uint8(i))
	}
	p, err := parsePages()
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{pages: p}
	f.Fuzz(func(t *testing.T, text, other string, variant uint8) {
		comparePortalHome(t, s, "fuzz", portalHomeCase(text, other, int(variant%8)))
	})
}

// TestPortalHomeHeadFollowsWorkspace checks that the layout's start kept
// per workspace is made again when anything it shows changes, even within
// the same second of UpdatedAt.
func TestPortalHomeHeadFollowsWorkspace(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{pages: p}
	pg := portalHomeCase("text", "other", 2)
	changes := []func(ws *gatehouse.Workspace){
		func(ws *gatehouse.Workspace) { ws.Name = "Renamed" },
		func(ws *gatehouse.Workspace) { ws.Brand.DisplayName = "Shown <name>" },
		func(ws *gatehouse.Workspace) { ws.Brand.Accent = "#654321" },
		func(ws *gatehouse.Workspace) { ws.Brand.Logo = "logo-2" },
		func(ws *gatehouse.Workspace) { ws.Brand.Accent = "" },
		func(ws *gatehouse.Workspace) { ws.Brand.Logo = "" },
		func(ws *gatehouse.Workspace) { ws.Brand.Accent = "#111111" },
		func(ws *gatehouse.Workspace) { ws.UpdatedAt = ws.UpdatedAt.Add(time.Hour) },
	}
	comparePortalHome(t, s, "first", pg)
	for i, change := range changes {
		ws := *pg.Workspace
		change(&ws)
		pg.Workspace = &ws
		comparePortalHome(t, s, fmt.Sprintf("change %d", i), pg)
	}
	pg.Title = "Another title"
	comparePortalHome(t, s, "title", pg)
}
