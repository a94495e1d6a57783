package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/visitcache"
	"github.com/gatehouse-dev/gatehouse/portal"
)

var _ portal.Store = (*DB)(nil)

// CreateClient implements portal.Store.
func (db *DB) CreateClient(ctx context.Context, workspaceID int64, c *portal.Client) error {
	err := db.write.QueryRowContext(ctx, `INSERT INTO clients (workspace_id, name, created_at) VALUES (?, ?, ?) RETURNING id`,
		workspaceID, c.Name, unix(c.CreatedAt)).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("create client: %w", translate(err))
	}
	c.WorkspaceID = workspaceID
	return nil
}

// FindClient implements portal.Store.
func (db *DB) FindClient(ctx context.Context, workspaceID, id int64) (*portal.Client, error) {
	c := portal.Client{}
	var created int64
	err := db.read.QueryRowContext(ctx, `SELECT id, workspace_id, name, created_at FROM clients WHERE workspace_id = ? AND id = ?`,
		workspaceID, id).Scan(&c.ID, &c.WorkspaceID, &c.Name, &created)
	if err != nil {
		return nil, fmt.Errorf("find client %d: %w", id, translate(err))
	}
	c.CreatedAt = fromUnix(created)
	return &c, nil
}

// ListClients implements portal.Store.
func (db *DB) ListClients(ctx context.Context, workspaceID, userID int64) ([]portal.ClientSummary, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT c.id, c.workspace_id, c.name, c.created_at,
		  (SELECT count(*) FROM users u WHERE u.workspace_id = c.workspace_id AND u.client_id = c.id),
		  (SELECT count(*) FROM documents d WHERE d.workspace_id = c.workspace_id AND d.client_id = c.id AND d.ready = 1),
		  (SELECT count(*) FROM document_requests r WHERE r.workspace_id = c.workspace_id AND r.client_id = c.id AND r.status = 'open'),
		  (SELECT count(*) FROM client_messages m WHERE m.workspace_id = c.workspace_id AND m.client_id = c.id AND m.author_id <> ?
		     AND m.id > coalesce((SELECT last_read_id FROM message_reads mr
		                          WHERE mr.workspace_id = c.workspace_id AND mr.user_id = ? AND mr.client_id = c.id), 0))
		FROM clients c WHERE c.workspace_id = ? ORDER BY c.name, c.id`, userID, userID, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	var out []portal.ClientSummary
	for rows.Next() {
		var c portal.ClientSummary
		var created int64
		if err := rows.Scan(&c.ID, &c.WorkspaceID, &c.Name, &created, &c.Users, &c.Documents, &c.OpenRequests, &c.Unread); err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		c.CreatedAt = fromUnix(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetUserClient implements portal.Store: one conditional update, which
// changes nothing unless the client is in the user's workspace.
func (db *DB) SetUserClient(ctx context.Context, workspaceID, userID, clientID int64) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE users SET client_id = ? WHERE workspace_id = ? AND id = ?
		  AND EXISTS (SELECT 1 FROM clients WHERE workspace_id = ? AND id = ?)`,
		clientID, workspaceID, userID, workspaceID, clientID))
	if err != nil {
		return fmt.Errorf("set client of user %d: %w", userID, err)
	}
	return nil
}

// CreateOwnClient implements portal.Store.
func (db *DB) CreateOwnClient(ctx context.Context, workspaceID, userID int64, c *portal.Client) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var have sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT client_id FROM users WHERE workspace_id = ? AND id = ?`, workspaceID, userID).Scan(&have); err != nil {
			return fmt.Errorf("create own client for user %d: %w", userID, translate(err))
		}
		if have.Valid {
			var created int64
			err := tx.QueryRowContext(ctx, `SELECT id, name, created_at FROM clients WHERE workspace_id = ? AND id = ?`, workspaceID, have.Int64).
				Scan(&c.ID, &c.Name, &created)
			c.WorkspaceID, c.CreatedAt = workspaceID, fromUnix(created)
			return translate(err)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO clients (workspace_id, name, created_at) VALUES (?, ?, ?) RETURNING id`,
			workspaceID, c.Name, unix(c.CreatedAt)).Scan(&c.ID); err != nil {
			return fmt.Errorf("create own client: %w", translate(err))
		}
		c.WorkspaceID = workspaceID
		_, err := tx.ExecContext(ctx, `UPDATE users SET client_id = ? WHERE workspace_id = ? AND id = ?`, c.ID, workspaceID, userID)
		return translate(err)
	})
}

// ListClientUsers implements portal.Store.
func (db *DB) ListClientUsers(ctx context.Context, workspaceID, clientID int64) ([]gatehouse.User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = ? AND client_id = ? ORDER BY id`, workspaceID, clientID)
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
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO documents (workspace_id, client_id, file_name, uploader_id, created_at)
		SELECT ?, id, ?, ?, ? FROM clients WHERE workspace_id = ? AND id = ? RETURNING id`,
		workspaceID, d.FileName, d.UploaderID, unix(d.CreatedAt), workspaceID, d.ClientID).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("create document: %w", translate(err))
	}
	d.WorkspaceID = workspaceID
	return nil
}

// PutDocumentChunk implements portal.ChunkStore. Only an upload in progress
// takes chunks.
func (db *DB) PutDocumentChunk(ctx context.Context, workspaceID, documentID int64, index int, sealed []byte) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		INSERT INTO document_chunks (workspace_id, document_id, idx, data)
		SELECT workspace_id, id, ?, ? FROM documents WHERE workspace_id = ? AND id = ? AND ready = 0`,
		index, sealed, workspaceID, documentID))
	if err != nil {
		return fmt.Errorf("put chunk %d of document %d: %w", index, documentID, err)
	}
	return nil
}

// PutDocumentChunks implements portal.ChunkStore: one transaction, so the
// writer is taken once per batch, not once per chunk.
func (db *DB) PutDocumentChunks(ctx context.Context, workspaceID, documentID int64, first int, sealed [][]byte) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM documents WHERE workspace_id = ? AND id = ? AND ready = 0`,
			workspaceID, documentID).Scan(&one); err != nil {
			return translate(err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO document_chunks (workspace_id, document_id, idx, data) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, b := range sealed {
			if _, err := stmt.ExecContext(ctx, workspaceID, documentID, first+i, b); err != nil {
				return translate(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put chunks %d+%d of document %d: %w", first, len(sealed), documentID, err)
	}
	return nil
}

// DocumentChunks implements portal.ChunkStore, on connections of its own
// that hand each chunk over as SQLite's own bytes (see chunkConns).
func (db *DB) DocumentChunks(ctx context.Context, workspaceID, documentID int64, first, n int, fn func(int, []byte) error) error {
	if err := db.chunkConns.read(ctx, workspaceID, documentID, first, n, fn); err != nil {
		return fmt.Errorf("read chunks of document %d: %w", documentID, err)
	}
	return nil
}

// DocumentChunk implements portal.ChunkStore.
func (db *DB) DocumentChunk(ctx context.Context, workspaceID, documentID int64, index int) ([]byte, error) {
	stmt, err := db.readStmt(ctx, `SELECT data FROM document_chunks WHERE document_id = ? AND idx = ? AND workspace_id = ?`)
	if err != nil {
		return nil, fmt.Errorf("read chunk: %w", err)
	}
	var data []byte
	if err := stmt.QueryRowContext(ctx, documentID, index, workspaceID).Scan(&data); err != nil {
		return nil, fmt.Errorf("read chunk %d of document %d: %w", index, documentID, translate(err))
	}
	return data, nil
}

// FinishDocuments implements portal.Store.
func (db *DB) FinishDocuments(ctx context.Context, workspaceID int64, docs []*portal.Document, requestID int64, now time.Time, rec portal.Record) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := writeRecord(ctx, tx, workspaceID, rec); err != nil {
			return err
		}
		for _, d := range docs {
			err := mustAffect(tx.ExecContext(ctx, `
				UPDATE documents SET title = ?, note = ?, content_type = ?, size = ?, sha256 = ?, sensitive = ?,
				  request_id = ?, sealed_key = ?, chunks = ?, ready = 1, created_at = ?
				WHERE workspace_id = ? AND id = ? AND ready = 0`,
				d.Title, d.Note, d.ContentType, d.Size, d.SHA256, b2i(d.Sensitive), d.RequestID, d.SealedKey, d.Chunks,
				unix(now), workspaceID, d.ID))
			if err != nil {
				return fmt.Errorf("finish document %d: %w", d.ID, err)
			}
			d.CreatedAt = now
		}
		if requestID == 0 {
			return nil
		}
		err := mustAffect(tx.ExecContext(ctx, `
			UPDATE document_requests SET status = 'fulfilled', updated_at = ?
			WHERE workspace_id = ? AND id = ? AND client_id = ? AND status = 'open'`,
			unix(now), workspaceID, requestID, docs[0].ClientID))
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
	if _, err := db.write.ExecContext(ctx, `DELETE FROM documents WHERE workspace_id = ? AND id = ? AND ready = 0`, workspaceID, id); err != nil {
		return fmt.Errorf("discard document %d: %w", id, err)
	}
	return nil
}

// DeleteDocument implements portal.Store; the chunks go by cascade.
func (db *DB) DeleteDocument(ctx context.Context, workspaceID, id int64) error {
	err := mustAffect(db.write.ExecContext(ctx, `DELETE FROM documents WHERE workspace_id = ? AND id = ? AND ready = 1`, workspaceID, id))
	if err != nil {
		return fmt.Errorf("delete document %d: %w", id, err)
	}
	return nil
}

// DeleteStaleUploads implements portal.Store.
func (db *DB) DeleteStaleUploads(ctx context.Context, before time.Time) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM documents WHERE ready = 0 AND created_at < ?`, unix(before))
	if err != nil {
		return 0, fmt.Errorf("delete stale uploads: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

const documentCols = `d.id, d.workspace_id, d.client_id, d.title, d.note, d.file_name, d.content_type, d.size, d.sha256,
	d.sensitive, d.uploader_id, coalesce(u.name, ''), coalesce(u.email, ''), d.request_id, d.sealed_key, d.chunks, d.created_at`

func scanDocument(row interface{ Scan(...any) error }, d *portal.Document) error {
	var created int64
	var email string
	if err := row.Scan(&d.ID, &d.WorkspaceID, &d.ClientID, &d.Title, &d.Note, &d.FileName, &d.ContentType, &d.Size, &d.SHA256,
		&d.Sensitive, &d.UploaderID, &d.UploaderName, &email, &d.RequestID, &d.SealedKey, &d.Chunks, &created); err != nil {
		return err
	}
	if d.UploaderName == "" {
		d.UploaderName = email
	}
	d.CreatedAt = fromUnix(created)
	return nil
}

// FindDocument implements portal.Store.
//
// It reads on the chunk readers, like the download that follows it: a
// mapped reader unmaps the whole file when it finds the database changed
// (as every download's audit event changes it), and mapping it again cost
// more than the few pages this reads.
func (db *DB) FindDocument(ctx context.Context, workspaceID, id int64) (*portal.Document, error) {
	var d portal.Document
	row := db.chunks.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents d
		LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
		WHERE d.workspace_id = ? AND d.id = ? AND d.ready = 1`, workspaceID, id)
	if err := scanDocument(row, &d); err != nil {
		return nil, fmt.Errorf("find document %d: %w", id, translate(err))
	}
	return &d, nil
}

// ListDocuments implements portal.Store.
func (db *DB) ListDocuments(ctx context.Context, workspaceID, clientID int64, limit int) ([]portal.Document, error) {
	q := `SELECT ` + documentCols + ` FROM documents d
		LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
		WHERE d.workspace_id = ? AND d.ready = 1`
	args := []any{workspaceID}
	if clientID != 0 {
		q += ` AND d.client_id = ?`
		args = append(args, clientID)
	}
	q += ` ORDER BY d.created_at DESC, d.id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
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

// CreateRequest implements portal.Store.
func (db *DB) CreateRequest(ctx context.Context, workspaceID int64, r *portal.Request) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO document_requests (workspace_id, client_id, title, note, due, status, created_by, created_at, updated_at)
		SELECT ?, id, ?, ?, ?, ?, ?, ?, ? FROM clients WHERE workspace_id = ? AND id = ? RETURNING id`,
		workspaceID, r.Title, r.Note, unixOrNever(r.Due), r.Status, r.CreatedBy, unix(r.CreatedAt), unix(r.UpdatedAt),
		workspaceID, r.ClientID).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("create request: %w", translate(err))
	}
	r.WorkspaceID = workspaceID
	return nil
}

const requestCols = `id, workspace_id, client_id, title, note, due, status, created_by, created_at, updated_at`

func scanRequest(row interface{ Scan(...any) error }, r *portal.Request) error {
	var due, created, updated int64
	if err := row.Scan(&r.ID, &r.WorkspaceID, &r.ClientID, &r.Title, &r.Note, &due, &r.Status, &r.CreatedBy, &created, &updated); err != nil {
		return err
	}
	r.Due, r.CreatedAt, r.UpdatedAt = fromUnixOrNever(due), fromUnix(created), fromUnix(updated)
	return nil
}

// FindRequest implements portal.Store.
func (db *DB) FindRequest(ctx context.Context, workspaceID, id int64) (*portal.Request, error) {
	var r portal.Request
	row := db.read.QueryRowContext(ctx, `SELECT `+requestCols+` FROM document_requests WHERE workspace_id = ? AND id = ?`, workspaceID, id)
	if err := scanRequest(row, &r); err != nil {
		return nil, fmt.Errorf("find request %d: %w", id, translate(err))
	}
	return &r, nil
}

// ListRequests implements portal.Store.
func (db *DB) ListRequests(ctx context.Context, workspaceID, clientID int64) ([]portal.Request, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+requestCols+` FROM document_requests
		WHERE workspace_id = ? AND client_id = ?
		ORDER BY status <> 'open', due = 0, due, created_at DESC, id DESC`, workspaceID, clientID)
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
	if len(from) == 0 {
		return fmt.Errorf("set request %d: %w", id, gatehouse.ErrNotFound)
	}
	args := []any{to, unix(now), workspaceID, id}
	for _, f := range from {
		args = append(args, f)
	}
	err := mustAffect(db.write.ExecContext(ctx, `UPDATE document_requests SET status = ?, updated_at = ?
		WHERE workspace_id = ? AND id = ? AND status IN (?`+strings.Repeat(", ?", len(from)-1)+`)`, args...))
	if err != nil {
		return fmt.Errorf("set request %d: %w", id, err)
	}
	return nil
}

// AddClientMessage implements portal.Store.
func (db *DB) AddClientMessage(ctx context.Context, workspaceID int64, m *portal.Message) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO client_messages (workspace_id, client_id, author_id, body, created_at)
		SELECT ?, id, ?, ?, ? FROM clients WHERE workspace_id = ? AND id = ? RETURNING id`,
		workspaceID, m.AuthorID, m.Body, unix(m.CreatedAt), workspaceID, m.ClientID).Scan(&m.ID)
	if err != nil {
		return fmt.Errorf("add message: %w", translate(err))
	}
	m.WorkspaceID = workspaceID
	return nil
}

// MarkMessagesRead implements portal.Store.
func (db *DB) MarkMessagesRead(ctx context.Context, workspaceID, userID, clientID, upToID int64) error {
	_, err := db.write.ExecContext(ctx, `
		INSERT INTO message_reads (workspace_id, user_id, client_id, last_read_id) VALUES (?, ?, ?, ?)
		ON CONFLICT (workspace_id, user_id, client_id) DO UPDATE SET last_read_id = max(last_read_id, excluded.last_read_id)`,
		workspaceID, userID, clientID, upToID)
	if err != nil {
		return fmt.Errorf("mark messages read: %w", translate(err))
	}
	return nil
}

// LastReadMessage implements portal.Store.
func (db *DB) LastReadMessage(ctx context.Context, workspaceID, userID, clientID int64) (int64, error) {
	var id int64
	err := db.read.QueryRowContext(ctx, `SELECT last_read_id FROM message_reads WHERE workspace_id = ? AND user_id = ? AND client_id = ?`,
		workspaceID, userID, clientID).Scan(&id)
	if err == sql.ErrNoRows {
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
		_, err = db.write.ExecContext(ctx, `DELETE FROM portal_mail_off WHERE workspace_id = ? AND user_id = ?`, workspaceID, userID)
	} else {
		_, err = db.write.ExecContext(ctx, `INSERT INTO portal_mail_off (workspace_id, user_id)
			SELECT workspace_id, id FROM users WHERE workspace_id = ? AND id = ? ON CONFLICT DO NOTHING`, workspaceID, userID)
	}
	if err != nil {
		return fmt.Errorf("set portal mail: %w", translate(err))
	}
	return nil
}

// PortalMailOff implements portal.Store.
func (db *DB) PortalMailOff(ctx context.Context, workspaceID int64) (map[int64]bool, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT user_id FROM portal_mail_off WHERE workspace_id = ?`, workspaceID)
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

// ReadSpace implements portal.Store through the cache FindVisit uses:
// served from memory while the database is unchanged (any commit, by any
// connection or process, empties it before the next lookup), read
// otherwise.
func (db *DB) ReadSpace(ctx context.Context, workspaceID, clientID, userID int64, documents, messages int) (*portal.Space, error) {
	db.visits.check()
	k := visitcache.SpaceKey{WorkspaceID: workspaceID, ClientID: clientID, UserID: userID, Documents: documents, Messages: messages}
	return db.visits.cache.FindSpace(ctx, k, func(ctx context.Context) (*portal.Space, error) {
		return portal.ReadSpaceFrom(ctx, db, workspaceID, clientID, userID, documents, messages)
	})
}
