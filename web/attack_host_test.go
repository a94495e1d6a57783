package web_test

// Attack class: Host-header poisoning of e-mailed links. An attacker asks
// for a reset (or causes an invitation, a sign-up confirmation, a portal
// notification) with a Host, X-Forwarded-Host, Forwarded or absolute
// request URI of their own, hoping the mailed link points at their site and
// leaks the token. Links are built from the configured base URL only, and a
// Host that is not exactly a workspace of it is no workspace at all.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var mailURLRE = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// wantMailOnHost checks that every URL in every mail sent so far is on the
// workspace's configured host, and returns how many mails there are.
func (e *env) wantMailOnHost(t *testing.T, slug string) int {
	t.Helper()
	e.deliver()
	ms, err := e.store.ListMessages(t.Context(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := "http://" + slug + ".gatehouse.test/"
	for _, m := range ms {
		for _, u := range mailURLRE.FindAllString(m.Body, -1) {
			if !strings.HasPrefix(u, want) {
				t.Errorf("mail %q to %s links to %s, want %s…", m.Subject, m.To, u, want)
			}
		}
	}
	return len(ms)
}

// poisonHeaders are the headers proxies and frameworks read a host from.
var poisonHeaders = map[string]string{
	"X-Forwarded-Host":   "evil.example",
	"X-Forwarded-Proto":  "https",
	"X-Forwarded-Server": "evil.example",
	"X-Host":             "evil.example",
	"X-Original-Host":    "evil.example",
	"X-Original-URL":     "https://evil.example/password/forgot",
	"X-Rewrite-URL":      "https://evil.example/password/forgot",
	"Forwarded":          "host=evil.example;proto=https",
}

// TestAttackHostHeaderLinks: with every forwarding header set to another
// site, the reset, invitation, sign-up and notification mails link to the
// workspace's configured host.
func TestAttackHostHeaderLinks(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	e.enableSignup(f.ws)
	poisoned := func(b *browser, path string, form url.Values) response {
		req, _ := http.NewRequest("POST", wsURL("acme", path), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range poisonHeaders {
			req.Header.Set(k, v)
		}
		return b.do(req)
	}
	wantStatus(t, "forgot", poisoned(e.browser(), "/password/forgot", url.Values{"email": {"client@example.com"}}), http.StatusSeeOther)
	wantStatus(t, "signup", poisoned(e.browser(), "/signup", url.Values{"name": {"S"}, "email": {"sam@example.com"}, "password": {goodPassword}}), http.StatusSeeOther)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantStatus(t, "invite", poisoned(owner, "/dashboard/users/invite", url.Values{"email": {"new@example.com"}, "role": {"member"}}), http.StatusSeeOther)
	wantStatus(t, "message", poisoned(owner, fmt.Sprintf("/dashboard/clients/%d/messages", f.alpha.ID), url.Values{"body": {"hello"}}), http.StatusSeeOther)
	e.clock.Advance(time.Hour) // notifications may wait to be batched
	if n := e.wantMailOnHost(t, "acme"); n < 4 {
		t.Fatalf("%d mails sent, want at least 4 (reset, sign-up, invitation, notification)", n)
	}
	for _, to := range []string{"client@example.com", "sam@example.com", "new@example.com"} {
		if !strings.HasPrefix(e.lastLink(to), "/") {
			t.Errorf("no link mailed to %s", to)
		}
	}
}

// TestAttackHostHeaderNotAWorkspace: a Host that only resembles a
// workspace's (another domain under it, a port, a trailing dot, a request
// line naming another host) gets the 404 page and sends nothing.
func TestAttackHostHeaderNotAWorkspace(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	before := e.wantMailOnHost(t, "acme")
	addr := e.srv.Listener.Addr().String()
	for _, tc := range []struct{ name, requestTarget, host string }{
		{"another domain", "/password/forgot", "acme.evil.example"},
		{"workspace host as a subdomain of another", "/password/forgot", "acme.gatehouse.test.evil.example"},
		{"another domain ending like the base", "/password/forgot", "acme.evilgatehouse.test"},
		{"port", "/password/forgot", "acme.gatehouse.test:8443"},
		{"trailing dot", "/password/forgot", "acme.gatehouse.test."},
		{"two workspaces", "/password/forgot", "acme.acme.gatehouse.test"},
		{"absolute request line", "http://evil.example/password/forgot", "acme.gatehouse.test"},
		{"absolute request line, workspace under another", "http://acme.evil.example/password/forgot", "acme.gatehouse.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			body := "email=client%40example.com"
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				tc.requestTarget, tc.host, len(body), body)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 404 (or 400)", res.StatusCode)
			}
		})
	}
	if after := e.wantMailOnHost(t, "acme"); after != before {
		t.Errorf("%d mails sent for hosts that are not the workspace's", after-before)
	}
	// The workspace's own host, in capitals, is the workspace; its links
	// are still spelt as configured.
	req, _ := http.NewRequest("POST", wsURL("acme", "/password/forgot"), strings.NewReader("email=client%40example.com"))
	req.Host = "ACME.GATEHOUSE.TEST"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	wantStatus(t, "capitals", e.browser().do(req), http.StatusSeeOther)
	e.wantMailOnHost(t, "acme")
}
