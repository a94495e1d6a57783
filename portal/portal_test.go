package portal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/secret"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

var t0 = time.Date(2039, 6, 15, 12, 0, 0, 0, time.UTC)

// chunkHook lets a test change what the store hands back for a chunk.
type chunkHook struct {
	portal.Store
	hook func(index int, data []byte) ([]byte, error)
}

func (h *chunkHook) DocumentChunks(ctx context.Context, ws, doc int64, first, n int, fn func(int, []byte) error) error {
	if h.hook == nil {
		return h.Store.DocumentChunks(ctx, ws, doc, first, n, fn)
	}
	// One chunk at a time, through the hook, as the store would hand them.
	for i := first; i < first+n; i++ {
		data, err := h.Store.DocumentChunk(ctx, ws, doc, i)
		if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			return err
		}
		data, err = h.hook(i, data)
		if err != nil || data == nil {
			return nil // a missing chunk: the store hands no row
		}
		if err := fn(i, data); err != nil {
			return err
		}
	}
	return nil
}

// openerHook is chunkHook as a portal.DocumentOpener: it finds the
// document (changed by doc, when set), checks it, and hands its first
// chunks through the hook, then extra rows after them, as a store that
// asked for more rows than the document has might.
type openerHook struct {
	*chunkHook
	doc   func(portal.Document) portal.Document
	extra [][]byte
}

func (h *openerHook) OpenDocument(ctx context.Context, ws, id int64, n int, check func(*portal.Document) error, fn func(int, []byte) error) error {
	d, err := h.FindDocument(ctx, ws, id)
	if err != nil {
		return err
	}
	if h.doc != nil {
		*d = h.doc(*d)
	}
	if err := check(d); err != nil {
		return err
	}
	next := 0
	err = h.DocumentChunks(ctx, ws, id, 0, n, func(i int, b []byte) error { next = i + 1; return fn(i, b) })
	if err != nil {
		return err
	}
	for i, b := range h.extra {
		if err := fn(next+i, b); err != nil {
			return err
		}
	}
	return nil
}

// opener returns the fixture's service over a store that is a
// portal.DocumentOpener.
func (f *fixture) opener() (*portal.Service, *openerHook) {
	h := &openerHook{chunkHook: f.store}
	svc := *f.svc
	svc.Store = h
	return &svc, h
}

type fixture struct {
	svc    *portal.Service
	store  *chunkHook
	ws     *gatehouse.Workspace
	client *portal.Client
	staff  portal.Viewer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ws := gatehouse.NewWorkspace("acme", "Acme", gatehouse.PlanPro, t0)
	if err := db.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	u := &gatehouse.User{Email: "o@example.com", Role: gatehouse.RoleOwner, CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateUser(ctx, ws.ID, u); err != nil {
		t.Fatal(err)
	}
	keys, _ := secret.NewKeyring(make([]byte, 32))
	h := &chunkHook{Store: db}
	svc := &portal.Service{Store: h, Users: db, Audit: db, Keys: keys, Now: func() time.Time { return t0 }, Sniff: http.DetectContentType}
	staff := portal.Viewer{WorkspaceID: ws.ID, UserID: u.ID, Role: gatehouse.RoleOwner}
	c, err := svc.CreateClient(ctx, staff, "Client", "")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, store: h, ws: ws, client: c, staff: staff}
}

func (f *fixture) upload(t testing.TB, name string, data []byte) *portal.Document {
	t.Helper()
	ctx := context.Background()
	up, err := f.svc.BeginUpload(ctx, f.staff, f.client.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(up, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	docs, err := f.svc.Finish(ctx, f.staff, f.ws, []*portal.Upload{up}, portal.UploadMeta{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.Document(ctx, f.staff, docs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, size := range []int{0, 1, portal.ChunkSize - 1, portal.ChunkSize, portal.ChunkSize + 1, 3*portal.ChunkSize + 17, 40*portal.ChunkSize + 3} {
		data := make([]byte, size)
		rand.Read(data)
		d := f.upload(t, "x.bin", data)
		sum := sha256.Sum256(data)
		if d.Size != int64(size) || !bytes.Equal(d.SHA256, sum[:]) || d.Chunks != size/portal.ChunkSize+1 {
			t.Fatalf("size %d: stored size %d chunks %d", size, d.Size, d.Chunks)
		}
		r, err := f.svc.Open(context.Background(), f.staff, d, "")
		if err != nil {
			t.Fatalf("size %d: open: %v", size, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes, err %v", size, len(got), err)
		}
		// WriteTo (what io.Copy uses) from a position in the first chunk.
		var buf bytes.Buffer
		r.Seek(min(int64(size), 7), io.SeekStart)
		if n, err := r.WriteTo(&buf); err != nil || n != int64(buf.Len()) || !bytes.Equal(buf.Bytes(), data[min(size, 7):]) {
			t.Fatalf("size %d: WriteTo wrote %d bytes, err %v", size, n, err)
		}
		if size > 20*portal.ChunkSize {
			// Back to the start, then into the middle: other batches.
			for _, off := range []int64{5, int64(size) / 2, 17 * portal.ChunkSize} {
				if _, err := r.Seek(off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				part := make([]byte, 100)
				if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, data[off:off+100]) {
					t.Fatalf("size %d: read at %d: %v", size, off, err)
				}
			}
		}
		if size > 10 {
			// A range across a chunk boundary.
			off := int64(size) - 10
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			part := make([]byte, 10)
			if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, data[off:]) {
				t.Fatalf("size %d: seek and read: %v", size, err)
			}
		}
		// Closed, its windows serve the next reader, which reads whole.
		r.Close()
		r, err = f.svc.Open(context.Background(), f.staff, d, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: second reader read %d bytes, err %v", size, len(got), err)
		}
		r.Close()
	}
}

func TestSniffedType(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, content, stored, served string }{
		{"a.pdf", "%PDF-1.4\n", "application/pdf", "application/pdf"},
		{"a.csv", "a,b\n1,2\n", "text/csv", "text/csv; charset=utf-8"},
		{"a.html", "<html><script>alert(1)</script>", "application/octet-stream", "application/octet-stream"},
		{"a.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "application/octet-stream", "application/octet-stream"},
		{"page.txt", "<!DOCTYPE html><p>", "text/html", "application/octet-stream"},
	} {
		d := f.upload(t, tc.name, []byte(tc.content))
		if d.ContentType != tc.stored || portal.ServedType(d.ContentType) != tc.served {
			t.Errorf("%s: stored %q served %q, want %q %q", tc.name, d.ContentType, portal.ServedType(d.ContentType), tc.stored, tc.served)
		}
	}
}

// TestUploadEndsOnFullChunk: a file whose last read brings a full chunk
// and io.EOF together (through Upload.ReadFrom) reads back whole, its
// final chunk empty like any file of a size that is a multiple of
// ChunkSize.
func TestUploadEndsOnFullChunk(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, size := range []int{portal.ChunkSize, 2 * portal.ChunkSize, 40 * portal.ChunkSize} {
		data := make([]byte, size)
		rand.Read(data)
		up, err := f.svc.BeginUpload(ctx, f.staff, f.client.ID, "exact.bin")
		if err != nil {
			t.Fatal(err)
		}
		// DataErrReader returns the last bytes with io.EOF; it has no
		// WriteTo, so io.Copy calls up.ReadFrom.
		if _, err := io.Copy(up, iotest.DataErrReader(bytes.NewReader(data))); err != nil {
			t.Fatal(err)
		}
		if err := up.Close(); err != nil {
			t.Fatal(err)
		}
		docs, err := f.svc.Finish(ctx, f.staff, f.ws, []*portal.Upload{up}, portal.UploadMeta{})
		if err != nil {
			t.Fatal(err)
		}
		if docs[0].Chunks != size/portal.ChunkSize+1 {
			t.Errorf("size %d: %d chunks, want %d", size, docs[0].Chunks, size/portal.ChunkSize+1)
		}
		r, err := f.svc.Open(ctx, f.staff, docs[0], "")
		if err != nil {
			t.Fatalf("size %d: open: %v", size, err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes, err %v", size, len(got), err)
		}
	}
}

// TestTamper: an altered, swapped or missing chunk, or a changed size,
// fails with ErrTampered instead of returning altered bytes.
func TestTamper(t *testing.T) {
	f := newFixture(t)
	data := make([]byte, 3*portal.ChunkSize+5)
	rand.Read(data)
	d := f.upload(t, "x.bin", data)
	var chunks [][]byte
	for i := range 4 {
		c, err := f.store.Store.DocumentChunk(context.Background(), f.ws.ID, d.ID, i)
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	other := f.upload(t, "y.bin", data)
	otherChunk, _ := f.store.Store.DocumentChunk(context.Background(), f.ws.ID, other.ID, 1)
	for _, tc := range []struct {
		name string
		hook func(int, []byte) ([]byte, error)
		doc  func(portal.Document) portal.Document
	}{
		{name: "altered byte", hook: func(i int, b []byte) ([]byte, error) {
			if i == 2 {
				b = bytes.Clone(b)
				b[len(b)/2] ^= 1
			}
			return b, nil
		}},
		{name: "swapped chunks", hook: func(i int, b []byte) ([]byte, error) {
			switch i {
			case 1:
				return chunks[2], nil
			case 2:
				return chunks[1], nil
			}
			return b, nil
		}},
		{name: "chunk of another document", hook: func(i int, b []byte) ([]byte, error) {
			if i == 1 {
				return otherChunk, nil
			}
			return b, nil
		}},
		{name: "final chunk dropped", doc: func(d portal.Document) portal.Document {
			d.Size = 3 * portal.ChunkSize
			return d
		}},
		{name: "missing chunk", hook: func(i int, b []byte) ([]byte, error) {
			if i == 3 {
				return nil, gatehouse.ErrNotFound
			}
			return b, nil
		}},
		{name: "first chunk altered", hook: func(i int, b []byte) ([]byte, error) {
			if i == 0 {
				b = bytes.Clone(b)
				b[20] ^= 0x80
			}
			return b, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.store.hook = tc.hook
			defer func() { f.store.hook = nil }()
			doc := *d
			if tc.doc != nil {
				doc = tc.doc(doc)
			}
			for _, read := range []func(io.Reader) ([]byte, error){io.ReadAll, func(r io.Reader) ([]byte, error) {
				var buf bytes.Buffer
				_, err := r.(io.WriterTo).WriteTo(&buf)
				return buf.Bytes(), err
			}} {
				r, err := f.svc.Open(context.Background(), f.staff, &doc, "")
				if err == nil {
					var got []byte
					got, err = read(r)
					if err == nil && !bytes.Equal(got, data) {
						t.Fatal("altered bytes returned without an error")
					}
				}
				if !errors.Is(err, portal.ErrTampered) {
					t.Fatalf("err %v, want ErrTampered", err)
				}
			}
		})
	}
}

// TestTamperLater: a chunk altered in a later batch (read ahead while the
// first is sent) fails the read too.
func TestTamperLater(t *testing.T) {
	f := newFixture(t)
	data := make([]byte, 40*portal.ChunkSize)
	rand.Read(data)
	d := f.upload(t, "big.bin", data)
	f.store.hook = func(i int, b []byte) ([]byte, error) {
		if i == 33 {
			b = bytes.Clone(b)
			b[40] ^= 4
		}
		return b, nil
	}
	defer func() { f.store.hook = nil }()
	r, err := f.svc.Open(context.Background(), f.staff, d, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, portal.ErrTampered) || len(got) != 33*portal.ChunkSize || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("read %d bytes, err %v; want the 33 good chunks, then ErrTampered", len(got), err)
	}
}

// TestOpenDocument: a store that finds a document and reads its first
// chunks at once serves the same bytes, refuses the same viewers, and
// fails the same tampering as Open.
func TestOpenDocument(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc, h := f.opener()
	read := func(t *testing.T, v portal.Viewer, id int64, fresh bool) ([]byte, error) {
		t.Helper()
		r, err := svc.OpenDocument(ctx, v, id, fresh, "")
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if r.Document().ID != id {
			t.Fatalf("reader of document %d, want %d", r.Document().ID, id)
		}
		return io.ReadAll(r)
	}
	for _, size := range []int{0, 1, portal.ChunkSize, 4*portal.ChunkSize + 1, 40*portal.ChunkSize + 3} {
		data := make([]byte, size)
		rand.Read(data)
		d := f.upload(t, "x.bin", data)
		if got, err := read(t, f.staff, d.ID, false); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes, err %v", size, len(got), err)
		}
	}

	t.Run("viewers", func(t *testing.T) {
		other, _ := f.svc.CreateClient(ctx, f.staff, "Other", "")
		d := f.upload(t, "x.pdf", []byte("%PDF-"))
		for name, v := range map[string]portal.Viewer{
			"other client":    {WorkspaceID: f.ws.ID, UserID: 98, Role: gatehouse.RoleClient, ClientID: other.ID},
			"no client":       {WorkspaceID: f.ws.ID, UserID: 97, Role: gatehouse.RoleClient},
			"other workspace": {WorkspaceID: f.ws.ID + 1, UserID: 96, Role: gatehouse.RoleOwner},
		} {
			if _, err := read(t, v, d.ID, true); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
		mine := portal.Viewer{WorkspaceID: f.ws.ID, UserID: 99, Role: gatehouse.RoleClient, ClientID: f.client.ID}
		if got, err := read(t, mine, d.ID, false); err != nil || string(got) != "%PDF-" {
			t.Fatalf("own client's document: %q, %v", got, err)
		}
		// A sensitive document needs a fresh second factor.
		h.doc = func(d portal.Document) portal.Document { d.Sensitive = true; return d }
		defer func() { h.doc = nil }()
		if _, err := read(t, mine, d.ID, false); !errors.Is(err, portal.ErrReauth) {
			t.Errorf("sensitive, not fresh: %v, want ErrReauth", err)
		}
		if got, err := read(t, mine, d.ID, true); err != nil || string(got) != "%PDF-" {
			t.Fatalf("sensitive, fresh: %q, %v", got, err)
		}
	})

	// Rows past a document's last chunk (the store asked for more chunks
	// than the document has) are not part of it: Open never asks for them.
	t.Run("rows past the end", func(t *testing.T) {
		data := make([]byte, portal.ChunkSize+1)
		rand.Read(data)
		d := f.upload(t, "x.bin", data) // a full chunk and a final one
		// A row of a full chunk's size, where the window has no room left.
		h.extra = [][]byte{make([]byte, 12+portal.ChunkSize+16)}
		defer func() { h.extra = nil }()
		if got, err := read(t, f.staff, d.ID, false); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
	})

	data := make([]byte, 40*portal.ChunkSize+5)
	rand.Read(data)
	d := f.upload(t, "x.bin", data)
	for _, tc := range []struct {
		name string
		hook func(int, []byte) ([]byte, error)
		doc  func(portal.Document) portal.Document
	}{
		{name: "first chunk altered", hook: alterChunk(0)},
		{name: "chunk of the first batch altered", hook: alterChunk(3)},
		{name: "chunk of a later batch altered", hook: alterChunk(33)},
		{name: "first chunk missing", hook: func(i int, b []byte) ([]byte, error) {
			if i == 0 {
				return nil, gatehouse.ErrNotFound
			}
			return b, nil
		}},
		{name: "size changed", doc: func(d portal.Document) portal.Document { d.Size--; return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.store.hook, h.doc = tc.hook, tc.doc
			defer func() { f.store.hook, h.doc = nil, nil }()
			got, err := read(t, f.staff, d.ID, false)
			if !errors.Is(err, portal.ErrTampered) {
				t.Fatalf("err %v, want ErrTampered", err)
			}
			if !bytes.Equal(got, data[:len(got)]) {
				t.Fatal("altered bytes returned")
			}
		})
	}
}

// alterChunk is a chunkHook hook that flips a bit of chunk index.
func alterChunk(index int) func(int, []byte) ([]byte, error) {
	return func(i int, b []byte) ([]byte, error) {
		if i == index {
			b = bytes.Clone(b)
			b[len(b)/2] ^= 1
		}
		return b, nil
	}
}

// TestViewer: a client user sees only their own client; staff see all.
func TestViewer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other, _ := f.svc.CreateClient(ctx, f.staff, "Other", "")
	d := f.upload(t, "x.pdf", []byte("%PDF-"))
	mine := portal.Viewer{WorkspaceID: f.ws.ID, UserID: 99, Role: gatehouse.RoleClient, ClientID: f.client.ID}
	theirs := portal.Viewer{WorkspaceID: f.ws.ID, UserID: 98, Role: gatehouse.RoleClient, ClientID: other.ID}
	none := portal.Viewer{WorkspaceID: f.ws.ID, UserID: 97, Role: gatehouse.RoleClient}
	if _, err := f.svc.Document(ctx, mine, d.ID); err != nil {
		t.Fatalf("own client's document: %v", err)
	}
	for name, v := range map[string]portal.Viewer{"other client": theirs, "no client": none} {
		if _, err := f.svc.Document(ctx, v, d.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("%s: document: %v, want ErrNotFound", name, err)
		}
		if _, err := f.svc.Open(ctx, v, d, ""); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("%s: open: %v, want ErrNotFound", name, err)
		}
		if _, err := f.svc.BeginUpload(ctx, v, f.client.ID, "x"); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("%s: upload: %v, want ErrNotFound", name, err)
		}
		if _, _, err := f.svc.Conversation(ctx, v, f.client.ID, 0); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("%s: conversation: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := f.svc.Delete(ctx, mine, d.ID, ""); !errors.Is(err, portal.ErrForbidden) {
		t.Fatalf("client deleting: %v, want ErrForbidden", err)
	}
	if _, err := f.svc.CreateClient(ctx, mine, "x", ""); !errors.Is(err, portal.ErrForbidden) {
		t.Fatalf("client creating a client: %v", err)
	}
	member := portal.Viewer{WorkspaceID: f.ws.ID, UserID: 5, Role: gatehouse.RoleMember}
	if _, err := f.svc.CreateClient(ctx, member, "x", ""); !errors.Is(err, portal.ErrForbidden) {
		t.Fatalf("member creating a client: %v", err)
	}
	if _, err := f.svc.Document(ctx, member, d.ID); err != nil {
		t.Fatalf("member (staff) reading a document: %v", err)
	}
}

func TestUploadLimit(t *testing.T) {
	f := newFixture(t)
	f.svc.MaxUpload = 100
	up, err := f.svc.BeginUpload(context.Background(), f.staff, f.client.ID, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(up, bytes.NewReader(make([]byte, 101))); !errors.Is(err, portal.ErrTooLarge) {
		t.Fatalf("101 bytes over a 100-byte limit: %v", err)
	}
	up.Abort()
	if l, _ := f.svc.Documents(context.Background(), f.staff, f.client.ID, 0); len(l) != 0 {
		t.Fatalf("documents after a refused upload: %d", len(l))
	}
}

func TestMessageRules(t *testing.T) {
	long := string(bytes.Repeat([]byte("é"), portal.MaxMessageRunes))
	if _, err := portal.ValidateMessage(long); err != nil {
		t.Fatalf("10,000 characters refused: %v", err)
	}
	if _, err := portal.ValidateMessage(long + "x"); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("10,001 characters: %v", err)
	}
	if _, err := portal.ValidateMessage(" \n "); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("blank: %v", err)
	}
	if got, _ := portal.ValidateMessage("a\r\nb"); got != "a\nb" {
		t.Fatalf("CRLF kept as %q", got)
	}
}

func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Users\x\report.pdf`: "report.pdf",
		"../../etc/passwd":      "passwd",
		"a\r\nb\x00.txt":        "ab.txt",
		"":                      "document",
		"..":                    "document",
	} {
		if got := portal.SafeFileName(in); got != want {
			t.Errorf("SafeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// failingAudit and failingMailer refuse every write made through them.
type failingAudit struct{}

func (failingAudit) AddAuditEvent(context.Context, int64, *gatehouse.AuditEvent) error {
	return errors.New("injected audit failure")
}

type failingMailer struct{}

func (failingMailer) Enqueue(context.Context, int64, string, string, string) error {
	return errors.New("injected mail failure")
}

// TestFinishRecordsWithDocuments: an upload's audit events and its
// notification mail commit with the documents: a finished document always
// has its upload event and its mail queued, whatever else fails.
func TestFinishRecordsWithDocuments(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := f.store.Store.(*sqlite.DB)
	member := &gatehouse.User{Email: "c@example.com", Role: gatehouse.RoleClient, PasswordHash: "x", ClientID: f.client.ID, CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateUser(ctx, f.ws.ID, member); err != nil {
		t.Fatal(err)
	}
	f.svc.Audit, f.svc.Mailer = failingAudit{}, failingMailer{}
	up, err := f.svc.BeginUpload(ctx, f.staff, f.client.ID, "a.pdf")
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("%PDF-1.4"))
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	docs, err := f.svc.Finish(ctx, f.staff, f.ws, []*portal.Upload{up}, portal.UploadMeta{IP: "192.0.2.1"})
	if err != nil {
		if n, _ := db.ListDocuments(ctx, f.ws.ID, 0, 0); len(n) != 0 {
			t.Fatalf("Finish failed (%v) but left %d documents", err, len(n))
		}
		return
	}
	evs, err := db.FindAuditEvents(ctx, f.ws.ID, gatehouse.AuditFilter{Type: portal.EventUpload, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].DocumentID != docs[0].ID || evs[0].IP != "192.0.2.1" {
		t.Fatalf("upload audit events %+v, want one for document %d", evs, docs[0].ID)
	}
	ms, err := db.ListMessages(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].To != "c@example.com" || strings.Contains(ms[0].Body, "a.pdf") {
		t.Fatalf("notification mail %+v, want one to c@example.com without the file name", ms)
	}
}
