package account_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/password"
)

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	alice := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	dave := e.mustUser(t, e.ws, "dave@example.com", goodPassword, gatehouse.RoleMember)
	e.mustDisable(t, dave)
	e.mustInvited(t, e.ws, "ivy@example.com", gatehouse.RoleMember)

	tests := []struct {
		name     string
		email    string
		password string
		wantUser int64 // 0: want ErrBadCredentials
	}{
		{name: "right password", email: "alice@example.com", password: goodPassword, wantUser: alice.ID},
		{name: "e-mail case and spaces ignored", email: "  ALICE@Example.COM\t", password: goodPassword, wantUser: alice.ID},
		{name: "wrong password", email: "alice@example.com", password: otherPassword},
		{name: "password case matters", email: "alice@example.com", password: "TANGERINE-OCTOPUS-42"},
		{name: "empty password", email: "alice@example.com", password: ""},
		{name: "unknown e-mail", email: "nobody@example.com", password: goodPassword},
		{name: "empty e-mail", email: "", password: goodPassword},
		{name: "disabled user with right password", email: "dave@example.com", password: goodPassword},
		{name: "invited user without a password", email: "ivy@example.com", password: ""},
		{name: "invited user with some password", email: "ivy@example.com", password: goodPassword},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := fmt.Sprintf("192.0.2.%d", i+1) // one IP per case: no case throttles another
			before := e.svc.Hasher.Computations()
			u, err := e.auth(tt.email, tt.password, ip)
			// Every answer, right or wrong, known or unknown, costs exactly one
			// hash, so response times tell a stranger nothing.
			if got := e.svc.Hasher.Computations() - before; got != 1 {
				t.Errorf("hash computations = %d, want 1", got)
			}
			if tt.wantUser == 0 {
				wantErr(t, "authenticate", err, account.ErrBadCredentials)
				if u != nil {
					t.Errorf("got user %d with an error", u.ID)
				}
				return
			}
			if err != nil {
				t.Fatalf("authenticate: %v", err)
			}
			if u.ID != tt.wantUser {
				t.Errorf("got user %d, want %d", u.ID, tt.wantUser)
			}
		})
	}
}

func TestAuthenticateCountsFailures(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	ctx := context.Background()

	for range 3 {
		_, err := e.auth("Alice@Example.com", otherPassword, "198.51.100.7")
		wantErr(t, "wrong password", err, account.ErrBadCredentials)
	}
	for key, want := range map[string]int{"acct:alice@example.com": 3, "ip:198.51.100.7": 3} {
		th, err := e.db.FindThrottle(ctx, e.ws.ID, key)
		if err != nil {
			t.Fatal(err)
		}
		if th.Failures != want || !th.LastFailureAt.Equal(start) {
			t.Errorf("throttle %s = %+v, want %d failures at %v", key, th, want, start)
		}
	}

	// A success clears the account's counter but not the address's: the
	// address may be guessing at other accounts.
	e.mustAuth(t, "alice@example.com", goodPassword, "198.51.100.7")
	for key, want := range map[string]int{"acct:alice@example.com": 0, "ip:198.51.100.7": 3} {
		th, err := e.db.FindThrottle(ctx, e.ws.ID, key)
		if err != nil {
			t.Fatal(err)
		}
		if th.Failures != want {
			t.Errorf("after success, throttle %s has %d failures, want %d", key, th.Failures, want)
		}
	}
}

func TestAuthenticateThrottlesAccount(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)

	// Each attempt from its own address, so only the account counter counts.
	ip := func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }
	for i := range 5 {
		_, err := e.auth("alice@example.com", otherPassword, ip(i))
		wantErr(t, fmt.Sprintf("failure %d", i+1), err, account.ErrBadCredentials)
	}

	before := e.svc.Hasher.Computations()
	_, err := e.auth("alice@example.com", goodPassword, ip(5))
	retry := wantThrottled(t, "6th attempt with the right password", err)
	if retry > 15*time.Minute {
		t.Errorf("RetryAfter = %v, want at most 15m", retry)
	}
	if got := e.svc.Hasher.Computations() - before; got != 0 {
		t.Errorf("a throttled attempt computed %d hashes, want 0", got)
	}

	// The pause holds until its last nanosecond has passed.
	e.clock.Advance(retry - time.Nanosecond)
	_, err = e.auth("alice@example.com", goodPassword, ip(6))
	if left := wantThrottled(t, "1ns before the pause ends", err); left != time.Nanosecond {
		t.Errorf("RetryAfter 1ns before the end = %v, want 1ns", left)
	}
	e.clock.Advance(time.Nanosecond)
	e.mustAuth(t, "alice@example.com", goodPassword, ip(7))

	th, err := e.db.FindThrottle(context.Background(), e.ws.ID, "acct:alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if th.Failures != 0 {
		t.Errorf("after a success the account has %d failures, want 0", th.Failures)
	}
	// The counter starts over: the next mistake is not throttled.
	_, err = e.auth("alice@example.com", otherPassword, ip(8))
	wantErr(t, "first failure after reset", err, account.ErrBadCredentials)
	e.mustAuth(t, "alice@example.com", goodPassword, ip(9))
}

func TestAuthenticateThrottleGrows(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	ip := func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }
	for i := range 5 {
		_, err := e.auth("alice@example.com", otherPassword, ip(i))
		wantErr(t, "free failure", err, account.ErrBadCredentials)
	}

	const maxPause = 15 * time.Minute
	var prev time.Duration
	for i := 0; ; i++ {
		if i > 30 {
			t.Fatalf("pause never reached %v (last %v)", maxPause, prev)
		}
		_, err := e.auth("alice@example.com", goodPassword, ip(100+i))
		retry := wantThrottled(t, fmt.Sprintf("attempt after %d failures", 5+i), err)
		switch {
		case retry > maxPause:
			t.Fatalf("after %d failures RetryAfter = %v, above the %v cap", 5+i, retry, maxPause)
		case prev != 0 && retry != min(2*prev, maxPause):
			t.Fatalf("after %d failures RetryAfter = %v, want %v (double %v, capped)", 5+i, retry, min(2*prev, maxPause), prev)
		}
		if prev == maxPause {
			break // stayed at the cap for one more failure
		}
		prev = retry
		// Wait the pause out, then fail once more.
		e.clock.Advance(retry)
		_, err = e.auth("alice@example.com", otherPassword, ip(100+i))
		wantErr(t, "failure after the pause", err, account.ErrBadCredentials)
	}
}

func TestAuthenticateThrottlesIP(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	const office, elsewhere = "198.51.100.1", "198.51.100.2"

	// 20 different accounts, one failure each, from one address.
	for i := range 20 {
		_, err := e.auth(fmt.Sprintf("user%02d@example.com", i), "wrong-password-1", office)
		wantErr(t, fmt.Sprintf("failure %d", i+1), err, account.ErrBadCredentials)
	}

	_, err := e.auth("alice@example.com", goodPassword, office)
	wantThrottled(t, "21st e-mail from the same address", err)
	_, err = e.auth("someone-new@example.com", "wrong-password-1", office)
	wantThrottled(t, "unknown e-mail from the same address", err)

	e.mustAuth(t, "alice@example.com", goodPassword, elsewhere)
	_, err = e.auth("someone-new@example.com", "wrong-password-1", elsewhere)
	wantErr(t, "unknown e-mail from another address", err, account.ErrBadCredentials)

	// The address's own pause ends too.
	e.clock.Advance(15 * time.Minute)
	e.mustAuth(t, "alice@example.com", goodPassword, office)
}

// TestAuthenticateThrottlesIPv6By64: the per-address pause counts an IPv6
// client's /64, so a fresh address from the same network is paused too.
func TestAuthenticateThrottlesIPv6By64(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	for i := range 20 {
		_, err := e.auth(fmt.Sprintf("user%02d@example.com", i), "wrong-password-1", fmt.Sprintf("2001:db8::%x", i+1))
		wantErr(t, fmt.Sprintf("failure %d", i+1), err, account.ErrBadCredentials)
	}
	_, err := e.auth("alice@example.com", goodPassword, "2001:db8::abcd")
	wantThrottled(t, "another address of the same /64", err)
	e.mustAuth(t, "alice@example.com", goodPassword, "2001:db8:0:1::1")
}

// TestAuthenticateThrottleForgets: after an hour without failures a counter
// starts again, so a shared address does not pay for old typos forever.
func TestAuthenticateThrottleForgets(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	const office = "198.51.100.1"
	for i := range 30 {
		e.auth(fmt.Sprintf("user%02d@example.com", i), "wrong-password-1", office)
		e.clock.Advance(16 * time.Minute) // outwait every pause
	}
	e.clock.Advance(time.Hour)
	// One more typo now costs nothing: the old count was forgotten.
	_, err := e.auth("user99@example.com", "wrong-password-1", office)
	wantErr(t, "typo after a quiet hour", err, account.ErrBadCredentials)
	e.mustAuth(t, "alice@example.com", goodPassword, office)
}

// TestAuthenticateThrottleNoEnumeration checks that an account that exists
// and one that does not go through the same sequence of answers, pauses and
// hashing work.
func TestAuthenticateThrottleNoEnumeration(t *testing.T) {
	type step struct {
		err    string
		retry  time.Duration
		hashes int64
	}
	run := func(t *testing.T, email string, known bool) []step {
		e := newEnv(t)
		if known {
			e.mustUser(t, e.ws, email, goodPassword, gatehouse.RoleClient)
		}
		var steps []step
		attempt := func(ip string) {
			before := e.svc.Hasher.Computations()
			_, err := e.auth(email, otherPassword, ip)
			s := step{hashes: e.svc.Hasher.Computations() - before}
			var te *account.ThrottledError
			switch {
			case errors.As(err, &te):
				s.err, s.retry = "throttled", te.RetryAfter
			case errors.Is(err, account.ErrBadCredentials):
				s.err = "bad credentials"
			default:
				t.Fatalf("attempt: unexpected result %v", err)
			}
			steps = append(steps, s)
		}
		for i := range 7 {
			attempt(fmt.Sprintf("203.0.113.%d", i))
		}
		e.clock.Advance(time.Hour)
		for i := range 3 {
			attempt(fmt.Sprintf("203.0.113.%d", 10+i))
		}
		th, err := e.db.FindThrottle(context.Background(), e.ws.ID, "acct:"+email)
		if err != nil {
			t.Fatal(err)
		}
		return append(steps, step{err: fmt.Sprintf("counter %d", th.Failures)})
	}

	tests := []struct {
		name  string
		known bool
	}{
		{name: "known e-mail", known: true},
		{name: "unknown e-mail", known: false},
	}
	got := map[bool][]step{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := run(t, "target@example.com", tt.known)
			if steps[5].err != "throttled" {
				t.Errorf("6th attempt = %+v, want throttled", steps[5])
			}
			got[tt.known] = steps
		})
	}
	if fmt.Sprint(got[true]) != fmt.Sprint(got[false]) {
		t.Errorf("known and unknown e-mails are told apart:\nknown:   %v\nunknown: %v", got[true], got[false])
	}
}

// TestAuthenticateConcurrentFailures: a burst of guesses at once. Attempts
// are counted atomically before any password is checked, and at most the
// free five are ever checked: the rest are refused as throttled without a
// password hash.
func TestAuthenticateConcurrentFailures(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	hashes := e.svc.Hasher.Computations()

	const n = 10
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		bad     int
		startCh = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-startCh
			_, err := e.auth("alice@example.com", otherPassword, fmt.Sprintf("203.0.113.%d", i))
			var te *account.ThrottledError
			switch {
			case errors.Is(err, account.ErrBadCredentials):
				mu.Lock()
				bad++
				mu.Unlock()
			case errors.As(err, &te):
			default:
				t.Errorf("attempt %d: unexpected result %v", i, err)
			}
		})
	}
	close(startCh)
	wg.Wait()

	th, err := e.db.FindThrottle(context.Background(), e.ws.ID, "acct:alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checked %d of %d concurrent guesses", bad, n)
	// Attempts refused by an existing pause are not counted; the rest are.
	if th.Failures < bad || th.Failures > n {
		t.Errorf("counter = %d after %d attempts (%d checked)", th.Failures, n, bad)
	}
	if checked := e.svc.Hasher.Computations() - hashes; bad < 1 || bad > 5 || checked != int64(bad) {
		t.Errorf("%d guesses checked (%d hashes) out of a burst of %d, want 1 to 5", bad, checked, n)
	}
}

func TestAuthenticateUpgradesHash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := password.NewHasher(password.Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)
	oldHash, err := old.Hash(ctx, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	u := &gatehouse.User{Email: "old@example.com", Role: gatehouse.RoleMember, PasswordHash: oldHash, CreatedAt: start, UpdatedAt: start}
	if err := e.db.CreateUser(ctx, e.ws.ID, u); err != nil {
		t.Fatal(err)
	}
	if _, rehash, _ := e.svc.Hasher.Verify(ctx, goodPassword, oldHash); !rehash {
		t.Fatal("setup: the old hash does not need a rehash under the service's hasher")
	}

	e.clock.Advance(time.Minute)
	e.mustAuth(t, "old@example.com", goodPassword, "192.0.2.1")

	stored := e.mustFindUser(t, e.ws, "old@example.com")
	if stored.PasswordHash == oldHash {
		t.Fatal("password hash was not upgraded")
	}
	ok, rehash, err := e.svc.Hasher.Verify(ctx, goodPassword, stored.PasswordHash)
	if err != nil || !ok || rehash {
		t.Errorf("upgraded hash: Verify = ok %v, needsRehash %v, err %v; want true, false, nil", ok, rehash, err)
	}
	if !stored.UpdatedAt.Equal(e.clock.Now()) {
		t.Errorf("UpdatedAt = %v, want %v", stored.UpdatedAt, e.clock.Now())
	}

	// Signing in again needs no further upgrade: one hash, hash unchanged.
	before := e.svc.Hasher.Computations()
	e.mustAuth(t, "old@example.com", goodPassword, "192.0.2.1")
	if got := e.svc.Hasher.Computations() - before; got != 1 {
		t.Errorf("second sign-in computed %d hashes, want 1", got)
	}
	if again := e.mustFindUser(t, e.ws, "old@example.com"); again.PasswordHash != stored.PasswordHash {
		t.Error("hash changed again at the second sign-in")
	}

	// A wrong password never touches the stored hash.
	_, err = e.auth("old@example.com", otherPassword, "192.0.2.1")
	wantErr(t, "wrong password", err, account.ErrBadCredentials)
	if again := e.mustFindUser(t, e.ws, "old@example.com"); again.PasswordHash != stored.PasswordHash {
		t.Error("a failed sign-in changed the hash")
	}
}

func TestAuthenticateMalformedHash(t *testing.T) {
	e := newEnv(t)
	u := &gatehouse.User{Email: "bad@example.com", Role: gatehouse.RoleMember, PasswordHash: "$2a$10$notargon2", CreatedAt: start, UpdatedAt: start}
	if err := e.db.CreateUser(context.Background(), e.ws.ID, u); err != nil {
		t.Fatal(err)
	}
	_, err := e.auth("bad@example.com", goodPassword, "192.0.2.1")
	wantErr(t, "corrupt stored hash", err, account.ErrBadCredentials)
}
