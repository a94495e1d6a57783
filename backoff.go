package gatehouse

import "time"

// Backoff turns a failure count into a pause: Free failures may come back to
// back, then the next attempt waits Base and each further failure doubles
// the pause up to Max. At LockAt failures (when set) the key is locked for
// LockFor instead. Pauses are measured from the last failure, which the
// store keeps, so they hold across instances.
type Backoff struct {
	Free    int
	Base    time.Duration
	Max     time.Duration
	LockAt  int
	LockFor time.Duration
	// Forget is how long a counter must stay quiet before its failures are
	// forgotten (passed to ThrottleStore.AddFailure).
	Forget time.Duration
}

// Delay returns the pause owed after failures failures: none before Free of
// them, Base once there are Free, then doubling with each one more.
func (b Backoff) Delay(failures int) time.Duration {
	if b.LockAt > 0 && failures >= b.LockAt {
		return b.LockFor
	}
	if failures <= 0 || failures < b.Free {
		return 0
	}
	d := b.Base
	for i := b.Free; i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Wait returns how long from now the counter still blocks attempts.
func (b Backoff) Wait(th Throttle, now time.Time) time.Duration {
	d := b.Delay(th.Failures)
	if d == 0 {
		return 0
	}
	return max(0, th.LastFailureAt.Add(d).Sub(now))
}

// Locked reports whether the counter has reached the lock.
func (b Backoff) Locked(th Throttle, now time.Time) bool {
	return b.LockAt > 0 && th.Failures >= b.LockAt && b.Wait(th, now) > 0
}
