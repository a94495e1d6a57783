package mfa

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// TestCountersOutliveNoWindow: the hourly sweep deletes counters older than
// gatehouse.CounterRetention, so every window and lock here must be shorter.
func TestCountersOutliveNoWindow(t *testing.T) {
	for name, d := range map[string]time.Duration{
		"account backoff forget":  accountBackoff.Forget,
		"account lock":            accountBackoff.LockFor,
		"passwordless ceremonies": SignInCeremonyWindow,
		"SMS daily cap":           24 * time.Hour,
	} {
		if d > gatehouse.CounterRetention {
			t.Errorf("%s lasts %v, past the counters' retention %v", name, d, gatehouse.CounterRetention)
		}
	}
}
