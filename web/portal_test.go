package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// file is one file of an upload form.
type file struct {
	name string
	data []byte
}

// multipartBody builds an upload form: the fields first, then the files.
func multipartBody(tb testing.TB, fields url.Values, files ...file) (string, []byte) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f.name)
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(f.data)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func (b *browser) upload(rawURL string, fields url.Values, files ...file) response {
	b.tb.Helper()
	ct, body := multipartBody(b.tb, fields, files...)
	req, err := http.NewRequest("POST", rawURL, bytes.NewReader(body))
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	return b.do(req)
}

// portalFixture is a workspace "acme" with an owner, two clients (Alpha,
// with client@example.com, and Bravo, with bravo@example.com) and a
// workspace "other" with a client of its own.
type portalFixture struct {
	e            *env
	ws, other    *gatehouse.Workspace
	alpha, bravo *portal.Client
	theirs       *portal.Client
}

func newPortalFixture(t testing.TB, e *env) *portalFixture {
	t.Helper()
	ctx := context.Background()
	f := &portalFixture{e: e, ws: e.workspace("acme"), other: e.workspace("other")}
	owner, err := e.store.FindUserByEmail(ctx, f.ws.ID, "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	staff := portal.Viewer{WorkspaceID: f.ws.ID, UserID: owner.ID, Role: gatehouse.RoleOwner}
	f.alpha, _ = e.portal.CreateClient(ctx, staff, "Alpha", "")
	f.bravo, _ = e.portal.CreateClient(ctx, staff, "Bravo", "")
	f.assign(t, f.ws, "client@example.com", f.alpha.ID)
	e.user(f.ws, "bravo@example.com", gatehouse.RoleClient)
	f.assign(t, f.ws, "bravo@example.com", f.bravo.ID)
	otherOwner, _ := e.store.FindUserByEmail(ctx, f.other.ID, "owner@example.com")
	f.theirs, _ = e.portal.CreateClient(ctx, portal.Viewer{WorkspaceID: f.other.ID, UserID: otherOwner.ID, Role: gatehouse.RoleOwner}, "Theirs", "")
	f.assign(t, f.other, "client@example.com", f.theirs.ID)
	return f
}

func (f *portalFixture) assign(t testing.TB, ws *gatehouse.Workspace, email string, clientID int64) {
	t.Helper()
	u, err := f.e.store.FindUserByEmail(context.Background(), ws.ID, email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.portal.AssignClient(context.Background(), ws.ID, u, clientID); err != nil {
		t.Fatal(err)
	}
}

var docLinkRE = regexp.MustCompile(`<a class="document-link" href="/documents/(\d+)">`)

func docIDs(body string) []string {
	var ids []string
	for _, m := range docLinkRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// noPendingUploads reports whether no unfinished upload is left (rows or
// chunks): sweeping everything unfinished finds nothing.
func (e *env) noPendingUploads() bool {
	n, err := e.store.DeleteStaleUploads(context.Background(), e.clock.Now().AddDate(100, 0, 0))
	if err != nil {
		e.tb.Fatal(err)
	}
	return n == 0
}

func (e *env) documentCount(wsID int64) int {
	ds, err := e.store.ListDocuments(context.Background(), wsID, 0, 0)
	if err != nil {
		e.tb.Fatal(err)
	}
	return len(ds)
}

// TestPortalIsolation: a client never reaches another client's or another
// workspace's documents, requests or messages, by listing, by ID or by API.
func TestPortalIsolation(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvOn(t, b)
			f := newPortalFixture(t, e)
			owner := e.browser()
			owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
			res := owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)),
				url.Values{"title": {"Alpha contract"}}, file{"contract.pdf", []byte("%PDF-1.4 alpha")})
			wantStatus(t, "staff upload", res, http.StatusSeeOther)
			wantStatus(t, "ask", owner.post(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/requests", f.alpha.ID)),
				url.Values{"title": {"Alpha passport"}}), http.StatusSeeOther)
			wantStatus(t, "message", owner.post(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/messages", f.alpha.ID)),
				url.Values{"body": {"Alpha private note"}}), http.StatusSeeOther)
			ids := docIDs(owner.get(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID))).body)
			if len(ids) != 1 {
				t.Fatalf("client space lists %v", ids)
			}
			doc := "/documents/" + ids[0]

			alpha := e.browser()
			alpha.login("acme", "client@example.com", goodPassword, "/portal")
			home := alpha.get(wsURL("acme", "/portal"))
			wantStatus(t, "alpha home", home, http.StatusOK)
			for _, s := range []string{"Alpha contract", "Alpha passport", "Alpha private note"} {
				wantBody(t, "alpha home", home, s)
			}
			wantStatus(t, "alpha downloads", alpha.get(wsURL("acme", doc)), http.StatusOK)

			bravo := e.browser()
			bravo.login("acme", "bravo@example.com", goodPassword, "/portal")
			for _, p := range []string{"/portal", "/portal/documents", "/portal/messages"} {
				res := bravo.get(wsURL("acme", p))
				wantStatus(t, "bravo "+p, res, http.StatusOK)
				for _, s := range []string{"Alpha contract", "Alpha passport", "Alpha private note", doc} {
					if strings.Contains(res.body, s) {
						t.Fatalf("bravo's %s shows %q", p, s)
					}
				}
			}
			res = bravo.get(wsURL("acme", doc))
			wantStatus(t, "bravo downloads alpha's document", res, http.StatusNotFound)
			missing := bravo.get(wsURL("acme", "/documents/999999"))
			if missing.StatusCode != http.StatusNotFound || missing.body != res.body {
				t.Fatal("another client's document does not answer exactly as a missing one")
			}
			wantStatus(t, "bravo in the dashboard", bravo.get(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID))), http.StatusForbidden)
			wantStatus(t, "bravo deletes", bravo.post(wsURL("acme", doc+"/delete"), nil), http.StatusNotFound)
			res = bravo.upload(wsURL("acme", "/portal/documents"), url.Values{"request": {"1"}}, file{"x.pdf", []byte("%PDF-")})
			wantStatus(t, "bravo fulfils alpha's request", res, http.StatusNotFound)
			var list struct {
				Documents []struct {
					ID int64 `json:"id"`
				} `json:"documents"`
			}
			res = bravo.get(wsURL("acme", "/api/v1/documents"))
			wantStatus(t, "bravo api", res, http.StatusOK)
			if err := json.Unmarshal([]byte(res.body), &list); err != nil || len(list.Documents) != 0 {
				t.Fatalf("bravo's API lists %s (%v)", res.body, err)
			}
			res = alpha.get(wsURL("acme", "/api/v1/documents"))
			if err := json.Unmarshal([]byte(res.body), &list); err != nil || len(list.Documents) != 1 || fmt.Sprint(list.Documents[0].ID) != ids[0] {
				t.Fatalf("alpha's API lists %s (%v)", res.body, err)
			}

			// The same e-mail in another workspace is another account, whose
			// client space is another; the ID finds nothing there.
			stranger := e.browser()
			stranger.login("other", "client@example.com", goodPassword, "/portal")
			wantStatus(t, "other workspace downloads by ID", stranger.get(wsURL("other", doc)), http.StatusNotFound)
			otherOwner := e.browser()
			otherOwner.login("other", "owner@example.com", goodPassword, "/dashboard")
			wantStatus(t, "other workspace's staff by ID", otherOwner.get(wsURL("other", doc)), http.StatusNotFound)
			wantStatus(t, "other workspace's staff, client by ID", otherOwner.get(wsURL("other", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID))), http.StatusNotFound)
			if res := otherOwner.get(wsURL("other", "/api/v1/documents")); strings.Contains(res.body, `"id"`) {
				t.Fatalf("other workspace's API lists %s", res.body)
			}
			// The API's own rules hold.
			if res := e.browser().get(wsURL("acme", "/api/v1/documents")); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("anonymous API: %d", res.StatusCode)
			}
		})
	}
}

// TestDownloadHeaders: downloads are attachments with a safe name, an
// inert type, nosniff, no caching, an ETag and ranges; HTML and SVG are
// never served inline.
func TestDownloadHeaders(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	pdf := append([]byte("%PDF-1.4\n"), make([]byte, 200_000)...)
	rand.Read(pdf[9:])
	res := owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)), nil,
		file{"report \"Q3\".pdf", pdf},
		file{"page.html", []byte("<html><script>alert(1)</script></html>")},
		file{"logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`)},
		file{"naïve résumé.txt", []byte("hello")})
	wantStatus(t, "upload four", res, http.StatusSeeOther)
	ids := docIDs(owner.get(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID))).body)
	if len(ids) != 4 {
		t.Fatalf("%d documents listed, want 4", len(ids))
	}
	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	byName := map[string]response{}
	for _, id := range ids {
		res := client.get(wsURL("acme", "/documents/"+id))
		wantStatus(t, "download "+id, res, http.StatusOK)
		byName[res.Header.Get("Content-Disposition")] = res
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", id, h, got, want)
			}
		}
		if !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
			t.Errorf("%s is not an attachment: %q", id, res.Header.Get("Content-Disposition"))
		}
	}
	for disp, res := range byName {
		ct := res.Header.Get("Content-Type")
		switch {
		case strings.Contains(disp, "page.html"), strings.Contains(disp, "logo.svg"):
			if ct != "application/octet-stream" {
				t.Errorf("%s served as %q", disp, ct)
			}
		case strings.Contains(disp, ".pdf"):
			if ct != "application/pdf" || res.body != string(pdf) {
				t.Errorf("pdf served as %q, %d bytes", ct, len(res.body))
			}
			if strings.Count(disp, `"`) != 2 {
				t.Errorf("quote in the file name leaks into the header: %s", disp)
			}
			// Range and conditional requests.
			etag, path := res.Header.Get("ETag"), res.Request.URL.Path
			req, _ := http.NewRequest("GET", wsURL("acme", path), nil)
			req.Header.Set("Range", "bytes=65530-65545")
			rr := client.do(req)
			if rr.StatusCode != http.StatusPartialContent || rr.body != string(pdf[65530:65546]) {
				t.Errorf("range across a chunk boundary: %d, %d bytes", rr.StatusCode, len(rr.body))
			}
			req, _ = http.NewRequest("GET", wsURL("acme", path), nil)
			req.Header.Set("If-None-Match", etag)
			if rr := client.do(req); rr.StatusCode != http.StatusNotModified || etag == "" {
				t.Errorf("If-None-Match %q: %d", etag, rr.StatusCode)
			}
		case strings.Contains(disp, "filename*="):
			if ct != "text/plain; charset=utf-8" || !strings.Contains(disp, "na%C3%AFve") {
				t.Errorf("non-ASCII name: %q as %q", disp, ct)
			}
		default:
			t.Errorf("unexpected download %q", disp)
		}
	}
}

// TestUploadTooLarge: a 2 MiB file under a 1 MiB limit gets the 413 page
// and leaves nothing, whether the size was declared or streamed.
func TestUploadTooLarge(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvWith(t, b, func(e *env) { e.maxUpload = 1 << 20 })
			f := newPortalFixture(t, e)
			client := e.browser()
			client.login("acme", "client@example.com", goodPassword, "/portal")
			big := make([]byte, 2<<20)
			for _, declared := range []bool{true, false} {
				ct, body := multipartBody(t, nil, file{"big.bin", big})
				var rd io.Reader = bytes.NewReader(body)
				if !declared {
					rd = io.MultiReader(rd) // hides the length: sent chunked
				}
				req, _ := http.NewRequest("POST", wsURL("acme", "/portal/documents"), rd)
				req.Header.Set("Content-Type", ct)
				res := client.do(req)
				wantStatus(t, fmt.Sprintf("2 MiB (declared %v)", declared), res, http.StatusRequestEntityTooLarge)
				wantBody(t, "413 page", res, "larger than the 1 MB limit")
			}
			if n := e.documentCount(f.ws.ID); n != 0 || !e.noPendingUploads() {
				t.Fatalf("%d documents (or unfinished uploads) left after refused uploads", n)
			}
			// Every other route keeps the 1 MiB limit.
			res := client.post(wsURL("acme", "/portal/messages"), url.Values{"body": {strings.Repeat("x", 1<<20)}})
			wantStatus(t, "1 MiB message form", res, http.StatusRequestEntityTooLarge)
			// Under the limit, fine.
			res = client.upload(wsURL("acme", "/portal/documents"), nil, file{"ok.bin", make([]byte, 900<<10)})
			wantStatus(t, "900 KiB upload", res, http.StatusSeeOther)
		})
	}
}

// TestUploadCutOff: a client that goes away mid-upload leaves nothing
// behind, not even the chunks already written.
func TestUploadCutOff(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvOn(t, b)
			f := newPortalFixture(t, e)
			client := e.browser()
			client.login("acme", "client@example.com", goodPassword, "/portal")
			ct, body := multipartBody(t, nil, file{"big.bin", make([]byte, 4<<20)})
			conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /portal/documents HTTP/1.1\r\nHost: acme.gatehouse.test\r\nContent-Type: %s\r\n"+
				"Content-Length: %d\r\nCookie: gatehouse_session=%s\r\n\r\n", ct, len(body), client.cookie("acme"))
			conn.Write(body[:3<<20])
			// The first chunks reach the store...
			pollUntil(t, "the first chunk stored", func() bool {
				_, err := e.store.DocumentChunk(context.Background(), f.ws.ID, 1, 0)
				return err == nil
			})
			// ...and go when the client does.
			conn.Close()
			pollUntil(t, "the cut upload discarded", func() bool {
				_, err := e.store.DocumentChunk(context.Background(), f.ws.ID, 1, 0)
				return errors.Is(err, gatehouse.ErrNotFound)
			})
			if n := e.documentCount(f.ws.ID); n != 0 || !e.noPendingUploads() {
				t.Fatalf("%d documents (or unfinished uploads) left after a cut upload", n)
			}
		})
	}
}

// TestSlowUpload: an upload slower than the server's read timeout
// finishes; the deadline is extended for upload routes only.
func TestSlowUpload(t *testing.T) {
	e := newEnvWith(t, sqliteBackend, func(e *env) { e.readTimeout = 300 * time.Millisecond })
	newPortalFixture(t, e)
	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	ct, body := multipartBody(t, nil, file{"slow.bin", make([]byte, 200<<10)})
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < len(body); i += len(body) / 8 {
			pw.Write(body[i:min(i+len(body)/8, len(body))])
			time.Sleep(100 * time.Millisecond) // 800 ms in all, over the 300 ms read timeout
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", wsURL("acme", "/portal/documents"), pr)
	req.Header.Set("Content-Type", ct)
	req.ContentLength = int64(len(body))
	wantStatus(t, "slow upload", client.do(req), http.StatusSeeOther)
}

// TestSensitiveDocument: a sensitive document asks for a fresh second
// factor even on a trusted device, then starts the download.
func TestSensitiveDocument(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnvOn(t, b)
			f := newPortalFixture(t, e)
			e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
			doc := f.uploadSensitive(t)

			client := e.browser()
			client.login("acme", "client@example.com", goodPassword, "/portal")
			secret, _ := client.enrollTOTP("acme")
			wantStatus(t, "sign out", client.post(wsURL("acme", "/logout"), nil), http.StatusSeeOther)
			client.login("acme", "client@example.com", goodPassword, "/login/verify")
			client.verifyRemembering("acme", secret)
			wantStatus(t, "sign out", client.post(wsURL("acme", "/logout"), nil), http.StatusSeeOther)
			// The trusted device skips the challenge at sign-in...
			client.login("acme", "client@example.com", goodPassword, "/portal")
			// ...but not the sensitive document.
			res := client.get(wsURL("acme", doc))
			if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security/reauth?next="+doc {
				t.Fatalf("sensitive download on a trusted device: %d %q", res.StatusCode, res.location())
			}
			page := client.get(wsURL("acme", res.location()))
			wantBody(t, "reauth page", page, `name="next" value="`+doc+`"`)
			res = client.post(wsURL("acme", "/account/security/reauth"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}, "next": {doc}})
			if res.StatusCode != http.StatusSeeOther || res.location() != doc {
				t.Fatalf("reauth: %d %q", res.StatusCode, res.location())
			}
			res = client.get(wsURL("acme", doc))
			if res.StatusCode != http.StatusOK || res.body != "%PDF-1.4 private" {
				t.Fatalf("download after reauth: %d", res.StatusCode)
			}
			// Ten minutes later it asks again.
			e.clock.Advance(11 * time.Minute)
			if res := client.get(wsURL("acme", doc)); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("11 minutes later: %d", res.StatusCode)
			}
			// While 2-step is paused by the plan, the password confirms.
			e.setMFA("acme", gatehouse.PlanStarter, gatehouse.MFAOptional)
			res = client.get(wsURL("acme", doc))
			wantStatus(t, "paused, old check", res, http.StatusSeeOther)
			wantBody(t, "password while paused", client.get(wsURL("acme", res.location())), `type="password"`)
			res = client.post(wsURL("acme", "/account/security/reauth"), url.Values{"password": {goodPassword}, "next": {doc}})
			if res.location() != doc {
				t.Fatalf("password reauth while paused went to %q", res.location())
			}
			wantStatus(t, "download while paused", client.get(wsURL("acme", doc)), http.StatusOK)
			e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
			// A user without a method confirms with the password.
			bravoStaff := e.browser()
			e.user(f.ws, "member@example.com", gatehouse.RoleMember)
			bravoStaff.login("acme", "member@example.com", goodPassword, "/dashboard")
			e.clock.Advance(11 * time.Minute)
			res = bravoStaff.get(wsURL("acme", doc))
			wantStatus(t, "member, old sign-in", res, http.StatusSeeOther)
			wantBody(t, "password reauth", bravoStaff.get(wsURL("acme", res.location())), `type="password"`)
			res = bravoStaff.post(wsURL("acme", "/account/security/reauth"), url.Values{"password": {goodPassword}, "next": {doc}})
			if res.location() != doc {
				t.Fatalf("password reauth went to %q", res.location())
			}
			wantStatus(t, "member downloads", bravoStaff.get(wsURL("acme", doc)), http.StatusOK)
		})
	}
}

// TestMessagesAndNotifications: messages are escaped with their line
// breaks kept; notification e-mails carry neither a message's text nor a
// file name; a user can turn them off.
func TestMessagesAndNotifications(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	body := "<script>alert('x')</script>\nSecond line with the account number 123456"
	wantStatus(t, "post", owner.post(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/messages", f.alpha.ID)), url.Values{"body": {body}}), http.StatusSeeOther)
	res := owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)),
		url.Values{"title": {"Divorce settlement"}}, file{"divorce-settlement.pdf", []byte("%PDF-")})
	wantStatus(t, "upload", res, http.StatusSeeOther)
	wantStatus(t, "ask", owner.post(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/requests", f.alpha.ID)),
		url.Values{"title": {"Tax return 2038"}, "due": {"2039-06-01"}}), http.StatusSeeOther)

	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	page := client.get(wsURL("acme", "/portal/messages"))
	wantBody(t, "escaped", page, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\nSecond line")
	if strings.Contains(page.body, "<script>alert") {
		t.Fatal("message text rendered as HTML")
	}
	wantBody(t, "unread marker", page, "New</span>")
	if strings.Contains(client.get(wsURL("acme", "/portal/messages")).body, "New</span>") {
		t.Fatal("message still unread after reading")
	}
	home := client.get(wsURL("acme", "/portal"))
	wantBody(t, "overdue request", home, "Overdue")

	if n := e.mailCount("client@example.com"); n < 3 {
		t.Fatalf("%d notifications to the client, want 3", n)
	}
	ms, _ := e.store.ListMessages(context.Background(), 100)
	for _, m := range ms {
		if m.To != "client@example.com" {
			continue
		}
		for _, secret := range []string{"script", "123456", "Second line", "divorce", "Divorce", "Tax return", ".pdf"} {
			if strings.Contains(m.Subject+m.Body, secret) {
				t.Fatalf("notification %q holds %q:\n%s", m.Subject, secret, m.Body)
			}
		}
		if !strings.Contains(m.Body, "http://acme.gatehouse.test/portal") {
			t.Fatalf("notification without a link:\n%s", m.Body)
		}
	}
	// The client answers; staff are told; then the owner turns mail off.
	before := e.mailCount("owner@example.com")
	wantStatus(t, "reply", client.post(wsURL("acme", "/portal/messages"), url.Values{"body": {"Thanks"}}), http.StatusSeeOther)
	if n := e.mailCount("owner@example.com"); n != before+1 {
		t.Fatalf("owner got %d notifications, want %d", n, before+1)
	}
	wantStatus(t, "mail off", owner.post(wsURL("acme", "/account/security/notifications"), url.Values{}), http.StatusSeeOther)
	wantStatus(t, "reply", client.post(wsURL("acme", "/portal/messages"), url.Values{"body": {"Again"}}), http.StatusSeeOther)
	if n := e.mailCount("owner@example.com"); n != before+1 {
		t.Fatalf("owner with mail off got %d notifications, want %d", n, before+1)
	}
	// A message over 10,000 characters is refused.
	res = client.post(wsURL("acme", "/portal/messages"), url.Values{"body": {strings.Repeat("é", 10_001)}})
	wantStatus(t, "long message", res, http.StatusUnprocessableEntity)
}

// TestTwoInstancesServeDocuments: a document uploaded through one
// instance downloads through another on the same PostgreSQL.
func TestTwoInstancesServeDocuments(t *testing.T) {
	e := newEnvOn(t, postgresBackend)
	f := newPortalFixture(t, e)
	second := e.instance()
	data := make([]byte, 300<<10)
	rand.Read(data)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantStatus(t, "upload on A", owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)), nil,
		file{"data.bin", data}), http.StatusSeeOther)
	client := second.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	ids := docIDs(client.get(wsURL("acme", "/portal/documents")).body)
	if len(ids) != 1 {
		t.Fatalf("instance B lists %v", ids)
	}
	res := client.get(wsURL("acme", "/documents/"+ids[0]))
	if res.StatusCode != http.StatusOK || res.body != string(data) {
		t.Fatalf("download on B: %d, %d bytes", res.StatusCode, len(res.body))
	}
}

// tamperStore hands back altered chunks, as if the database had been
// changed underneath.
type tamperStore struct {
	portal.Store
	index int
	swap  []byte
}

func (s *tamperStore) DocumentChunks(ctx context.Context, ws, doc int64, first, n int, fn func(int, []byte) error) error {
	return s.Store.DocumentChunks(ctx, ws, doc, first, n, s.tamper(fn))
}

func (s *tamperStore) tamper(fn func(int, []byte) error) func(int, []byte) error {
	return func(index int, data []byte) error {
		if index == s.index {
			if s.swap != nil {
				data = s.swap
			} else {
				data = bytes.Clone(data)
				data[len(data)-1] ^= 1
			}
		}
		return fn(index, data)
	}
}

// tamperOpener is tamperStore over a store that finds a document and reads
// its first chunks at once.
type tamperOpener struct {
	*tamperStore
	opener portal.DocumentOpener
}

func (s tamperOpener) OpenDocument(ctx context.Context, ws, id int64, n int, check func(*portal.Document) error, fn func(int, []byte) error) error {
	return s.opener.OpenDocument(ctx, ws, id, n, check, s.tamper(fn))
}

// tampering wraps the store in a tamperStore (a tamperOpener when the
// store is a portal.DocumentOpener).
func tampering(orig portal.Store, index int, swap []byte) portal.Store {
	ts := &tamperStore{Store: orig, index: index, swap: swap}
	if o, ok := orig.(portal.DocumentOpener); ok {
		return tamperOpener{ts, o}
	}
	return ts
}

// TestTamperedDownload: an altered or swapped chunk fails the download
// loudly: an error page when the first chunk fails, a broken connection
// when a later one does; never the altered bytes.
func TestTamperedDownload(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { testTamperedDownload(t, be) })
	}
}

func testTamperedDownload(t *testing.T, be backend) {
	e := newEnvOn(t, be)
	f := newPortalFixture(t, e)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	data := make([]byte, 3*portal.ChunkSize)
	rand.Read(data)
	owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)), nil, file{"a.bin", data})
	id := docIDs(owner.get(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID))).body)[0]
	orig := e.portal.Store
	defer func() { e.portal.Store = orig }()

	e.portal.Store = tampering(orig, 0, nil)
	res := owner.get(wsURL("acme", "/documents/"+id))
	wantStatus(t, "first chunk altered", res, http.StatusInternalServerError)
	wantBody(t, "first chunk altered", res, "integrity check")

	second, _ := orig.DocumentChunk(context.Background(), f.ws.ID, mustAtoi(t, id), 1)
	e.portal.Store = tampering(orig, 2, second)
	r, err := owner.client.Get(wsURL("acme", "/documents/"+id))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err == nil {
		t.Fatalf("swapped chunk: download of %d bytes ended cleanly", len(got))
	}
	if bytes.Contains(got, second[12:40]) || len(got) > 2*portal.ChunkSize {
		t.Fatal("bytes past the swapped chunk were sent")
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pollUntil polls cond for up to 10 s. Only for what the server does on
// its own after the client went away (no request to wait on).
func pollUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInviteIntoClient: the invitation's client field puts the new client
// user in that client; empty gives them one of their own; another
// workspace's client is refused before anyone is invited.
func TestInviteIntoClient(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantBody(t, "users page", owner.get(wsURL("acme", "/dashboard/users")), fmt.Sprintf(`<option value="%d">Alpha</option>`, f.alpha.ID))
	res := owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"new@example.com"}, "role": {"client"}, "client": {fmt.Sprint(f.alpha.ID)}})
	wantStatus(t, "invite into alpha", res, http.StatusSeeOther)
	res = owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"solo@example.com"}, "role": {"client"}, "client": {""}})
	wantStatus(t, "invite alone", res, http.StatusSeeOther)
	res = owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"x@example.com"}, "role": {"client"}, "client": {fmt.Sprint(f.theirs.ID)}})
	wantStatus(t, "invite into another workspace's client", res, http.StatusUnprocessableEntity)
	ctx := context.Background()
	if u, err := e.store.FindUserByEmail(ctx, f.ws.ID, "new@example.com"); err != nil || u.ClientID != f.alpha.ID {
		t.Fatalf("new@ belongs to %d (%v), want %d", u.ClientID, err, f.alpha.ID)
	}
	if u, err := e.store.FindUserByEmail(ctx, f.ws.ID, "solo@example.com"); err != nil || u.ClientID == 0 || u.ClientID == f.alpha.ID || u.ClientID == f.bravo.ID {
		t.Fatalf("solo@ belongs to %d (%v), want a new client", u.ClientID, err)
	}
	if _, err := e.store.FindUserByEmail(ctx, f.ws.ID, "x@example.com"); err == nil {
		t.Fatal("a refused invitation made a user")
	}
	wantBody(t, "clients list", owner.get(wsURL("acme", "/dashboard/clients")), "Alpha")
}

// failingSetUserClient is a portal store whose SetUserClient fails once
// fail is set.
type failingSetUserClient struct {
	portal.Store
	fail *atomic.Bool
}

func (s failingSetUserClient) SetUserClient(ctx context.Context, wsID, userID, clientID int64) error {
	if s.fail.Load() {
		return errors.New("injected failure")
	}
	return s.Store.SetUserClient(ctx, wsID, userID, clientID)
}

// TestInviteIntoClientAllOrNothing: an invitation into a client is one
// write: whatever fails, the invitee is either in the chosen client or not
// invited at all, never a client user without the client (who would get a
// client of their own at their first visit).
func TestInviteIntoClientAllOrNothing(t *testing.T) {
	var fail atomic.Bool
	e := newEnvWith(t, sqliteBackend, func(e *env) {
		e.portalStore = func(s portal.Store) portal.Store { return failingSetUserClient{s, &fail} }
	})
	f := newPortalFixture(t, e)
	fail.Store(true)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res := owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"new@example.com"}, "role": {"client"}, "client": {fmt.Sprint(f.alpha.ID)}})
	u, err := e.store.FindUserByEmail(context.Background(), f.ws.ID, "new@example.com")
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		if res.StatusCode == http.StatusSeeOther {
			t.Fatal("the invitation answered 303 but made no user")
		}
	case err != nil:
		t.Fatal(err)
	case u.ClientID != f.alpha.ID:
		t.Fatalf("invitee left in client %d (status %d), want %d or no invitee", u.ClientID, res.StatusCode, f.alpha.ID)
	}
}

// TestPortalAudit: uploads, downloads, deletions, requests and messages
// are audited with actor, client, document and IP; the audit page filters
// by client; the client space shows who downloaded each document.
func TestPortalAudit(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)), nil, file{"a.pdf", []byte("%PDF-")})
	owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.bravo.ID)), nil, file{"b.pdf", []byte("%PDF-")})
	id := docIDs(owner.get(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID))).body)[0]
	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	wantStatus(t, "download", client.get(wsURL("acme", "/documents/"+id)), http.StatusOK)
	client.post(wsURL("acme", "/portal/messages"), url.Values{"body": {"hello"}})
	owner.post(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/requests", f.alpha.ID)), url.Values{"title": {"ID card"}})

	space := owner.get(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID)))
	wantBody(t, "downloads shown", space, "Downloaded 1 time")
	wantBody(t, "who downloaded", space, "client@example.com")

	es, err := e.store.FindAuditEvents(context.Background(), f.ws.ID, gatehouse.AuditFilter{ClientID: f.alpha.ID})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]gatehouse.AuditEvent{}
	for _, ev := range es {
		types[ev.Type] = ev
	}
	for _, typ := range []string{portal.EventUpload, portal.EventDownload, portal.EventMessage, portal.EventRequestCreated} {
		ev, ok := types[typ]
		if !ok || ev.ActorID == 0 || ev.IP == "" || ev.ClientID != f.alpha.ID {
			t.Errorf("%s: %+v", typ, ev)
		}
	}
	if ev := types[portal.EventDownload]; fmt.Sprint(ev.DocumentID) != id {
		t.Errorf("download event names document %d, want %s", ev.DocumentID, id)
	}
	page := owner.get(wsURL("acme", fmt.Sprintf("/dashboard/audit?client=%d", f.bravo.ID)))
	wantStatus(t, "audit by client", page, http.StatusOK)
	if strings.Contains(page.body, portal.EventDownload) || !strings.Contains(page.body, portal.EventUpload) {
		t.Fatalf("bravo's audit shows alpha's events or misses its own:\n%s", page.body)
	}
	// Deleting asks first; the client cannot reach the question.
	wantBody(t, "delete confirmation", owner.get(wsURL("acme", "/documents/"+id+"/delete")), "cannot be restored")
	wantStatus(t, "client asks to delete", client.get(wsURL("acme", "/documents/"+id+"/delete")), http.StatusForbidden)
	wantStatus(t, "client deletes", client.post(wsURL("acme", "/documents/"+id+"/delete"), nil), http.StatusForbidden)
	// The audit stays when the document goes.
	wantStatus(t, "delete", owner.post(wsURL("acme", "/documents/"+id+"/delete"), nil), http.StatusSeeOther)
	wantStatus(t, "deleted download", client.get(wsURL("acme", "/documents/"+id)), http.StatusNotFound)
	es, _ = e.store.FindAuditEvents(context.Background(), f.ws.ID, gatehouse.AuditFilter{DocumentID: mustAtoi(t, id)})
	if len(es) < 3 || es[0].Type != portal.EventDelete {
		t.Fatalf("document's audit after deletion: %+v", es)
	}
}

// TestHomes: the portal home puts open requests first and invites
// enrollment in optional mode; the dashboard home lists clients with their
// counts, recent activity and the coverage summary.
func TestHomes(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)), nil, file{"a.pdf", []byte("%PDF-")})
	owner.post(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/requests", f.alpha.ID)), url.Values{"title": {"Bank statement"}})
	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	client.post(wsURL("acme", "/portal/messages"), url.Values{"body": {"Question about the invoice"}})

	home := client.get(wsURL("acme", "/portal"))
	wantStatus(t, "portal home", home, http.StatusOK)
	req, docs, msgs := strings.Index(home.body, "Bank statement"), strings.Index(home.body, "Recent documents"), strings.Index(home.body, "Question about the invoice")
	if req < 0 || docs < 0 || msgs < 0 || req > docs || docs > msgs {
		t.Fatalf("portal home order: request %d, documents %d, messages %d", req, docs, msgs)
	}
	wantBody(t, "2-step invitation", home, `href="/account/security">Turn it on</a>`)
	wantBody(t, "document link", home, `<a class="document-link" href="/documents/`)

	dash := owner.get(wsURL("acme", "/dashboard"))
	wantStatus(t, "dashboard", dash, http.StatusOK)
	wantBody(t, "client row", dash, fmt.Sprintf(`<a href="/dashboard/clients/%d">Alpha</a>`, f.alpha.ID))
	wantBody(t, "unread", dash, "1 unread")
	wantBody(t, "activity", dash, "uploaded a document")
	wantBody(t, "coverage", dash, `class="coverage-total"`)
	// Staff reading the conversation clears the unread count.
	owner.get(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID)))
	if strings.Contains(owner.get(wsURL("acme", "/dashboard")).body, "1 unread") {
		t.Fatal("unread count kept after reading")
	}
}

// uploadSensitive has the owner upload a sensitive PDF to Alpha and
// returns its download path.
func (f *portalFixture) uploadSensitive(t testing.TB) string {
	t.Helper()
	owner := f.e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res := owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)),
		url.Values{"sensitive": {"on"}}, file{"medical.pdf", []byte("%PDF-1.4 private")})
	wantStatus(t, "upload", res, http.StatusSeeOther)
	return "/documents/" + docIDs(owner.get(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID))).body)[0]
}

// TestSensitiveDocumentNewCode: asking for a new e-mailed code on the
// re-verification page of a sensitive document keeps where it goes next,
// so the code it sends still starts the download.
func TestSensitiveDocumentNewCode(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	doc := f.uploadSensitive(t)

	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	client.enableEmail("acme", "client@example.com")
	e.clock.Advance(11 * time.Minute) // past the fresh check and the resend wait
	res := client.get(wsURL("acme", doc))
	wantStatus(t, "sensitive download", res, http.StatusSeeOther)
	page := client.get(wsURL("acme", res.location()))
	wantBody(t, "reauth page", page, `action="/login/verify/resend"`)
	form := resendFormRE.FindString(page.body)
	if !strings.Contains(form, `name="next" value="`+doc+`"`) {
		t.Fatalf("the new-code form drops next:\n%s", form)
	}
	res = client.post(wsURL("acme", "/login/verify/resend"), url.Values{"method": {"email"}, "next": {doc}})
	wantStatus(t, "new code", res, http.StatusSeeOther)
	if want := "/account/security/reauth?method=email&next=" + url.QueryEscape(doc) + "&sent=new"; res.location() != want {
		t.Fatalf("after a new code: %q, want %q", res.location(), want)
	}
	wantBody(t, "reauth page again", client.get(wsURL("acme", res.location())), `name="next" value="`+doc+`"`)
	res = client.post(wsURL("acme", "/account/security/reauth"),
		url.Values{"method": {"email"}, "code": {e.lastCode("client@example.com")}, "next": {doc}})
	if res.StatusCode != http.StatusSeeOther || res.location() != doc {
		t.Fatalf("reauth with the new code: %d %q", res.StatusCode, res.location())
	}
	if res := client.get(wsURL("acme", doc)); res.StatusCode != http.StatusOK || res.body != "%PDF-1.4 private" {
		t.Fatalf("download after the new code: %d", res.StatusCode)
	}
	// With a passkey, the passkey form carries next as well.
	a := newAuthenticator(t)
	if res := client.addPasskey("acme", "Laptop", a); res.StatusCode != http.StatusOK && res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add passkey: %d", res.StatusCode)
	}
	e.clock.Advance(11 * time.Minute)
	res = client.get(wsURL("acme", doc))
	wantStatus(t, "sensitive download, later", res, http.StatusSeeOther)
	page = client.get(wsURL("acme", res.location()+"&method=passkey"))
	form = passkeyFormRE.FindString(page.body)
	if !strings.Contains(form, `name="next" value="`+doc+`"`) {
		t.Fatalf("the passkey form drops next:\n%s", page.body)
	}
	o := client.beginPasskey("acme", "/login/verify/passkey/begin")
	res = client.post(wsURL("acme", "/account/security/reauth"),
		url.Values{"method": {"passkey"}, "credential": {a.get(o, origin("acme"))}, "next": {doc}})
	if res.StatusCode != http.StatusSeeOther || res.location() != doc {
		t.Fatalf("reauth with the passkey: %d %q", res.StatusCode, res.location())
	}
}

var passkeyFormRE = regexp.MustCompile(`(?s)<form method="post" action="/account/security/reauth" data-passkey.*?</form>`)

var resendFormRE = regexp.MustCompile(`(?s)<form method="post" action="/login/verify/resend".*?</form>`)
