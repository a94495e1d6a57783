package sqlite_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// BenchmarkDocumentChunks reads a 16 MiB document's sealed chunks back
// from the store, 32 at a time as a download does, with an audit event
// committed before each read (as every download commits one, which makes
// SQLite's readers drop their page caches).
//
//	go test ./sqlite -run '^$' -bench DocumentChunks -cpu 1
func BenchmarkDocumentChunks(b *testing.B) {
	ctx := context.Background()
	db := MustOpen(b)
	w := storetest.MustCreateWorkspace(b, db, "acme")
	u := storetest.MustCreateUser(b, db, w.ID, "ann@example.com", gatehouse.RoleClient)
	c := storetest.MustCreateClient(b, db, w.ID, "Acme")
	const n = 256
	d := &portal.Document{ClientID: c.ID, FileName: "f.bin", UploaderID: u.ID, CreatedAt: time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)}
	if err := db.CreateDocument(ctx, w.ID, d); err != nil {
		b.Fatal(err)
	}
	var batch [][]byte
	for i := range n {
		chunk := make([]byte, 12+portal.ChunkSize+16)
		rand.Read(chunk)
		batch = append(batch, chunk)
		if len(batch) == 16 {
			if err := db.PutDocumentChunks(ctx, w.ID, d.ID, i+1-len(batch), batch); err != nil {
				b.Fatal(err)
			}
			batch = nil
		}
	}
	d.Title, d.Size, d.SHA256, d.SealedKey, d.Chunks, d.ContentType = "T", n*portal.ChunkSize, []byte{1}, []byte("key"), n, "application/octet-stream"
	if err := db.FinishDocuments(ctx, w.ID, []*portal.Document{d}, 0, d.CreatedAt, portal.Record{}); err != nil {
		b.Fatal(err)
	}
	if err := db.Exec(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n * portal.ChunkSize)
	for b.Loop() {
		e := &gatehouse.AuditEvent{At: d.CreatedAt, ActorID: u.ID, Type: portal.EventDownload, ClientID: c.ID, DocumentID: d.ID}
		if err := db.AddAuditEvent(ctx, w.ID, e); err != nil {
			b.Fatal(err)
		}
		got := 0
		for first := 0; first < n; first += 32 {
			if err := db.DocumentChunks(ctx, w.ID, d.ID, first, 32, func(int, []byte) error { got++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if got != n {
			b.Fatalf("%d chunks", got)
		}
	}
}
