package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestPortalStore(t *testing.T) {
	storetest.RunPortal(t, func(tb testing.TB) storetest.PortalStore { return MustOpen(tb) })
}

// TestSpaceRowsAnyText runs storetest.SpaceRowsWith with text only SQLite
// holds (PostgreSQL refuses NUL and malformed UTF-8): the packed rows of
// ListSpaceDocuments and ListClientMessages count bytes, not characters.
func TestSpaceRowsAnyText(t *testing.T) {
	storetest.SpaceRowsWith(t, MustOpen(t), []string{"", "\x00", "a\x00b 1 ", "\xff\xfe 2", "é\x00\xc3", "12 ", "x"})
}

// TestClientHomeFilledByMigration writes documents and messages before
// migration 14 and checks that it fills client_home from them: the home
// then shows what the tables hold.
func TestClientHomeFilledByMigration(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	if err := db.MigrateTo(ctx, 13); err != nil {
		t.Fatal(err)
	}
	ws := storetest.MustCreateWorkspace(t, db, "acme")
	c := storetest.MustCreateClient(t, db, ws.ID, "Alpha")
	u := storetest.MustCreateUser(t, db, ws.ID, "ann@example.com", gatehouse.RoleAdmin)
	at := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 7 {
		d := &portal.Document{ClientID: c.ID, FileName: fmt.Sprintf("f%d.pdf", i), UploaderID: u.ID, CreatedAt: at}
		if err := db.CreateDocument(ctx, ws.ID, d); err != nil {
			t.Fatal(err)
		}
		d.Title, d.SealedKey, d.Chunks = d.FileName, []byte("k"), 1
		if err := db.FinishDocuments(ctx, ws.ID, []*portal.Document{d}, 0, at.Add(time.Duration(i)*time.Minute), portal.Record{}); err != nil {
			t.Fatal(err)
		}
		if err := db.AddClientMessage(ctx, ws.ID, &portal.Message{ClientID: c.ID, AuthorID: u.ID, Body: fmt.Sprint("m", i), CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	docs, err := db.ListSpaceDocuments(ctx, ws.ID, c.ID, portal.HomeDocuments)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := db.ListClientMessages(ctx, ws.ID, c.ID, portal.HomeMessages)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 5 || docs[0].Title != "f6.pdf" || docs[4].Title != "f2.pdf" || docs[0].UploaderName != u.Name {
		t.Errorf("home documents after migration: %+v", docs)
	}
	if len(msgs) != 3 || msgs[0].Body != "m4" || msgs[2].Body != "m6" || !msgs[2].AuthorStaff {
		t.Errorf("home messages after migration: %+v", msgs)
	}
}
