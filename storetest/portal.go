package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// PortalStore is a store that also keeps the client portal.
type PortalStore interface {
	gatehouse.Store
	portal.Store
}

// RunPortal runs the portal's conformance tests against stores made by open.
func RunPortal(t *testing.T, open func(tb testing.TB) PortalStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s PortalStore)
	}{
		{"Clients", testClients},
		{"Documents", testDocuments},
		{"OpenDocument", testOpenDocument},
		{"FinishAllOrNothing", testFinishAllOrNothing},
		{"Requests", testRequests},
		{"ClientMessages", testClientMessages},
		{"SpaceRows", testSpaceRows},
		{"PortalTenancy", testPortalTenancy},
		{"AuditByClient", testAuditByClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// MustCreateClient creates a client named name in the workspace.
func MustCreateClient(tb testing.TB, s portal.Store, wsID int64, name string) *portal.Client {
	tb.Helper()
	c := &portal.Client{Name: name, CreatedAt: t0}
	if err := s.CreateClient(context.Background(), wsID, c); err != nil {
		tb.Fatalf("create client %s: %v", name, err)
	}
	return c
}

// mustStoreDocument stores a finished document of the client with the
// chunks given, as an upload would.
func mustStoreDocument(tb testing.TB, s portal.Store, wsID, clientID, uploaderID int64, chunks ...[]byte) *portal.Document {
	tb.Helper()
	ctx := context.Background()
	d := &portal.Document{ClientID: clientID, FileName: "f.pdf", UploaderID: uploaderID, CreatedAt: t0}
	must(tb, "create document", s.CreateDocument(ctx, wsID, d))
	for i, c := range chunks {
		must(tb, "put chunk", s.PutDocumentChunk(ctx, wsID, d.ID, i, c))
	}
	d.Title, d.Size, d.SHA256, d.SealedKey, d.Chunks, d.ContentType = "Title", 3, []byte{1, 2, 3}, []byte("key"), len(chunks), "application/pdf"
	must(tb, "finish", s.FinishDocuments(ctx, wsID, []*portal.Document{d}, 0, t0.Add(2*time.Hour), portal.Record{}))
	return d
}

// readChunks collects what DocumentChunks hands its callback, copied (the
// store may reuse its buffer), and fails on an index out of order.
func readChunks(s PortalStore, wsID, docID int64, first, n int) ([][]byte, error) {
	var out [][]byte
	err := s.DocumentChunks(context.Background(), wsID, docID, first, n, func(index int, sealed []byte) error {
		if index != first+len(out) {
			return fmt.Errorf("chunk %d handed after %d", index, first+len(out)-1)
		}
		out = append(out, bytes.Clone(sealed))
		return nil
	})
	return out, err
}

func testClients(t *testing.T, s PortalStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	other := MustCreateWorkspace(t, s, "other")
	c := MustCreateClient(t, s, ws.ID, "Bravo Ltd")
	alpha := MustCreateClient(t, s, ws.ID, "Alpha Inc")
	got, err := s.FindClient(ctx, ws.ID, c.ID)
	must(t, "find client", err)
	if got.Name != "Bravo Ltd" || got.WorkspaceID != ws.ID || !got.CreatedAt.Equal(t0) {
		t.Fatalf("client read back as %+v", got)
	}
	_, err = s.FindClient(ctx, other.ID, c.ID)
	wantNotFound(t, "client from another workspace", err)

	u := MustCreateUser(t, s, ws.ID, "c@example.com", gatehouse.RoleClient)
	must(t, "set user client", s.SetUserClient(ctx, ws.ID, u.ID, c.ID))
	back, err := s.FindUserByID(ctx, ws.ID, u.ID)
	must(t, "find user", err)
	if back.ClientID != c.ID {
		t.Fatalf("user's client %d, want %d", back.ClientID, c.ID)
	}
	otherClient := MustCreateClient(t, s, other.ID, "Theirs")
	wantNotFound(t, "another workspace's client", s.SetUserClient(ctx, ws.ID, u.ID, otherClient.ID))
	back, _ = s.FindUserByID(ctx, ws.ID, u.ID)
	if back.ClientID != c.ID {
		t.Fatalf("refused assignment changed the client to %d", back.ClientID)
	}
	// A user made or re-invited into a client: the client is checked in the
	// same write, and another workspace's client makes no user.
	made := &gatehouse.User{Email: "made@example.com", Role: gatehouse.RoleClient, ClientID: c.ID, CreatedAt: t0, UpdatedAt: t0}
	must(t, "create user in a client", s.CreateUser(ctx, ws.ID, made))
	if back, err := s.FindUserByID(ctx, ws.ID, made.ID); err != nil || back.ClientID != c.ID {
		t.Fatalf("user made in client %d reads back in %d (%v)", c.ID, back.ClientID, err)
	}
	stray := &gatehouse.User{Email: "stray@example.com", Role: gatehouse.RoleClient, ClientID: otherClient.ID, CreatedAt: t0, UpdatedAt: t0}
	wantNotFound(t, "create user in another workspace's client", s.CreateUser(ctx, ws.ID, stray))
	if _, err := s.FindUserByEmail(ctx, ws.ID, "stray@example.com"); err == nil {
		t.Fatal("a user was made in another workspace's client")
	}
	must(t, "re-invite into a client", s.SetInviteeRole(ctx, ws.ID, made.ID, gatehouse.RoleClient, alpha.ID, t0))
	wantNotFound(t, "re-invite into another workspace's client", s.SetInviteeRole(ctx, ws.ID, made.ID, gatehouse.RoleClient, otherClient.ID, t0))
	must(t, "re-invite keeping the client", s.SetInviteeRole(ctx, ws.ID, made.ID, gatehouse.RoleClient, 0, t0))
	if back, _ := s.FindUserByID(ctx, ws.ID, made.ID); back.ClientID != alpha.ID {
		t.Fatalf("re-invited user in client %d, want %d", back.ClientID, alpha.ID)
	}

	members, err := s.ListClientUsers(ctx, ws.ID, c.ID)
	must(t, "list client users", err)
	if len(members) != 1 || members[0].ID != u.ID {
		t.Fatalf("members %+v", members)
	}
	if m, _ := s.ListClientUsers(ctx, other.ID, c.ID); len(m) != 0 {
		t.Fatalf("members through another workspace: %+v", m)
	}

	// A user without a client gets one of their own, once.
	solo := MustCreateUser(t, s, ws.ID, "solo@example.com", gatehouse.RoleClient)
	own := &portal.Client{Name: "Solo", CreatedAt: t0}
	must(t, "create own client", s.CreateOwnClient(ctx, ws.ID, solo.ID, own))
	again := &portal.Client{Name: "Solo again", CreatedAt: t0}
	must(t, "create own client again", s.CreateOwnClient(ctx, ws.ID, solo.ID, again))
	if again.ID != own.ID || again.Name != "Solo" {
		t.Fatalf("second call made client %+v, want the first %+v", again, own)
	}
	wantNotFound(t, "own client for another workspace's user", s.CreateOwnClient(ctx, other.ID, solo.ID, &portal.Client{Name: "x", CreatedAt: t0}))

	mustStoreDocument(t, s, ws.ID, c.ID, u.ID, []byte("x"))
	r := &portal.Request{ClientID: c.ID, Title: "Passport", Status: portal.RequestOpen, CreatedAt: t0, UpdatedAt: t0}
	must(t, "create request", s.CreateRequest(ctx, ws.ID, r))
	staff := MustCreateUser(t, s, ws.ID, "staff@example.com", gatehouse.RoleAdmin)
	must(t, "message", s.AddClientMessage(ctx, ws.ID, &portal.Message{ClientID: c.ID, AuthorID: u.ID, Body: "hi", CreatedAt: t0}))
	list, err := s.ListClients(ctx, ws.ID, staff.ID)
	must(t, "list clients", err)
	var names []string
	for _, l := range list {
		names = append(names, l.Name)
	}
	if !slices.Equal(names, []string{"Alpha Inc", "Bravo Ltd", "Solo"}) {
		t.Fatalf("clients %v, want by name", names)
	}
	if b := list[1]; b.Users != 1 || b.Documents != 1 || b.OpenRequests != 1 || b.Unread != 1 {
		t.Fatalf("counts %+v, want 1 user, 1 document, 1 open request, 1 unread", b)
	}
	if l, _ := s.ListClients(ctx, other.ID, staff.ID); len(l) != 1 || l[0].Name != "Theirs" {
		t.Fatalf("other workspace lists %+v", l)
	}
}

// testOpenDocument: a store that is a portal.DocumentOpener finds the
// finished document as FindDocument does, hands it to check, and only then
// its first chunks; nothing of another workspace or of an unfinished upload.
func testOpenDocument(t *testing.T, s PortalStore) {
	o, ok := s.(portal.DocumentOpener)
	if !ok {
		t.Skip("the store finds a document, then reads its chunks")
	}
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	other := MustCreateWorkspace(t, s, "other")
	c := MustCreateClient(t, s, ws.ID, "Client")
	u := MustCreateUser(t, s, ws.ID, "a@example.com", gatehouse.RoleAdmin)
	d := mustStoreDocument(t, s, ws.ID, c.ID, u.ID, []byte("c0"), []byte("c1"), []byte("c2"))
	want, err := s.FindDocument(ctx, ws.ID, d.ID)
	must(t, "find", err)

	open := func(wsID, id int64, n int, check func(*portal.Document) error) (*portal.Document, []string, error) {
		var got *portal.Document
		var chunks []string
		err := o.OpenDocument(ctx, wsID, id, n, func(d *portal.Document) error {
			if len(chunks) > 0 {
				t.Fatal("a chunk was handed before the document was checked")
			}
			got = d
			return check(d)
		}, func(index int, sealed []byte) error {
			if got == nil {
				t.Fatal("a chunk was handed before the document was checked")
			}
			if index != len(chunks) {
				t.Fatalf("chunk %d handed after %d", index, len(chunks)-1)
			}
			chunks = append(chunks, string(sealed))
			return nil
		})
		return got, chunks, err
	}
	accept := func(*portal.Document) error { return nil }
	got, chunks, err := open(ws.ID, d.ID, 2, accept)
	must(t, "open", err)
	if got == nil || got.ID != want.ID || got.ClientID != want.ClientID || got.Size != want.Size || got.Chunks != want.Chunks ||
		!bytes.Equal(got.SealedKey, want.SealedKey) || !bytes.Equal(got.SHA256, want.SHA256) || got.WorkspaceID != ws.ID ||
		got.FileName != want.FileName || got.UploaderName != want.UploaderName || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("checked %+v, want %+v", got, want)
	}
	if !slices.Equal(chunks, []string{"c0", "c1"}) {
		t.Fatalf("first 2 chunks = %q", chunks)
	}
	if _, chunks, err := open(ws.ID, d.ID, 8, accept); err != nil || !slices.Equal(chunks, []string{"c0", "c1", "c2"}) {
		t.Fatalf("up to 8 chunks = %q, %v; want the 3 stored", chunks, err)
	}

	// check's error comes back as it is, and no chunk follows it.
	refused := errors.New("refused")
	if _, chunks, err := open(ws.ID, d.ID, 2, func(*portal.Document) error { return refused }); !errors.Is(err, refused) || len(chunks) != 0 {
		t.Fatalf("refused: %v after %d chunks", err, len(chunks))
	}
	// So does fn's, at once.
	stop := errors.New("stop")
	calls := 0
	err = o.OpenDocument(ctx, ws.ID, d.ID, 3, accept, func(int, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("a callback's error: %v after %d calls, want it at once", err, calls)
	}
	// Another workspace's, a missing and an unfinished document are not found,
	// and nothing is checked.
	pending := &portal.Document{ClientID: c.ID, FileName: "p.bin", UploaderID: u.ID, CreatedAt: t0}
	must(t, "create pending", s.CreateDocument(ctx, ws.ID, pending))
	must(t, "pending chunk", s.PutDocumentChunk(ctx, ws.ID, pending.ID, 0, []byte("p0")))
	for name, ids := range map[string][2]int64{"other workspace": {other.ID, d.ID}, "missing": {ws.ID, d.ID + 1000}, "unfinished": {ws.ID, pending.ID}} {
		got, chunks, err := open(ids[0], ids[1], 2, accept)
		wantNotFound(t, name, err)
		if got != nil || len(chunks) != 0 {
			t.Fatalf("%s: checked %v, handed %d chunks", name, got, len(chunks))
		}
	}
}

func testDocuments(t *testing.T, s PortalStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	c := MustCreateClient(t, s, ws.ID, "Client")
	u := MustCreateUser(t, s, ws.ID, "a@example.com", gatehouse.RoleAdmin)

	d := &portal.Document{ClientID: c.ID, FileName: "report.pdf", UploaderID: u.ID, CreatedAt: t0}
	must(t, "create", s.CreateDocument(ctx, ws.ID, d))
	must(t, "chunk 0", s.PutDocumentChunk(ctx, ws.ID, d.ID, 0, []byte("zero")))
	must(t, "chunk 1", s.PutDocumentChunk(ctx, ws.ID, d.ID, 1, []byte("one")))
	// An upload in progress is invisible.
	_, err := s.FindDocument(ctx, ws.ID, d.ID)
	wantNotFound(t, "unfinished document", err)
	if l, _ := s.ListDocuments(ctx, ws.ID, c.ID, 0); len(l) != 0 {
		t.Fatalf("unfinished document listed: %+v", l)
	}
	d.Title, d.Note, d.ContentType, d.Size, d.SHA256, d.Sensitive = "Report", "Q3", "application/pdf", 7, bytes.Repeat([]byte{9}, 32), true
	d.SealedKey, d.Chunks = []byte("sealed"), 2
	must(t, "finish", s.FinishDocuments(ctx, ws.ID, []*portal.Document{d}, 0, t0.Add(time.Hour), portal.Record{}))
	got, err := s.FindDocument(ctx, ws.ID, d.ID)
	must(t, "find", err)
	if got.Title != "Report" || got.Note != "Q3" || got.FileName != "report.pdf" || got.ContentType != "application/pdf" ||
		got.Size != 7 || !bytes.Equal(got.SHA256, d.SHA256) || !got.Sensitive || got.UploaderID != u.ID ||
		!bytes.Equal(got.SealedKey, []byte("sealed")) || got.Chunks != 2 || !got.CreatedAt.Equal(t0.Add(time.Hour)) ||
		got.UploaderName == "" || got.ClientID != c.ID || got.WorkspaceID != ws.ID {
		t.Fatalf("document read back as %+v", got)
	}
	chunk, err := s.DocumentChunk(ctx, ws.ID, d.ID, 1)
	must(t, "chunk", err)
	if string(chunk) != "one" {
		t.Fatalf("chunk 1 = %q", chunk)
	}
	_, err = s.DocumentChunk(ctx, ws.ID, d.ID, 2)
	wantNotFound(t, "missing chunk", err)
	// Chunks read in batches come in order, as many as there are.
	got2, err := readChunks(s, ws.ID, d.ID, 0, 5)
	must(t, "chunks", err)
	if len(got2) != 2 || string(got2[0]) != "zero" || string(got2[1]) != "one" {
		t.Fatalf("chunks 0-4 = %q, want the two stored", got2)
	}
	if got, _ := readChunks(s, ws.ID, d.ID, 1, 1); len(got) != 1 || string(got[0]) != "one" {
		t.Fatalf("chunk 1 alone = %q", got)
	}
	stop := errors.New("stop")
	calls := 0
	err = s.DocumentChunks(ctx, ws.ID, d.ID, 0, 5, func(int, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("a callback's error: %v after %d calls, want it at once", err, calls)
	}
	// A finished document takes no more chunks.
	if err := s.PutDocumentChunks(ctx, ws.ID, d.ID, 2, [][]byte{[]byte("late")}); err == nil {
		t.Fatal("a batch was added to a finished document")
	}
	if err := s.PutDocumentChunk(ctx, ws.ID, d.ID, 2, []byte("late")); err == nil {
		t.Fatal("a chunk was added to a finished document")
	}
	// Finishing twice is refused.
	wantNotFound(t, "finish again", s.FinishDocuments(ctx, ws.ID, []*portal.Document{d}, 0, t0, portal.Record{}))

	// Discard removes an upload in progress with its chunks, never a
	// finished document.
	p := &portal.Document{ClientID: c.ID, FileName: "cut.bin", UploaderID: u.ID, CreatedAt: t0}
	must(t, "create pending", s.CreateDocument(ctx, ws.ID, p))
	must(t, "pending chunk", s.PutDocumentChunk(ctx, ws.ID, p.ID, 0, []byte("part")))
	must(t, "pending batch", s.PutDocumentChunks(ctx, ws.ID, p.ID, 1, [][]byte{[]byte("b1"), []byte("b2")}))
	if got, _ := readChunks(s, ws.ID, p.ID, 0, 16); len(got) != 3 || string(got[2]) != "b2" {
		t.Fatalf("pending chunks %q", got)
	}
	if err := s.PutDocumentChunks(ctx, ws.ID, p.ID, 2, [][]byte{[]byte("dup")}); err == nil {
		t.Fatal("a chunk index was stored twice")
	}
	must(t, "discard", s.DiscardDocument(ctx, ws.ID, p.ID))
	_, err = s.DocumentChunk(ctx, ws.ID, p.ID, 0)
	wantNotFound(t, "chunk of a discarded upload", err)
	must(t, "discard finished", s.DiscardDocument(ctx, ws.ID, d.ID))
	if _, err := s.FindDocument(ctx, ws.ID, d.ID); err != nil {
		t.Fatalf("discard removed a finished document: %v", err)
	}

	// Stale uploads are swept by age.
	old := &portal.Document{ClientID: c.ID, FileName: "old", UploaderID: u.ID, CreatedAt: t0}
	must(t, "create old", s.CreateDocument(ctx, ws.ID, old))
	must(t, "old chunk", s.PutDocumentChunk(ctx, ws.ID, old.ID, 0, []byte("x")))
	young := &portal.Document{ClientID: c.ID, FileName: "young", UploaderID: u.ID, CreatedAt: t0.Add(2 * time.Hour)}
	must(t, "create young", s.CreateDocument(ctx, ws.ID, young))
	n, err := s.DeleteStaleUploads(ctx, t0.Add(time.Hour))
	must(t, "sweep", err)
	if n != 1 {
		t.Fatalf("swept %d, want 1 (the old upload; never a finished document)", n)
	}
	_, err = s.DocumentChunk(ctx, ws.ID, old.ID, 0)
	wantNotFound(t, "swept chunk", err)

	second := mustStoreDocument(t, s, ws.ID, c.ID, u.ID, []byte("abc"))
	l, err := s.ListDocuments(ctx, ws.ID, c.ID, 0)
	must(t, "list", err)
	if len(l) != 2 || l[0].ID != second.ID {
		t.Fatalf("list %+v, want newest first", l)
	}
	if l, _ := s.ListDocuments(ctx, ws.ID, c.ID, 1); len(l) != 1 {
		t.Fatalf("limit 1 gave %d", len(l))
	}
	if l, _ := s.ListDocuments(ctx, ws.ID, 0, 0); len(l) != 2 {
		t.Fatalf("workspace-wide list gave %d", len(l))
	}

	must(t, "delete", s.DeleteDocument(ctx, ws.ID, d.ID))
	_, err = s.FindDocument(ctx, ws.ID, d.ID)
	wantNotFound(t, "deleted document", err)
	_, err = s.DocumentChunk(ctx, ws.ID, d.ID, 0)
	wantNotFound(t, "deleted document's chunk", err)
	wantNotFound(t, "delete twice", s.DeleteDocument(ctx, ws.ID, d.ID))
}

// testFinishAllOrNothing: a form's files, its request, its audit events
// and its notification mail are one transaction: a request that is not
// open leaves every document unfinished and writes neither event nor mail.
func testFinishAllOrNothing(t *testing.T, s PortalStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	c := MustCreateClient(t, s, ws.ID, "Client")
	c2 := MustCreateClient(t, s, ws.ID, "Other client")
	u := MustCreateUser(t, s, ws.ID, "c@example.com", gatehouse.RoleClient)
	theirs := &portal.Request{ClientID: c2.ID, Title: "x", Status: portal.RequestOpen, CreatedAt: t0, UpdatedAt: t0}
	must(t, "request", s.CreateRequest(ctx, ws.ID, theirs))
	var docs []*portal.Document
	for range 2 {
		d := &portal.Document{ClientID: c.ID, FileName: "a", UploaderID: u.ID, CreatedAt: t0}
		must(t, "create", s.CreateDocument(ctx, ws.ID, d))
		docs = append(docs, d)
	}
	record := func() portal.Record {
		return portal.Record{
			Events: []*gatehouse.AuditEvent{{At: t0, ActorID: u.ID, Type: portal.EventUpload, ClientID: c.ID, DocumentID: docs[0].ID}},
			Mail: []*gatehouse.Message{{Channel: "email", To: "staff@example.com", Subject: "A new document", Body: "b",
				Status: gatehouse.MessagePending, CreatedAt: t0, NextAttempt: t0}},
		}
	}
	recorded := func() (events, mail int) {
		evs, err := s.FindAuditEvents(ctx, ws.ID, gatehouse.AuditFilter{Type: portal.EventUpload, Limit: 10})
		must(t, "audit", err)
		ms, err := s.ListMessages(ctx, 10)
		must(t, "outbox", err)
		return len(evs), len(ms)
	}
	err := s.FinishDocuments(ctx, ws.ID, docs, theirs.ID, t0, record())
	wantNotFound(t, "finish against another client's request", err)
	if ev, m := recorded(); ev != 0 || m != 0 {
		t.Fatalf("a refused form wrote %d audit events and %d messages", ev, m)
	}
	for _, d := range docs {
		_, err := s.FindDocument(ctx, ws.ID, d.ID)
		wantNotFound(t, "document of the refused form", err)
	}
	r, _ := s.FindRequest(ctx, ws.ID, theirs.ID)
	if r.Status != portal.RequestOpen {
		t.Fatalf("refused form changed the request to %s", r.Status)
	}

	mine := &portal.Request{ClientID: c.ID, Title: "y", Status: portal.RequestOpen, CreatedAt: t0, UpdatedAt: t0}
	must(t, "request", s.CreateRequest(ctx, ws.ID, mine))
	must(t, "finish with request", s.FinishDocuments(ctx, ws.ID, docs, mine.ID, t0.Add(time.Minute), record()))
	if ev, m := recorded(); ev != 1 || m != 1 {
		t.Fatalf("a finished form wrote %d audit events and %d messages, want 1 and 1", ev, m)
	}
	r, _ = s.FindRequest(ctx, ws.ID, mine.ID)
	if r.Status != portal.RequestFulfilled || !r.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("request after fulfilment: %+v", r)
	}
}

func testRequests(t *testing.T, s PortalStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	c := MustCreateClient(t, s, ws.ID, "Client")
	due := time.Date(2039, 12, 1, 0, 0, 0, 0, time.UTC)
	done := &portal.Request{ClientID: c.ID, Title: "Done", Status: portal.RequestFulfilled, CreatedAt: t0, UpdatedAt: t0}
	late := &portal.Request{ClientID: c.ID, Title: "Late", Note: "n", Due: due, Status: portal.RequestOpen, CreatedBy: 4, CreatedAt: t0, UpdatedAt: t0}
	open := &portal.Request{ClientID: c.ID, Title: "Open", Status: portal.RequestOpen, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0}
	for _, r := range []*portal.Request{done, late, open} {
		must(t, "create request", s.CreateRequest(ctx, ws.ID, r))
	}
	got, err := s.FindRequest(ctx, ws.ID, late.ID)
	must(t, "find", err)
	if got.Title != "Late" || got.Note != "n" || !got.Due.Equal(due) || got.CreatedBy != 4 || got.Status != portal.RequestOpen {
		t.Fatalf("request read back as %+v", got)
	}
	if got, _ := s.FindRequest(ctx, ws.ID, open.ID); !got.Due.IsZero() {
		t.Fatalf("no due date read back as %v", got.Due)
	}
	l, err := s.ListRequests(ctx, ws.ID, c.ID)
	must(t, "list", err)
	var titles []string
	for _, r := range l {
		titles = append(titles, r.Title)
	}
	if !slices.Equal(titles, []string{"Late", "Open", "Done"}) {
		t.Fatalf("requests %v, want open ones first, dated before undated", titles)
	}
	must(t, "cancel", s.SetRequestStatus(ctx, ws.ID, open.ID, []portal.RequestStatus{portal.RequestOpen}, portal.RequestCancelled, t0))
	wantNotFound(t, "cancel twice", s.SetRequestStatus(ctx, ws.ID, open.ID, []portal.RequestStatus{portal.RequestOpen}, portal.RequestCancelled, t0))
	must(t, "reopen", s.SetRequestStatus(ctx, ws.ID, open.ID, []portal.RequestStatus{portal.RequestFulfilled, portal.RequestCancelled}, portal.RequestOpen, t0))
	if r, _ := s.FindRequest(ctx, ws.ID, open.ID); r.Status != portal.RequestOpen {
		t.Fatalf("status %s after reopen", r.Status)
	}
}

func testClientMessages(t *testing.T, s PortalStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	c := MustCreateClient(t, s, ws.ID, "Client")
	staff := MustCreateUser(t, s, ws.ID, "s@example.com", gatehouse.RoleMember)
	client := MustCreateUser(t, s, ws.ID, "c@example.com", gatehouse.RoleClient)
	var ids []int64
	for i, body := range []string{"one", "two\nlines", "<b>three</b>"} {
		author := staff.ID
		if i == 1 {
			author = client.ID
		}
		m := &portal.Message{ClientID: c.ID, AuthorID: author, Body: body, CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
		must(t, "add", s.AddClientMessage(ctx, ws.ID, m))
		ids = append(ids, m.ID)
	}
	ms, err := s.ListClientMessages(ctx, ws.ID, c.ID, 2)
	must(t, "list", err)
	if len(ms) != 2 || ms[0].Body != "two\nlines" || ms[1].Body != "<b>three</b>" || ms[0].AuthorStaff || !ms[1].AuthorStaff || ms[0].AuthorName == "" {
		t.Fatalf("latest two, oldest first: %+v", ms)
	}
	if all, _ := s.ListClientMessages(ctx, ws.ID, c.ID, 0); len(all) != 3 {
		t.Fatalf("all messages: %d", len(all))
	}
	last, err := s.LastReadMessage(ctx, ws.ID, client.ID, c.ID)
	must(t, "last read", err)
	if last != 0 {
		t.Fatalf("last read %d before reading", last)
	}
	must(t, "mark", s.MarkMessagesRead(ctx, ws.ID, client.ID, c.ID, ids[2]))
	must(t, "mark back", s.MarkMessagesRead(ctx, ws.ID, client.ID, c.ID, ids[0]))
	if last, _ := s.LastReadMessage(ctx, ws.ID, client.ID, c.ID); last != ids[2] {
		t.Fatalf("read mark %d, want %d (never moves back)", last, ids[2])
	}
	must(t, "mail off", s.SetPortalMail(ctx, ws.ID, client.ID, false))
	must(t, "mail off twice", s.SetPortalMail(ctx, ws.ID, client.ID, false))
	off, err := s.PortalMailOff(ctx, ws.ID)
	must(t, "mail off list", err)
	if !off[client.ID] || off[staff.ID] {
		t.Fatalf("opt-outs %v", off)
	}
	must(t, "mail on", s.SetPortalMail(ctx, ws.ID, client.ID, true))
	if off, _ := s.PortalMailOff(ctx, ws.ID); off[client.ID] {
		t.Fatal("opt-out kept after turning mail on")
	}
}

// testPortalTenancy: another workspace's IDs find nothing, and nothing can
// be written into another workspace's client.
func testPortalTenancy(t *testing.T, s PortalStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	other := MustCreateWorkspace(t, s, "other")
	c := MustCreateClient(t, s, ws.ID, "Client")
	u := MustCreateUser(t, s, ws.ID, "a@example.com", gatehouse.RoleAdmin)
	d := mustStoreDocument(t, s, ws.ID, c.ID, u.ID, []byte("secret"))
	r := &portal.Request{ClientID: c.ID, Title: "R", Status: portal.RequestOpen, CreatedAt: t0, UpdatedAt: t0}
	must(t, "request", s.CreateRequest(ctx, ws.ID, r))
	must(t, "message", s.AddClientMessage(ctx, ws.ID, &portal.Message{ClientID: c.ID, AuthorID: u.ID, Body: "b", CreatedAt: t0}))

	_, err := s.FindDocument(ctx, other.ID, d.ID)
	wantNotFound(t, "document by another workspace", err)
	_, err = s.DocumentChunk(ctx, other.ID, d.ID, 0)
	wantNotFound(t, "chunk by another workspace", err)
	if got, err := readChunks(s, other.ID, d.ID, 0, 16); err != nil || len(got) != 0 {
		t.Fatalf("chunks by another workspace: %d, %v", len(got), err)
	}
	wantNotFound(t, "delete by another workspace", s.DeleteDocument(ctx, other.ID, d.ID))
	if l, _ := s.ListDocuments(ctx, other.ID, c.ID, 0); len(l) != 0 {
		t.Fatalf("documents through another workspace: %+v", l)
	}
	if l, _ := s.ListDocuments(ctx, other.ID, 0, 0); len(l) != 0 {
		t.Fatalf("another workspace lists %+v", l)
	}
	_, err = s.FindRequest(ctx, other.ID, r.ID)
	wantNotFound(t, "request by another workspace", err)
	wantNotFound(t, "cancel by another workspace",
		s.SetRequestStatus(ctx, other.ID, r.ID, []portal.RequestStatus{portal.RequestOpen}, portal.RequestCancelled, t0))
	if l, _ := s.ListRequests(ctx, other.ID, c.ID); len(l) != 0 {
		t.Fatalf("requests through another workspace: %+v", l)
	}
	if l, _ := s.ListClientMessages(ctx, other.ID, c.ID, 0); len(l) != 0 {
		t.Fatalf("messages through another workspace: %+v", l)
	}
	// Writes aimed at another workspace's client find nothing.
	err = s.CreateDocument(ctx, other.ID, &portal.Document{ClientID: c.ID, FileName: "x", CreatedAt: t0})
	wantNotFound(t, "upload into another workspace's client", err)
	err = s.CreateRequest(ctx, other.ID, &portal.Request{ClientID: c.ID, Title: "x", Status: portal.RequestOpen, CreatedAt: t0, UpdatedAt: t0})
	wantNotFound(t, "request for another workspace's client", err)
	err = s.AddClientMessage(ctx, other.ID, &portal.Message{ClientID: c.ID, Body: "x", CreatedAt: t0})
	wantNotFound(t, "message to another workspace's client", err)
	pending := &portal.Document{ClientID: c.ID, FileName: "p", UploaderID: u.ID, CreatedAt: t0}
	must(t, "pending", s.CreateDocument(ctx, ws.ID, pending))
	if err := s.PutDocumentChunk(ctx, other.ID, pending.ID, 0, []byte("x")); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("chunk into another workspace's upload: %v", err)
	}
	if err := s.PutDocumentChunks(ctx, other.ID, pending.ID, 0, [][]byte{[]byte("x")}); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("batch into another workspace's upload: %v", err)
	}
	must(t, "discard by another workspace (no-op)", s.DiscardDocument(ctx, other.ID, pending.ID))
	if err := s.PutDocumentChunk(ctx, ws.ID, pending.ID, 0, []byte("x")); err != nil {
		t.Fatalf("another workspace's discard removed the upload: %v", err)
	}
}

func testAuditByClient(t *testing.T, s PortalStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "acme")
	for i, e := range []gatehouse.AuditEvent{
		{At: t0, Type: "portal.document.uploaded", ClientID: 1, DocumentID: 10},
		{At: t0, Type: "portal.document.downloaded", ClientID: 1, DocumentID: 10, IP: "192.0.2.1"},
		{At: t0, Type: "portal.document.downloaded", ClientID: 2, DocumentID: 20},
		{At: t0, Type: "signin.password.ok"},
	} {
		e := e
		e.ActorID = int64(i + 1)
		must(t, "add", s.AddAuditEvent(ctx, ws.ID, &e))
	}
	es, err := s.FindAuditEvents(ctx, ws.ID, gatehouse.AuditFilter{ClientID: 1})
	must(t, "by client", err)
	if len(es) != 2 || es[0].ClientID != 1 || es[0].DocumentID != 10 || es[0].IP != "192.0.2.1" {
		t.Fatalf("client 1's events: %+v", es)
	}
	es, err = s.FindAuditEvents(ctx, ws.ID, gatehouse.AuditFilter{DocumentID: 10, Type: "portal.document.downloaded"})
	must(t, "by document", err)
	if len(es) != 1 || es[0].ActorID != 2 {
		t.Fatalf("downloads of document 10: %+v", es)
	}
}
