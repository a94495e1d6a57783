package account

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// TestCountersOutliveNoWindow: the hourly sweep deletes counters older than
// gatehouse.CounterRetention, so the throttles must forget sooner.
func TestCountersOutliveNoWindow(t *testing.T) {
	for _, p := range []gatehouse.Backoff{accountPolicy, ipPolicy} {
		if p.Forget > gatehouse.CounterRetention || p.LockFor > gatehouse.CounterRetention {
			t.Errorf("backoff %+v outlives the counters' retention %v", p, gatehouse.CounterRetention)
		}
	}
}
