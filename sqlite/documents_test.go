package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/secret"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// TestDocumentsInDatabase moves documents through the portal service on
// this store, so the reads go through the chunk connections' own path
// (SQLite's buffers handed to AES-GCM), and alters the stored rows
// themselves: every alteration fails with ErrTampered, never with bytes.
func TestDocumentsInDatabase(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	at := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	w := storetest.MustCreateWorkspace(t, db, "acme")
	u := storetest.MustCreateUser(t, db, w.ID, "owner@example.com", gatehouse.RoleOwner)
	keys, err := secret.NewKeyring(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc := &portal.Service{Store: db, Users: db, Audit: db, Keys: keys, Now: func() time.Time { return at }}
	staff := portal.Viewer{WorkspaceID: w.ID, UserID: u.ID, Role: gatehouse.RoleOwner}
	c, err := svc.CreateClient(ctx, staff, "Client", "")
	if err != nil {
		t.Fatal(err)
	}
	upload := func(data []byte) *portal.Document {
		t.Helper()
		up, err := svc.BeginUpload(ctx, staff, c.ID, "x.bin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(up, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := up.Close(); err != nil {
			t.Fatal(err)
		}
		docs, err := svc.Finish(ctx, staff, nil, []*portal.Upload{up}, portal.UploadMeta{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := svc.Document(ctx, staff, docs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	read := func(d *portal.Document, off int64) ([]byte, error) {
		r, err := svc.Open(ctx, staff, d, "")
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	for _, size := range []int{0, 5, portal.ChunkSize, 3*portal.ChunkSize + 17, 70*portal.ChunkSize + 1} {
		data := make([]byte, size)
		rand.Read(data)
		d := upload(data)
		for _, off := range []int64{0, int64(size) / 2, max(0, int64(size)-3)} {
			got, err := read(d, off)
			if err != nil || !bytes.Equal(got, data[off:]) {
				t.Fatalf("size %d from %d: %d bytes, %v", size, off, len(got), err)
			}
		}
	}

	data := make([]byte, 40*portal.ChunkSize+9)
	rand.Read(data)
	for _, tc := range []struct {
		name  string
		query string // run with the document's ID, a statement per line
	}{
		{"byte altered in a later batch", `UPDATE document_chunks SET data = substr(data, 1, 100) || x'00' || substr(data, 102) WHERE document_id = ?1 AND idx = 35`},
		{"first chunk altered", `UPDATE document_chunks SET data = x'00' || substr(data, 2) WHERE document_id = ?1 AND idx = 0`},
		{"chunks swapped", `UPDATE document_chunks SET idx = -1 WHERE document_id = ?1 AND idx = 3
UPDATE document_chunks SET idx = 3 WHERE document_id = ?1 AND idx = 4
UPDATE document_chunks SET idx = 4 WHERE document_id = ?1 AND idx = -1`},
		{"chunk missing", `DELETE FROM document_chunks WHERE document_id = ?1 AND idx = 33`},
		{"chunk cut short", `UPDATE document_chunks SET data = substr(data, 1, 1000) WHERE document_id = ?1 AND idx = 2`},
		{"chunk emptied", `UPDATE document_chunks SET data = x'' WHERE document_id = ?1 AND idx = 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := upload(data)
			for _, q := range strings.Split(tc.query, "\n") {
				if err := db.Exec(ctx, q, d.ID); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := db.ReadInt(ctx, `SELECT count(*) FROM document_chunks WHERE document_id = ? AND idx < 0`, d.ID); err != nil || n != 0 {
				t.Fatalf("%d chunks left at a negative index (%v)", n, err)
			}
			got, err := read(d, 0)
			if !errors.Is(err, portal.ErrTampered) {
				t.Fatalf("read %d bytes, err %v; want ErrTampered", len(got), err)
			}
			if !bytes.HasPrefix(data, got) {
				t.Fatal("altered bytes returned")
			}
		})
	}
}
