package web_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// TestContentLength checks that pages and JSON answers declare their
// length (no chunked framing) and that it is the body's.
func TestContentLength(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	br := e.browser()
	br.login("acme", "client@example.com", goodPassword, "/portal")
	// Past net/http's 2 KiB buffer, a length is declared only if the
	// handler sets it: make the portal page long.
	for range 3 {
		br.post(wsURL("acme", "/portal/messages"), url.Values{"body": {strings.Repeat("A long message. ", 100)}})
	}
	long := false
	for _, path := range []string{"/portal", "/account/security", "/api/v1/me", "/login", "/no-such-page"} {
		t.Run(path, func(t *testing.T) {
			res := br.get(wsURL("acme", path))
			long = long || len(res.body) > 4096
			if len(res.TransferEncoding) > 0 {
				t.Errorf("Transfer-Encoding %v, want a declared length", res.TransferEncoding)
			}
			if got := res.Header.Get("Content-Length"); got != strconv.Itoa(len(res.body)) {
				t.Errorf("Content-Length %q, body %d bytes", got, len(res.body))
			}
			if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers missing: %v", res.Header)
			}
		})
	}
	if !long {
		t.Error("no page was longer than 4 KiB: the test proves nothing")
	}
}
