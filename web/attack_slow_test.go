package web_test

// Attack class: slow and oversized requests. Bodies over 1 MiB are refused
// (declared or streamed), upload forms have their own limit, and a form
// field cannot make the server hold more than it needs. The server's
// header timeout and header size limit are tested on the real server in
// cmd/gatehouse/attack_slow_test.go; TestSlowUpload, TestUploadTooLarge
// and TestUploadCutOff (portal_test.go) cover slow and cut-off uploads,
// TestHardening a declared oversized login form.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/web"
)

// TestDeclaredOversizedBody: a request that declares a body over 1 MiB is
// refused with 413 from its headers alone (SPEC §10), before any handler:
// the body is never waited for, and a handler that does not read its body
// (logout) cannot answer as if nothing were wrong.
func TestDeclaredOversizedBody(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	for _, path := range []string{"/logout", "/login", "/password/forgot"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A test's own timeout: without the guard /login would wait for
			// a body that never comes.
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: acme.gatehouse.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nemail=a",
				path, web.MaxBodyBytes+1)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413", res.StatusCode)
			}
		})
	}
}

// TestAttackOversizedStreamedBody: a body without a declared length that
// runs past 1 MiB is cut at the limit and refused, on a form route and on
// the JSON API alike, and a form with a hundred thousand fields under the
// limit is an ordinary form (refused or not, never a server error).
func TestAttackOversizedStreamedBody(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	for _, path := range []string{"/login", "/password/forgot", "/dashboard/clients", "/account/security/password"} {
		t.Run(path, func(t *testing.T) {
			body := io.MultiReader(strings.NewReader("name="), strings.NewReader(strings.Repeat("a", 2<<20))) // no length: sent chunked
			req, _ := http.NewRequest("POST", wsURL("acme", path), body)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			wantStatus(t, "streamed 2 MiB", b.do(req), http.StatusRequestEntityTooLarge)
		})
	}
	many := strings.Repeat("x=1&", 100_000)
	req, _ := http.NewRequest("POST", wsURL("acme", "/dashboard/clients"), strings.NewReader(many+"name=Many"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res := b.do(req); res.StatusCode >= 500 {
		t.Fatalf("100,000 fields: %d", res.StatusCode)
	}
	wantStatus(t, "still signed in", b.get(wsURL("acme", "/dashboard")), http.StatusOK)
}

// TestAttackOversizedUploadFields: an upload form's text fields are read
// to 16 KiB at most, so a 900 KiB title (under the upload limit) does not
// become a 900 KiB title, and a part without a name is no file.
func TestAttackOversizedUploadFields(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	res := b.upload(wsURL("acme", "/portal/documents"), url.Values{"title": {strings.Repeat("t", 900<<10)}, "note": {strings.Repeat("n", 900<<10)}},
		file{"a.pdf", []byte("%PDF-1.4 a")})
	if res.StatusCode >= 500 {
		t.Fatalf("huge fields: %d", res.StatusCode)
	}
	ds, err := e.store.ListDocuments(t.Context(), f.ws.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if len(d.Title) > 16<<10 || len(d.Note) > 16<<10 {
			t.Errorf("stored a title of %d bytes and a note of %d", len(d.Title), len(d.Note))
		}
	}
}
