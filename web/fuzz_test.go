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
