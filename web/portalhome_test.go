package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
)

// TestPortalHomeEscapes opens the portal home, written without
// html/template (portalhome.go), with hostile text in everything people
// can type that it shows: the client user's name, a staff member's name
// (uploader and author), a file name, a request's title and note, and a
// message with markup, quotes and line breaks. Everything is escaped as
// html/template escapes it, and a message's line breaks stay as typed (the
// stylesheet shows them).
func TestPortalHomeEscapes(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	ctx := context.Background()
	const evil = `<script>alert("x")</script>'+&`
	const evilEscaped = `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&#43;&amp;`
	if _, _, err := e.accounts.CreateUser(ctx, f.ws, account.NewUser{Email: "evil@example.com", Name: "Staff " + evil,
		Role: gatehouse.RoleAdmin, Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	u, _, err := e.accounts.CreateUser(ctx, f.ws, account.NewUser{Email: "eve@example.com", Name: "Client " + evil,
		Role: gatehouse.RoleClient, Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	f.assign(t, f.ws, u.Email, f.alpha.ID)

	staff := e.browser()
	staff.login("acme", "evil@example.com", goodPassword, "/dashboard")
	space := fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID)
	wantStatus(t, "upload", staff.upload(wsURL("acme", space+"/documents"), nil,
		file{`"><img src=x onerror=alert(1)>.pdf`, []byte("%PDF-")}), http.StatusSeeOther)
	wantStatus(t, "ask", staff.post(wsURL("acme", space+"/requests"),
		url.Values{"title": {"Title " + evil}, "note": {"Note " + evil}}), http.StatusSeeOther)
	wantStatus(t, "message", staff.post(wsURL("acme", space+"/messages"),
		url.Values{"body": {"Body " + evil + "\nsecond line\r\nthird line"}}), http.StatusSeeOther)

	client := e.browser()
	client.login("acme", "eve@example.com", goodPassword, "/portal")
	home := client.get(wsURL("acme", "/portal"))
	wantStatus(t, "portal home", home, http.StatusOK)
	for what, want := range map[string]string{
		"client's name":     "<h1>Welcome, Client " + evilEscaped + "</h1>",
		"file name":         `">&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.pdf</a>`,
		"uploader":          " · Staff " + evilEscaped + "</span>",
		"request title":     "<strong>Title " + evilEscaped + "</strong>",
		"request note":      `<span class="note">Note ` + evilEscaped + "</span>",
		"author":            "<strong>Staff " + evilEscaped + "</strong>",
		"message and lines": `<p class="body">Body ` + evilEscaped + "\nsecond line\nthird line</p>",
		"unread marker":     `<span class="tag new">New</span>`,
		"latest message":    `<li class="msg staff unread" id="latest">`,
	} {
		wantBody(t, what, home, want)
	}
	for _, raw := range []string{"<script>", "<img", `"x"`, "<br"} {
		if strings.Contains(home.body, raw) {
			t.Errorf("the home holds %q unescaped", raw)
		}
	}
	if got := home.Header.Get("Content-Length"); got != fmt.Sprint(len(home.body)) {
		t.Errorf("Content-Length %q for a body of %d bytes", got, len(home.body))
	}
}

// TestPortalHomeAcrossInstances opens the portal home on one instance
// while staff work on another (a second process on the same PostgreSQL,
// or a second handle on the SQLite file, as the CLI opens it): once the
// home is served from memory, a new message, document and request made on
// the other instance show as soon as this one has heard of them.
func TestPortalHomeAcrossInstances(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvOn(t, be)
			f := newPortalFixture(t, e)
			second := e.instance()
			client := second.browser()
			client.login("acme", "client@example.com", goodPassword, "/portal")
			for range 3 {
				wantStatus(t, "home", client.get(wsURL("acme", "/portal")), http.StatusOK)
			}
			owner := e.browser()
			owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
			space := fmt.Sprintf("/dashboard/clients/%d", f.alpha.ID)
			wantStatus(t, "message", owner.post(wsURL("acme", space+"/messages"), url.Values{"body": {"Across instances"}}), http.StatusSeeOther)
			wantStatus(t, "upload", owner.upload(wsURL("acme", space+"/documents"), nil, file{"across.pdf", []byte("%PDF-")}), http.StatusSeeOther)
			wantStatus(t, "ask", owner.post(wsURL("acme", space+"/requests"), url.Values{"title": {"Asked across"}}), http.StatusSeeOther)
			deadline := time.Now().Add(30 * time.Second) // only a hang reaches it
			for {
				home := client.get(wsURL("acme", "/portal")).body
				if strings.Contains(home, "Across instances") && strings.Contains(home, "across.pdf") && strings.Contains(home, "Asked across") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the other instance's changes never showed:\n%s", home)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}
