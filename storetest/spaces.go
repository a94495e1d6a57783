package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// RunSpaceCache checks a store's space cache (portal.Store.ReadSpace)
// against SPEC §11, as RunVisitCache checks visits: each change a client's
// space shows — a new document, message or request, a request's status, a
// read mark, a deleted document, an author's role — made by one instance
// applies at once on that instance and, on the other, as soon as the other
// has heard of it; and a space is only ever served to the workspace,
// client and user it was read for. Pair.SpaceHits must be set, and both
// instances must keep the portal.
func RunSpaceCache(t *testing.T, open Instances) {
	ctx := context.Background()
	cases := []struct {
		name  string
		write func(s portal.Store, f *spaceCase) error
		// check returns what is wrong with the space read after the write.
		check func(f *spaceCase, sp *portal.Space) string
	}{
		{
			name: "new document",
			write: func(s portal.Store, f *spaceCase) error {
				d := &portal.Document{ClientID: f.client.ID, FileName: "new.pdf", UploaderID: f.staff.ID, CreatedAt: t0}
				if err := s.CreateDocument(ctx, f.ws.ID, d); err != nil {
					return err
				}
				d.Title, d.ContentType, d.SealedKey, d.Chunks = "Brand new", "application/pdf", []byte("k"), 1
				return s.FinishDocuments(ctx, f.ws.ID, []*portal.Document{d}, 0, t0.Add(3*time.Hour), portal.Record{})
			},
			check: func(f *spaceCase, sp *portal.Space) string {
				if len(sp.Documents) != 2 || sp.Documents[0].Title != "Brand new" {
					return "the new document is not shown first"
				}
				return ""
			},
		},
		{
			name: "document deleted",
			write: func(s portal.Store, f *spaceCase) error {
				return s.DeleteDocument(ctx, f.ws.ID, f.doc.ID)
			},
			check: func(f *spaceCase, sp *portal.Space) string {
				if len(sp.Documents) != 0 {
					return "the deleted document is still shown"
				}
				return ""
			},
		},
		{
			name: "new message",
			write: func(s portal.Store, f *spaceCase) error {
				return s.AddClientMessage(ctx, f.ws.ID, &portal.Message{ClientID: f.client.ID, AuthorID: f.staff.ID, Body: "fresh", CreatedAt: t0})
			},
			check: func(f *spaceCase, sp *portal.Space) string {
				if n := len(sp.Messages); n != 2 || sp.Messages[n-1].Body != "fresh" {
					return "the new message is not shown last"
				}
				return ""
			},
		},
		{
			name: "new request",
			write: func(s portal.Store, f *spaceCase) error {
				return s.CreateRequest(ctx, f.ws.ID, &portal.Request{ClientID: f.client.ID, Title: "Passport", Status: portal.RequestOpen,
					CreatedBy: f.staff.ID, CreatedAt: t0, UpdatedAt: t0})
			},
			check: func(f *spaceCase, sp *portal.Space) string {
				if len(sp.Requests) != 2 {
					return "the new request is not shown"
				}
				return ""
			},
		},
		{
			name: "request cancelled",
			write: func(s portal.Store, f *spaceCase) error {
				return s.SetRequestStatus(ctx, f.ws.ID, f.request.ID, []portal.RequestStatus{portal.RequestOpen}, portal.RequestCancelled, t0)
			},
			check: func(f *spaceCase, sp *portal.Space) string {
				if len(sp.Requests) != 1 || sp.Requests[0].Status != portal.RequestCancelled {
					return "the request is not shown cancelled"
				}
				return ""
			},
		},
		{
			name: "read mark",
			write: func(s portal.Store, f *spaceCase) error {
				return s.MarkMessagesRead(ctx, f.ws.ID, f.user.ID, f.client.ID, f.message.ID)
			},
			check: func(f *spaceCase, sp *portal.Space) string {
				if sp.LastRead != f.message.ID {
					return "the read mark did not move"
				}
				return ""
			},
		},
		{
			name: "author's role",
			write: func(s portal.Store, f *spaceCase) error {
				return s.(gatehouse.Store).SetUserRole(ctx, f.ws.ID, f.user.ID, gatehouse.RoleMember, t0)
			},
			check: func(f *spaceCase, sp *portal.Space) string {
				if len(sp.Messages) != 1 || !sp.Messages[0].AuthorStaff {
					return "the author is not shown as staff"
				}
				return ""
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newSpaceCase(t, open)
			f.cached(t, f.a)
			f.cached(t, f.b)
			hear := func() {}
			if f.deafen != nil {
				hear = f.deafen(f.pa)
			}
			must(t, "write", c.write(f.a, f))
			// At once on the instance that wrote.
			sp, err := f.a.ReadSpace(ctx, f.ws.ID, f.client.ID, f.user.ID, 5, 3)
			hear()
			must(t, "read space", err)
			if msg := c.check(f, sp); msg != "" {
				t.Errorf("on the instance that wrote: %s", msg)
			}
			// On the other, once it stops serving the old space.
			if msg := c.check(f, f.afterChange(t, f.b)); msg != "" {
				t.Errorf("on the other instance: %s", msg)
			}
		})
	}

	// A space is kept per workspace, client and user: another client's,
	// another user's (their read mark) and a read through another
	// workspace are never served what one read kept.
	t.Run("keys", func(t *testing.T) {
		f := newSpaceCase(t, open)
		other := MustCreateClient(t, f.a, f.ws.ID, "Other Ltd")
		peer := MustCreateUser(t, f.pa, f.ws.ID, "peer@example.com", gatehouse.RoleClient)
		must(t, "mark read", f.a.MarkMessagesRead(ctx, f.ws.ID, peer.ID, f.client.ID, f.message.ID))
		otherWS := MustCreateWorkspace(t, f.pa, "other")
		for _, s := range []portal.Store{f.a, f.b} {
			mine := f.cached(t, s)
			if mine.Client.ID != f.client.ID || len(mine.Documents) != 1 || mine.LastRead != 0 {
				t.Fatalf("the user's own space read back as %+v", mine)
			}
			theirs, err := s.ReadSpace(ctx, f.ws.ID, other.ID, f.user.ID, 5, 3)
			must(t, "read another client's space", err)
			if theirs.Client.ID != other.ID || theirs.Client.Name != "Other Ltd" || len(theirs.Documents) != 0 ||
				len(theirs.Messages) != 0 || len(theirs.Requests) != 0 {
				t.Errorf("another client's space was served the first one's: %+v", theirs)
			}
			peers, err := s.ReadSpace(ctx, f.ws.ID, f.client.ID, peer.ID, 5, 3)
			must(t, "read the space for another user", err)
			if peers.LastRead != f.message.ID {
				t.Errorf("another user was served the first one's read mark %d, want %d", peers.LastRead, f.message.ID)
			}
			_, err = s.ReadSpace(ctx, otherWS.ID, f.client.ID, f.user.ID, 5, 3)
			wantNotFound(t, "the space through another workspace", err)
			fewer, err := s.ReadSpace(ctx, f.ws.ID, f.client.ID, f.user.ID, -1, -1)
			must(t, "read the space without documents and messages", err)
			if len(fewer.Documents) != 0 || len(fewer.Messages) != 0 || len(fewer.Requests) != 1 {
				t.Errorf("a read without documents and messages was served %d and %d", len(fewer.Documents), len(fewer.Messages))
			}
		}
	})
}

type spaceCase struct {
	a, b      portal.Store
	pa        Store
	hits      func(Store) uint64
	deafen    func(Store) func()
	ws        *gatehouse.Workspace
	user      *gatehouse.User
	staff     *gatehouse.User
	client    *portal.Client
	doc       *portal.Document
	message   *portal.Message
	request   *portal.Request
	instances map[portal.Store]Store
}

// newSpaceCase makes a client with one user, one document, one message by
// that user and one open request.
func newSpaceCase(t *testing.T, open Instances) *spaceCase {
	t.Helper()
	ctx := context.Background()
	p := open(t)
	a, okA := p.A.(portal.Store)
	b, okB := p.B.(portal.Store)
	if !okA || !okB || p.SpaceHits == nil {
		t.Fatal("the instances keep no portal, or Pair.SpaceHits is not set")
	}
	f := &spaceCase{a: a, b: b, pa: p.A, hits: p.SpaceHits, deafen: p.Deafen, instances: map[portal.Store]Store{a: p.A, b: p.B}}
	f.ws = MustCreateWorkspace(t, p.A, "acme")
	f.client = MustCreateClient(t, a, f.ws.ID, "Acme Ltd")
	f.user = MustCreateUser(t, p.A, f.ws.ID, "ann@example.com", gatehouse.RoleClient)
	must(t, "set client", a.SetUserClient(ctx, f.ws.ID, f.user.ID, f.client.ID))
	f.staff = MustCreateUser(t, p.A, f.ws.ID, "olivia@example.com", gatehouse.RoleOwner)
	f.doc = mustStoreDocument(t, a, f.ws.ID, f.client.ID, f.staff.ID, []byte("chunk"))
	f.message = &portal.Message{ClientID: f.client.ID, AuthorID: f.user.ID, Body: "hello", CreatedAt: t0}
	must(t, "add message", a.AddClientMessage(ctx, f.ws.ID, f.message))
	f.request = &portal.Request{ClientID: f.client.ID, Title: "Signed letter", Status: portal.RequestOpen, CreatedBy: f.staff.ID,
		CreatedAt: t0, UpdatedAt: t0}
	must(t, "create request", a.CreateRequest(ctx, f.ws.ID, f.request))
	return f
}

// cached reads the user's space on s until s serves it from memory (a store
// may need a moment to start its cache) and returns it.
func (f *spaceCase) cached(t *testing.T, s portal.Store) *portal.Space {
	t.Helper()
	for end := time.Now().Add(visitDeadline); time.Now().Before(end); time.Sleep(time.Millisecond) {
		h := f.hits(f.instances[s])
		sp, err := s.ReadSpace(context.Background(), f.ws.ID, f.client.ID, f.user.ID, 5, 3)
		must(t, "read space", err)
		if f.hits(f.instances[s]) > h {
			return sp
		}
	}
	t.Fatalf("the space was never served from memory")
	return nil
}

// afterChange reads the space on s until s no longer serves it from memory,
// and returns that read.
func (f *spaceCase) afterChange(t *testing.T, s portal.Store) *portal.Space {
	t.Helper()
	for end := time.Now().Add(visitDeadline); time.Now().Before(end); time.Sleep(time.Millisecond) {
		h := f.hits(f.instances[s])
		sp, err := s.ReadSpace(context.Background(), f.ws.ID, f.client.ID, f.user.ID, 5, 3)
		if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatal(err)
		}
		if f.hits(f.instances[s]) == h {
			return sp
		}
	}
	t.Fatalf("the other instance kept serving the space from memory after the change")
	return nil
}
