package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/visitcache"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// The visit cache on PostgreSQL (SPEC §11: a process may keep what it read
// only while it can tell that nothing changed; a change applies at once on
// the instance that made it and within one second on every other one).
//
// Other processes' changes: triggers (migrations 00012 and 00014) NOTIFY
// channel gatehouse_visits, inside the writing transaction, whenever a
// session, user, method or workspace row changes, or a row a client's
// space is read from (client, request, document, message, read mark). Each DB listens on a connection of
// its own and drops the visits a notice names. The cache serves only while
// that connection is proven current: every pingEvery the listener notifies
// the channel itself (a probe) and waits to hear it back; notices reach
// listeners in commit order, so once it has, the cache holds nothing older
// than the probe's start. The cache then serves until freshFor after that
// start; a lost, stuck, deaf (a pooler in transaction mode) or not yet
// established connection stops it serving (emptied) within freshFor —
// under a second — and a new connection starts it again empty.
//
// This process's own changes: a query tracer on the pool empties the whole
// cache once a statement that wrote (or failed, so may have) is committed —
// when it returns on a connection outside a transaction, or at the COMMIT
// or ROLLBACK of the transaction it ran in — before the write returns to
// its caller. A visit being read meanwhile is not kept (the generation
// moved), so the next request reads the change.
//
// Expiry is not cached: FindVisit returns the stored expiry and last-seen
// time, and the session check judges them per request against its clock;
// a last-seen touch is a write like any other.
const (
	visitChannel = "gatehouse_visits"
	pingEvery    = 200 * time.Millisecond
	freshFor     = 700 * time.Millisecond
)

// FindVisit implements gatehouse.SessionStore through the visit cache:
// served from memory while nothing it holds has changed, read otherwise.
func (db *DB) FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error) {
	return db.visits.Find(ctx, workspaceID, tokenHash, db.findVisit)
}

// ReadSpace implements portal.Store through the same cache, under the same
// rules: triggers (migration 00014) announce every change to a client, its
// requests, documents, messages and read marks on the same channel, the
// listener drops that client's spaces, and this process's own writes
// empty the cache before they return.
func (db *DB) ReadSpace(ctx context.Context, workspaceID, clientID, userID int64, documents, messages int) (*portal.Space, error) {
	k := visitcache.SpaceKey{WorkspaceID: workspaceID, ClientID: clientID, UserID: userID, Documents: documents, Messages: messages}
	return db.visits.FindSpace(ctx, k, func(ctx context.Context) (*portal.Space, error) {
		return portal.ReadSpaceFrom(ctx, db, workspaceID, clientID, userID, documents, messages)
	})
}

// listener keeps the cache current from the notices of other processes.
type listener struct {
	cache  *visitcache.Cache
	config *pgconn.Config
	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	// dial connects; tests replace it to keep the listener from coming back.
	dial func(ctx context.Context, config *pgconn.Config) (*pgconn.PgConn, error)
	pid  uint32 // the listening backend's, for tests
	// onNotice, when set, runs before each notice is handled; a notice it
	// returns false for is lost (tests hold and lose notices with it).
	onNotice func(payload string) bool
}

func startListener(cache *visitcache.Cache, config *pgconn.Config) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{cache: cache, config: config, cancel: cancel, done: make(chan struct{}), dial: pgconn.ConnectConfig}
	go l.run(ctx)
	return l
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
	l.cache.TurnOff()
}

// run listens until ctx ends, connecting again after a loss with a growing
// pause (at most five seconds); the cache is off while it is not listening.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	pause := 50 * time.Millisecond
	for {
		listened := l.listen(ctx)
		l.cache.TurnOff()
		if listened {
			pause = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// listen listens on one connection until it fails, reporting whether it
// got as far as serving.
func (l *listener) listen(ctx context.Context) (listened bool) {
	config := l.config.Copy()
	var (
		schema string
		nonce  = newNonce()
		heard  uint64 // the last of this listener's probes heard back
	)
	config.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		l.mu.Lock()
		hook := l.onNotice
		l.mu.Unlock()
		if hook != nil && !hook(n.Payload) {
			return
		}
		if n.Channel != visitChannel || schema == "" {
			return
		}
		if p, ok := probeOf(schema, nonce, n.Payload); ok {
			heard = max(heard, p)
			return
		}
		l.drop(schema, n.Payload)
	}
	l.mu.Lock()
	dial := l.dial
	l.mu.Unlock()
	conn, err := dial(ctx, config)
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	res, err := conn.Exec(ctx, `LISTEN `+visitChannel+`; SELECT current_schema()`).ReadAll()
	if err != nil || len(res) != 2 || len(res[1].Rows) != 1 || res[1].Rows[0][0] == nil {
		return false
	}
	schema = string(res[1].Rows[0][0])
	l.mu.Lock()
	l.pid = conn.PID()
	l.mu.Unlock()
	var sent uint64
	for {
		// The proof: a notice of our own, sent now, heard back. Notices
		// reach listeners in commit order, so once it is heard every
		// notice committed before start has been handled. (A plain query
		// would prove less: behind a pooler in transaction mode, the
		// connection that answers need not be the one listening.) The
		// window is real time, like the socket it watches: the injected
		// clock of the domain (sessions, codes) has no say in it.
		start := time.Now()
		sent++
		_, err := conn.ExecParams(ctx, `SELECT pg_notify($1, $2)`,
			[][]byte{[]byte(visitChannel), []byte(schema + " probe " + nonce + " " + strconv.FormatUint(sent, 10))},
			nil, nil, nil).Close()
		if err != nil {
			return listened
		}
		for answerBy := start.Add(freshFor); heard < sent; {
			if !time.Now().Before(answerBy) || !l.wait(ctx, conn, answerBy) {
				return listened // unanswered: it cannot tell any more
			}
		}
		l.cache.Renew(start.Add(freshFor))
		listened = true
		for next := start.Add(pingEvery); time.Now().Before(next); {
			if !l.wait(ctx, conn, next) {
				return listened
			}
		}
	}
}

// wait handles notices until one arrives or deadline passes, reporting
// false when the listener must stop: ctx ended or the connection failed.
func (l *listener) wait(ctx context.Context, conn *pgconn.PgConn, deadline time.Time) bool {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	err := conn.WaitForNotification(wctx)
	if ctx.Err() != nil {
		return false
	}
	// An error before the deadline is the connection's.
	return err == nil || wctx.Err() != nil
}

// probeOf returns the number of one of this listener's probes,
// "<schema> probe <nonce> <n>"; ok is false for any other notice.
func probeOf(schema, nonce, payload string) (n uint64, ok bool) {
	f := strings.Fields(payload)
	if len(f) != 4 || f[1] != "probe" {
		return 0, false
	}
	if f[0] != schema || f[2] != nonce {
		return 0, true // another listener's probe: nothing changed
	}
	n, err := strconv.ParseUint(f[3], 10, 64)
	return n, err == nil
}

func newNonce() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// drop drops the visits and spaces a notice "<schema> <kind> <workspace
// id> <id>" names (kinds: s a session, u a user, w a workspace, c a
// client's space); a notice of another schema (another Gatehouse database sharing
// the server) is ignored, and one that cannot be read empties the cache.
func (l *listener) drop(schema, payload string) {
	f := strings.Fields(payload)
	if len(f) == 4 && f[0] != schema {
		return
	}
	var ws, id int64
	var err1, err2 error
	if len(f) == 4 {
		ws, err1 = strconv.ParseInt(f[2], 10, 64)
		id, err2 = strconv.ParseInt(f[3], 10, 64)
	}
	if len(f) != 4 || err1 != nil || err2 != nil {
		l.cache.Empty()
		return
	}
	inWorkspace := func(k visitcache.SpaceKey) bool { return k.WorkspaceID == ws }
	switch f[1] {
	case "s":
		l.cache.Drop(func(v *gatehouse.Visit) bool { return v.Workspace.ID == ws && v.Session.ID == id })
	case "u":
		// A user's name and role show beside their documents and messages
		// in any client's space of the workspace.
		l.cache.Drop(func(v *gatehouse.Visit) bool { return v.Workspace.ID == ws && v.User.ID == id })
		l.cache.DropSpaces(inWorkspace)
	case "w":
		l.cache.Drop(func(v *gatehouse.Visit) bool { return v.Workspace.ID == ws })
		l.cache.DropSpaces(inWorkspace)
	case "c":
		l.cache.DropSpaces(func(k visitcache.SpaceKey) bool { return k.WorkspaceID == ws && k.ClientID == id })
	default:
		l.cache.Empty()
	}
}

// writeTracer empties the cache when a statement of this process that may
// have written is committed (see the comment at the top).
type writeTracer struct {
	cache *visitcache.Cache
	mu    sync.Mutex
	dirty map[*pgx.Conn]bool // connections inside a transaction that wrote
}

func newWriteTracer(cache *visitcache.Cache) *writeTracer {
	return &writeTracer{cache: cache, dirty: map[*pgx.Conn]bool{}}
}

// auditQuery marks, in a query's context, the audit event insert: the
// one write that cannot change a visit (no visit reads audit_events, and
// no trigger runs on it), and the one every download makes.
type auditQuery struct{}

func (t *writeTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if data.SQL == auditInsert {
		return context.WithValue(ctx, auditQuery{}, true)
	}
	return ctx
}

// TraceQueryEnd runs once the statement's answer is read to the end, its
// commit included when it ran outside a transaction.
func (t *writeTracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if data.Err != nil || ctx.Value(auditQuery{}) == nil {
		t.mark(conn, data.CommandTag, data.Err)
	}
	t.settle(conn)
}

func (t *writeTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (t *writeTracer) TraceBatchQuery(_ context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	if data.Err != nil || data.SQL != auditInsert {
		t.mark(conn, data.CommandTag, data.Err)
	}
}

// TraceBatchEnd runs once the batch's answer is read to the end.
func (t *writeTracer) TraceBatchEnd(_ context.Context, conn *pgx.Conn, data pgx.TraceBatchEndData) {
	t.mark(conn, pgconn.CommandTag{}, data.Err)
	t.settle(conn)
}

// mark notes that conn may have written: a write that changed rows, or an
// error, after which nobody knows.
func (t *writeTracer) mark(conn *pgx.Conn, tag pgconn.CommandTag, err error) {
	if err == nil && !((tag.Insert() || tag.Update() || tag.Delete()) && tag.RowsAffected() > 0) {
		return
	}
	t.mu.Lock()
	t.dirty[conn] = true
	t.mu.Unlock()
}

// settle empties the cache if conn wrote and is now outside a transaction
// (committed, rolled back or closed).
func (t *writeTracer) settle(conn *pgx.Conn) {
	if !conn.IsClosed() && conn.PgConn().TxStatus() != 'I' {
		return
	}
	t.mu.Lock()
	wrote := t.dirty[conn]
	delete(t.dirty, conn)
	t.mu.Unlock()
	if wrote {
		t.cache.Empty()
	}
}
