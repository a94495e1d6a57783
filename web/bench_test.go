package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// BenchmarkSignedInPage measures the portal page of a signed-in client
// through the whole stack on SQLite (the session check and the client's
// space, from memory after the first request; the gate; the page writer), against
// BenchmarkBareHandler, which serves the same bytes with nothing else.
func BenchmarkSignedInPage(b *testing.B) {
	e := newEnv(b)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	benchGet(b, e, "/portal")
}

// BenchmarkMe measures GET /api/v1/me of a signed-in client on SQLite:
// the session check (from the visit cache after the first request), the
// gate and a small JSON body.
func BenchmarkMe(b *testing.B) {
	e := newEnv(b)
	e.workspace("acme")
	benchGet(b, e, "/api/v1/me")
}

// benchGet signs the client of workspace acme in and measures GET path
// through the whole handler, in parallel, failing on any status but 200.
func benchGet(b *testing.B, e *env, path string) {
	br := e.browser()
	br.login("acme", "client@example.com", goodPassword, "/portal")
	cookie := &http.Cookie{Name: "gatehouse_session", Value: br.cookie("acme")}
	handler := e.srv.Config.Handler
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", wsURL("acme", path), nil)
			req.AddCookie(cookie)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s: status %d", path, rec.Code)
			}
		}
	})
}

func BenchmarkBareHandler(b *testing.B) {
	e := newEnv(b)
	e.workspace("acme")
	br := e.browser()
	br.login("acme", "client@example.com", goodPassword, "/portal")
	page := br.get(wsURL("acme", "/portal")).body
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			bare.ServeHTTP(rec, httptest.NewRequest("GET", wsURL("acme", "/portal"), nil))
		}
	})
}
