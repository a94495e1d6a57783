package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/portal"
)

// servedSpaces records every space the store hands the portal, with a
// copy of it taken then.
type servedSpaces struct {
	portal.Store
	mu     sync.Mutex
	spaces []*portal.Space
	copies []*portal.Space
}

func (s *servedSpaces) ReadSpace(ctx context.Context, workspaceID, clientID, userID int64, documents, messages int) (*portal.Space, error) {
	sp, err := s.Store.ReadSpace(ctx, workspaceID, clientID, userID, documents, messages)
	if err == nil {
		c := *sp
		c.Requests, c.Documents, c.Messages = slices.Clone(sp.Requests), slices.Clone(sp.Documents), slices.Clone(sp.Messages)
		s.mu.Lock()
		s.spaces, s.copies = append(s.spaces, sp), append(s.copies, &c)
		s.mu.Unlock()
	}
	return sp, err
}

// TestPortalPagesLeaveSpaceUnchanged opens every page made from a client's
// space, as the client and as staff, twice (the second time from the
// store's memory), and checks that none changed the space it was given: a
// store hands every reader the same one (portal.Store.ReadSpace), so a
// change would show on the next reader's page.
func TestPortalPagesLeaveSpaceUnchanged(t *testing.T) {
	served := &servedSpaces{}
	e := newEnvWith(t, backends[0], func(e *env) {
		e.portalStore = func(s portal.Store) portal.Store { served.Store = s; return served }
	})
	f := newPortalFixture(t, e)
	staff := e.browser()
	staff.login("acme", "owner@example.com", goodPassword, "/dashboard")
	space := fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID)
	wantStatus(t, "upload", staff.upload(wsURL("acme", space+"/documents"), nil, file{"report.pdf", []byte("%PDF-")}), http.StatusSeeOther)
	wantStatus(t, "ask", staff.post(wsURL("acme", space+"/requests"), url.Values{"title": {"Signed letter"}, "note": {"Please"}}), http.StatusSeeOther)
	wantStatus(t, "message", staff.post(wsURL("acme", space+"/messages"), url.Values{"body": {"Hello"}}), http.StatusSeeOther)

	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	for range 2 {
		for _, path := range []string{"/portal", "/portal/documents", "/portal/messages"} {
			wantStatus(t, path, client.get(wsURL("acme", path)), http.StatusOK)
		}
		wantStatus(t, space, staff.get(wsURL("acme", space)), http.StatusOK)
	}
	served.mu.Lock()
	defer served.mu.Unlock()
	if len(served.spaces) < 8 {
		t.Fatalf("%d spaces served, want at least 8", len(served.spaces))
	}
	for i, sp := range served.spaces {
		if len(sp.Documents) == 0 && len(sp.Messages) == 0 {
			continue
		}
		if !reflect.DeepEqual(sp, served.copies[i]) {
			t.Errorf("space %d changed after it was served:\n got %+v\nwant %+v", i, sp, served.copies[i])
		}
	}
}
