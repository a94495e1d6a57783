package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/postgres"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

// opsAddrs are the listen addresses of the operator endpoints; empty is off.
type opsAddrs struct {
	metrics, pprof string
}

// opsListeners are the operator listeners serve started.
type opsListeners struct {
	servers []*http.Server
	// Metrics is nil when metrics are off.
	metrics *metrics.Metrics
}

// newMetrics builds the metrics over the store: the outbox and the pools are
// read at scrape time, so the figures are those of the shared database.
func newMetrics(store database) *metrics.Metrics {
	o := metrics.Options{Now: time.Now}
	if s, ok := store.(interface {
		OutboxStats(context.Context) (int, time.Time, error)
	}); ok {
		o.Outbox = s.OutboxStats
	}
	switch db := store.(type) {
	case *sqlite.DB:
		o.Pools = func() []metrics.Pool {
			w, r := db.PoolStats()
			return []metrics.Pool{
				{Name: "sqlite_writer", InUse: w.InUse, Idle: w.Idle, Max: w.MaxOpenConnections, Waits: w.WaitCount, WaitTime: w.WaitDuration},
				{Name: "sqlite_reader", InUse: r.InUse, Idle: r.Idle, Max: r.MaxOpenConnections, Waits: r.WaitCount, WaitTime: r.WaitDuration},
			}
		}
	case *postgres.DB:
		o.Pools = func() []metrics.Pool {
			s := db.PoolStats()
			return []metrics.Pool{{
				Name: "postgres", InUse: int(s.AcquiredConns()), Idle: int(s.IdleConns()), Max: int(s.MaxConns()),
				Waits: s.EmptyAcquireCount(), WaitTime: s.EmptyAcquireWaitTime(),
			}}
		}
	}
	return metrics.New(o)
}

// metricsMux serves /metrics and nothing else.
func metricsMux(m *metrics.Metrics) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// pprofMux serves Go's profiling handlers on a mux of its own: importing
// net/http/pprof also registers them on http.DefaultServeMux, which
// Gatehouse never serves, so they are reachable only on this listener.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// listenOps starts the operator listeners that have an address, each
// separate from the public one so a firewall can keep them private.
func (m Main) listenOps(addrs opsAddrs, store database, log *slog.Logger, errc chan<- error) (*opsListeners, error) {
	ops := &opsListeners{}
	start := func(name, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s listener: %w", name, err)
		}
		hs := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			// A CPU profile or trace runs for as long as asked (30s by
			// default), so writes get more time than on the public side.
			WriteTimeout: 5 * time.Minute,
			ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		ops.servers = append(ops.servers, hs)
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", name, err)
			}
		}()
		log.Info(name+" listening", "addr", ln.Addr().String())
		return nil
	}
	if addrs.metrics != "" {
		ops.metrics = newMetrics(store)
		if err := start("metrics", addrs.metrics, metricsMux(ops.metrics)); err != nil {
			ops.close()
			return nil, err
		}
	}
	if addrs.pprof != "" {
		if err := start("pprof", addrs.pprof, pprofMux()); err != nil {
			ops.close()
			return nil, err
		}
	}
	return ops, nil
}

// close stops the operator listeners at once: nothing there needs draining.
func (o *opsListeners) close() {
	for _, hs := range o.servers {
		hs.Close()
	}
}

// countingQueue counts the codes the 2FA service queues, by channel.
type countingQueue struct {
	mfa.Queue
	m *metrics.Metrics
}

func (q countingQueue) EnqueueEmail(ctx context.Context, workspaceID int64, to, subject, body string) (int64, error) {
	id, err := q.Queue.EnqueueEmail(ctx, workspaceID, to, subject, body)
	if err == nil {
		q.m.CodeSent(string(gatehouse.MethodEmail))
	}
	return id, err
}

func (q countingQueue) EnqueueSMS(ctx context.Context, workspaceID int64, to, body string) (int64, error) {
	id, err := q.Queue.EnqueueSMS(ctx, workspaceID, to, body)
	if err == nil {
		q.m.CodeSent(string(gatehouse.MethodSMS))
	}
	return id, err
}
