package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/portal"
)

// TestClientCommands: client create prints the new client's ID; user create
// --client puts a client user in it, without --client a client of their
// own; a wrong ID is refused and leaves no user.
func TestClientCommands(t *testing.T) {
	env, dataDir := newEnv(t)
	mustRun(t, env, "workspace", "create", "--slug", "acme", "--name", "Acme", "--plan", "pro", "--owner-email", "o@acme.test", "--owner-password", goodPassword)
	r := mustRun(t, env, "client", "create", "--workspace", "acme", "--name", "Harbor Dental")
	id, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	if err != nil {
		t.Fatalf("client create printed %q, want an ID", r.stdout)
	}
	mustRun(t, env, "user", "create", "--workspace", "acme", "--email", "a@acme.test", "--role", "client", "--password", goodPassword, "--client", strconv.FormatInt(id, 10))
	mustRun(t, env, "user", "create", "--workspace", "acme", "--email", "solo@acme.test", "--role", "client", "--name", "Sam Solo", "--password", goodPassword)
	if r := run(t, env, "user", "create", "--workspace", "acme", "--email", "x@acme.test", "--role", "client", "--client", "999"); r.code == 0 {
		t.Fatalf("a client ID that does not exist was accepted: %v", r)
	}
	if r := run(t, env, "user", "create", "--workspace", "acme", "--email", "m@acme.test", "--role", "member", "--client", strconv.FormatInt(id, 10)); r.code == 0 {
		t.Fatalf("--client for a member was accepted: %v", r)
	}
	if r := run(t, env, "client", "create", "--workspace", "acme", "--name", "  "); r.code == 0 {
		t.Fatalf("a blank client name was accepted: %v", r)
	}

	db := openSQLite(t, dataDir)
	ps := db.(portal.Store)
	ws := mustWorkspace(t, db, "acme")
	ctx := context.Background()
	for email, want := range map[string]string{"a@acme.test": "Harbor Dental", "solo@acme.test": "Sam Solo"} {
		u, err := db.FindUserByEmail(ctx, ws.ID, email)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ps.FindClient(ctx, ws.ID, u.ClientID)
		if err != nil || c.Name != want {
			t.Fatalf("%s belongs to %+v (%v), want %q", email, c, err, want)
		}
	}
	for _, email := range []string{"x@acme.test", "m@acme.test"} {
		if _, err := db.FindUserByEmail(ctx, ws.ID, email); err == nil {
			t.Fatalf("refused user create left %s behind", email)
		}
	}
}
