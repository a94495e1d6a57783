package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mail"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/password"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/postgres"
	"github.com/gatehouse-dev/gatehouse/sqlite"
	"github.com/gatehouse-dev/gatehouse/twilio"
)

// Defaults of SPEC §12.
const (
	defaultAddr    = "localhost:8080"
	defaultBaseURL = "http://localhost:8080"
	defaultDataDir = "./gatehouse-data"
)

// config is what every command may read: flags first, then GATEHOUSE_*.
type config struct {
	DataDir     string
	DatabaseURL string
	BaseURL     string
}

// flagSet returns a flag set whose -h prints the command's usage, with the
// storage flags every command honours.
func (m Main) flagSet(name, synopsis string, c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("gatehouse "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gatehouse %s %s\n\nFlags (each also read from its GATEHOUSE_* variable):\n", name, synopsis)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.DataDir, "data-dir", m.env("GATEHOUSE_DATA_DIR", defaultDataDir), "directory of the SQLite database and key file (GATEHOUSE_DATA_DIR)")
	c.DatabaseURL = m.env("GATEHOUSE_DATABASE_URL", "")
	fs.Var(secretFlag{&c.DatabaseURL}, "database-url", "PostgreSQL `URL` (postgres://...) to use instead of SQLite (GATEHOUSE_DATABASE_URL)")
	fs.StringVar(&c.BaseURL, "base-url", m.env("GATEHOUSE_BASE_URL", defaultBaseURL), "public URL; workspaces live at {scheme}://{slug}.{host} (GATEHOUSE_BASE_URL)")
	return fs
}

// parse parses args, turning -h into flag.ErrHelp (exit 0) and bad flags or
// stray arguments into errUsage (exit 2, already explained).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// secretFlag is a string flag that may carry a password (a database or SMTP
// URL). Its default comes from the environment, and package flag prints
// defaults in --help and after every mistyped flag, so String shows the value
// with its password redacted: the password must not reach a terminal or a CI
// log just because someone asked for help.
type secretFlag struct{ v *string }

func (f secretFlag) String() string {
	if f.v == nil || *f.v == "" {
		return ""
	}
	u, err := url.Parse(*f.v)
	if err != nil {
		return "(set; not shown)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func (f secretFlag) Set(s string) error {
	*f.v = s
	return nil
}

// required reports a missing flag.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if strings.TrimSpace(fs.Lookup(n).Value.String()) == "" {
			return fmt.Errorf("--%s is required (see --help)", n)
		}
	}
	return nil
}

func (m Main) env(name, def string) string {
	if v := m.Getenv(name); v != "" {
		return v
	}
	return def
}

func (m Main) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// database is everything a Gatehouse database keeps. Only the wiring sees
// it whole: each service takes the narrow Store of its own package.
type database interface {
	gatehouse.Store
	mfa.Store
	portal.Store
	gatehouse.SealedStore
}

// openStore opens and migrates PostgreSQL when a URL is set, else SQLite in
// the data dir.
func openStore(ctx context.Context, c config) (database, error) {
	var (
		s   database
		err error
	)
	if c.DatabaseURL != "" {
		if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
			return nil, fmt.Errorf("database URL must start with postgres://")
		}
		s, err = postgres.Open(ctx, c.DatabaseURL)
	} else {
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		s, err = sqlite.Open(filepath.Join(c.DataDir, "gatehouse.db"))
	}
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// app is the wired domain: store, outbox, account, 2FA and portal services.
type app struct {
	store    database
	portal   *portal.Service
	outbox   *mail.Outbox
	accounts *account.Service
	mfa      *mfa.Service
}

func (m Main) newApp(ctx context.Context, c config, sender mail.Sender, log *slog.Logger) (*app, error) {
	// Workspaces are served at the root of their own host, so a base URL
	// with a path (or user, query, fragment) cannot be honoured: refuse it
	// rather than print links that lead nowhere.
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host[:port]", c.BaseURL)
	}
	scheme, host := u.Scheme, strings.ToLower(u.Host)
	store, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	keys, err := m.loadKeys(ctx, c, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	now := func() time.Time { return time.Now().UTC() }
	// Texts go out through each workspace's own Twilio account; the API base
	// can point at any Twilio-compatible server (tests, gateways).
	sms := &twilio.Sender{
		Workspaces: store, Keys: keys, Validity: mfa.CodeTTL, Now: now,
		Client: &twilio.Client{APIBase: m.env("GATEHOUSE_TWILIO_API_BASE", twilio.DefaultAPIBase)},
	}
	// E-mail carries its workspace's branding, read from the store as
	// each message is sent (SPEC §16).
	if smtp, ok := sender.(*mail.SMTP); ok {
		smtp.Brands = store
	}
	outbox := &mail.Outbox{Store: store, Sender: sender, SMS: sms, Logger: log}
	accounts := &account.Service{
		Store: store, Hasher: password.NewHasher(password.DefaultParams, 0), Mailer: outbox, Jobs: outbox,
		WorkspaceURL: func(slug string) string { return scheme + "://" + slug + "." + host },
		Now:          now,
		Logger:       log,
	}
	// The forms that answer alike for members and strangers leave their
	// work to the outbox worker, which hands it back to the account service.
	outbox.Jobs = accounts
	return &app{
		portal: &portal.Service{
			Store: store, Users: store, Audit: store, Mailer: outbox, Keys: keys, Now: now,
			Sniff: http.DetectContentType, WorkspaceURL: accounts.WorkspaceURL, Logger: log,
		},
		mfa:      &mfa.Service{Store: store, Keys: keys, Mailer: outbox, Queue: outbox, Now: now, Logger: log},
		store:    store,
		outbox:   outbox,
		accounts: accounts,
	}, nil
}

// findWorkspace looks up --workspace with a clear error.
func findWorkspace(ctx context.Context, s gatehouse.Store, slug string) (*gatehouse.Workspace, error) {
	w, err := s.FindWorkspaceBySlug(ctx, slug)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, fmt.Errorf("no workspace %q", slug)
	}
	return w, err
}
