package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/postgres"
)

// pgSchemaURL creates an empty schema gh_cli_<random> in the database of
// GATEHOUSE_TEST_DATABASE_URL, drops it with everything in it when the test
// ends, and returns a URL whose search_path is that schema. Without the
// variable the test is skipped loudly: a silent skip would let the CLI's
// PostgreSQL wiring break unnoticed.
func pgSchemaURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("GATEHOUSE_TEST_DATABASE_URL")
	if base == "" {
		tb.Skip("GATEHOUSE_TEST_DATABASE_URL is unset: PostgreSQL CLI test SKIPPED; CI sets it " +
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "gh_cli_" + hex.EncodeToString(b)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx := context.Background() // the test's context is done by now
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("GATEHOUSE_TEST_DATABASE_URL must be a postgres:// URL (err %v)", err)
	}
	q := u.Query() // keeps sslmode and the rest
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openPostgres opens and migrates the store at dbURL and closes it when the
// test ends.
func openPostgres(tb testing.TB, dbURL string) gatehouse.Store {
	tb.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

// noSQLite fails the test if a SQLite database appeared in dir: with a
// database URL set, nothing may be written there.
func noSQLite(tb testing.TB, dir string) {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(dir, "gatehouse.db")); !errors.Is(err, os.ErrNotExist) {
		tb.Errorf("a SQLite database appeared although a PostgreSQL URL was set (stat: %v)", err)
	}
}

func TestPostgres(t *testing.T) {
	t.Run("admin", func(t *testing.T) {
		t.Parallel()
		dbURL := pgSchemaURL(t)
		env, dir := newEnv(t)
		env["GATEHOUSE_DATABASE_URL"] = dbURL
		testAdmin(t, env, func(tb testing.TB) gatehouse.Store { return openPostgres(tb, dbURL) })
		noSQLite(t, dir)
	})
	t.Run("serve demo", func(t *testing.T) {
		t.Parallel()
		dbURL := pgSchemaURL(t)
		env, dir := newEnv(t)
		env["GATEHOUSE_DATABASE_URL"] = dbURL
		testServeDemo(t, env, func(tb testing.TB) gatehouse.Store { return openPostgres(tb, dbURL) })
		noSQLite(t, dir)
	})
	t.Run("flag beats environment", func(t *testing.T) {
		t.Parallel()
		dbURL := pgSchemaURL(t)
		env, dir := newEnv(t)
		env["GATEHOUSE_DATABASE_URL"] = "postgres://nobody:hunter2@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2"
		r := mustRun(t, env, "workspace", "create", "--database-url", dbURL, "--slug", "acme", "--name", "Acme",
			"--plan", "pro", "--owner-email", "o@acme.test", "--owner-password", goodPassword)
		if !strings.Contains(r.stdout, `created workspace "acme"`) {
			t.Errorf("stdout: %v", r)
		}
		s := openPostgres(t, dbURL)
		checkPassword(t, mustUser(t, s, mustWorkspace(t, s, "acme"), "o@acme.test"), goodPassword)
		noSQLite(t, dir)

		// Without the flag the environment's database is used: it is
		// unreachable, which is an error that does not repeat the password.
		r = run(t, env, "migrate")
		if r.code == 0 || !strings.Contains(r.stderr, "gatehouse migrate: ") || r.stdout != "" {
			t.Errorf("migrate against an unreachable database: %v", r)
		}
		if strings.Contains(r.stderr, "hunter2") {
			t.Errorf("the error shows the database password: %v", r)
		}
	})
	t.Run("common owner password leaves no workspace", func(t *testing.T) {
		t.Parallel()
		dbURL := pgSchemaURL(t)
		env, _ := newEnv(t)
		env["GATEHOUSE_DATABASE_URL"] = dbURL
		r := run(t, env, "workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro",
			"--owner-email", "o@beta.test", "--owner-password", "password123")
		if r.code == 0 || !strings.Contains(r.stderr, "too common") || r.stdout != "" {
			t.Errorf("common password: %v", r)
		}
		noWorkspace(t, openPostgres(t, dbURL), "beta")
	})
}
