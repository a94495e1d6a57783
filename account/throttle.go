package account

import (
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// throttlePolicy turns a failure count into a pause: Free failures may come
// back to back, then the next attempt waits Base and each further failure
// doubles the pause up to Max.
// The pause is measured from the last failure, so it holds across instances
// that share the store.
type throttlePolicy struct {
	Free int
	Base time.Duration
	Max  time.Duration
}

// Per account the pause starts after 5 failures (a typo or two is normal);
// per IP after 20, because one office may share an address.
var (
	accountPolicy = throttlePolicy{Free: 5, Base: time.Second, Max: 15 * time.Minute}
	ipPolicy      = throttlePolicy{Free: 20, Base: time.Second, Max: 15 * time.Minute}
)

// forgetAfter is how long a counter must stay quiet before its failures are
// forgotten. Without it a shared office IP would pay for every typo it ever
// made; with it an attacker still gets only about twenty guesses an hour per
// account, since the pauses grow to 15 minutes long before an hour is up.
const forgetAfter = time.Hour

type throttleKey struct {
	key    string
	policy throttlePolicy
}

// delay returns the pause owed after failures failures: none before Free
// of them, Base once there are Free, then doubling with each one more.
func (p throttlePolicy) delay(failures int) time.Duration {
	if failures <= 0 || failures < p.Free {
		return 0
	}
	d := p.Base
	for i := p.Free; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// wait returns how long from now the counter still blocks attempts.
func (p throttlePolicy) wait(th gatehouse.Throttle, now time.Time) time.Duration {
	d := p.delay(th.Failures)
	if d == 0 {
		return 0
	}
	return max(0, th.LastFailureAt.Add(d).Sub(now))
}
