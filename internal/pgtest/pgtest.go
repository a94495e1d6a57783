// Package pgtest gives a test a PostgreSQL database of its own: a fresh
// schema of the database GATEHOUSE_TEST_DATABASE_URL names. Only tests
// import it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Schema creates an empty schema gh_test_<random>, drops it with everything
// in it when tb ends, and returns a connection string whose search_path is
// that schema. Without GATEHOUSE_TEST_DATABASE_URL the test is skipped
// loudly: a silent skip would let a broken PostgreSQL path pass unnoticed.
func Schema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("GATEHOUSE_TEST_DATABASE_URL")
	if base == "" {
		tb.Skip("GATEHOUSE_TEST_DATABASE_URL is unset: PostgreSQL test SKIPPED; CI sets it " +
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "gh_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to test database: %v", err)
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
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse GATEHOUSE_TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
