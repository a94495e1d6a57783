package gatehouse

import (
	"math"
	"testing"
	"time"
)

// The policies of package account, copied so their numbers are pinned here.
var (
	accountPolicy = Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
	ipPolicy      = Backoff{Free: 20, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
)

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		name     string
		policy   Backoff
		failures int
		want     time.Duration
	}{
		{name: "account: none", policy: accountPolicy, failures: 0, want: 0},
		{name: "account: negative", policy: accountPolicy, failures: -3, want: 0},
		{name: "account: 1", policy: accountPolicy, failures: 1, want: 0},
		{name: "account: 4", policy: accountPolicy, failures: 4, want: 0},
		{name: "account: 5 pauses the 6th attempt", policy: accountPolicy, failures: 5, want: time.Second},
		{name: "account: 6", policy: accountPolicy, failures: 6, want: 2 * time.Second},
		{name: "account: 7", policy: accountPolicy, failures: 7, want: 4 * time.Second},
		{name: "account: 14", policy: accountPolicy, failures: 14, want: 512 * time.Second},
		{name: "account: 15 reaches the cap", policy: accountPolicy, failures: 15, want: 15 * time.Minute},
		{name: "account: 16", policy: accountPolicy, failures: 16, want: 15 * time.Minute},
		{name: "account: 1000", policy: accountPolicy, failures: 1000, want: 15 * time.Minute},
		{name: "account: MaxInt", policy: accountPolicy, failures: math.MaxInt, want: 15 * time.Minute},
		{name: "ip: 19", policy: ipPolicy, failures: 19, want: 0},
		{name: "ip: 20 pauses the 21st attempt", policy: ipPolicy, failures: 20, want: time.Second},
		{name: "ip: 21", policy: ipPolicy, failures: 21, want: 2 * time.Second},
		{name: "ip: 30", policy: ipPolicy, failures: 30, want: 15 * time.Minute},
		{name: "no free failures, none yet", policy: Backoff{Free: 0, Base: time.Second, Max: time.Minute}, failures: 0, want: 0},
		{name: "cap not a power of two of base", policy: Backoff{Free: 1, Base: 3 * time.Second, Max: 10 * time.Second}, failures: 3, want: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Delay(tt.failures); got != tt.want {
				t.Errorf("delay(%d) = %v, want %v", tt.failures, got, tt.want)
			}
		})
	}
}

func TestBackoffDelayGrows(t *testing.T) {
	for _, p := range []Backoff{accountPolicy, ipPolicy} {
		prev := time.Duration(0)
		for n := 0; n <= p.Free+40; n++ {
			d := p.Delay(n)
			if d < prev || d > p.Max {
				t.Fatalf("%+v: delay(%d) = %v after %v, want non-decreasing and at most %v", p, n, d, prev, p.Max)
			}
			prev = d
		}
		if prev != p.Max {
			t.Errorf("%+v: delay never reached Max, ended at %v", p, prev)
		}
	}
}

func TestBackoffWait(t *testing.T) {
	last := time.Date(2025, time.March, 4, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name     string
		failures int
		now      time.Time
		want     time.Duration
	}{
		{name: "never failed", failures: 0, now: last, want: 0},
		{name: "free failures", failures: 4, now: last, want: 0},
		{name: "right after the 5th", failures: 5, now: last, want: time.Second},
		{name: "half way", failures: 5, now: last.Add(500 * time.Millisecond), want: 500 * time.Millisecond},
		{name: "pause over", failures: 5, now: last.Add(time.Second), want: 0},
		{name: "long after", failures: 5, now: last.Add(24 * time.Hour), want: 0},
		{name: "capped", failures: 50, now: last.Add(time.Minute), want: 14 * time.Minute},
		{name: "clock behind the store", failures: 5, now: last.Add(-time.Second), want: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := Throttle{Failures: tt.failures, LastFailureAt: last}
			if got := accountPolicy.Wait(th, tt.now); got != tt.want {
				t.Errorf("wait(%d failures, %v after the last) = %v, want %v", tt.failures, tt.now.Sub(last), got, tt.want)
			}
		})
	}
}

func TestBackoffLock(t *testing.T) {
	b := Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, LockAt: 100, LockFor: 24 * time.Hour, Forget: 24 * time.Hour}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := b.Delay(99); d != 15*time.Minute {
		t.Fatalf("Delay(99) = %v", d)
	}
	th := Throttle{Failures: 100, LastFailureAt: t0}
	if !b.Locked(th, t0.Add(23*time.Hour)) || b.Wait(th, t0.Add(23*time.Hour)) != time.Hour {
		t.Fatal("100 failures must lock for 24 h")
	}
	if b.Locked(th, t0.Add(24*time.Hour)) {
		t.Fatal("the lock must end after 24 h")
	}
}
