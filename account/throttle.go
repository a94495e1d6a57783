package account

import (
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Per account the pause starts after 5 failures (a typo or two is normal);
// per IP after 20, because one office may share an address. A counter quiet
// for an hour is forgotten: without that a shared office IP would pay for
// every typo it ever made, and an attacker still gets only about twenty
// guesses an hour per account, since the pauses reach 15 minutes long
// before an hour is up.
var (
	accountPolicy = gatehouse.Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
	ipPolicy      = gatehouse.Backoff{Free: 20, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
)

type throttleKey struct {
	key    string
	policy gatehouse.Backoff
}
