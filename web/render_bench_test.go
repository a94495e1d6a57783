package web

import (
	"io"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// BenchmarkRenderPortal measures the portal home's rendering alone, with
// the content a portal in use shows (three documents, an open request,
// three messages): by its template, and by writePortalHome, which serves
// the page and writes the same bytes.
func BenchmarkRenderPortal(b *testing.B) {
	p, err := parsePages()
	if err != nil {
		b.Fatal(err)
	}
	t := p.byName["portal"]
	ws := &gatehouse.Workspace{ID: 1, Slug: "acme", Name: "Acme & Co"}
	u := &gatehouse.User{ID: 2, Email: "casey@example.com", Name: "Casey Client", Role: gatehouse.RoleClient}
	sp := &space{Client: &portal.Client{ID: 3, Name: "Casey"}, MaxUpload: "25 MB"}
	for i := range 3 {
		sp.Documents = append(sp.Documents, documentRow{ID: int64(i + 1), Title: "Quarterly report", FileName: "q3.pdf",
			Size: "64 KB", Uploaded: "1 Mar 2039 12:00", Uploader: "Olivia Owner", Type: "PDF"})
		sp.Messages = append(sp.Messages, messageRow{Author: "Olivia Owner", Staff: true, Body: "Your report is ready <b>now</b>.", At: "1 Mar 2039 12:00"})
	}
	sp.Open = []requestRow{{ID: 1, Title: "Signed letter", Note: "Please sign.", Open: true}}
	sp.Requests = sp.Open
	data := portalPage{page: page{Title: "Your portal", Workspace: ws, User: u}, space: sp, TwoStep: twoStepCard{Invite: true}}
	b.Run("template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf := getBuffer()
			if err := t.ExecuteTemplate(buf, "layout.html", data); err != nil {
				b.Fatal(err)
			}
			io.Discard.Write(buf.Bytes())
			putBuffer(buf)
		}
	})
	b.Run("writer", func(b *testing.B) {
		s := &Server{pages: p}
		b.ReportAllocs()
		for b.Loop() {
			buf := getBuffer()
			s.writePortalHome(buf, &data)
			io.Discard.Write(buf.Bytes())
			putBuffer(buf)
		}
	})
}

// BenchmarkSpaceRows measures turning the portal home's space (five
// documents, three messages, an open request) into the rows its writer
// shows: what a space with rows costs beyond an empty one, besides the
// store's read.
func BenchmarkSpaceRows(b *testing.B) {
	at := time.Date(2039, 3, 1, 12, 4, 0, 0, time.UTC)
	var docs []portal.Document
	var msgs []portal.Message
	for i := range 5 {
		docs = append(docs, portal.Document{ID: int64(i + 1), Title: "Quarterly report", ContentType: "application/pdf",
			Size: 65536 + int64(i)*1000, UploaderName: "Olivia Owner", CreatedAt: at})
	}
	for i := range 3 {
		msgs = append(msgs, portal.Message{ID: int64(i + 1), AuthorID: 9, AuthorName: "Olivia Owner", AuthorStaff: true, Body: "Ready.", CreatedAt: at})
	}
	reqs := []portal.Request{{ID: 1, Title: "Signed letter", Status: portal.RequestOpen, Due: at, CreatedAt: at}}
	b.ReportAllocs()
	for b.Loop() {
		documentRows(docs)
		messageRows(msgs, 2, 1)
		requestRows(reqs, at)
	}
}
