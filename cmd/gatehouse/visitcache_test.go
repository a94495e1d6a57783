package main

import (
	"net/http"
	"testing"
)

// TestServeSeesCLIWrites checks that a CLI command changing what the gate
// reads applies to the running server's very next request, although the
// server keeps signed-in visits in memory (sqlite's visit cache): the CLI
// is another connection, and its commit changes the data version the
// server checks on every request.
func TestServeSeesCLIWrites(t *testing.T) {
	env, _ := newEnv(t)
	srv := startServe(t, env, "--demo", "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	password := srv.waitStdout(t, clientLoginRE)[1]
	c := testClient(t, srv.addr)
	if resp := login(t, c, "client@demo.localhost", password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	portal := "http://demo.gatehouse.test/portal"
	for range 3 { // the later ones come from memory
		wantStatus(t, c, portal, http.StatusOK)
	}

	// Two-step verification required: the client, who has no method, must
	// enroll before reaching the portal.
	mustRun(t, env, "workspace", "set-mfa", "--workspace", "demo", "--mode", "required")
	resp, _ := get(t, c, portal)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after set-mfa --mode required, GET /portal = %d, want 303 to enrollment", resp.StatusCode)
	}

	// A downgrade pauses enforcement at once.
	mustRun(t, env, "workspace", "set-plan", "--workspace", "demo", "--plan", "starter")
	wantStatus(t, c, portal, http.StatusOK)
}
