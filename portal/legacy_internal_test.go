package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

// memChunks is a ChunkStore in memory, for the reader alone.
type memChunks struct{ chunks [][]byte }

func (m *memChunks) PutDocumentChunk(_ context.Context, _, _ int64, index int, sealed []byte) error {
	for len(m.chunks) <= index {
		m.chunks = append(m.chunks, nil)
	}
	m.chunks[index] = bytes.Clone(sealed)
	return nil
}

func (m *memChunks) PutDocumentChunks(ctx context.Context, ws, doc int64, first int, sealed [][]byte) error {
	for i, b := range sealed {
		m.PutDocumentChunk(ctx, ws, doc, first+i, b)
	}
	return nil
}

func (m *memChunks) DocumentChunk(_ context.Context, _, _ int64, index int) ([]byte, error) {
	return m.chunks[index], nil
}

func (m *memChunks) DocumentChunks(_ context.Context, _, _ int64, first, n int, fn func(int, []byte) error) error {
	for i := first; i < min(first+n, len(m.chunks)); i++ {
		if err := fn(i, m.chunks[i]); err != nil {
			return err
		}
	}
	return nil
}

// sealLegacy seals data as Upload.Close did before it flushed a full last
// chunk: a size that is a multiple of ChunkSize in as many chunks, the last
// one full and sealed as final.
func sealLegacy(t *testing.T, key []byte, doc *Document, data []byte) *memChunks {
	t.Helper()
	aead, err := newChunkAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	m := &memChunks{}
	n := len(data) / ChunkSize
	for i := range n {
		out := make([]byte, chunkNonce, chunkNonce+ChunkSize+chunkTag)
		rand.Read(out)
		out = aead.Seal(out, out[:chunkNonce], data[i*ChunkSize:(i+1)*ChunkSize], chunkAAD(doc.WorkspaceID, doc.ID, i, i == n-1, int64(len(data))))
		m.chunks = append(m.chunks, out)
	}
	doc.Size, doc.Chunks = int64(len(data)), n
	return m
}

func newTestReader(t *testing.T, key []byte, store ChunkStore, doc *Document) *Reader {
	t.Helper()
	r := &Reader{ctx: context.Background(), store: store, doc: doc, total: readChunkCount(doc)}
	for i := range r.aead {
		var err error
		if r.aead[i], err = newChunkAEAD(key); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestLegacyFullFinalChunk: a document stored before the fix of
// Upload.Close (its last chunk full and final) reads back whole; its chunk
// count changed to the current shape, or a current document's to the old
// one, fails with ErrTampered.
func TestLegacyFullFinalChunk(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	for _, n := range []int{1, 2, readBatch, readBatch + 3} {
		data := make([]byte, n*ChunkSize)
		rand.Read(data)
		doc := &Document{ID: 7, WorkspaceID: 3}
		store := sealLegacy(t, key, doc, data)
		got, err := io.ReadAll(newTestReader(t, key, store, doc))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d chunks: read %d bytes, err %v", n, len(got), err)
		}
		// The count altered to the current shape: the reader wants an
		// empty final chunk after the last, which is not there.
		altered := *doc
		altered.Chunks = n + 1
		if _, err := io.ReadAll(newTestReader(t, key, store, &altered)); !errors.Is(err, ErrTampered) {
			t.Fatalf("%d chunks, count %d: err %v, want ErrTampered", n, n+1, err)
		}
	}

	// A current document (empty final chunk) with its count lowered reads
	// its last full chunk as final, which it was not sealed as.
	data := make([]byte, 2*ChunkSize)
	rand.Read(data)
	doc := &Document{ID: 8, WorkspaceID: 3, Size: int64(len(data)), Chunks: 3}
	aead, _ := newChunkAEAD(key)
	m := &memChunks{}
	for i := range 3 {
		out := make([]byte, chunkNonce, chunkNonce+ChunkSize+chunkTag)
		rand.Read(out)
		out = aead.Seal(out, out[:chunkNonce], data[min(i*ChunkSize, len(data)):min((i+1)*ChunkSize, len(data))],
			chunkAAD(doc.WorkspaceID, doc.ID, i, i == 2, doc.Size))
		m.chunks = append(m.chunks, out)
	}
	if got, err := io.ReadAll(newTestReader(t, key, m, doc)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("current document: %d bytes, %v", len(got), err)
	}
	doc.Chunks = 2
	if _, err := io.ReadAll(newTestReader(t, key, m, doc)); !errors.Is(err, ErrTampered) {
		t.Fatalf("current document with its count lowered: err %v, want ErrTampered", err)
	}
}
