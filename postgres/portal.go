package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

var (
	_ portal.Store          = (*DB)(nil)
	_ portal.DocumentOpener = (*DB)(nil)
)

// CreateClient implements portal.Store.
func (db *DB) CreateClient(ctx context.Context, workspaceID int64, c *portal.Client) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO clients (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING id`,
		workspaceID, c.Name, c.CreatedAt).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("create client: %w", translate(err))
	}
	c.WorkspaceID = workspaceID
	return nil
}

// FindClient implements portal.Store.
func (db *DB) FindClient(ctx context.Context, workspaceID, id int64) (*portal.Client, error) {
	var c portal.Client
	err := db.pool.QueryRow(ctx, `SELECT id, workspace_id, name, created_at FROM clients WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id).Scan(&c.ID, &c.WorkspaceID, &c.Name, &c.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("find client %d: %w", id, translate(err))
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return &c, nil
}

// ListClients implements portal.Store.
func (db *DB) ListClients(ctx context.Context, workspaceID, userID int64) ([]portal.ClientSummary, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT c.id, c.workspace_id, c.name, c.created_at,
		  (SELECT count(*) FROM users u WHERE u.workspace_id = c.workspace_id AND u.client_id = c.id),
		  (SELECT count(*) FROM documents d WHERE d.workspace_id = c.workspace_id AND d.client_id = c.id AND d.ready),
		  (SELECT count(*) FROM document_requests r WHERE r.workspace_id = c.workspace_id AND r.client_id = c.id AND r.status = 'open'),
		  (SELECT count(*) FROM client_messages m WHERE m.workspace_id = c.workspace_id AND m.client_id = c.id AND m.author_id <> $1
		     AND m.id > coalesce((SELECT last_read_id FROM message_reads mr
		                          WHERE mr.workspace_id = c.workspace_id AND mr.user_id = $1 AND mr.client_id = c.id), 0))
		FROM clients c WHERE c.workspace_id = $2 ORDER BY c.name, c.id`, userID, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	var out []portal.ClientSummary
	for rows.Next() {
		var c portal.ClientSummary
		if err := rows.Scan(&c.ID, &c.WorkspaceID, &c.Name, &c.CreatedAt, &c.Users, &c.Documents, &c.OpenRequests, &c.Unread); err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		c.CreatedAt = c.CreatedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetUserClient implements portal.Store.
func (db *DB) SetUserClient(ctx context.Context, workspaceID, userID, clientID int64) error {
	err := mustAffect(db.pool.Exec(ctx, `
		UPDATE users SET client_id = $1 WHERE workspace_id = $2 AND id = $3
		  AND EXISTS (SELECT 1 FROM clients WHERE workspace_id = $2 AND id = $1)`,
		clientID, workspaceID, userID))
	if err != nil {
		return fmt.Errorf("set client of user %d: %w", userID, err)
	}
	return nil
}

// CreateOwnClient implements portal.Store. The user's row is locked first,
// so two first visits at once make one client, not two.
func (db *DB) CreateOwnClient(ctx context.Context, workspaceID, userID int64, c *portal.Client) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var have *int64
		if err := tx.QueryRow(ctx, `SELECT client_id FROM users WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
			workspaceID, userID).Scan(&have); err != nil {
			return fmt.Errorf("create own client for user %d: %w", userID, translate(err))
		}
		if have != nil {
			err := tx.QueryRow(ctx, `SELECT id, name, created_at FROM clients WHERE workspace_id = $1 AND id = $2`, workspaceID, *have).
				Scan(&c.ID, &c.Name, &c.CreatedAt)
			c.WorkspaceID, c.CreatedAt = workspaceID, c.CreatedAt.UTC()
			return translate(err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO clients (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING id`,
			workspaceID, c.Name, c.CreatedAt).Scan(&c.ID); err != nil {
			return fmt.Errorf("create own client: %w", translate(err))
		}
		c.WorkspaceID = workspaceID
		_, err := tx.Exec(ctx, `UPDATE users SET client_id = $1 WHERE workspace_id = $2 AND id = $3`, c.ID, workspaceID, userID)
		return translate(err)
	})
}

// ListClientUsers implements portal.Store.
func (db *DB) ListClientUsers(ctx context.Context, workspaceID, clientID int64) ([]gatehouse.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = $1 AND client_id = $2 ORDER BY id`, workspaceID, clientID)
	if err != nil {
		return nil, fmt.Errorf("list client users: %w", err)
	}
	defer rows.Close()
	var users []gatehouse.User
	for rows.Next() {
		var u gatehouse.User
		if err := scanUser(rows, &u); err != nil {
			return nil, fmt.Errorf("list client users: %w", err)
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// CreateDocument implements portal.Store.
func (db *DB) CreateDocument(ctx context.Context, workspaceID int64, d *portal.Document) error {
	err := db.pool.QueryRow(ctx, `
		INSERT INTO documents (workspace_id, client_id, file_name, uploader_id, created_at)
		SELECT $1, id, $2, $3, $4 FROM clients WHERE workspace_id = $1 AND id = $5 RETURNING id`,
		workspaceID, d.FileName, d.UploaderID, d.CreatedAt, d.ClientID).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("create document: %w", translate(err))
	}
	d.WorkspaceID = workspaceID
	return nil
}

// PutDocumentChunk implements portal.ChunkStore. Only an upload in progress
// takes chunks.
func (db *DB) PutDocumentChunk(ctx context.Context, workspaceID, documentID int64, index int, sealed []byte) error {
	err := mustAffect(db.pool.Exec(ctx, `
		INSERT INTO document_chunks (workspace_id, document_id, idx, data)
		SELECT workspace_id, id, $1, $2 FROM documents WHERE workspace_id = $3 AND id = $4 AND NOT ready`,
		index, sealed, workspaceID, documentID))
	if err != nil {
		return fmt.Errorf("put chunk %d of document %d: %w", index, documentID, err)
	}
	return nil
}

// PutDocumentChunks implements portal.ChunkStore: one round trip and one
// transaction per batch. The transaction commits without waiting for the
// disk (synchronous_commit off): until FinishDocuments commits, with a
// normal, flushed commit that also flushes every WAL record before it, the
// chunks belong to an invisible upload that a crash may lose anyway.
func (db *DB) PutDocumentChunks(ctx context.Context, workspaceID, documentID int64, first int, sealed [][]byte) error {
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit TO OFF`)
	for i, data := range sealed {
		b.Queue(`INSERT INTO document_chunks (workspace_id, document_id, idx, data)
			SELECT workspace_id, id, $1, $2 FROM documents WHERE workspace_id = $3 AND id = $4 AND NOT ready`,
			first+i, data, workspaceID, documentID)
	}
	b.Queue(`COMMIT`)
	br := db.pool.SendBatch(ctx, b)
	err := func() error {
		for i := 0; i < len(sealed)+3; i++ {
			tag, err := br.Exec()
			if err != nil {
				return translate(err)
			}
			if i >= 2 && i < len(sealed)+2 && tag.RowsAffected() != 1 {
				return gatehouse.ErrNotFound
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("put chunks %d+%d of document %d: %w", first, len(sealed), documentID, err)
	}
	return nil
}

const documentChunksSQL = `SELECT idx, data FROM document_chunks
	WHERE document_id = $1 AND idx >= $2 AND idx < $3 AND workspace_id = $4 ORDER BY idx`

// DocumentChunks implements portal.ChunkStore.
func (db *DB) DocumentChunks(ctx context.Context, workspaceID, documentID int64, first, n int, fn func(int, []byte) error) error {
	rows, err := db.pool.Query(ctx, documentChunksSQL, documentID, first, first+n, workspaceID)
	if err != nil {
		return fmt.Errorf("read chunks of document %d: %w", documentID, err)
	}
	return eachChunk(rows, documentID, fn)
}

// eachChunk calls fn with each chunk of rows (documentChunksSQL's) and
// closes them. Each chunk reaches fn as the bytes in pgx's read buffer
// (binary bytea is the bytes themselves), without the copy and allocation
// a Scan into []byte makes.
func eachChunk(rows pgx.Rows, documentID int64, fn func(int, []byte) error) error {
	defer rows.Close()
	var data []byte
	for rows.Next() {
		var idx int
		var err error
		// The columns are described once the first row is in.
		if fd := rows.FieldDescriptions(); len(fd) == 2 && fd[1].Format == pgx.BinaryFormatCode {
			err = rows.Scan(&idx, nil)
			data = rows.RawValues()[1]
		} else {
			err = rows.Scan(&idx, &data) // text protocol: decoded from hex
		}
		if err != nil {
			return fmt.Errorf("read chunks of document %d: %w", documentID, err)
		}
		if err := fn(idx, data); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read chunks of document %d: %w", documentID, err)
	}
	return nil
}

// OpenDocument implements portal.DocumentOpener: the document's row and
// its first n chunks are asked for together, in one pipelined batch (one
// round trip, one snapshot). When check refuses the document, the chunks
// already on their way are read and dropped: n is kept small for that.
func (db *DB) OpenDocument(ctx context.Context, workspaceID, id int64, n int, check func(*portal.Document) error, fn func(int, []byte) error) error {
	b := &pgx.Batch{}
	b.Queue(findDocumentSQL, workspaceID, id)
	b.Queue(documentChunksSQL, id, 0, n, workspaceID)
	br := db.pool.SendBatch(ctx, b)
	err := func() error {
		var d portal.Document
		if err := scanDocument(br.QueryRow(), &d); err != nil {
			return fmt.Errorf("find document %d: %w", id, translate(err))
		}
		if err := check(&d); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("read chunks of document %d: %w", id, err)
		}
		return eachChunk(rows, id, fn)
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("open document %d: %w", id, cerr)
	}
	return err
}

// DocumentChunk implements portal.ChunkStore.
func (db *DB) DocumentChunk(ctx context.Context, workspaceID, documentID int64, index int) ([]byte, error) {
	var data []byte
	err := db.pool.QueryRow(ctx, `SELECT data FROM document_chunks WHERE document_id = $1 AND idx = $2 AND workspace_id = $3`,
		documentID, index, workspaceID).Scan(&data)
	if err != nil {
		return nil, fmt.Errorf("read chunk %d of document %d: %w", index, documentID, translate(err))
	}
	return data, nil
}

// FinishDocuments implements portal.Store.
func (db *DB) FinishDocuments(ctx context.Context, workspaceID int64, docs []*portal.Document, requestID int64, now time.Time, rec portal.Record) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := writeRecord(ctx, tx, workspaceID, rec); err != nil {
			return err
		}
		for _, d := range docs {
			err := mustAffect(tx.Exec(ctx, `
				UPDATE documents SET title = $1, note = $2, content_type = $3, size = $4, sha256 = $5, sensitive = $6,
				  request_id = $7, sealed_key = $8, chunks = $9, ready = true, created_at = $10
				WHERE workspace_id = $11 AND id = $12 AND NOT ready`,
				d.Title, d.Note, d.ContentType, d.Size, d.SHA256, d.Sensitive, d.RequestID, d.SealedKey, d.Chunks,
				now, workspaceID, d.ID))
			if err != nil {
				return fmt.Errorf("finish document %d: %w", d.ID, err)
			}
			d.CreatedAt = now
		}
		if requestID == 0 {
			return nil
		}
		err := mustAffect(tx.Exec(ctx, `
			UPDATE document_requests SET status = 'fulfilled', updated_at = $1
			WHERE workspace_id = $2 AND id = $3 AND client_id = $4 AND status = 'open'`,
			now, workspaceID, requestID, docs[0].ClientID))
		if err != nil {
			return fmt.Errorf("fulfil request %d: %w", requestID, err)
		}
		return nil
	})
}

// writeRecord writes an operation's audit events and queued mail in its
// transaction.
func writeRecord(ctx context.Context, q querier, workspaceID int64, rec portal.Record) error {
	for _, e := range rec.Events {
		if err := addAuditEvent(ctx, q, workspaceID, e); err != nil {
			return err
		}
	}
	for _, m := range rec.Mail {
		if err := enqueueMessage(ctx, q, workspaceID, m); err != nil {
			return err
		}
	}
	return nil
}

// DiscardDocument implements portal.Store; the chunks go by cascade.
func (db *DB) DiscardDocument(ctx context.Context, workspaceID, id int64) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM documents WHERE workspace_id = $1 AND id = $2 AND NOT ready`, workspaceID, id); err != nil {
		return fmt.Errorf("discard document %d: %w", id, err)
	}
	return nil
}

// DeleteDocument implements portal.Store; the chunks go by cascade.
func (db *DB) DeleteDocument(ctx context.Context, workspaceID, id int64) error {
	err := mustAffect(db.pool.Exec(ctx, `DELETE FROM documents WHERE workspace_id = $1 AND id = $2 AND ready`, workspaceID, id))
	if err != nil {
		return fmt.Errorf("delete document %d: %w", id, err)
	}
	return nil
}

// DeleteStaleUploads implements portal.Store.
func (db *DB) DeleteStaleUploads(ctx context.Context, before time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM documents WHERE NOT ready AND created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("delete stale uploads: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

const documentCols = `d.id, d.workspace_id, d.client_id, d.title, d.note, d.file_name, d.content_type, d.size, d.sha256,
	d.sensitive, d.uploader_id, coalesce(nullif(u.name, ''), u.email, ''), d.request_id, d.sealed_key, d.chunks, d.created_at`

func scanDocument(row pgx.Row, d *portal.Document) error {
	if err := row.Scan(&d.ID, &d.WorkspaceID, &d.ClientID, &d.Title, &d.Note, &d.FileName, &d.ContentType, &d.Size, &d.SHA256,
		&d.Sensitive, &d.UploaderID, &d.UploaderName, &d.RequestID, &d.SealedKey, &d.Chunks, &d.CreatedAt); err != nil {
		return err
	}
	d.CreatedAt = d.CreatedAt.UTC()
	return nil
}

const findDocumentSQL = `SELECT ` + documentCols + ` FROM documents d
	LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
	WHERE d.workspace_id = $1 AND d.id = $2 AND d.ready`

// FindDocument implements portal.Store.
func (db *DB) FindDocument(ctx context.Context, workspaceID, id int64) (*portal.Document, error) {
	var d portal.Document
	row := db.pool.QueryRow(ctx, findDocumentSQL, workspaceID, id)
	if err := scanDocument(row, &d); err != nil {
		return nil, fmt.Errorf("find document %d: %w", id, translate(err))
	}
	return &d, nil
}

// ListDocuments implements portal.Store.
func (db *DB) ListDocuments(ctx context.Context, workspaceID, clientID int64, limit int) ([]portal.Document, error) {
	// Two queries rather than "$2 = 0 OR client_id = $2": a prepared
	// plan for that cannot use the client index, and the portal home would
	// sort every document of the workspace.
	q := `SELECT ` + documentCols + ` FROM documents d
		LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
		WHERE d.workspace_id = $1 AND d.ready`
	args := []any{workspaceID}
	if clientID != 0 {
		q += ` AND d.client_id = $2`
		args = append(args, clientID)
	}
	q += ` ORDER BY d.created_at DESC, d.id DESC`
	if limit > 0 {
		args = append(args, limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	defer rows.Close()
	var out []portal.Document
	for rows.Next() {
		var d portal.Document
		if err := scanDocument(rows, &d); err != nil {
			return nil, fmt.Errorf("list documents: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// limitClause is " LIMIT n" for a limit above 0 (else ""), written into
// the query rather than bound. The space's lists run as prepared
// statements, and with the limit a parameter PostgreSQL's generic plan
// (which assumes a tenth of the rows) cost more than one made for the
// values, so it planned the statement again on every execution once a
// client had many documents: about 0.2 ms of planning on every portal
// home, more than the query. With the limit in the text the generic plan
// is as cheap and is kept. Callers pass constants (the home's 5 and 3, 0
// for all), so this makes a few statements, not one per request.
func limitClause(limit int) string {
	if limit <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(limit)
}

// ListSpaceDocuments implements portal.Store: only the columns a space
// shows, through documents_client in list order.
func (db *DB) ListSpaceDocuments(ctx context.Context, workspaceID, clientID int64, limit int) ([]portal.Document, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT d.id, d.title, d.note, d.content_type, d.size, d.sensitive, coalesce(nullif(u.name, ''), u.email, ''), d.created_at
		FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
		WHERE d.workspace_id = $1 AND d.client_id = $2 AND d.ready
		ORDER BY d.created_at DESC, d.id DESC`+limitClause(limit), workspaceID, clientID)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	defer rows.Close()
	out := make([]portal.Document, 0, min(max(limit, 0), 16))
	for rows.Next() {
		d := portal.Document{WorkspaceID: workspaceID, ClientID: clientID}
		if err := rows.Scan(&d.ID, &d.Title, &d.Note, &d.ContentType, &d.Size, &d.Sensitive, &d.UploaderName, &d.CreatedAt); err != nil {
			return nil, fmt.Errorf("list documents: %w", err)
		}
		d.CreatedAt = d.CreatedAt.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// CreateRequest implements portal.Store.
func (db *DB) CreateRequest(ctx context.Context, workspaceID int64, r *portal.Request) error {
	var due *time.Time
	if !r.Due.IsZero() {
		due = &r.Due
	}
	err := db.pool.QueryRow(ctx, `
		INSERT INTO document_requests (workspace_id, client_id, title, note, due, status, created_by, created_at, updated_at)
		SELECT $1, id, $2, $3, $4, $5, $6, $7, $8 FROM clients WHERE workspace_id = $1 AND id = $9 RETURNING id`,
		workspaceID, r.Title, r.Note, due, r.Status, r.CreatedBy, r.CreatedAt, r.UpdatedAt, r.ClientID).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("create request: %w", translate(err))
	}
	r.WorkspaceID = workspaceID
	return nil
}

const requestCols = `id, workspace_id, client_id, title, note, due, status, created_by, created_at, updated_at`

func scanRequest(row pgx.Row, r *portal.Request) error {
	var due *time.Time
	if err := row.Scan(&r.ID, &r.WorkspaceID, &r.ClientID, &r.Title, &r.Note, &due, &r.Status, &r.CreatedBy, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return err
	}
	if due != nil {
		r.Due = time.Date(due.Year(), due.Month(), due.Day(), 0, 0, 0, 0, time.UTC)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return nil
}

// FindRequest implements portal.Store.
func (db *DB) FindRequest(ctx context.Context, workspaceID, id int64) (*portal.Request, error) {
	var r portal.Request
	row := db.pool.QueryRow(ctx, `SELECT `+requestCols+` FROM document_requests WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err := scanRequest(row, &r); err != nil {
		return nil, fmt.Errorf("find request %d: %w", id, translate(err))
	}
	return &r, nil
}

// ListRequests implements portal.Store.
func (db *DB) ListRequests(ctx context.Context, workspaceID, clientID int64) ([]portal.Request, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+requestCols+` FROM document_requests
		WHERE workspace_id = $1 AND client_id = $2
		ORDER BY status <> 'open', due IS NULL, due, created_at DESC, id DESC`, workspaceID, clientID)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	defer rows.Close()
	var out []portal.Request
	for rows.Next() {
		var r portal.Request
		if err := scanRequest(rows, &r); err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetRequestStatus implements portal.Store.
func (db *DB) SetRequestStatus(ctx context.Context, workspaceID, id int64, from []portal.RequestStatus, to portal.RequestStatus, now time.Time) error {
	fs := make([]string, len(from))
	for i, f := range from {
		fs[i] = string(f)
	}
	err := mustAffect(db.pool.Exec(ctx, `UPDATE document_requests SET status = $1, updated_at = $2
		WHERE workspace_id = $3 AND id = $4 AND status = ANY($5)`, to, now, workspaceID, id, fs))
	if err != nil {
		return fmt.Errorf("set request %d: %w", id, err)
	}
	return nil
}

// AddClientMessage implements portal.Store.
func (db *DB) AddClientMessage(ctx context.Context, workspaceID int64, m *portal.Message) error {
	err := db.pool.QueryRow(ctx, `
		INSERT INTO client_messages (workspace_id, client_id, author_id, body, created_at)
		SELECT $1, id, $2, $3, $4 FROM clients WHERE workspace_id = $1 AND id = $5 RETURNING id`,
		workspaceID, m.AuthorID, m.Body, m.CreatedAt, m.ClientID).Scan(&m.ID)
	if err != nil {
		return fmt.Errorf("add message: %w", translate(err))
	}
	m.WorkspaceID = workspaceID
	return nil
}

// ListClientMessages implements portal.Store.
func (db *DB) ListClientMessages(ctx context.Context, workspaceID, clientID int64, limit int) ([]portal.Message, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT m.id, m.author_id, coalesce(nullif(u.name, ''), u.email, ''),
		       coalesce(u.role, 'client') <> 'client', m.body, m.created_at
		FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
		WHERE m.workspace_id = $1 AND m.client_id = $2 ORDER BY m.id DESC`+limitClause(limit), workspaceID, clientID)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	out := make([]portal.Message, 0, min(max(limit, 0), 16))
	for rows.Next() {
		// The workspace and client are the ones asked for: not read.
		m := portal.Message{WorkspaceID: workspaceID, ClientID: clientID}
		if err := rows.Scan(&m.ID, &m.AuthorID, &m.AuthorName, &m.AuthorStaff, &m.Body, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		m.CreatedAt = m.CreatedAt.UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// MarkMessagesRead implements portal.Store.
func (db *DB) MarkMessagesRead(ctx context.Context, workspaceID, userID, clientID, upToID int64) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO message_reads (workspace_id, user_id, client_id, last_read_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, user_id, client_id)
		DO UPDATE SET last_read_id = GREATEST(message_reads.last_read_id, excluded.last_read_id)`,
		workspaceID, userID, clientID, upToID)
	if err != nil {
		return fmt.Errorf("mark messages read: %w", translate(err))
	}
	return nil
}

// LastReadMessage implements portal.Store.
func (db *DB) LastReadMessage(ctx context.Context, workspaceID, userID, clientID int64) (int64, error) {
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT last_read_id FROM message_reads WHERE workspace_id = $1 AND user_id = $2 AND client_id = $3`,
		workspaceID, userID, clientID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last read message: %w", err)
	}
	return id, nil
}

// SetPortalMail implements portal.Store.
func (db *DB) SetPortalMail(ctx context.Context, workspaceID, userID int64, on bool) error {
	var err error
	if on {
		_, err = db.pool.Exec(ctx, `DELETE FROM portal_mail_off WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID)
	} else {
		_, err = db.pool.Exec(ctx, `INSERT INTO portal_mail_off (workspace_id, user_id)
			SELECT workspace_id, id FROM users WHERE workspace_id = $1 AND id = $2 ON CONFLICT DO NOTHING`, workspaceID, userID)
	}
	if err != nil {
		return fmt.Errorf("set portal mail: %w", translate(err))
	}
	return nil
}

// PortalMailOff implements portal.Store.
func (db *DB) PortalMailOff(ctx context.Context, workspaceID int64) (map[int64]bool, error) {
	rows, err := db.pool.Query(ctx, `SELECT user_id FROM portal_mail_off WHERE workspace_id = $1`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("portal mail off: %w", err)
	}
	defer rows.Close()
	off := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		off[id] = true
	}
	return off, rows.Err()
}
