package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mail"
	"github.com/gatehouse-dev/gatehouse/password"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/web"
)

// benchOptions bound a load run: every row of every round stops at
// whichever comes first, its request count or its duration.
type benchOptions struct {
	rounds      int
	requests    int
	duration    time.Duration
	conns       int
	signins     int
	signinConns int
	databaseURL string
	only        string // measure only the rows whose name contains this
	cpuProfile  string // write a CPU profile of the measured rows here
	documentMB  int    // the large document's size in MB; 0: no large-document rows
	bigMB       int    // the memory check's document in MB; 0: off
}

// bench starts Gatehouse in this process on loopback (SQLite in a temp dir,
// and PostgreSQL in a fresh schema when a database URL is given) beside bare
// net/http handlers serving the same bytes, and drives interleaved rounds
// against each: the figures of SPEC §18 as ratios taken in one run.
func (m Main) bench(ctx context.Context, args []string) error {
	var o benchOptions
	fs := flag.NewFlagSet("gatehouse bench", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gatehouse bench [flags]\n\n"+
			"Starts Gatehouse in this process on loopback (SQLite in a temporary directory; also PostgreSQL,\n"+
			"in a fresh schema dropped afterwards, when a database URL is set) and a bare net/http handler\n"+
			"serving the same bytes, signs in, and measures every row in interleaved rounds.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o.databaseURL = m.env("GATEHOUSE_DATABASE_URL", "")
	fs.Var(secretFlag{&o.databaseURL}, "database-url", "PostgreSQL `URL` to measure as well, in a fresh schema (GATEHOUSE_DATABASE_URL)")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; the table shows each row's median")
	fs.IntVar(&o.requests, "requests", 20000, "most requests per row and round")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "longest time per row and round")
	fs.IntVar(&o.conns, "connections", 16, "keep-alive connections for the page rows")
	fs.IntVar(&o.signins, "signins", 60, "most password sign-ins (and argon2id hashes) per round")
	fs.IntVar(&o.signinConns, "signin-connections", runtime.GOMAXPROCS(0), "concurrent sign-ins")
	fs.StringVar(&o.only, "only", "", "measure only the rows whose name contains this text (e.g. \"/portal\")")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured rows to this `file` (go tool pprof)")
	fs.IntVar(&o.documentMB, "document-mb", 16, "size in MB of a large document downloaded per store, against http.ServeContent serving the same bytes from a file (0: none)")
	fs.IntVar(&o.bigMB, "big-document-mb", 0, "also upload and download a document of this many MB through a server in its own process, per store, "+
		"and report how its resident memory grows (0: off)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.rounds < 1 || o.requests < 1 || o.duration <= 0 || o.conns < 1 || o.signins < 0 || o.signinConns < 1 {
		return errors.New("--rounds, --requests, --duration, --connections and --signin-connections must be positive")
	}
	if o.documentMB < 0 || o.bigMB < 0 {
		return errors.New("--document-mb and --big-document-mb must not be negative")
	}

	stores := []string{""}
	if o.databaseURL != "" {
		if !strings.HasPrefix(o.databaseURL, "postgres://") && !strings.HasPrefix(o.databaseURL, "postgresql://") {
			return errors.New("database URL must start with postgres://")
		}
		stores = append(stores, o.databaseURL)
	}
	var insts []*benchInstance
	defer func() {
		for _, in := range insts {
			in.close()
		}
	}()
	for _, dbURL := range stores {
		in, err := m.startBenchInstance(ctx, dbURL, o.signinConns, int64(o.documentMB)<<20)
		if err != nil {
			return err
		}
		insts = append(insts, in)
	}

	// The bare handlers serve exactly what the first instance served.
	pageBytes, docBytes := insts[0].page, insts[0].doc
	barePage, err := serveBare(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(pageBytes)
	}))
	if err != nil {
		return err
	}
	defer barePage.Close()
	modtime := time.Unix(0, 0)
	bareFile, err := serveBare(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "report.bin", modtime, bytes.NewReader(docBytes))
	}))
	if err != nil {
		return err
	}
	defer bareFile.Close()

	// The large document's bytes, from a file, so ServeContent can use
	// sendfile as a static file server would.
	var bigFileRow *benchRow
	docConns := runtime.GOMAXPROCS(0)
	if o.documentMB > 0 {
		dir, err := os.MkdirTemp("", "gatehouse-bench-file-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "big.bin")
		if err := writeBenchFile(path, int64(o.documentMB)<<20); err != nil {
			return err
		}
		bareBig, err := serveBare(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(path)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer f.Close()
			http.ServeContent(w, r, "big.bin", modtime, f)
		}))
		if err != nil {
			return err
		}
		defer bareBig.Close()
		bigFileRow = &benchRow{name: fmt.Sprintf("bare http.ServeContent, a %d MB file", o.documentMB), bytes: int64(o.documentMB) << 20,
			conns: docConns, run: httpLoad(bareBig.Addr().String(), 200, benchGET("bare.localhost", "/", ""))}
	}

	rows := []*benchRow{
		{name: "bare net/http, the /portal bytes", run: httpLoad(barePage.Addr().String(), 200, benchGET("bare.localhost", "/", ""))},
	}
	bareRow := rows[0]
	fileRow := &benchRow{name: "bare http.ServeContent, the document bytes", run: httpLoad(bareFile.Addr().String(), 200, benchGET("bare.localhost", "/", ""))}
	rows = append(rows, fileRow)
	hasher := password.NewHasher(password.DefaultParams, 0)
	hashRow := &benchRow{name: "argon2id hash limit (same parameters)", signin: true, run: hashLoad(hasher)}
	if o.signins > 0 {
		rows = append(rows, hashRow)
	}
	if bigFileRow != nil {
		rows = append(rows, bigFileRow)
	}
	for _, in := range insts {
		rows = append(rows,
			&benchRow{name: "/portal, " + in.name, base: bareRow, run: httpLoad(in.addr, 200, benchGET(in.host, "/portal", in.cookie))},
			&benchRow{name: "/api/v1/me, " + in.name, base: bareRow, run: httpLoad(in.addr, 200, benchGET(in.host, "/api/v1/me", in.cookie))},
			&benchRow{name: "document download, " + in.name, base: fileRow, run: httpLoad(in.addr, 200, benchGET(in.host, "/documents/"+strconv.FormatInt(in.docID, 10), in.cookie))},
		)
		if bigFileRow != nil {
			rows = append(rows, &benchRow{name: fmt.Sprintf("%d MB document download, %s", o.documentMB, in.name), base: bigFileRow,
				bytes: bigFileRow.bytes, conns: docConns,
				run: httpLoad(in.addr, 200, benchGET(in.host, "/documents/"+strconv.FormatInt(in.bigID, 10), in.cookie))})
		}
		if o.signins > 0 {
			// One account per connection: parallel attempts on one account
			// are refused by design (account.Authenticate).
			var forms [][]byte
			for _, email := range in.signers {
				form := "email=" + url.QueryEscape(email) + "&password=" + url.QueryEscape(in.password)
				forms = append(forms, benchPOST(in.host, "/login", form))
			}
			rows = append(rows, &benchRow{name: "password sign-in, " + in.name, base: hashRow, signin: true,
				run: httpLoad(in.addr, 303, forms...)})
		}
	}

	if o.only != "" {
		// A kept row keeps its baseline, so its ratio is still measured.
		keep := map[*benchRow]bool{}
		for _, r := range rows {
			if strings.Contains(r.name, o.only) {
				keep[r] = true
				if r.base != nil {
					keep[r.base] = true
				}
			}
		}
		rows = slices.DeleteFunc(rows, func(r *benchRow) bool { return !keep[r] })
		if len(rows) == 0 {
			return fmt.Errorf("--only %q matches no row", o.only)
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(m.Stdout, "gatehouse bench: %d interleaved round(s); each row stops at %d requests (sign-ins: %d) or %s; "+
		"%d connections (sign-ins: %d); GOMAXPROCS %d\n", o.rounds, o.requests, o.signins, o.duration, o.conns, o.signinConns, runtime.GOMAXPROCS(0))
	for round := range o.rounds {
		for _, row := range rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			limit, conns := o.requests, o.conns
			if row.signin {
				limit, conns = o.signins, o.signinConns
			}
			if row.conns > 0 {
				conns = row.conns
			}
			runtime.GC() // the previous row's garbage is not this row's cost
			res, err := measure(ctx, row.run, limit, conns, o.duration)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", row.name, round+1, err)
			}
			row.results = append(row.results, res)
		}
	}
	printBench(m.Stdout, rows)
	var bad []string
	for _, row := range rows {
		for _, r := range row.results {
			if r.errors > 0 {
				bad = append(bad, fmt.Sprintf("%s: %d unexpected answers (first: %v)", row.name, r.errors, r.firstErr))
				break
			}
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	if o.bigMB > 0 {
		for _, dbURL := range stores {
			if err := m.benchMemory(ctx, dbURL, int64(o.bigMB)<<20); err != nil {
				return err
			}
		}
	}
	return nil
}

// benchInstance is one Gatehouse server under load, seeded with a
// workspace, an owner, a client user signed in, a document, a request and
// a message, so /portal shows what a portal in use shows.
type benchInstance struct {
	name            string // "SQLite" or "PostgreSQL"
	addr            string // loopback address to dial
	host            string // the workspace's Host header
	cookie          string // the client's session cookie
	email, password string
	signers         []string // accounts of the sign-in row, one per connection
	docID           int64
	bigID           int64  // the large document, 0 for none
	page, doc       []byte // what /portal and the document answered
	closers         []func()
}

func (in *benchInstance) close() {
	for _, c := range slices.Backward(in.closers) {
		c()
	}
}

func (m Main) startBenchInstance(ctx context.Context, dbURL string, signers int, bigSize int64) (in *benchInstance, err error) {
	in = &benchInstance{name: "SQLite"}
	defer func() {
		if err != nil {
			in.close()
			in = nil
		}
	}()
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return in, err
	}
	in.closers = append(in.closers, func() { os.RemoveAll(dir) })
	if dbURL != "" {
		in.name = "PostgreSQL"
		schemaURL, drop, err := benchSchema(ctx, dbURL)
		if err != nil {
			return in, err
		}
		in.closers = append(in.closers, drop)
		dbURL = schemaURL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return in, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	in.addr = ln.Addr().String()
	in.host = "bench.localhost:" + port
	log := slog.New(slog.DiscardHandler)
	// The server key lives in the temporary directory, never the operator's.
	quiet := m
	quiet.Getenv = func(string) string { return "" }
	a, err := quiet.newApp(ctx, config{DataDir: dir, DatabaseURL: dbURL, BaseURL: "http://localhost:" + port}, mail.DevSender{Logger: log}, log)
	if err != nil {
		ln.Close()
		return in, err
	}
	in.closers = append(in.closers, func() { a.store.Close() })
	srv, err := web.NewServer(web.Options{
		Store: a.store, Accounts: a.accounts, MFA: a.mfa, BaseURL: "http://localhost:" + port, Logger: log, Portal: a.portal,
	})
	if err != nil {
		ln.Close()
		return in, err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go hs.Serve(ln)
	in.closers = append(in.closers, func() { hs.Close() })

	if err := in.seed(ctx, a, signers, bigSize); err != nil {
		return in, fmt.Errorf("seed %s: %w", in.name, err)
	}
	if err := in.signIn(); err != nil {
		return in, fmt.Errorf("sign in on %s: %w", in.name, err)
	}
	return in, nil
}

func (in *benchInstance) seed(ctx context.Context, a *app, signers int, bigSize int64) error {
	now := a.accounts.Now()
	ws := gatehouse.NewWorkspace("bench", "Bench & Co", gatehouse.PlanPro, now)
	ws.MFA.Mode = gatehouse.MFAOptional
	if err := a.store.CreateWorkspace(ctx, ws); err != nil {
		return err
	}
	in.email, in.password = "client@bench.localhost", demoPassword()
	owner, _, err := a.accounts.CreateUser(ctx, ws, account.NewUser{Email: "owner@bench.localhost", Name: "Olivia Owner", Role: gatehouse.RoleOwner, Password: demoPassword()})
	if err != nil {
		return err
	}
	client, _, err := a.accounts.CreateUser(ctx, ws, account.NewUser{Email: in.email, Name: "Casey Client", Role: gatehouse.RoleClient, Password: in.password})
	if err != nil {
		return err
	}
	clientID, err := a.portal.AssignClient(ctx, ws.ID, client, 0)
	if err != nil {
		return err
	}
	for i := range signers {
		email := fmt.Sprintf("signer-%d@bench.localhost", i)
		u, _, err := a.accounts.CreateUser(ctx, ws, account.NewUser{Email: email, Name: "Signer", Role: gatehouse.RoleClient, Password: in.password})
		if err != nil {
			return err
		}
		if _, err := a.portal.AssignClient(ctx, ws.ID, u, clientID); err != nil {
			return err
		}
		in.signers = append(in.signers, email)
	}
	staff := portal.Viewer{WorkspaceID: ws.ID, UserID: owner.ID, Name: owner.Name, Role: owner.Role}
	in.doc = make([]byte, 64<<10)
	rand.Read(in.doc)
	var docs []*portal.Document
	for i, name := range []string{"engagement-letter.pdf", "q3-report.pdf", "invoice-2039-07.pdf"} {
		up, err := a.portal.BeginUpload(ctx, staff, clientID, name)
		if err != nil {
			return err
		}
		if _, err := up.Write(in.doc); err != nil {
			up.Abort()
			return err
		}
		if err := up.Close(); err != nil {
			up.Abort()
			return err
		}
		d, err := a.portal.Finish(ctx, staff, ws, []*portal.Upload{up}, portal.UploadMeta{Title: fmt.Sprintf("Document %d", i+1), IP: "127.0.0.1"})
		if err != nil {
			return err
		}
		docs = append(docs, d...)
	}
	in.docID = docs[0].ID
	if bigSize > 0 {
		// Streamed in, as an upload is: never the whole file in memory.
		up, err := a.portal.BeginUpload(ctx, staff, clientID, "archive.bin")
		if err != nil {
			return err
		}
		if _, err := io.Copy(up, benchBytes(bigSize)); err != nil {
			up.Abort()
			return err
		}
		if err := up.Close(); err != nil {
			up.Abort()
			return err
		}
		d, err := a.portal.Finish(ctx, staff, ws, []*portal.Upload{up}, portal.UploadMeta{Title: "Archive", IP: "127.0.0.1"})
		if err != nil {
			return err
		}
		in.bigID = d[0].ID
	}
	if _, err := a.portal.Ask(ctx, staff, ws, clientID, "Signed engagement letter", "Please sign and upload.", "", "127.0.0.1"); err != nil {
		return err
	}
	for _, body := range []string{"Welcome to your portal.", "Your Q3 report is ready."} {
		if _, err := a.portal.Post(ctx, staff, ws, clientID, body, "127.0.0.1"); err != nil {
			return err
		}
	}
	return nil
}

// signIn signs the client in with net/http, keeps the session cookie and
// fetches the page and the document the bare handlers will serve.
func (in *benchInstance) signIn() error {
	dialer := &net.Dialer{}
	c := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", in.addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer c.CloseIdleConnections()
	base := "http://" + in.host
	resp, err := c.PostForm(base+"/login", url.Values{"email": {in.email}, "password": {in.password}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST /login: status %d", resp.StatusCode)
	}
	for _, ck := range resp.Cookies() {
		if strings.HasSuffix(ck.Name, "gatehouse_session") {
			in.cookie = ck.Name + "=" + ck.Value
		}
	}
	if in.cookie == "" {
		return errors.New("POST /login set no session cookie")
	}
	fetch := func(path string) ([]byte, error) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Cookie", in.cookie)
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		return b, err
	}
	if in.page, err = fetch("/portal"); err != nil {
		return err
	}
	if !bytes.Contains(in.page, []byte("Casey Client")) {
		return errors.New("GET /portal did not show the signed-in client")
	}
	doc, err := fetch("/documents/" + strconv.FormatInt(in.docID, 10))
	if err != nil {
		return err
	}
	if !bytes.Equal(doc, in.doc) {
		return errors.New("the downloaded document differs from the uploaded one")
	}
	return nil
}

// benchSchema creates schema gh_bench_<random> in the database at dbURL and
// returns a URL whose search_path is that schema, and a func that drops it.
func benchSchema(ctx context.Context, dbURL string) (string, func(), error) {
	b := make([]byte, 6)
	rand.Read(b)
	schema := "gh_bench_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dbURL); err == nil {
			conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
			conn.Close(ctx)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// benchBytes returns n bytes that look random (documents are mostly
// compressed or encrypted), the same on every call, generated as read.
func benchBytes(n int64) io.Reader {
	return io.LimitReader(mrand.NewChaCha8([32]byte{'g', 'a', 't', 'e'}), n)
}

// writeBenchFile writes benchBytes(n) to path.
func writeBenchFile(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, benchBytes(n)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func serveBare(h http.Handler) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	return ln, nil
}

// benchRow is one line of the table.
type benchRow struct {
	name    string
	base    *benchRow // the row its ratio is taken to; nil for a baseline
	signin  bool      // bounded by --signins and --signin-connections
	bytes   int64     // body bytes per request, for MB/s; 0: not shown
	conns   int       // connections, when not --connections
	run     loadFunc
	results []benchResult
}

// loadFunc returns a worker: a func that makes one request (or hash) and
// reports an unexpected answer. Each worker is used by one goroutine.
type loadFunc func() (worker func() error, done func(), err error)

type benchResult struct {
	reqs     int
	elapsed  time.Duration
	cpu      time.Duration
	p50, p99 time.Duration
	errors   int
	firstErr error
}

func (r benchResult) perSecond() float64 { return float64(r.reqs) / r.elapsed.Seconds() }

func (r benchResult) cpuPerReq() float64 {
	if r.reqs == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.reqs)
}

// measure runs conns workers until limit requests are made or d passes.
func measure(ctx context.Context, run loadFunc, limit, conns int, d time.Duration) (benchResult, error) {
	workers := make([]func() error, 0, conns)
	var dones []func()
	defer func() {
		for _, f := range dones {
			f()
		}
	}()
	for range conns {
		w, done, err := run()
		if err != nil {
			return benchResult{}, err
		}
		workers = append(workers, w)
		dones = append(dones, done)
	}
	var (
		issued   atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		firstErr error
		wg       sync.WaitGroup
	)
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(d)
	for _, w := range workers {
		wg.Go(func() {
			mine := make([]time.Duration, 0, limit/conns+1)
			bad := 0
			var first error
			for ctx.Err() == nil && issued.Add(1) <= int64(limit) {
				t0 := time.Now()
				err := w()
				t1 := time.Now()
				mine = append(mine, t1.Sub(t0))
				if err != nil {
					if bad++; first == nil {
						first = err
					}
				}
				if t1.After(deadline) {
					break
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			if firstErr == nil {
				firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	if len(lat) == 0 {
		return benchResult{}, errors.New("no request was made")
	}
	slices.Sort(lat)
	return benchResult{
		reqs: len(lat), elapsed: elapsed, cpu: cpu,
		p50: lat[len(lat)/2], p99: lat[min(len(lat)-1, len(lat)*99/100)],
		errors: errs, firstErr: firstErr,
	}, nil
}

// processCPU is the user and system CPU time this process has used: the
// server and the load client together, since both run here.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func hashLoad(h *password.Hasher) loadFunc {
	return func() (func() error, func(), error) {
		return func() error {
			_, err := h.Hash(context.Background(), "correct horse battery staple")
			return err
		}, func() {}, nil
	}
}

func benchGET(host, path, cookie string) []byte {
	s := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: gatehouse-bench\r\n"
	if cookie != "" {
		s += "Cookie: " + cookie + "\r\n"
	}
	return []byte(s + "\r\n")
}

func benchPOST(host, path, form string) []byte {
	return []byte("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: gatehouse-bench\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(form)) + "\r\n\r\n" + form)
}

// httpLoad returns workers that each hold one keep-alive connection and
// send one of reqs over it (the k-th worker the k-th, round robin),
// expecting status want. The client is a minimal
// HTTP/1.1 reader, so that the CPU it shares with the server stays small
// next to what the server spends.
func httpLoad(addr string, want int, reqs ...[]byte) loadFunc {
	var next atomic.Int64
	return func() (func() error, func(), error) {
		req := reqs[int(next.Add(1)-1)%len(reqs)]
		c := &benchConn{addr: addr}
		if err := c.dial(); err != nil {
			return nil, nil, err
		}
		return func() error {
			status, err := c.do(req)
			if err != nil {
				c.conn.Close()
				if derr := c.dial(); derr != nil {
					return derr
				}
				return err
			}
			if status != want {
				return fmt.Errorf("status %d, want %d", status, want)
			}
			return nil
		}, func() { c.conn.Close() }, nil
	}
}

type benchConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func (c *benchConn) dial() error {
	conn, err := net.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 64<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

// do sends one request and reads the whole answer, returning its status.
func (c *benchConn) do(req []byte) (int, error) {
	if _, err := c.conn.Write(req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = c.discardChunks()
	case length >= 0:
		_, err = c.br.Discard(length)
	default:
		err = errors.New("answer without length")
	}
	if err == nil && closing {
		c.conn.Close()
		err = c.dial()
	}
	return status, err
}

func (c *benchConn) discardChunks() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", size)
		}
		if n == 0 {
			for { // trailer, up to the empty line
				line, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := c.br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

func printBench(w io.Writer, rows []*benchRow) {
	fmt.Fprintln(w, "CPU µs/req is this whole process's (server and load client share it); ratios compare throughput.")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "row\treq/s\tMB/s\tp50\tp99\tCPU µs/req\tratio\t")
	for _, row := range rows {
		med := median(row.results)
		ratio := "1.00 (baseline)"
		if !strings.HasPrefix(row.name, "bare") && !strings.HasPrefix(row.name, "argon2id") {
			ratio = "-"
		}
		if row.base != nil {
			ratio = fmt.Sprintf("%.2f × %s", med.perSecond()/median(row.base.results).perSecond(), baseName(row.base))
		}
		mbs := "-"
		if row.bytes > 0 {
			mbs = fmt.Sprintf("%.0f", med.perSecond()*float64(row.bytes)/1e6)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%.0f\t%s\t\n", row.name, med.perSecond(), mbs,
			fmtLatency(med.p50), fmtLatency(med.p99), med.cpuPerReq(), ratio)
	}
	tw.Flush()
}

func baseName(r *benchRow) string {
	switch {
	case strings.HasPrefix(r.name, "bare net/http"):
		return "bare"
	case strings.HasPrefix(r.name, "bare http.ServeContent"):
		return "ServeContent"
	default:
		return "hash limit"
	}
}

// median picks the round with the median throughput, so a row's figures
// all come from one round.
func median(rs []benchResult) benchResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b benchResult) int {
		switch x, y := a.perSecond(), b.perSecond(); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

func fmtLatency(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fµs", float64(d)/1e3)
}
