package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The fuzz targets below drive the real handler stack in-process (no
// network, so many inputs a second) and state what must hold for any
// input. Seeds live in testdata/fuzz/<name>; .ci/run runs each target for a
// few seconds.

// serveFuzz runs one request through the server and returns the response.
func serveFuzz(h http.Handler, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// FuzzSessionCookies sends any session and device cookie values, raw in the
// Cookie header: the answer is never a server error, and only the exact
// token of a signed-in session reaches a signed-in page.
func FuzzSessionCookies(f *testing.F) {
	e := newEnv(f)
	e.workspace("fz")
	h := e.srv.Config.Handler
	login := httptest.NewRequest("POST", "http://fz.gatehouse.test/login",
		strings.NewReader(url.Values{"email": {"owner@example.com"}, "password": {goodPassword}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var valid string
	for _, c := range serveFuzz(h, login).Cookies() {
		if c.Name == "gatehouse_session" {
			valid = c.Value
		}
	}
	if valid == "" {
		f.Fatal("the seed sign-in set no session cookie")
	}
	for _, s := range [][2]string{
		{valid, ""}, {valid + "x", ""}, {valid[:len(valid)-1], ""}, {"", valid}, {strings.ToUpper(valid), ""},
		{valid + " ", ""}, {" " + valid, ""}, {valid + "; gatehouse_session=x", ""}, {"x; gatehouse_session=" + valid, ""},
		{"", ""}, {"\"quoted\"", "x"}, {"a;b=c", "d,e"}, {"%00%ff", "\x00\xff"}, {strings.Repeat("A", 5000), ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, session, device string) {
		r := httptest.NewRequest("GET", "http://fz.gatehouse.test/account/security", nil)
		r.Header.Set("Cookie", "gatehouse_session="+session+"; gatehouse_device="+device)
		resp := serveFuzz(h, r)
		if resp.StatusCode >= 500 {
			t.Fatalf("session %q, device %q: status %d", session, device, resp.StatusCode)
		}
		// What the server reads as the cookie is what net/http parses out of
		// the header (it trims blanks, drops a pair of quotes, stops at ';');
		// that value, and only that, must be the exact token.
		c, err := r.Cookie("gatehouse_session")
		read := err == nil && c.Value == valid
		if signedIn := resp.StatusCode == http.StatusOK; signedIn != read {
			t.Fatalf("session cookie %q (read as the token: %v) answered %d", session, read, resp.StatusCode)
		}
	})
}

// FuzzLoginForm posts any body under any content type to the sign-in form:
// never a server error, a redirect only ever to a path on the same host,
// and a session only for the right password.
func FuzzLoginForm(f *testing.F) {
	e := newEnv(f)
	e.workspace("fz")
	h := e.srv.Config.Handler
	form := func(v url.Values) string { return v.Encode() }
	for _, s := range [][2]string{
		{"application/x-www-form-urlencoded", form(url.Values{"email": {"owner@example.com"}, "password": {goodPassword}})},
		{"application/x-www-form-urlencoded", form(url.Values{"email": {"owner@example.com"}, "password": {goodPassword}, "next": {"//evil.example"}})},
		{"application/x-www-form-urlencoded", form(url.Values{"email": {"owner@example.com"}, "password": {goodPassword}, "next": {"/\\evil.example"}})},
		{"application/x-www-form-urlencoded", form(url.Values{"email": {"OWNER@example.com "}, "password": {"wrong"}})},
		{"application/x-www-form-urlencoded", "email=%zz&password"},
		{"application/x-www-form-urlencoded", "a=1&a=2;b=3&&=&%"},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nowner@example.com\r\n--x--"},
		{"text/plain", "email=owner@example.com"},
		{"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest("POST", "http://fz.gatehouse.test/login", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		resp := serveFuzz(h, r)
		if resp.StatusCode >= 500 {
			t.Fatalf("content type %q, body %q: status %d", contentType, body, resp.StatusCode)
		}
		if resp.StatusCode != http.StatusSeeOther {
			return
		}
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, "\\") {
			t.Fatalf("body %q redirected to %q, off this host", body, loc)
		}
		// A redirect means a session: only the right password gets one.
		v, _ := url.ParseQuery(body)
		if v.Get("password") != goodPassword {
			t.Fatalf("body %q (content type %q) signed in without the password", body, contentType)
		}
	})
}

// FuzzUploadForm posts any multipart body (the upload path: the form and
// multipart parsing that streams files into sealed chunks) as a client's
// upload: never a server error; a stored document is at most the body's
// size, with a title and note of at most 16 KiB; and a refused upload
// leaves nothing behind.
func FuzzUploadForm(f *testing.F) {
	e := newEnvWith(f, sqliteBackend, func(e *env) { e.maxUpload = 64 << 10 })
	fx := newPortalFixture(f, e)
	h := e.srv.Config.Handler
	login := httptest.NewRequest("POST", "http://acme.gatehouse.test/login",
		strings.NewReader(url.Values{"email": {"client@example.com"}, "password": {goodPassword}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var cookie string
	for _, c := range serveFuzz(h, login).Cookies() {
		if c.Name == "gatehouse_session" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		f.Fatal("the seed sign-in set no session cookie")
	}
	part := func(name, file, body string) string {
		disp := `form-data; name="` + name + `"`
		if file != "" {
			disp += `; filename="` + file + `"`
		}
		return "--B\r\nContent-Disposition: " + disp + "\r\n\r\n" + body + "\r\n"
	}
	for _, s := range [][2]string{
		{"multipart/form-data; boundary=B", part("title", "", "T") + part("file", "a.pdf", "%PDF-1.4 x") + "--B--\r\n"},
		{"multipart/form-data; boundary=B", part("file", "a.txt", "one") + part("file", "b.txt", "two") + "--B--\r\n"},
		{"multipart/form-data; boundary=B", part("request", "", "99999") + part("file", "a.txt", "x") + "--B--\r\n"},
		{"multipart/form-data; boundary=B", part("request", "", "-1") + part("file", "a.txt", "x") + "--B--\r\n"},
		{"multipart/form-data; boundary=B", part("file", "../../etc/passwd", "x") + "--B--\r\n"},
		{"multipart/form-data; boundary=B", part("file", "a.txt", strings.Repeat("x", 70<<10)) + "--B--\r\n"},
		{"multipart/form-data; boundary=B", part("note", "", strings.Repeat("n", 20<<10)) + part("file", "a.txt", "x") + "--B--\r\n"},
		{"multipart/form-data; boundary=B", part("file", "a.txt", "no end")},
		{"multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n"},
		{"multipart/form-data", "--B--"},
		{"application/x-www-form-urlencoded", "title=x"},
		{"multipart/mixed; boundary=B", part("file", "a.txt", "x") + "--B--\r\n"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		before := e.documentCount(fx.ws.ID)
		r := httptest.NewRequest("POST", "http://acme.gatehouse.test/portal/documents", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: cookie})
		resp := serveFuzz(h, r)
		if resp.StatusCode >= 500 {
			t.Fatalf("content type %q, body %q: status %d", contentType, body, resp.StatusCode)
		}
		ds, err := e.store.ListDocuments(t.Context(), fx.ws.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSeeOther {
			if len(ds) != before || !e.noPendingUploads() {
				t.Fatalf("a refused upload (%d) left %d documents or chunks behind", resp.StatusCode, len(ds)-before)
			}
			return
		}
		for _, d := range ds[:len(ds)-before] {
			if d.Size > int64(len(body)) || len(d.Title) > 16<<10 || len(d.Note) > 16<<10 || d.ClientID != fx.alpha.ID {
				t.Fatalf("stored %+v from a %d-byte body", d, len(body))
			}
		}
	})
}

// FuzzLinkTokens asks for any token on the three e-mailed-link routes
// (the link token decoding path): never a server error, and only the
// mailed token opens its page.
func FuzzLinkTokens(f *testing.F) {
	e := newEnv(f)
	ws := e.workspace("fz")
	e.enableSignup(ws)
	if _, _, err := e.accounts.Invite(f.Context(), ws, nil, "new@example.com", "member"); err != nil {
		f.Fatal(err)
	}
	link := e.lastLink("new@example.com")
	token := link[strings.LastIndex(link, "/")+1:]
	h := e.srv.Config.Handler
	for _, s := range []string{token, token + "x", token[:len(token)-1], strings.ToUpper(token), token + "=", token + "%00",
		"", "x", "..", "%2e%2e", strings.Repeat("A", 43), strings.Repeat("A", 5000), "\xff\xfe", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, route := range []string{"/invite/", "/password/reset/", "/signup/confirm/"} {
			r := httptest.NewRequest("GET", "http://fz.gatehouse.test/", nil)
			r.URL.Path, r.URL.RawPath = route+tok, "" // any bytes, as a client may send
			resp := serveFuzz(h, r)
			if resp.StatusCode >= 500 {
				t.Fatalf("%s%q: status %d", route, tok, resp.StatusCode)
			}
			if resp.StatusCode == http.StatusOK && (route != "/invite/" || tok != token) {
				t.Fatalf("%s%q opened a page", route, tok)
			}
		}
	})
}
