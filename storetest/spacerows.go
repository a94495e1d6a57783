package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// spaceTexts are the titles, notes, names and bodies testSpaceRows stores:
// empty, spaces and digits (what a packed row's header is made of),
// markup, quotes and text in several scripts.
var spaceTexts = []string{"", " ", "0", "12 34 ", " 5 6", "Quarterly report", `<b>"x"</b> & 'y' +`,
	"naïve café — 東京 🚀", "line\nbreak\r\nand\ttab", "999999999999999999999 -1 "}

// testSpaceRows checks ListSpaceDocuments and ListClientMessages, the
// reads a client's space is made of, with text that could confuse a store
// that packs rows: see SpaceRowsWith.
func testSpaceRows(t *testing.T, s PortalStore) {
	SpaceRowsWith(t, s, spaceTexts)
}

// SpaceRowsWith checks, with texts in every text field, that
// ListSpaceDocuments returns what ListDocuments does for the client
// (ready documents only, newest first, ties by ID, at most limit) with
// only the fields a space shows, and that ListClientMessages returns the
// latest messages oldest first with their author's name (or e-mail) and
// role; neither shows another client's or workspace's rows. A store may
// call it with texts only it can hold (SQLite: NUL, malformed UTF-8).
func SpaceRowsWith(t *testing.T, s PortalStore, texts []string) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	other := MustCreateWorkspace(t, s, "other")
	c := MustCreateClient(t, s, ws.ID, "Alpha")
	c2 := MustCreateClient(t, s, ws.ID, "Beta")
	oc := MustCreateClient(t, s, other.ID, "Gamma")
	staff := MustCreateUser(t, s, ws.ID, "staff@example.com", gatehouse.RoleAdmin)
	client := MustCreateUser(t, s, ws.ID, "client@example.com", gatehouse.RoleClient)
	nameless := &gatehouse.User{Email: "nameless@example.com", Role: gatehouse.RoleClient, PasswordHash: fakeHash, CreatedAt: t0, UpdatedAt: t0}
	must(t, "create user", s.CreateUser(ctx, ws.ID, nameless))
	users := []*gatehouse.User{staff, client, nameless}
	text := func(i int) string { return texts[i%len(texts)] }

	var msgs []portal.Message
	for i := range 2*len(texts) + 3 {
		author := users[i%len(users)]
		at := t0.Add(time.Duration(i%4) * time.Hour) // ties, out of ID order
		d := &portal.Document{ClientID: c.ID, FileName: text(i + 1), UploaderID: author.ID, CreatedAt: at}
		must(t, "create document", s.CreateDocument(ctx, ws.ID, d))
		if i%7 == 3 {
			continue // an upload in progress: never listed
		}
		d.Title, d.Note, d.ContentType, d.Size, d.Sensitive = text(i), text(i+2), text(i+3), int64(i)<<(i%40), i%2 == 0
		d.SHA256, d.SealedKey, d.Chunks = make([]byte, 32), []byte("key"), 1+i
		must(t, "finish document", s.FinishDocuments(ctx, ws.ID, []*portal.Document{d}, 0, at, portal.Record{}))

		body := text(i)
		if body == "" {
			body = "-"
		}
		m := &portal.Message{ClientID: c.ID, AuthorID: author.ID, Body: body, CreatedAt: at}
		must(t, "add message", s.AddClientMessage(ctx, ws.ID, m))
		name := author.Name
		if name == "" {
			name = author.Email
		}
		msgs = append(msgs, portal.Message{ID: m.ID, WorkspaceID: ws.ID, ClientID: c.ID, AuthorID: author.ID, AuthorName: name,
			AuthorStaff: author.Role.IsStaff(), Body: body, CreatedAt: at})
	}
	// Rows of another client and workspace, which no list shows.
	for _, x := range []struct{ ws, client int64 }{{ws.ID, c2.ID}, {other.ID, oc.ID}} {
		d := &portal.Document{ClientID: x.client, FileName: "other.pdf", UploaderID: staff.ID, CreatedAt: t0.Add(9 * time.Hour)}
		if err := s.CreateDocument(ctx, x.ws, d); err == nil {
			d.Title, d.SealedKey, d.Chunks = "other", []byte("k"), 1
			must(t, "finish document", s.FinishDocuments(ctx, x.ws, []*portal.Document{d}, 0, d.CreatedAt, portal.Record{}))
		}
		m := &portal.Message{ClientID: x.client, AuthorID: staff.ID, Body: "other", CreatedAt: t0.Add(9 * time.Hour)}
		if err := s.AddClientMessage(ctx, x.ws, m); err != nil && x.ws == ws.ID {
			t.Fatal(err)
		}
	}

	check := func(stage string) {
		t.Helper()
		for _, limit := range []int{0, 1, 2, 3, 5, 1000} {
			all, err := s.ListDocuments(ctx, ws.ID, c.ID, limit)
			must(t, "list documents", err)
			got, err := s.ListSpaceDocuments(ctx, ws.ID, c.ID, limit)
			must(t, "list space documents", err)
			want := make([]portal.Document, len(all))
			for i, d := range all {
				want[i] = portal.Document{ID: d.ID, WorkspaceID: d.WorkspaceID, ClientID: d.ClientID, Title: d.Title, Note: d.Note,
					ContentType: d.ContentType, Size: d.Size, Sensitive: d.Sensitive, UploaderName: d.UploaderName, CreatedAt: d.CreatedAt}
			}
			if len(want) == 0 || len(got) != len(want) || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: ListSpaceDocuments(limit %d):\n got %s\nwant %s", stage, limit, docsText(got), docsText(want))
			}

			got2, err := s.ListClientMessages(ctx, ws.ID, c.ID, limit)
			must(t, "list messages", err)
			want2 := msgs
			if limit > 0 && limit < len(msgs) {
				want2 = msgs[len(msgs)-limit:]
			}
			if !reflect.DeepEqual(got2, want2) {
				t.Errorf("%s: ListClientMessages(limit %d):\n got %+v\nwant %+v", stage, limit, got2, want2)
			}
		}
	}
	check("written")

	// Changes a store that keeps the latest rows ready must follow: a
	// deleted document, and an author's role (staff or not).
	latest, err := s.ListDocuments(ctx, ws.ID, c.ID, 1)
	must(t, "list documents", err)
	must(t, "delete document", s.DeleteDocument(ctx, ws.ID, latest[0].ID))
	check("document deleted")
	must(t, "set role", s.SetUserRole(ctx, ws.ID, staff.ID, gatehouse.RoleClient, t0))
	for i := range msgs {
		if msgs[i].AuthorID == staff.ID {
			msgs[i].AuthorStaff = false
		}
	}
	check("role changed")

	for _, x := range []struct{ ws, client int64 }{{other.ID, c.ID}, {ws.ID, oc.ID}} {
		if ds, err := s.ListSpaceDocuments(ctx, x.ws, x.client, 0); err != nil || len(ds) != 0 {
			t.Errorf("ListSpaceDocuments(workspace %d, client %d) = %d documents, %v; want none", x.ws, x.client, len(ds), err)
		}
		if ms, err := s.ListClientMessages(ctx, x.ws, x.client, 0); err != nil || len(ms) != 0 {
			t.Errorf("ListClientMessages(workspace %d, client %d) = %d messages, %v; want none", x.ws, x.client, len(ms), err)
		}
	}
}

func docsText(ds []portal.Document) string {
	s := ""
	for _, d := range ds {
		s += fmt.Sprintf("\n  %+v", d)
	}
	return s
}
