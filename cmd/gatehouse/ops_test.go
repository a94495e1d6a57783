package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// opsAddr returns the address serve logged for the named operator listener.
func (s *server) opsAddr(tb testing.TB, name string) string {
	tb.Helper()
	re := regexp.MustCompile(`msg="` + name + ` listening" addr=(\S+)`)
	m := re.FindStringSubmatch(s.stderr.String())
	if m == nil {
		tb.Fatalf("serve did not log the %s listener:\n%s", name, s.stderr)
	}
	return m[1]
}

// scrape fetches /metrics from addr and parses it with Prometheus's own
// text parser, so the exposition is what a Prometheus server reads.
func scrape(tb testing.TB, addr string) map[string]*dto.MetricFamily {
	tb.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		tb.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("parse the scrape: %v", err)
	}
	return fams
}

// sample returns the value of the series of family name whose labels
// include want: a counter's or gauge's value, a histogram's count; and
// whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestServeMetrics(t *testing.T) {
	env, _ := newEnv(t)
	srv := startServe(t, env, "--demo", "--addr", "127.0.0.1:0", "--base-url", testBaseURL,
		"--metrics-addr", "127.0.0.1:0", "--pprof-addr", "127.0.0.1:0")
	metricsAddr := srv.opsAddr(t, "metrics")
	ownerPassword := srv.waitStdout(t, ownerLoginRE)[1]
	c := testClient(t, srv.addr)

	// The public listener never serves the operator endpoints, on any host.
	for _, u := range []string{
		testBaseURL + "/metrics", "http://demo.gatehouse.test/metrics", "http://127.0.0.1/metrics",
		testBaseURL + "/debug/pprof/", "http://demo.gatehouse.test/debug/pprof/cmdline",
	} {
		if resp, body := get(t, c, u); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "# TYPE") {
			t.Errorf("public GET %s = %d, want 404 without metrics", u, resp.StatusCode)
		}
	}

	before := scrape(t, metricsAddr)
	for _, name := range []string{
		"gatehouse_http_request_duration_seconds", "gatehouse_outbox_pending", "gatehouse_outbox_oldest_pending_age_seconds",
		"gatehouse_db_connections", "gatehouse_db_connections_max", "go_goroutines", "go_memstats_heap_alloc_bytes",
	} {
		if before[name] == nil {
			t.Errorf("the scrape has no %s", name)
		}
	}
	if v, ok := sample(before, "gatehouse_db_connections_max", map[string]string{"pool": "sqlite_writer"}); !ok || v != 1 {
		t.Errorf("sqlite writer pool max = %v, %v; want 1", v, ok)
	}
	if v, ok := sample(before, "gatehouse_sign_ins_total", map[string]string{"method": "password", "result": "success"}); ok && v != 0 {
		t.Errorf("sign-ins before any: %v", v)
	}

	// A wrong password, then the right one; then the owner turns on e-mail
	// codes twice within the minute (one sent, one refused), signs out and
	// back in, and fails the e-mail code once.
	login(t, testClient(t, srv.addr), "owner@demo.localhost", ownerPassword+"x")
	if resp := login(t, c, "owner@demo.localhost", ownerPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner login = %d", resp.StatusCode)
	}
	post := func(path string, form url.Values) *http.Response {
		t.Helper()
		resp, err := c.PostForm("http://demo.gatehouse.test"+path, form)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		return resp
	}
	post("/account/security/email/enable", nil)
	post("/account/security/email/enable", nil)
	code := lastCode(t, env, "owner@demo.localhost")
	if resp := post("/account/security/email/confirm", url.Values{"code": {code}}); resp.StatusCode >= 400 {
		t.Fatalf("confirm e-mail = %d", resp.StatusCode)
	}
	post("/logout", nil)
	login(t, c, "owner@demo.localhost", ownerPassword)
	if resp := post("/login/verify", url.Values{"method": {"email"}, "code": {"000000"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong e-mail code = %d, want 401", resp.StatusCode)
	}
	// A method name the client made up is counted as "other", not echoed.
	post("/login/verify", url.Values{"method": {"owner@demo.localhost"}, "code": {"000000"}})
	wantStatus(t, c, "http://demo.gatehouse.test/password/reset/secret-token-value", http.StatusNotFound)

	after := scrape(t, metricsAddr)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_sign_ins_total", map[string]string{"method": "password", "result": "success"}, 2},
		{"gatehouse_sign_ins_total", map[string]string{"method": "password", "result": "bad_credentials"}, 1},
		{"gatehouse_http_request_duration_seconds", map[string]string{"route": "POST /login", "code": "303"}, 2},
		{"gatehouse_http_request_duration_seconds", map[string]string{"route": "POST /login", "code": "401"}, 1},
		{"gatehouse_http_request_duration_seconds", map[string]string{"route": "GET /password/reset/{token}"}, 1},
		{"gatehouse_codes_sent_total", map[string]string{"channel": "email"}, 1},
		{"gatehouse_codes_refused_total", map[string]string{"channel": "email", "reason": "too_soon"}, 1},
		{"gatehouse_second_factor_checks_total", map[string]string{"method": "email", "result": "mismatch"}, 1},
		{"gatehouse_second_factor_checks_total", map[string]string{"method": "other"}, 1},
	} {
		if got, ok := sample(after, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	// Body bytes are counted by route: on the document routes these are
	// the documents' bytes in and out.
	if v, ok := sample(after, "gatehouse_http_request_body_bytes_total", map[string]string{"route": "POST /login"}); !ok || v < 60 {
		t.Errorf("request body bytes of POST /login = %v (present %v), want the forms' bytes", v, ok)
	}
	if v, ok := sample(after, "gatehouse_http_response_body_bytes_total", map[string]string{"route": "GET /password/reset/{token}"}); !ok || v < 100 {
		t.Errorf("response body bytes of the reset page = %v (present %v), want its page", v, ok)
	}
	// No label anywhere holds what a user typed or was given: an e-mail,
	// the workspace slug, a token from a URL.
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); strings.Contains(v, "@") || strings.Contains(v, "demo") || strings.Contains(v, "secret-token") {
					t.Errorf("%s has label %s=%q", name, l.GetName(), v)
				}
			}
		}
	}

	// pprof answers on its own listener.
	pprofAddr := srv.opsAddr(t, "pprof")
	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || body == "" {
		t.Errorf("pprof cmdline = %d %q", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("pprof goroutine = %d", resp.StatusCode)
	}
	// The metrics listener serves metrics only.
	resp, err = http.Get("http://" + metricsAddr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	if readBody(t, resp); resp.StatusCode != http.StatusNotFound {
		t.Errorf("pprof on the metrics listener = %d, want 404", resp.StatusCode)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("serve exited %d\n%s", code, srv.stderr)
	}
}

// TestServeOpsOff checks that without the addresses no operator listener
// starts.
func TestServeOpsOff(t *testing.T) {
	env, _ := newEnv(t)
	srv := startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	srv.stop(t)
	if out := srv.stderr.String(); strings.Contains(out, "metrics listening") || strings.Contains(out, "pprof listening") {
		t.Errorf("an operator listener started without its address:\n%s", out)
	}
}

var emailCodeRE = regexp.MustCompile(`code is (\d{6})`)

// lastCode returns the newest code e-mailed to the address. The request
// that asked for it queued it before answering, so it is in the store.
func lastCode(tb testing.TB, env map[string]string, to string) string {
	tb.Helper()
	ms, err := openSQLite(tb, env["GATEHOUSE_DATA_DIR"]).ListMessages(tb.Context(), 100)
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range ms { // newest first
		if c := emailCodeRE.FindStringSubmatch(m.Body); m.To == to && c != nil {
			return c[1]
		}
	}
	tb.Fatalf("no code mailed to %s", to)
	return ""
}
