package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/portal"
)

// A client's space shows a few documents and messages, read on every
// portal page the cache cannot serve. Through database/sql each column of
// each row costs several calls into SQLite (its type, its value, its
// length), and each of those takes the connection's mutex. So these reads
// ask SQLite for one value: the rows packed into one string, each as a
// header of decimal integers, each followed by a space (its numbers, then
// the byte lengths of its texts), then its texts one after another.
// unpack reads that back, each text a substring of the one string. The
// home's rows (up to portal.HomeDocuments and portal.HomeMessages) are
// kept packed that way in client_home, by triggers (see homeRows); longer
// lists are packed from the tables. storetest's SpaceRows (and
// TestSpaceRowsAnyText) hold both to ListDocuments and to what was
// written, with hostile text.

// errPacked reports a packed row that does not parse: never expected,
// since SQLite writes them.
var errPacked = errors.New("malformed packed row")

// unpack reads packed rows.
type unpack struct {
	s   string
	err error
}

// more reports whether a row is left.
func (u *unpack) more() bool { return u.err == nil && u.s != "" }

// int reads a header number.
func (u *unpack) int() int64 {
	if u.err != nil {
		return 0
	}
	for i := 0; i < len(u.s); i++ {
		if u.s[i] == ' ' {
			n, err := strconv.ParseInt(u.s[:i], 10, 64)
			if err != nil {
				u.err = errPacked
				return 0
			}
			u.s = u.s[i+1:]
			return n
		}
	}
	u.err = errPacked
	return 0
}

// text reads a text of n bytes.
func (u *unpack) text(n int64) string {
	if u.err != nil {
		return ""
	}
	if n < 0 || n > int64(len(u.s)) {
		u.err = errPacked
		return ""
	}
	t := u.s[:n]
	u.s = u.s[n:]
	return t
}

// ListSpaceDocuments implements portal.Store: only the columns a space
// shows, read from index documents_space alone (it holds them all, in list
// order), so a client with many documents costs the rows shown and no
// more; packed (see above).
func (db *DB) ListSpaceDocuments(ctx context.Context, workspaceID, clientID int64, limit int) ([]portal.Document, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var packed string
	var err error
	if limit > 0 && limit <= portal.HomeDocuments {
		packed, err = db.homeRows(ctx, "documents", workspaceID, clientID)
	} else {
		err = db.read.QueryRowContext(ctx, `
		SELECT coalesce(string_agg(
		  printf('%d %d %d %d %d %d %d %d ', id, size, sensitive, created_at,
		         octet_length(title), octet_length(note), octet_length(content_type), octet_length(uploader))
		  || title || note || content_type || uploader, ''), '')
		FROM (SELECT d.id, d.size, d.sensitive, d.created_at, d.title, d.note, d.content_type,
		             coalesce(nullif(u.name, ''), u.email, '') AS uploader
		      FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
		      WHERE d.workspace_id = ? AND d.client_id = ? AND d.ready = 1
		      ORDER BY d.created_at DESC, d.id DESC LIMIT ?)`, workspaceID, clientID, limit).Scan(&packed)
	}
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	out := make([]portal.Document, 0, min(max(limit, 0), 16))
	u := unpack{s: packed}
	for u.more() {
		// The workspace and client are the ones asked for: not read.
		d := portal.Document{WorkspaceID: workspaceID, ClientID: clientID}
		d.ID, d.Size, d.Sensitive, d.CreatedAt = u.int(), u.int(), u.int() != 0, fromUnix(u.int())
		title, note, ct, uploader := u.int(), u.int(), u.int(), u.int()
		d.Title, d.Note, d.ContentType, d.UploaderName = u.text(title), u.text(note), u.text(ct), u.text(uploader)
		out = append(out, d)
	}
	if u.err != nil {
		return nil, fmt.Errorf("list documents: %w", u.err)
	}
	// The subquery picks the rows; the aggregate's order is SQLite's to
	// choose, so they are put in list order here.
	slices.SortFunc(out, func(a, b portal.Document) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ListClientMessages implements portal.Store: the latest limit by ID,
// oldest first; packed (see above). (A message's body is not worth a
// covering index: each row costs its table lookup.)
func (db *DB) ListClientMessages(ctx context.Context, workspaceID, clientID int64, limit int) ([]portal.Message, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var packed string
	var err error
	if limit > 0 && limit <= portal.HomeMessages {
		packed, err = db.homeRows(ctx, "messages", workspaceID, clientID)
	} else {
		err = db.read.QueryRowContext(ctx, `
		SELECT coalesce(string_agg(
		  printf('%d %d %d %d %d %d ', id, author_id, staff, created_at, octet_length(author), octet_length(body))
		  || author || body, ''), '')
		FROM (SELECT m.id, m.author_id, coalesce(u.role, 'client') <> 'client' AS staff, m.created_at,
		             coalesce(nullif(u.name, ''), u.email, '') AS author, m.body
		      FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
		      WHERE m.workspace_id = ? AND m.client_id = ? ORDER BY m.id DESC LIMIT ?)`, workspaceID, clientID, limit).Scan(&packed)
	}
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	out := make([]portal.Message, 0, min(max(limit, 0), 16))
	u := unpack{s: packed}
	for u.more() {
		// The workspace and client are the ones asked for: not read.
		m := portal.Message{WorkspaceID: workspaceID, ClientID: clientID}
		m.ID, m.AuthorID, m.AuthorStaff, m.CreatedAt = u.int(), u.int(), u.int() != 0, fromUnix(u.int())
		author, body := u.int(), u.int()
		m.AuthorName, m.Body = u.text(author), u.text(body)
		out = append(out, m)
	}
	if u.err != nil {
		return nil, fmt.Errorf("list messages: %w", u.err)
	}
	slices.SortFunc(out, func(a, b portal.Message) int { return cmp.Compare(a.ID, b.ID) })
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// homeRows reads the client's home documents or messages as kept packed in
// client_home (migration 00014): the latest portal.HomeDocuments and
// portal.HomeMessages, made again by triggers in the transaction of every
// change they show, so a home costs one lookup however many rows the
// client has. A client without a row (none is ever missing: every client
// gets one when made) would show none.
func (db *DB) homeRows(ctx context.Context, column string, workspaceID, clientID int64) (string, error) {
	q := `SELECT documents FROM client_home WHERE client_id = ? AND workspace_id = ?`
	if column == "messages" {
		q = `SELECT messages FROM client_home WHERE client_id = ? AND workspace_id = ?`
	}
	var packed string
	err := db.read.QueryRowContext(ctx, q, clientID, workspaceID).Scan(&packed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return packed, err
}
