package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// TestDocumentChunksConcurrent reads one document's chunks from more
// goroutines than there are chunk connections (under -race in CI), while
// the writer commits, and checks every byte; after Close a read fails
// instead of hanging or touching freed memory.
func TestDocumentChunksConcurrent(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w := storetest.MustCreateWorkspace(t, db, "acme")
	u := storetest.MustCreateUser(t, db, w.ID, "ann@example.com", gatehouse.RoleClient)
	c := storetest.MustCreateClient(t, db, w.ID, "Acme")
	at := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &portal.Document{ClientID: c.ID, FileName: "f.bin", UploaderID: u.ID, CreatedAt: at}
	if err := db.CreateDocument(ctx, w.ID, d); err != nil {
		t.Fatal(err)
	}
	const n = 40
	chunk := func(i int) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8), 0xa5}, 1000+i) }
	var all [][]byte
	for i := range n {
		all = append(all, chunk(i))
	}
	if err := db.PutDocumentChunks(ctx, w.ID, d.ID, 0, all); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for first := g % 7; first < n; first += 7 {
				next := first
				err := db.DocumentChunks(ctx, w.ID, d.ID, first, 7, func(i int, data []byte) error {
					if i != next || !bytes.Equal(data, chunk(i)) {
						return fmt.Errorf("chunk %d (want %d): %d bytes, not its own", i, next, len(data))
					}
					next++
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if want := min(first+7, n); next != want {
					t.Errorf("read up to chunk %d, want %d", next, want)
				}
			}
		})
		wg.Go(func() {
			e := &gatehouse.AuditEvent{At: at, ActorID: u.ID, Type: portal.EventDownload}
			if err := db.AddAuditEvent(ctx, w.ID, e); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Another workspace's ID finds nothing.
	if err := db.DocumentChunks(ctx, w.ID+1, d.ID, 0, n, func(int, []byte) error { return fmt.Errorf("a chunk of another workspace") }); err != nil {
		t.Fatal(err)
	}
	// A read stopped by its callback ends its statement: the next read on
	// the same connections starts afresh.
	stop := fmt.Errorf("stop")
	if err := db.DocumentChunks(ctx, w.ID, d.ID, 0, n, func(int, []byte) error { return stop }); err == nil {
		t.Fatal("the callback's error was not returned")
	}
	got := 0
	if err := db.DocumentChunks(ctx, w.ID, d.ID, 0, n, func(int, []byte) error { got++; return nil }); err != nil || got != n {
		t.Fatalf("after a stopped read: %d chunks, %v", got, err)
	}
	db.Close()
	if err := db.DocumentChunks(ctx, w.ID, d.ID, 0, n, func(int, []byte) error { return nil }); err == nil {
		t.Fatal("a read after Close succeeded")
	}
}
