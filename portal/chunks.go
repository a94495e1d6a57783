package portal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/bits"
	"sync"
)

// ChunkSize is how many plaintext bytes each stored chunk holds (the last
// one fewer). Memory per upload or download is a couple of chunks,
// whatever the file's size.
const ChunkSize = 64 << 10

const (
	chunkNonce = 12
	chunkTag   = 16
)

// DocumentKeyAAD binds a sealed data key to its workspace and document: a
// key copied into another document's row does not open there.
func DocumentKeyAAD(workspaceID, documentID int64) string {
	return fmt.Sprintf("document-key/ws:%d/doc:%d", workspaceID, documentID)
}

// chunkAAD binds a sealed chunk to its workspace, document and place, and
// marks the final chunk together with the document's size: a chunk moved to
// another index or document, a dropped tail or a changed size fails to open.
func chunkAAD(workspaceID, documentID int64, index int, final bool, size int64) []byte {
	return appendChunkAAD(make([]byte, 0, 64), workspaceID, documentID, index, final, size)
}

// appendChunkAAD appends chunkAAD's bytes to b (which a reader keeps on
// its stack).
func appendChunkAAD(b []byte, workspaceID, documentID int64, index int, final bool, size int64) []byte {
	b = append(b, "gatehouse/doc-chunk/v1"...)
	b = binary.BigEndian.AppendUint64(b, uint64(workspaceID))
	b = binary.BigEndian.AppendUint64(b, uint64(documentID))
	b = binary.BigEndian.AppendUint64(b, uint64(index))
	if final {
		b = append(b, 1)
		b = binary.BigEndian.AppendUint64(b, uint64(size))
	} else {
		b = append(b, 0)
	}
	return b
}

func newChunkAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ChunkStore writes and reads a document's sealed chunks.
type ChunkStore interface {
	// PutDocumentChunk stores chunk index of a document being uploaded.
	PutDocumentChunk(ctx context.Context, workspaceID, documentID int64, index int, sealed []byte) error
	// PutDocumentChunks stores consecutive chunks from index first of a
	// document being uploaded, in one transaction.
	PutDocumentChunks(ctx context.Context, workspaceID, documentID int64, first int, sealed [][]byte) error
	// DocumentChunk returns chunk index of the document, or ErrNotFound.
	DocumentChunk(ctx context.Context, workspaceID, documentID int64, index int) ([]byte, error)
	// DocumentChunks calls fn with the document's chunks from index first,
	// at most n, in order of index, and returns the first error fn returns.
	// The slice fn gets may be the store's own buffer, valid only during
	// the call: fn opens or copies it, and keeps none of it.
	DocumentChunks(ctx context.Context, workspaceID, documentID int64, first, n int, fn func(index int, sealed []byte) error) error
}

// DocumentOpener is a ChunkStore that finds a document and reads its
// first chunks in one round trip. Service.OpenDocument uses it when the
// store has it (a database across a network, where a small download's time
// is mostly round trips).
type DocumentOpener interface {
	// OpenDocument finds the finished document as FindDocument does and
	// hands it to check; only once check returns nil does it call fn with
	// the document's chunks from index 0, at most n, as DocumentChunks does.
	// It returns the first error of the lookup, check or fn (check's and
	// fn's as they are).
	OpenDocument(ctx context.Context, workspaceID, id int64, n int, check func(*Document) error, fn func(index int, sealed []byte) error) error
}

// chunkBatch is how many chunks an upload sends to the store at once:
// 1 MiB, so a large document costs a transaction per MiB, not per 64 KiB,
// while memory per upload stays about 1 MiB.
const chunkBatch = 16

// Upload streams one file into sealed chunks. It holds one chunk of
// plaintext and at most chunkBatch sealed chunks at a time. Make one with Service.BeginUpload; after Write
// calls, Close writes the final chunk; the document becomes visible only
// when Service.Finish commits it, and Abort removes what was written.
type Upload struct {
	svc    *Service
	ctx    context.Context
	doc    *Document
	key    []byte
	aead   cipher.AEAD
	buf    []byte   // plaintext of the current chunk
	batch  [][]byte // sealed chunks not yet stored, the last ones before index
	spare  [][]byte // their buffers, for reuse
	index  int
	sum    hash.Hash
	head   []byte // the first bytes, for sniffing the type
	limit  int64
	closed bool
}

// Document returns the document being uploaded (ID set).
func (u *Upload) Document() *Document { return u.doc }

// Write implements io.Writer: it fills and seals chunks as they complete.
// It returns ErrTooLarge once the file passes the upload limit.
func (u *Upload) Write(p []byte) (int, error) {
	if u.closed {
		return 0, errors.New("write after close")
	}
	n := 0
	for len(p) > 0 {
		if u.limit > 0 && u.doc.Size+int64(len(p)) > u.limit {
			return n, ErrTooLarge
		}
		k := copy(u.buf[len(u.buf):cap(u.buf)], p)
		u.buf = u.buf[:len(u.buf)+k]
		u.sum.Write(p[:k])
		if len(u.head) < 512 {
			u.head = append(u.head, p[:min(k, 512-len(u.head))]...)
		}
		u.doc.Size += int64(k)
		p, n = p[k:], n+k
		if len(u.buf) == ChunkSize {
			if err := u.flush(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// ReadFrom implements io.ReaderFrom, so io.Copy fills whole chunks.
func (u *Upload) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if len(u.buf) == ChunkSize {
			if err := u.flush(false); err != nil {
				return total, err
			}
		}
		n, err := r.Read(u.buf[len(u.buf):ChunkSize])
		if n > 0 {
			if u.limit > 0 && u.doc.Size+int64(n) > u.limit {
				return total, ErrTooLarge
			}
			chunk := u.buf[len(u.buf) : len(u.buf)+n]
			u.sum.Write(chunk)
			if len(u.head) < 512 {
				u.head = append(u.head, chunk[:min(n, 512-len(u.head))]...)
			}
			u.buf = u.buf[:len(u.buf)+n]
			u.doc.Size += int64(n)
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// flush seals the current chunk into the batch, and stores the batch
// when it is full or final.
func (u *Upload) flush(final bool) error {
	var out []byte
	if n := len(u.spare); n > 0 {
		out, u.spare = u.spare[n-1][:chunkNonce], u.spare[:n-1]
	} else {
		out = make([]byte, chunkNonce, chunkNonce+ChunkSize+chunkTag)
	}
	rand.Read(out[:chunkNonce])
	out = u.aead.Seal(out, out[:chunkNonce], u.buf, chunkAAD(u.doc.WorkspaceID, u.doc.ID, u.index, final, u.doc.Size))
	u.batch = append(u.batch, out)
	u.index++
	u.buf = u.buf[:0]
	if len(u.batch) < chunkBatch && !final {
		return nil
	}
	first := u.index - len(u.batch)
	if err := u.svc.Store.PutDocumentChunks(u.ctx, u.doc.WorkspaceID, u.doc.ID, first, u.batch); err != nil {
		return fmt.Errorf("store chunks %d-%d of document %d: %w", first, u.index-1, u.doc.ID, err)
	}
	u.spare = append(u.spare, u.batch...)
	u.batch = u.batch[:0]
	return nil
}

// Close writes the final chunk (possibly empty) and records the size, hash
// and chunk count. The document is still invisible until Finish.
func (u *Upload) Close() error {
	if u.closed {
		return nil
	}
	// The final chunk holds fewer than ChunkSize bytes (none when the size
	// is a multiple of it), as the reader expects: ReadFrom can stop on a
	// full chunk when the last read brings data and io.EOF together.
	if len(u.buf) == ChunkSize {
		if err := u.flush(false); err != nil {
			return err
		}
	}
	if err := u.flush(true); err != nil {
		return err
	}
	u.closed = true
	u.doc.Chunks = u.index
	u.doc.SHA256 = u.sum.Sum(nil)
	if u.svc.Sniff != nil {
		u.doc.ContentType = DetectType(u.svc.Sniff(u.head), u.doc.FileName)
	} else {
		u.doc.ContentType = "application/octet-stream"
	}
	clear(u.buf[:cap(u.buf)])
	return nil
}

// Reader reads a stored document back. It implements io.ReadSeeker, for
// http.ServeContent and Range requests. A chunk that fails to open
// (altered, swapped, cut) is an error wrapping ErrTampered: altered bytes
// are never returned.
//
// It opens a batch of chunks at a time, straight from the store's buffers
// into a plaintext window it reuses, and opens the next batch (on another
// goroutine) while the window is sent: one query per batch, no allocation
// per chunk, and memory of two windows whatever the document's size.
type Reader struct {
	ctx   context.Context
	store ChunkStore
	doc   *Document
	aead  [2]cipher.AEAD // one for the reader, one for the read-ahead
	off   int64
	total int // chunks, the final one included

	win   *window // the batch being read, nil for none
	spare *window // a window free for reuse
	// ahead delivers the batch after win, opened while win is sent.
	ahead   chan *window
	aheadAt int
	err     error // the first chunk that failed to open
}

// window is the plaintext of chunks [at, at+n) of a document, chunk i at
// buf[(i-at)*ChunkSize:]. err, when set, is why chunk at+n did not open.
type window struct {
	buf  []byte
	at   int
	want int // chunks asked for
	n    int // chunks opened
	err  error
}

// readBatch is how many chunks the reader opens per query: 2 MiB, so a
// large document costs a query per 2 MiB, while a download holds at most
// two windows (4 MiB) whatever its size.
const readBatch = 32

// openBatch is how many chunks Service.OpenDocument reads with the
// document's row, before it knows the size or whether the viewer may have
// them: 256 KiB, all of a small document, and no more than that read for
// nothing when the viewer is refused.
const openBatch = 4

// Err returns the error that stopped a read, if any: a caller that hands
// the reader to something that swallows read errors (http.ServeContent)
// asks it afterwards.
func (r *Reader) Err() error { return r.err }

// chunkCount is how many chunks a document of size bytes has: full chunks
// and one final one, empty when size is a multiple of ChunkSize.
func chunkCount(size int64) int { return int(size/ChunkSize) + 1 }

// readChunkCount is how many chunks the reader expects of d: chunkCount,
// or, for a document stored before Upload.Close flushed a full last chunk
// (a size that is a multiple of ChunkSize, and as many chunks, the last
// one full and sealed as final), that count. Either way the final chunk's
// AAD binds "final" and the size, so a count altered from one shape to the
// other fails to open instead of reading short or long.
func readChunkCount(d *Document) int {
	if d.Size > 0 && d.Size%ChunkSize == 0 && int64(d.Chunks) == d.Size/ChunkSize {
		return d.Chunks
	}
	return chunkCount(d.Size)
}

// Document returns the document being read.
func (r *Reader) Document() *Document { return r.doc }

// Size returns the document's size.
func (r *Reader) Size() int64 { return r.doc.Size }

// chunkLen is the plaintext length of chunk index.
func (r *Reader) chunkLen(index int) int {
	if index == r.total-1 {
		return int(r.doc.Size - int64(index)*ChunkSize)
	}
	return ChunkSize
}

// windows keeps windows between downloads, so a download does not
// allocate and clear its window each time: one pool per window size, a
// power of two chunks from 1 to readBatch (a small document's window
// holds its chunks rounded up to the next power of two).
var windows [windowClasses]sync.Pool

const windowClasses = 6 // 1, 2, 4, ... 32 chunks

// windowClass is the pool of windows for n chunks (n ≤ readBatch).
func windowClass(n int) int { return bits.Len(uint(n - 1)) }

// getWindow returns a window for at least n chunks.
func getWindow(n int) *window {
	c := windowClass(n)
	if w, ok := windows[c].Get().(*window); ok {
		return w
	}
	return &window{buf: make([]byte, 0, (1<<c)*ChunkSize)}
}

// newWindow returns a window for the batch of at most n chunks from index,
// reusing spare when it is there (and large enough).
func (r *Reader) newWindow(index, n int) *window {
	n = min(n, r.total-index)
	size := (n-1)*ChunkSize + r.chunkLen(index+n-1)
	w := r.spare
	r.spare = nil
	if w == nil || cap(w.buf) < size {
		r.putWindow(w)
		w = getWindow(min(readBatch, r.total))
	}
	w.buf, w.at, w.want, w.n, w.err = w.buf[:size], index, n, 0, nil
	return w
}

// fill opens w.want chunks from w.at into w with aead, stopping at the
// first that is missing or fails to open (w.err says which).
func (r *Reader) fill(w *window, aead cipher.AEAD) {
	err := r.store.DocumentChunks(r.ctx, r.doc.WorkspaceID, r.doc.ID, w.at, w.want, func(index int, sealed []byte) error {
		return r.put(w, aead, index, sealed)
	})
	r.settle(w, err)
}

// put opens the sealed chunk index, the next one w expects, into w.
func (r *Reader) put(w *window, aead cipher.AEAD, index int, sealed []byte) error {
	if w.n == w.want {
		// A row past the document's last chunk (a store asked for more
		// than the document has) is not part of it.
		return errFull
	}
	if index != w.at+w.n {
		return errGap
	}
	if err := r.openChunk(aead, w, index, sealed); err != nil {
		return err
	}
	w.n++
	return nil
}

// settle records in w.err why w holds fewer chunks than it wants, given the
// error of the read that filled it.
func (r *Reader) settle(w *window, err error) {
	switch {
	case errors.Is(err, ErrTampered):
		w.err = err
	case err != nil && !errors.Is(err, errGap) && !errors.Is(err, errFull):
		w.err = fmt.Errorf("%w: document %d chunk %d: %w", ErrTampered, r.doc.ID, w.at+w.n, err)
	case w.n < w.want:
		w.err = fmt.Errorf("%w: document %d chunk %d is missing", ErrTampered, r.doc.ID, w.at+w.n)
	}
}

var (
	errGap  = errors.New("chunk missing")
	errFull = errors.New("window full")
)

// openChunk opens one sealed chunk into its place in w.
func (r *Reader) openChunk(aead cipher.AEAD, w *window, index int, sealed []byte) error {
	if len(sealed) < chunkNonce+chunkTag {
		return fmt.Errorf("%w: document %d chunk %d is too short", ErrTampered, r.doc.ID, index)
	}
	// The chunk count follows from the size, which the final chunk's AAD
	// binds: a row with an altered size or count does not open.
	final := index == r.total-1
	want := r.chunkLen(index)
	if len(sealed) != chunkNonce+want+chunkTag {
		return fmt.Errorf("%w: document %d chunk %d holds %d bytes, want %d", ErrTampered, r.doc.ID, index, len(sealed)-chunkNonce-chunkTag, want)
	}
	at := (index - w.at) * ChunkSize
	dst := w.buf[at : at : at+want]
	var aad [64]byte
	if _, err := aead.Open(dst, sealed[:chunkNonce], sealed[chunkNonce:], appendChunkAAD(aad[:0], r.doc.WorkspaceID, r.doc.ID, index, final, r.doc.Size)); err != nil {
		return fmt.Errorf("%w: document %d chunk %d", ErrTampered, r.doc.ID, index)
	}
	return nil
}

// load makes chunk index readable from r.win, or returns why it cannot be.
func (r *Reader) load(index int) error {
	if w := r.win; w != nil && index >= w.at && index < w.at+w.n {
		return nil
	}
	if w := r.win; w != nil && index == w.at+w.n && w.err != nil {
		r.err = w.err
	}
	if r.err != nil {
		return r.err
	}
	w := r.fetch(index)
	if w.n == 0 || index >= w.at+w.n {
		r.err = w.err
		return r.err
	}
	return nil
}

// fetch makes the batch from index the window, from the read-ahead when it
// is that one, and starts opening the following batch.
func (r *Reader) fetch(index int) *window {
	if old := r.win; old != nil {
		r.spare, r.win = old, nil
	}
	var w *window
	if r.ahead != nil && r.aheadAt == index {
		w = <-r.ahead
	} else {
		// A read-ahead for another place (after a seek) is left to finish
		// on its own, with its window.
		w = r.newWindow(index, readBatch)
		r.fill(w, r.aead[0])
	}
	r.ahead = nil
	r.win = w
	r.readAhead()
	return w
}

// readAhead starts opening the batch after the window, if there is one.
func (r *Reader) readAhead() {
	w := r.win
	if next := w.at + w.n; w.err == nil && next < r.total {
		ahead := r.newWindow(next, readBatch)
		ch := make(chan *window, 1)
		go func() {
			r.fill(ahead, r.aead[1])
			ch <- ahead
		}()
		r.ahead, r.aheadAt = ch, next
	}
}

// opened returns the window's plaintext from the current offset to the
// end of the chunks it opened.
func (r *Reader) opened() []byte {
	w := r.win
	last := w.at + w.n - 1
	return w.buf[r.off-int64(w.at)*ChunkSize : (w.n-1)*ChunkSize+r.chunkLen(last)]
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= r.doc.Size {
		// The end is reached only once the final chunk opened, sealed as
		// final for this size: a tail cut at a chunk boundary (with the
		// size changed to match) fails here instead of ending early.
		if err := r.load(r.total - 1); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	index := int(r.off / ChunkSize)
	if err := r.load(index); err != nil {
		return 0, err
	}
	n := copy(p, r.opened())
	r.off += int64(n)
	return n, nil
}

// WriteTo implements io.WriterTo: it writes the rest of the document a
// window at a time (one large write per batch instead of many small ones).
func (r *Reader) WriteTo(dst io.Writer) (int64, error) {
	var total int64
	for r.off < r.doc.Size {
		index := int(r.off / ChunkSize)
		if err := r.load(index); err != nil {
			return total, err
		}
		n, err := dst.Write(r.opened())
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	if err := r.load(r.total - 1); err != nil {
		return total, err
	}
	return total, nil
}

// Close gives the reader's windows back for other downloads, once a
// read-ahead still under way is done with its own. The reader must not be
// used after.
func (r *Reader) Close() error {
	if r.ahead != nil {
		r.putWindow(<-r.ahead)
		r.ahead = nil
	}
	r.putWindow(r.win)
	r.putWindow(r.spare)
	r.win, r.spare = nil, nil
	return nil
}

func (r *Reader) putWindow(w *window) {
	if w == nil {
		return
	}
	n := cap(w.buf) / ChunkSize
	if c := windowClass(n); c < windowClasses && n == 1<<c && cap(w.buf) == n*ChunkSize {
		windows[c].Put(w)
	}
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.doc.Size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	r.off = offset
	return offset, nil
}

func newUpload(svc *Service, ctx context.Context, doc *Document, key []byte, limit int64) (*Upload, error) {
	aead, err := newChunkAEAD(key)
	if err != nil {
		return nil, err
	}
	return &Upload{svc: svc, ctx: ctx, doc: doc, key: key, aead: aead, buf: make([]byte, 0, ChunkSize),
		sum: sha256.New(), limit: limit}, nil
}
