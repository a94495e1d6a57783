package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse-dev/gatehouse/metrics"
)

var now = time.Date(2039, 6, 15, 12, 0, 0, 0, time.UTC)

func scrape(t *testing.T, m *metrics.Metrics) (string, map[string]float64) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	gauges := map[string]float64{}
	for name, f := range fams {
		if ms := f.GetMetric(); len(ms) == 1 && ms[0].Gauge != nil {
			gauges[name] = ms[0].GetGauge().GetValue()
		}
	}
	return body, gauges
}

func TestOutbox(t *testing.T) {
	tests := []struct {
		name        string
		pending     int
		oldest      time.Time
		wantPending float64
		wantAge     float64
	}{
		{"empty", 0, time.Time{}, 0, 0},
		{"two waiting, the oldest 90s old", 2, now.Add(-90 * time.Second), 2, 90},
		// Another instance's clock may run ahead: an age is never negative.
		{"queued in the future", 1, now.Add(time.Second), 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New(metrics.Options{
				Now:    func() time.Time { return now },
				Outbox: func(context.Context) (int, time.Time, error) { return tt.pending, tt.oldest, nil },
			})
			_, g := scrape(t, m)
			if g["gatehouse_outbox_pending"] != tt.wantPending || g["gatehouse_outbox_oldest_pending_age_seconds"] != tt.wantAge {
				t.Errorf("pending %v age %v, want %v and %v", g["gatehouse_outbox_pending"], g["gatehouse_outbox_oldest_pending_age_seconds"], tt.wantPending, tt.wantAge)
			}
		})
	}
}

// TestOutboxError checks that a store that cannot answer costs the outbox
// figures only, not the whole scrape.
func TestOutboxError(t *testing.T) {
	m := metrics.New(metrics.Options{
		Now:    func() time.Time { return now },
		Outbox: func(context.Context) (int, time.Time, error) { return 0, time.Time{}, errors.New("database is closed") },
	})
	body, g := scrape(t, m)
	if _, ok := g["gatehouse_outbox_pending"]; ok {
		t.Errorf("an outbox figure was reported despite the error")
	}
	if !strings.Contains(body, "go_goroutines") {
		t.Errorf("the scrape lost the other metrics:\n%s", body)
	}
}

func TestRequestTiming(t *testing.T) {
	at := now
	m := metrics.New(metrics.Options{Now: func() time.Time { return at }})
	done := m.Request()
	at = at.Add(300 * time.Millisecond)
	done("GET /login", 200, 0, 1234)
	m.Request()("", 404, 10, 0)
	body, _ := scrape(t, m)
	for _, want := range []string{
		`gatehouse_http_request_duration_seconds_sum{code="200",route="GET /login"} 0.3`,
		`gatehouse_http_request_duration_seconds_bucket{code="200",route="GET /login",le="0.25"} 0`,
		`gatehouse_http_request_duration_seconds_bucket{code="200",route="GET /login",le="0.5"} 1`,
		`gatehouse_http_request_duration_seconds_count{code="404",route="unmatched"} 1`,
		`gatehouse_http_response_body_bytes_total{route="GET /login"} 1234`,
		`gatehouse_http_request_body_bytes_total{route="unmatched"} 10`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
