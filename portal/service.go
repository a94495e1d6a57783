package portal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/secret"
)

// Store is what the portal keeps. Every method is scoped by workspace ID;
// the conformance suite proves another workspace's IDs find nothing.
type Store interface {
	ChunkStore

	// CreateClient inserts c into workspaceID, setting c.ID.
	CreateClient(ctx context.Context, workspaceID int64, c *Client) error
	// FindClient returns the client or ErrNotFound.
	FindClient(ctx context.Context, workspaceID, id int64) (*Client, error)
	// ListClients returns the workspace's clients by name, with their
	// counts; Unread counts messages userID has not read.
	ListClients(ctx context.Context, workspaceID, userID int64) ([]ClientSummary, error)
	// SetUserClient makes the user a member of the client; ErrNotFound when
	// either is not in the workspace.
	SetUserClient(ctx context.Context, workspaceID, userID, clientID int64) error
	// CreateOwnClient gives a user without a client a new one, c, in one
	// transaction; a user who has one already keeps it, and c is set to it.
	CreateOwnClient(ctx context.Context, workspaceID, userID int64, c *Client) error
	// ListClientUsers returns the client's users ordered by ID.
	ListClientUsers(ctx context.Context, workspaceID, clientID int64) ([]gatehouse.User, error)

	// CreateDocument inserts d as an upload in progress (invisible to every
	// read), setting d.ID.
	CreateDocument(ctx context.Context, workspaceID int64, d *Document) error
	// FinishDocuments makes the uploaded documents visible, with the fields
	// known at the end of the upload (title, note, sensitive, sealed key,
	// size, SHA-256, type, chunk count, request), and, when requestID is
	// not 0, marks that open request of the same client fulfilled — all in
	// one transaction, which also writes rec (the upload's audit events
	// and the notification mail it queues). ErrNotFound (and nothing
	// written) when a document is not an upload in progress or the request
	// is not open.
	FinishDocuments(ctx context.Context, workspaceID int64, docs []*Document, requestID int64, now time.Time, rec Record) error
	// DiscardDocument removes an upload in progress and its chunks.
	DiscardDocument(ctx context.Context, workspaceID, id int64) error
	// FindDocument returns the finished document or ErrNotFound.
	FindDocument(ctx context.Context, workspaceID, id int64) (*Document, error)
	// ListDocuments returns the client's finished documents newest first
	// (every client's when clientID is 0), at most limit (0: no limit).
	ListDocuments(ctx context.Context, workspaceID, clientID int64, limit int) ([]Document, error)
	// ListSpaceDocuments returns what ListDocuments returns for one client
	// (clientID is never 0), with only the fields a space shows (see Space).
	ListSpaceDocuments(ctx context.Context, workspaceID, clientID int64, limit int) ([]Document, error)
	// DeleteDocument removes a finished document and its chunks.
	DeleteDocument(ctx context.Context, workspaceID, id int64) error
	// DeleteStaleUploads removes uploads in progress begun before before
	// (left by a crashed process), with their chunks, in every workspace.
	DeleteStaleUploads(ctx context.Context, before time.Time) (int, error)

	// CreateRequest inserts r, setting r.ID.
	CreateRequest(ctx context.Context, workspaceID int64, r *Request) error
	// FindRequest returns the request or ErrNotFound.
	FindRequest(ctx context.Context, workspaceID, id int64) (*Request, error)
	// ListRequests returns the client's requests, open ones first, then by
	// due date and creation.
	ListRequests(ctx context.Context, workspaceID, clientID int64) ([]Request, error)
	// SetRequestStatus moves the request from one of the states in from to
	// to with one conditional update; ErrNotFound when it is in none of them.
	SetRequestStatus(ctx context.Context, workspaceID, id int64, from []RequestStatus, to RequestStatus, now time.Time) error

	// AddClientMessage inserts m, setting m.ID.
	AddClientMessage(ctx context.Context, workspaceID int64, m *Message) error
	// ListClientMessages returns the client's latest messages, at most
	// limit (0: all), oldest first.
	ListClientMessages(ctx context.Context, workspaceID, clientID int64, limit int) ([]Message, error)
	// MarkMessagesRead records that the user read the client's messages up
	// to upToID; it never moves the mark back.
	MarkMessagesRead(ctx context.Context, workspaceID, userID, clientID, upToID int64) error
	// LastReadMessage returns the ID of the last message the user read in
	// the client's conversation, 0 for none.
	LastReadMessage(ctx context.Context, workspaceID, userID, clientID int64) (int64, error)

	// ReadSpace returns the client's space as userID sees it, as
	// ReadSpaceFrom reads it: documents and messages are the latest n
	// (0: all; -1: none, and no read mark). ErrNotFound when the client is
	// not in the workspace. A store may serve it from memory only while it
	// can tell that nothing it holds changed, as it does visits (SPEC
	// §11): any change to the client, its requests, documents, messages or
	// read marks, or to a user of the workspace, applies at once on the
	// instance that made it and within a second on every other. The space
	// may be shared with other reads of it: callers never change it.
	ReadSpace(ctx context.Context, workspaceID, clientID, userID int64, documents, messages int) (*Space, error)

	// SetPortalMail turns the user's portal notification e-mails on or off.
	SetPortalMail(ctx context.Context, workspaceID, userID int64, on bool) error
	// PortalMailOff reports the users of the workspace who turned them off.
	PortalMailOff(ctx context.Context, workspaceID int64) (map[int64]bool, error)
}

// Record is what an operation writes beside its own change, in the same
// transaction: its audit events and the mail it queues (outbox messages,
// due at once). Document IDs an event names are known before the write.
type Record struct {
	Events []*gatehouse.AuditEvent
	Mail   []*gatehouse.Message
}

// Users is the part of the user store the portal reads.
type Users interface {
	ListUsers(ctx context.Context, workspaceID int64) ([]gatehouse.User, error)
}

// Auditor records audit events.
type Auditor interface {
	AddAuditEvent(ctx context.Context, workspaceID int64, e *gatehouse.AuditEvent) error
}

// Mailer queues notification e-mails (the outbox).
type Mailer interface {
	Enqueue(ctx context.Context, workspaceID int64, to, subject, body string) error
}

// poker is a Mailer whose worker can be woken for mail a store wrote
// itself (Record.Mail).
type poker interface{ Poke() }

// Service runs the portal's operations, each authorized from the viewer.
type Service struct {
	Store  Store
	Users  Users
	Audit  Auditor
	Mailer Mailer
	Keys   *secret.Keyring
	Now    func() time.Time
	// Sniff names the content type of a file's first bytes
	// (http.DetectContentType); nil stores every file as
	// application/octet-stream.
	Sniff func(head []byte) string
	// MaxUpload is the largest file in bytes; 0 means no limit.
	MaxUpload int64
	// WorkspaceURL returns a workspace's public URL, for links in e-mails.
	WorkspaceURL func(slug string) string
	Logger       *slog.Logger
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// AuditEvent types of the portal.
const (
	EventClientCreated    = "portal.client.created"
	EventUpload           = "portal.document.uploaded"
	EventDownload         = "portal.document.downloaded"
	EventDelete           = "portal.document.deleted"
	EventRequestCreated   = "portal.request.created"
	EventRequestFulfilled = "portal.request.fulfilled"
	EventRequestReopened  = "portal.request.reopened"
	EventRequestCancelled = "portal.request.cancelled"
	EventMessage          = "portal.message.sent"
)

// audit records an event; a failure is logged, never fatal to the action
// the user already completed.
func (s *Service) audit(ctx context.Context, v Viewer, typ string, clientID, documentID int64, ip, detail string) {
	if s.Audit == nil {
		return
	}
	e := &gatehouse.AuditEvent{At: s.Now(), ActorID: v.UserID, Type: typ, IP: ip, Detail: detail, ClientID: clientID, DocumentID: documentID}
	if err := s.Audit.AddAuditEvent(ctx, v.WorkspaceID, e); err != nil {
		s.logger().Error("audit", "type", typ, "err", err)
	}
}

// Client returns the client if the viewer sees it, else ErrNotFound.
func (s *Service) Client(ctx context.Context, v Viewer, id int64) (*Client, error) {
	if !v.Sees(id) {
		return nil, fmt.Errorf("client %d: %w", id, gatehouse.ErrNotFound)
	}
	return s.Store.FindClient(ctx, v.WorkspaceID, id)
}

// Clients lists every client, for staff.
func (s *Service) Clients(ctx context.Context, v Viewer) ([]ClientSummary, error) {
	if !v.Staff() {
		return nil, ErrForbidden
	}
	return s.Store.ListClients(ctx, v.WorkspaceID, v.UserID)
}

// CreateClient creates a client; only the owner and admins may.
func (s *Service) CreateClient(ctx context.Context, v Viewer, name, ip string) (*Client, error) {
	if !v.CanManageClients() {
		return nil, ErrForbidden
	}
	name, err := ValidateClientName(name)
	if err != nil {
		return nil, err
	}
	c := &Client{Name: name, CreatedAt: s.Now()}
	if err := s.Store.CreateClient(ctx, v.WorkspaceID, c); err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	s.audit(ctx, v, EventClientCreated, c.ID, 0, ip, "")
	return c, nil
}

// AssignClient puts a client user into a client: clientID, which must exist
// in the workspace, or, when 0, a new client of their own named after them
// (SPEC §14). It returns the client's ID.
func (s *Service) AssignClient(ctx context.Context, workspaceID int64, u *gatehouse.User, clientID int64) (int64, error) {
	if u.Role != gatehouse.RoleClient {
		if clientID != 0 {
			return 0, fmt.Errorf("%w: only client users belong to a client", gatehouse.ErrInvalid)
		}
		return 0, nil
	}
	if clientID != 0 {
		if err := s.Store.SetUserClient(ctx, workspaceID, u.ID, clientID); err != nil {
			return 0, fmt.Errorf("assign client %d: %w", clientID, err)
		}
		u.ClientID = clientID
		return clientID, nil
	}
	name := strings.TrimSpace(u.Name)
	if name == "" {
		name = u.Email
	}
	c := &Client{Name: name, CreatedAt: s.Now()}
	if err := s.Store.CreateOwnClient(ctx, workspaceID, u.ID, c); err != nil {
		return 0, fmt.Errorf("create own client: %w", err)
	}
	u.ClientID = c.ID
	return c.ID, nil
}

// Home resolves the client space a viewer works in: a client user's own
// client, made on first use for one who has none (a self sign-up, or an
// account from before clients existed). Staff have none: ErrForbidden.
func (s *Service) Home(ctx context.Context, v *Viewer, u *gatehouse.User) (*Client, error) {
	if v.Staff() {
		return nil, ErrForbidden
	}
	if v.ClientID == 0 {
		id, err := s.AssignClient(ctx, v.WorkspaceID, u, 0)
		if err != nil {
			return nil, err
		}
		v.ClientID = id
	}
	return s.Store.FindClient(ctx, v.WorkspaceID, v.ClientID)
}

// Members lists a visible client's users.
func (s *Service) Members(ctx context.Context, v Viewer, clientID int64) ([]gatehouse.User, error) {
	if !v.Sees(clientID) {
		return nil, gatehouse.ErrNotFound
	}
	return s.Store.ListClientUsers(ctx, v.WorkspaceID, clientID)
}

// UploadMeta is what an upload form says about its files.
type UploadMeta struct {
	Title, Note string
	Sensitive   bool  // staff only: ignored for client users
	RequestID   int64 // the open request the files fulfil, or 0
	IP          string
}

// BeginUpload starts streaming one file into the client's space. The
// caller writes the contents, closes the upload, and commits every upload
// of the form with Finish; on any failure it calls Abort.
func (s *Service) BeginUpload(ctx context.Context, v Viewer, clientID int64, fileName string) (*Upload, error) {
	if !v.Sees(clientID) {
		return nil, fmt.Errorf("client %d: %w", clientID, gatehouse.ErrNotFound)
	}
	key := make([]byte, 32)
	rand.Read(key)
	d := &Document{ClientID: clientID, FileName: SafeFileName(fileName), UploaderID: v.UserID, CreatedAt: s.Now()}
	if err := s.Store.CreateDocument(ctx, v.WorkspaceID, d); err != nil {
		return nil, fmt.Errorf("begin upload: %w", err)
	}
	d.WorkspaceID = v.WorkspaceID
	return newUpload(s, ctx, d, key, s.MaxUpload)
}

// Abort removes what an upload wrote. It uses a fresh context: the
// request's may be cancelled already (the client went away), and the
// chunks must go anyway.
func (u *Upload) Abort() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), 30*time.Second)
	defer cancel()
	if err := u.svc.Store.DiscardDocument(ctx, u.doc.WorkspaceID, u.doc.ID); err != nil {
		u.svc.logger().Error("discard upload", "document", u.doc.ID, "err", err)
	}
	clear(u.key)
}

// Finish commits the closed uploads of one form as documents in one
// transaction, fulfilling meta.RequestID if set, then audits and notifies.
func (s *Service) Finish(ctx context.Context, v Viewer, ws *gatehouse.Workspace, ups []*Upload, meta UploadMeta) ([]*Document, error) {
	if len(ups) == 0 {
		return nil, fmt.Errorf("%w: choose at least one file", gatehouse.ErrInvalid)
	}
	clientID := ups[0].doc.ClientID
	if meta.RequestID != 0 {
		req, err := s.Store.FindRequest(ctx, v.WorkspaceID, meta.RequestID)
		if err != nil || req.ClientID != clientID || !v.Sees(req.ClientID) {
			return nil, fmt.Errorf("request %d: %w", meta.RequestID, gatehouse.ErrNotFound)
		}
		if req.Status != RequestOpen {
			return nil, fmt.Errorf("%w: that request is no longer open", gatehouse.ErrInvalid)
		}
	}
	title := strings.TrimSpace(meta.Title)
	docs := make([]*Document, len(ups))
	for i, u := range ups {
		if !u.closed || u.doc.ClientID != clientID {
			return nil, errors.New("finish: upload not closed or of another client")
		}
		d := u.doc
		d.Title = d.FileName
		if title != "" {
			d.Title = title
			if len(ups) > 1 {
				d.Title = title + " — " + d.FileName
			}
		}
		d.Note = strings.TrimSpace(meta.Note)
		d.Sensitive = meta.Sensitive && v.Staff()
		d.RequestID = meta.RequestID
		d.SealedKey = s.Keys.Seal(u.key, DocumentKeyAAD(v.WorkspaceID, d.ID))
		docs[i] = d
	}
	// The audit events and the notifications commit with the documents:
	// no document without its record, no mail about one that is not there.
	now := s.Now()
	var rec Record
	event := func(typ string, documentID int64, detail string) {
		rec.Events = append(rec.Events, &gatehouse.AuditEvent{At: now, ActorID: v.UserID, Type: typ, IP: meta.IP,
			Detail: detail, ClientID: clientID, DocumentID: documentID})
	}
	for _, d := range docs {
		event(EventUpload, d.ID, fmt.Sprintf("%d bytes", d.Size))
	}
	if meta.RequestID != 0 {
		event(EventRequestFulfilled, docs[0].ID, fmt.Sprintf("request %d", meta.RequestID))
	}
	mail, err := s.notifications(ctx, v, ws, clientID, "A new document is waiting for you", now)
	if err != nil {
		return nil, fmt.Errorf("finish upload: %w", err)
	}
	rec.Mail = mail
	if err := s.Store.FinishDocuments(ctx, v.WorkspaceID, docs, meta.RequestID, now, rec); err != nil {
		return nil, fmt.Errorf("finish upload: %w", err)
	}
	for _, u := range ups {
		clear(u.key)
	}
	if p, ok := s.Mailer.(poker); ok && len(mail) > 0 {
		p.Poke()
	}
	return docs, nil
}

// Document returns a finished document the viewer may download.
func (s *Service) Document(ctx context.Context, v Viewer, id int64) (*Document, error) {
	d, err := s.Store.FindDocument(ctx, v.WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	if !v.Sees(d.ClientID) {
		return nil, fmt.Errorf("document %d: %w", id, gatehouse.ErrNotFound)
	}
	return d, nil
}

// Documents lists the documents of a visible client (limit 0: all).
func (s *Service) Documents(ctx context.Context, v Viewer, clientID int64, limit int) ([]Document, error) {
	if !v.Sees(clientID) {
		return nil, fmt.Errorf("client %d: %w", clientID, gatehouse.ErrNotFound)
	}
	return s.Store.ListDocuments(ctx, v.WorkspaceID, clientID, limit)
}

// Downloadable lists every document the viewer may download: all of the
// workspace's for staff, their client's for a client user.
func (s *Service) Downloadable(ctx context.Context, v Viewer) ([]Document, error) {
	if v.Staff() {
		return s.Store.ListDocuments(ctx, v.WorkspaceID, 0, 0)
	}
	if v.ClientID == 0 {
		return nil, nil
	}
	return s.Store.ListDocuments(ctx, v.WorkspaceID, v.ClientID, 0)
}

// Open returns a reader of the document's contents, having opened its data
// key and checked the first chunk, so a tampered start fails before any
// byte is sent. The download is audited.
func (s *Service) Open(ctx context.Context, v Viewer, d *Document, ip string) (*Reader, error) {
	if !v.Sees(d.ClientID) || d.WorkspaceID != v.WorkspaceID {
		return nil, gatehouse.ErrNotFound
	}
	r, err := s.newReader(ctx, d)
	if err != nil {
		return nil, err
	}
	if err := r.load(0); err != nil {
		return nil, err
	}
	s.audit(ctx, v, EventDownload, d.ClientID, d.ID, ip, "")
	return r, nil
}

// OpenDocument finds document id and opens it for v, as Document and Open
// do one after the other, and refuses a sensitive document with ErrReauth
// unless fresh (v proved a second factor, or the password, recently). A
// store that is a DocumentOpener finds the document and reads its first
// chunks in one round trip, which is most of a small download's time.
func (s *Service) OpenDocument(ctx context.Context, v Viewer, id int64, fresh bool, ip string) (*Reader, error) {
	check := func(d *Document) error {
		if !v.Sees(d.ClientID) || d.WorkspaceID != v.WorkspaceID {
			return fmt.Errorf("document %d: %w", id, gatehouse.ErrNotFound)
		}
		if d.Sensitive && !fresh {
			return fmt.Errorf("document %d: %w", id, ErrReauth)
		}
		return nil
	}
	opener, ok := s.Store.(DocumentOpener)
	if !ok {
		d, err := s.Store.FindDocument(ctx, v.WorkspaceID, id)
		if err != nil {
			return nil, err
		}
		if err := check(d); err != nil {
			return nil, err
		}
		return s.Open(ctx, v, d, ip)
	}
	var r *Reader
	var w *window
	err := opener.OpenDocument(ctx, v.WorkspaceID, id, openBatch, func(d *Document) error {
		if err := check(d); err != nil {
			return err
		}
		var err error
		if r, err = s.newReader(ctx, d); err != nil {
			return err
		}
		w = r.newWindow(0, openBatch)
		return nil
	}, func(index int, sealed []byte) error {
		return r.put(w, r.aead[0], index, sealed)
	})
	if r == nil {
		return nil, err
	}
	// The chunks' errors (a row missing, altered or cut) are the window's,
	// as when the reader reads a batch itself.
	r.settle(w, err)
	r.win = w
	if err := r.load(0); err != nil {
		r.Close()
		return nil, err
	}
	r.readAhead()
	s.audit(ctx, v, EventDownload, r.doc.ClientID, r.doc.ID, ip, "")
	return r, nil
}

// newReader returns a reader of d with its data key opened.
func (s *Service) newReader(ctx context.Context, d *Document) (*Reader, error) {
	key, err := s.Keys.Open(d.SealedKey, DocumentKeyAAD(d.WorkspaceID, d.ID))
	if err != nil {
		return nil, fmt.Errorf("%w: document %d key: %w", ErrTampered, d.ID, err)
	}
	defer clear(key)
	r := &Reader{ctx: ctx, store: s.Store, doc: d, total: readChunkCount(d)}
	for i := range r.aead {
		if r.aead[i], err = newChunkAEAD(key); err != nil {
			return nil, fmt.Errorf("%w: document %d key: %w", ErrTampered, d.ID, err)
		}
	}
	return r, nil
}

// Delete removes a document and its chunks; staff only. The audit stays.
func (s *Service) Delete(ctx context.Context, v Viewer, id int64, ip string) (*Document, error) {
	d, err := s.Document(ctx, v, id)
	if err != nil {
		return nil, err
	}
	if !v.Staff() {
		return nil, ErrForbidden
	}
	if err := s.Store.DeleteDocument(ctx, v.WorkspaceID, id); err != nil {
		return nil, fmt.Errorf("delete document %d: %w", id, err)
	}
	s.audit(ctx, v, EventDelete, d.ClientID, d.ID, ip, "")
	return d, nil
}

// Requests lists a visible client's requests, open first.
func (s *Service) Requests(ctx context.Context, v Viewer, clientID int64) ([]Request, error) {
	if !v.Sees(clientID) {
		return nil, fmt.Errorf("client %d: %w", clientID, gatehouse.ErrNotFound)
	}
	return s.Store.ListRequests(ctx, v.WorkspaceID, clientID)
}

// Ask creates a document request for a client; staff only.
func (s *Service) Ask(ctx context.Context, v Viewer, ws *gatehouse.Workspace, clientID int64, title, note, due, ip string) (*Request, error) {
	if !v.Sees(clientID) {
		return nil, fmt.Errorf("client %d: %w", clientID, gatehouse.ErrNotFound)
	}
	if !v.Staff() {
		return nil, ErrForbidden
	}
	title = strings.TrimSpace(title)
	if title == "" || len([]rune(title)) > 200 {
		return nil, fmt.Errorf("%w: say what you need in 1-200 characters", gatehouse.ErrInvalid)
	}
	d, err := ParseDue(due)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.FindClient(ctx, v.WorkspaceID, clientID); err != nil {
		return nil, err
	}
	now := s.Now()
	r := &Request{ClientID: clientID, Title: title, Note: strings.TrimSpace(note), Due: d, Status: RequestOpen,
		CreatedBy: v.UserID, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateRequest(ctx, v.WorkspaceID, r); err != nil {
		return nil, fmt.Errorf("create request: %w", err)
	}
	s.audit(ctx, v, EventRequestCreated, clientID, 0, ip, fmt.Sprintf("request %d", r.ID))
	s.notify(ctx, v, ws, clientID, "A document was requested", "")
	return r, nil
}

// SetRequest reopens or cancels a request; staff only.
func (s *Service) SetRequest(ctx context.Context, v Viewer, id int64, to RequestStatus, ip string) (*Request, error) {
	r, err := s.Store.FindRequest(ctx, v.WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	if !v.Sees(r.ClientID) {
		return nil, fmt.Errorf("request %d: %w", id, gatehouse.ErrNotFound)
	}
	if !v.Staff() {
		return nil, ErrForbidden
	}
	var from []RequestStatus
	event := EventRequestReopened
	switch to {
	case RequestOpen:
		from = []RequestStatus{RequestFulfilled, RequestCancelled}
	case RequestCancelled:
		from, event = []RequestStatus{RequestOpen}, EventRequestCancelled
	default:
		return nil, fmt.Errorf("%w: a request can be reopened or cancelled", gatehouse.ErrInvalid)
	}
	if !slices.Contains(from, r.Status) {
		return nil, fmt.Errorf("%w: the request is %s already", gatehouse.ErrInvalid, r.Status)
	}
	if err := s.Store.SetRequestStatus(ctx, v.WorkspaceID, id, from, to, s.Now()); err != nil {
		return nil, fmt.Errorf("set request %d: %w", id, err)
	}
	r.Status = to
	s.audit(ctx, v, event, r.ClientID, 0, ip, fmt.Sprintf("request %d", id))
	return r, nil
}

// Conversation returns a visible client's latest messages (oldest first)
// and the ID of the last one the viewer had read before, then marks them
// read.
func (s *Service) Conversation(ctx context.Context, v Viewer, clientID int64, limit int) ([]Message, int64, error) {
	if !v.Sees(clientID) {
		return nil, 0, fmt.Errorf("client %d: %w", clientID, gatehouse.ErrNotFound)
	}
	ms, err := s.Store.ListClientMessages(ctx, v.WorkspaceID, clientID, limit)
	if err != nil {
		return nil, 0, err
	}
	last, err := s.Store.LastReadMessage(ctx, v.WorkspaceID, v.UserID, clientID)
	if err != nil {
		return nil, 0, err
	}
	if n := len(ms); n > 0 && ms[n-1].ID > last {
		if err := s.Store.MarkMessagesRead(ctx, v.WorkspaceID, v.UserID, clientID, ms[n-1].ID); err != nil {
			return nil, 0, err
		}
	}
	return ms, last, nil
}

// Space returns a visible client's space as the viewer sees it (see
// Store.ReadSpace for documents and messages), then marks the messages it
// holds read; Space.LastRead stays the mark from before, so the page can
// show which are new.
func (s *Service) Space(ctx context.Context, v Viewer, clientID int64, documents, messages int) (*Space, error) {
	if !v.Sees(clientID) {
		return nil, fmt.Errorf("client %d: %w", clientID, gatehouse.ErrNotFound)
	}
	sp, err := s.Store.ReadSpace(ctx, v.WorkspaceID, clientID, v.UserID, documents, messages)
	if err != nil {
		return nil, err
	}
	if n := len(sp.Messages); messages >= 0 && n > 0 && sp.Messages[n-1].ID > sp.LastRead {
		if err := s.Store.MarkMessagesRead(ctx, v.WorkspaceID, v.UserID, clientID, sp.Messages[n-1].ID); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

// HomeSpace returns the space of the client a client user works in, made
// on first use (see Home); staff have none: ErrForbidden.
func (s *Service) HomeSpace(ctx context.Context, v *Viewer, u *gatehouse.User, documents, messages int) (*Space, error) {
	if v.Staff() {
		return nil, ErrForbidden
	}
	if v.ClientID == 0 {
		id, err := s.AssignClient(ctx, v.WorkspaceID, u, 0)
		if err != nil {
			return nil, err
		}
		v.ClientID = id
	}
	return s.Space(ctx, *v, v.ClientID, documents, messages)
}

// Post adds a message to a visible client's conversation.
func (s *Service) Post(ctx context.Context, v Viewer, ws *gatehouse.Workspace, clientID int64, body, ip string) (*Message, error) {
	if !v.Sees(clientID) {
		return nil, fmt.Errorf("client %d: %w", clientID, gatehouse.ErrNotFound)
	}
	body, err := ValidateMessage(body)
	if err != nil {
		return nil, err
	}
	m := &Message{ClientID: clientID, AuthorID: v.UserID, Body: body, CreatedAt: s.Now()}
	if err := s.Store.AddClientMessage(ctx, v.WorkspaceID, m); err != nil {
		return nil, fmt.Errorf("add message: %w", err)
	}
	// The author has read their own message.
	if err := s.Store.MarkMessagesRead(ctx, v.WorkspaceID, v.UserID, clientID, m.ID); err != nil {
		return nil, err
	}
	s.audit(ctx, v, EventMessage, clientID, 0, ip, "")
	s.notify(ctx, v, ws, clientID, "You have a new message", "")
	return m, nil
}

// notify e-mails the other side that something is waiting: the client's
// users when staff acted, the staff when a client user did. The mail says
// only that, with a link: never a message's text, a file or a file name,
// which stay behind the gate.
func (s *Service) notify(ctx context.Context, v Viewer, ws *gatehouse.Workspace, clientID int64, subject, _ string) {
	ms, err := s.notifications(ctx, v, ws, clientID, subject, s.Now())
	if err != nil {
		s.logger().Error("notify", "err", err)
		return
	}
	for _, m := range ms {
		if err := s.Mailer.Enqueue(ctx, v.WorkspaceID, m.To, m.Subject, m.Body); err != nil {
			s.logger().Error("notify: enqueue", "err", err)
		}
	}
}

// notifications are the e-mails of notify, as outbox messages due at now,
// for a caller that writes them itself.
func (s *Service) notifications(ctx context.Context, v Viewer, ws *gatehouse.Workspace, clientID int64, subject string, now time.Time) ([]*gatehouse.Message, error) {
	if s.Mailer == nil || s.Users == nil || ws == nil {
		return nil, nil
	}
	users, err := s.Users.ListUsers(ctx, v.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("notify: list users: %w", err)
	}
	off, err := s.Store.PortalMailOff(ctx, v.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("notify: opt-outs: %w", err)
	}
	var out []*gatehouse.Message
	base := ""
	if s.WorkspaceURL != nil {
		base = s.WorkspaceURL(ws.Slug)
	}
	for _, u := range users {
		if u.ID == v.UserID || !u.Active() || off[u.ID] {
			continue
		}
		var link string
		switch {
		case v.Staff() && u.Role == gatehouse.RoleClient && u.ClientID == clientID:
			link = base + "/portal"
		case !v.Staff() && u.Role.IsStaff():
			link = fmt.Sprintf("%s/dashboard/clients/%d", base, clientID)
		default:
			continue
		}
		body := fmt.Sprintf("%s.\n\nSign in to %s to see it:\n%s\n\n"+
			"You can turn these e-mails off on your Security page.\n", subject, ws.DisplayName(), link)
		out = append(out, &gatehouse.Message{WorkspaceID: v.WorkspaceID, Channel: "email", To: u.Email,
			Subject: subject + " — " + ws.DisplayName(), Body: body, Status: gatehouse.MessagePending, CreatedAt: now, NextAttempt: now})
	}
	return out, nil
}

// SetNotifications turns the viewer's portal e-mails on or off.
func (s *Service) SetNotifications(ctx context.Context, v Viewer, on bool) error {
	return s.Store.SetPortalMail(ctx, v.WorkspaceID, v.UserID, on)
}

// NotificationsOn reports whether the viewer gets portal e-mails.
func (s *Service) NotificationsOn(ctx context.Context, v Viewer) (bool, error) {
	off, err := s.Store.PortalMailOff(ctx, v.WorkspaceID)
	if err != nil {
		return false, err
	}
	return !off[v.UserID], nil
}
