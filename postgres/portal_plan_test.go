package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// TestSpaceListsKeepTheirPlan reads a space's documents and messages many
// times, for a client with 1,000 of each and statistics that say so, on a
// single connection, and checks that PostgreSQL planned their prepared
// statements a handful of times, not on every execution: re-planning cost
// the portal home more than the queries themselves (see limitClause). With
// the limit bound as a parameter, the documents were planned on every one
// of the executions here (with 300 documents, not yet).
func TestSpaceListsKeepTheirPlan(t *testing.T) {
	ctx := context.Background()
	db := open(t, newSchema(t)+"&pool_max_conns=1")
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ws := storetest.MustCreateWorkspace(t, db, "acme")
	c := storetest.MustCreateClient(t, db, ws.ID, "Alpha")
	u := storetest.MustCreateUser(t, db, ws.ID, "ann@example.com", gatehouse.RoleClient)
	t0 := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 1000 {
		d := &portal.Document{ClientID: c.ID, FileName: fmt.Sprintf("f%d.pdf", i), UploaderID: u.ID, CreatedAt: t0}
		if err := db.CreateDocument(ctx, ws.ID, d); err != nil {
			t.Fatal(err)
		}
		d.Title, d.SealedKey, d.Chunks = d.FileName, []byte("k"), 1
		if err := db.FinishDocuments(ctx, ws.ID, []*portal.Document{d}, 0, t0.Add(time.Duration(i)*time.Second), portal.Record{}); err != nil {
			t.Fatal(err)
		}
		if err := db.AddClientMessage(ctx, ws.ID, &portal.Message{ClientID: c.ID, AuthorID: u.ID, Body: "hi", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	const runs = 30
	for range runs {
		if _, err := db.ListSpaceDocuments(ctx, ws.ID, c.ID, 5); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ListClientMessages(ctx, ws.ID, c.ID, 3); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"documents", "client_messages"} {
		var n, custom int64
		err := db.QueryRowForTest(ctx, `SELECT count(*), coalesce(sum(custom_plans), 0) FROM pg_prepared_statements
			WHERE statement LIKE '%FROM ' || $1::text || ' %LEFT JOIN users%'`, table).Scan(&n, &custom)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 || custom > 5 {
			t.Errorf("%s: %d statements planned %d times for %d executions; want 1 statement planned at most 5 times", table, n, custom, runs)
		}
	}
}
