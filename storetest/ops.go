package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// OpsStore is a store with the operator methods (metrics, key rotation),
// which span every workspace.
type OpsStore interface {
	Store
	OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error)
}

// RunOps runs the conformance tests of the operator methods.
func RunOps(t *testing.T, open func(tb testing.TB) OpsStore) {
	t.Run("OutboxStats", func(t *testing.T) { testOutboxStats(t, open(t)) })
}

// testOutboxStats checks the outbox depth behind the metrics: pending
// messages of every workspace, retries included, sent and failed ones not.
func testOutboxStats(t *testing.T, s OpsStore) {
	ctx := context.Background()
	n, oldest, err := s.OutboxStats(ctx)
	must(t, "stats of an empty outbox", err)
	if n != 0 || !oldest.IsZero() {
		t.Fatalf("empty outbox: OutboxStats = %d, %v; want 0, zero time", n, oldest)
	}
	wa := MustCreateWorkspace(t, s, "ops-a")
	wb := MustCreateWorkspace(t, s, "ops-b")
	enqueue := func(wsID int64, created time.Time) *gatehouse.Message {
		m := &gatehouse.Message{Channel: "email", To: "a@example.com", Subject: "s", Body: "b", CreatedAt: created, NextAttempt: created}
		must(t, "enqueue", s.EnqueueMessage(ctx, wsID, m))
		return m
	}
	sent := enqueue(wa.ID, t0.Add(-3*time.Hour))
	failed := enqueue(wa.ID, t0.Add(-2*time.Hour))
	retry := enqueue(wb.ID, t0.Add(-time.Hour))
	enqueue(wa.ID, t0)
	must(t, "sent", s.MarkMessageSent(ctx, sent.ID, t0))
	must(t, "failed", s.MarkMessageFailed(ctx, failed.ID, "550 no such user", t0, true))
	must(t, "retry", s.MarkMessageFailed(ctx, retry.ID, "421 try later", t0.Add(time.Minute), false))

	n, oldest, err = s.OutboxStats(ctx)
	must(t, "stats", err)
	if n != 2 || !oldest.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("OutboxStats = %d, %v; want 2 pending (one a retry, in another workspace), the oldest queued at %v", n, oldest, t0.Add(-time.Hour))
	}
}
