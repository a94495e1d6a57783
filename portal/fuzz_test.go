package portal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// FuzzChunkOpen hands the document reader any bytes as one stored chunk
// of a three-chunk document (the sealed chunk open path: what a tampered
// database or backup would feed it). Reading never panics, and it either
// fails or yields exactly the document uploaded: no bytes an attacker
// wrote ever come out as the document's contents.
func FuzzChunkOpen(f *testing.F) {
	fx := newFixture(f)
	data := make([]byte, 2*portal.ChunkSize+100)
	rand.Read(data)
	d := fx.upload(f, "x.bin", data)
	other := fx.upload(f, "y.bin", data)
	ctx := context.Background()
	var chunks [][]byte
	for i := range 3 {
		c, err := fx.store.Store.DocumentChunk(ctx, fx.ws.ID, d.ID, i)
		if err != nil {
			f.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	theirs, _ := fx.store.Store.DocumentChunk(ctx, fx.ws.ID, other.ID, 1)
	flipped := bytes.Clone(chunks[1])
	flipped[len(flipped)/2] ^= 0x80
	for i, seed := range [][]byte{chunks[0], chunks[1], chunks[2], theirs, flipped, chunks[1][:len(chunks[1])-1], chunks[1][:12], nil, {}, append(bytes.Clone(chunks[2]), 0)} {
		f.Add(uint8(i%3), seed)
	}
	// Each open would write a download to the audit log, an fsync per
	// input; the log is not what is fuzzed here.
	svc := *fx.svc
	svc.Audit = nopAudit{}
	f.Fuzz(func(t *testing.T, index uint8, sealed []byte) {
		at := int(index % 3)
		fx.store.hook = func(i int, b []byte) ([]byte, error) {
			if i == at {
				return sealed, nil
			}
			return b, nil
		}
		defer func() { fx.store.hook = nil }()
		r, err := svc.Open(ctx, fx.staff, d, "")
		if err != nil {
			return
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err == nil && !bytes.Equal(got, data) {
			t.Fatalf("chunk %d as %d bytes: read %d bytes without an error, not the document", at, len(sealed), len(got))
		}
		if err == nil && !bytes.Equal(sealed, chunks[at]) {
			t.Fatalf("chunk %d replaced by other bytes, yet the document read whole", at)
		}
	})
}

type nopAudit struct{}

func (nopAudit) AddAuditEvent(context.Context, int64, *gatehouse.AuditEvent) error { return nil }
