// Package metrics exports Gatehouse's Prometheus metrics (SPEC §17) on a
// listener of their own: requests by route pattern and status with their
// latency, sign-ins and second-factor checks by method and result, codes
// sent and refused by channel and reason, the outbox's depth and oldest
// message, the database pools and the Go runtime.
//
// Every label value comes from a fixed set chosen by the code (a route
// pattern, a method name, a result word), never from a request: no e-mail,
// token, document name, workspace slug or any other string a user chose
// reaches a label, so neither secrets nor unbounded series can leak into
// Prometheus.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pool is one database connection pool at scrape time.
type Pool struct {
	Name        string // a fixed word: "sqlite_writer", "sqlite_reader", "postgres"
	InUse, Idle int
	Max         int // 0: unlimited
	Waits       int64
	WaitTime    time.Duration
}

// Options are what the metrics read at scrape time, and their clock.
type Options struct {
	// Now times requests and ages the outbox; time.Now in production.
	Now func() time.Time
	// Outbox returns the number of messages waiting and when the oldest
	// was queued (the zero time when none waits); nil leaves those out.
	Outbox func(ctx context.Context) (pending int, oldest time.Time, err error)
	// Pools returns the database pools; nil leaves them out.
	Pools func() []Pool
	// ScrapeTimeout bounds the outbox query of one scrape; 5s when zero.
	ScrapeTimeout time.Duration
}

// Metrics holds Gatehouse's metrics in a registry of its own (never the
// global one, so tests and several servers in one process do not collide).
// It implements web.Observer.
type Metrics struct {
	now      func() time.Time
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
	bodyIn   *prometheus.CounterVec
	bodyOut  *prometheus.CounterVec
	signIns  *prometheus.CounterVec
	checks   *prometheus.CounterVec
	sent     *prometheus.CounterVec
	refused  *prometheus.CounterVec
}

// New registers every metric in a new registry.
func New(o Options) *Metrics {
	if o.Now == nil {
		panic("metrics: Options.Now is required")
	}
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = 5 * time.Second
	}
	m := &Metrics{
		now: o.Now,
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds",
			Help: "Time to answer HTTP requests, by route pattern and status code (its _count is the number of requests).",
			// Pages answer in milliseconds; password sign-ins take an
			// argon2id hash (tens to hundreds of ms); the tail shows stalls.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		bodyIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_request_body_bytes_total",
			Help: "Request body bytes read, by route pattern (on the upload routes: document bytes in).",
		}, []string{"route"}),
		bodyOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_response_body_bytes_total",
			Help: "Response body bytes written, by route pattern (on the download route: document bytes out).",
		}, []string{"route"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_sign_ins_total",
			Help: "Sign-in attempts (first step), by method and result.",
		}, []string{"method", "result"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_second_factor_checks_total",
			Help: "Second-factor checks (at sign-in and re-verification), by method and result.",
		}, []string{"method", "result"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_codes_sent_total",
			Help: "One-time codes queued for delivery, by channel.",
		}, []string{"channel"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_codes_refused_total",
			Help: "One-time codes refused before sending, by channel and reason.",
		}, []string{"channel", "reason"}),
	}
	m.reg.MustRegister(m.requests, m.bodyIn, m.bodyOut, m.signIns, m.checks, m.sent, m.refused,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if o.Outbox != nil {
		m.reg.MustRegister(&outboxCollector{now: o.Now, stats: o.Outbox, timeout: o.ScrapeTimeout})
	}
	if o.Pools != nil {
		m.reg.MustRegister(&poolCollector{pools: o.Pools})
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format. Mount it
// only on the metrics listener, never on the public one.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Request starts timing a request; the function it returns records the
// route pattern ("" when no route matched), the status and the body bytes
// in and out once answered.
func (m *Metrics) Request() func(route string, status int, bodyIn, bodyOut int64) {
	start := m.now()
	return func(route string, status int, bodyIn, bodyOut int64) {
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(m.now().Sub(start).Seconds())
		m.bodyIn.WithLabelValues(route).Add(float64(bodyIn))
		m.bodyOut.WithLabelValues(route).Add(float64(bodyOut))
	}
}

// SignIn counts a first-step sign-in attempt.
func (m *Metrics) SignIn(method, result string) { m.signIns.WithLabelValues(method, result).Inc() }

// SecondFactor counts a second-factor check.
func (m *Metrics) SecondFactor(method, result string) { m.checks.WithLabelValues(method, result).Inc() }

// CodeSent counts a code queued for delivery on the channel.
func (m *Metrics) CodeSent(channel string) { m.sent.WithLabelValues(channel).Inc() }

// CodeRefused counts a code refused before sending.
func (m *Metrics) CodeRefused(channel, reason string) {
	m.refused.WithLabelValues(channel, reason).Inc()
}

var (
	outboxPendingDesc = prometheus.NewDesc("gatehouse_outbox_pending",
		"Messages waiting in the outbox (queued or waiting for a retry).", nil, nil)
	outboxAgeDesc = prometheus.NewDesc("gatehouse_outbox_oldest_pending_age_seconds",
		"Age of the oldest message waiting in the outbox; 0 when none waits.", nil, nil)
)

// outboxCollector reads the outbox from the store at scrape time, so the
// figures hold for every instance sharing the database.
type outboxCollector struct {
	now     func() time.Time
	stats   func(context.Context) (int, time.Time, error)
	timeout time.Duration
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPendingDesc
	ch <- outboxAgeDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	n, oldest, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxPendingDesc, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(0, c.now().Sub(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
}

var (
	poolConnsDesc = prometheus.NewDesc("gatehouse_db_connections",
		"Database connections by pool and state (in_use, idle).", []string{"pool", "state"}, nil)
	poolMaxDesc = prometheus.NewDesc("gatehouse_db_connections_max",
		"Largest number of connections the pool opens; 0 when unlimited.", []string{"pool"}, nil)
	poolWaitsDesc = prometheus.NewDesc("gatehouse_db_waits_total",
		"Times a query waited for a free connection.", []string{"pool"}, nil)
	poolWaitDesc = prometheus.NewDesc("gatehouse_db_wait_seconds_total",
		"Time spent waiting for a free connection.", []string{"pool"}, nil)
)

// poolCollector reports the database pools at scrape time.
type poolCollector struct{ pools func() []Pool }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConnsDesc
	ch <- poolMaxDesc
	ch <- poolWaitsDesc
	ch <- poolWaitDesc
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools() {
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(p.InUse), p.Name, "in_use")
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(p.Idle), p.Name, "idle")
		ch <- prometheus.MustNewConstMetric(poolMaxDesc, prometheus.GaugeValue, float64(p.Max), p.Name)
		ch <- prometheus.MustNewConstMetric(poolWaitsDesc, prometheus.CounterValue, float64(p.Waits), p.Name)
		ch <- prometheus.MustNewConstMetric(poolWaitDesc, prometheus.CounterValue, p.WaitTime.Seconds(), p.Name)
	}
}
