package main

import (
	"os"
	"strings"
	"testing"
)

// TestBench runs the load command briefly, on SQLite and (when the test
// database is set) PostgreSQL, so that it cannot rot: every row must answer
// as expected (the command fails on any unexpected status) and print.
func TestBench(t *testing.T) {
	args := []string{"bench", "--rounds", "2", "--requests", "60", "--duration", "10s",
		"--connections", "4", "--signins", "2", "--signin-connections", "2", "--document-mb", "1", "--big-document-mb", "2"}
	stores := []string{"SQLite"}
	if testing.Short() {
		t.Skip("bench is not short")
	}
	env := map[string]string{}
	// The command makes (and drops) a schema of its own in this database.
	if u := os.Getenv("GATEHOUSE_TEST_DATABASE_URL"); u != "" {
		args = append(args, "--database-url", u)
		stores = append(stores, "PostgreSQL")
	} else {
		t.Log("GATEHOUSE_TEST_DATABASE_URL is unset: the PostgreSQL rows are SKIPPED")
	}
	r := mustRun(t, env, args...)
	for _, want := range []string{"bare net/http, the /portal bytes", "bare http.ServeContent", "argon2id hash limit", "bare http.ServeContent, a 1 MB file"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, s := range stores {
		for _, row := range []string{"/portal, ", "/api/v1/me, ", "document download, ", "password sign-in, ", "1 MB document download, "} {
			if !strings.Contains(r.stdout, row+s) {
				t.Errorf("output lacks row %q:\n%s", row+s, r.stdout)
			}
		}
		// The memory check ran the server in its own process and read
		// its peak resident memory.
		if !strings.Contains(r.stdout, "2 MB document, "+s+", server in its own process") {
			t.Errorf("output lacks the memory check on %s:\n%s", s, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "× bare") || !strings.Contains(r.stdout, "× hash limit") || !strings.Contains(r.stdout, "× ServeContent") {
		t.Errorf("output lacks the ratios:\n%s", r.stdout)
	}
	t.Logf("\n%s", r.stdout)
}
