package mfa_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// racers is how many requests race in each test, half on each instance.
const racers = 8

// barrier holds goroutines until n have arrived, so that they reach the
// database at the same moment. It gives up after a while rather than hang
// a test whose racer failed before reaching it.
type barrier struct {
	mu      sync.Mutex
	n       int
	arrived int
	release chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, release: make(chan struct{})} }

func (b *barrier) wait() {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.release)
	}
	b.mu.Unlock()
	select {
	case <-b.release:
	case <-time.After(10 * time.Second):
	}
}

// gatedStore holds each single-use operation at a barrier: every racer has
// read its throttle and checked its code before any of them spends it.
type gatedStore struct {
	stores
	b *barrier
}

func (g gatedStore) UseTOTPStep(ctx context.Context, workspaceID, userID, step int64) error {
	g.b.wait()
	return g.stores.UseTOTPStep(ctx, workspaceID, userID, step)
}

func (g gatedStore) ConsumeRecoveryCode(ctx context.Context, workspaceID, userID int64, mac []byte, now time.Time) error {
	g.b.wait()
	return g.stores.ConsumeRecoveryCode(ctx, workspaceID, userID, mac, now)
}

func (g gatedStore) ConsumeCode(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method, mac []byte, now time.Time) (*mfa.Code, error) {
	g.b.wait()
	return g.stores.ConsumeCode(ctx, workspaceID, sessionID, channel, mac, now)
}

func (g gatedStore) ReserveSend(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method, now, gapFloor, windowFloor time.Time, max int) (bool, mfa.SendClock, error) {
	g.b.wait()
	return g.stores.ReserveSend(ctx, workspaceID, userID, channel, now, gapFloor, windowFloor, max)
}

// cluster is two Gatehouse instances on one database: each a Service over
// its own, separately opened store, sharing the clock, mailer and key.
type cluster struct {
	*harness
	stores [2]stores
	// sessions are the racers' sessions of the last race.
	sessions []*gatehouse.Visit
}

func newCluster(t *testing.T, b backend) *cluster {
	t.Helper()
	ss := b.open(t, 2)
	return &cluster{harness: newHarness(t, ss[0], setup{}), stores: [2]stores{ss[0], ss[1]}}
}

// race runs call once per racer at the same moment, racer i on instance
// i%2 with a visit read through that instance's store, and returns their
// errors. visit makes racer i's visit on the given store.
func (c *cluster) race(t *testing.T, n int, visit func(i int, store stores) *gatehouse.Visit,
	call func(svc *mfa.Service, v *gatehouse.Visit) error) []error {
	t.Helper()
	b := newBarrier(n)
	svcs := [2]*mfa.Service{c.instance(gatedStore{c.stores[0], b}), c.instance(gatedStore{c.stores[1], b})}
	visits := make([]*gatehouse.Visit, n)
	for i := range n {
		visits[i] = visit(i, c.stores[i%2])
	}
	c.sessions = visits
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = call(svcs[i%2], visits[i]) })
	}
	wg.Wait()
	return errs
}

// ownSession gives every racer a pending session of its own.
func (c *cluster) ownSession(t *testing.T) func(int, stores) *gatehouse.Visit {
	return func(_ int, store stores) *gatehouse.Visit { return c.session(t, store, c.user, false) }
}

// sessionsWithCode counts the user's sessions that have an e-mail code.
func (c *cluster) sessionsWithCode(t *testing.T) int {
	t.Helper()
	n := 0
	for _, v := range c.sessions {
		_, err := c.store.FindLatestCode(context.Background(), c.ws.ID, v.Session.ID, gatehouse.MethodEmail)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, gatehouse.ErrNotFound):
			t.Fatal(err)
		}
	}
	return n
}

// checkOneWinner checks that exactly one racer succeeded and that every
// other one got want, or was refused as throttled: attempts are counted
// before codes are checked, so a racer that finds another attempt slipped in
// is turned away without its code being looked at.
func checkOneWinner(t *testing.T, errs []error, want func(error) bool, wantName string) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.As(err, new(*mfa.ThrottledError)):
		case !want(err):
			t.Errorf("racer %d (instance %d): %v; want %s", i, i%2, err, wantName)
		}
	}
	if wins != 1 {
		t.Errorf("%d racers succeeded, want exactly 1", wins)
	}
}

func TestAcrossInstances(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("one TOTP code", func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, b)
			seed, _ := c.enrollTOTP(t, c.signedIn(t))
			code := totpCode(t, seed, c.clock.Now())
			errs := c.race(t, racers, c.ownSession(t), func(svc *mfa.Service, v *gatehouse.Visit) error {
				_, err := svc.Verify(context.Background(), v, "totp", code, testIP)
				return err
			})
			checkOneWinner(t, errs, func(err error) bool { return errors.Is(err, mfa.ErrReplay) }, "ErrReplay")
			if es := c.events(t, "mfa.challenge.passed"); len(es) != 1 {
				t.Errorf("%d passed challenges recorded, want 1", len(es))
			}
			if es := c.events(t, "mfa.challenge.failed"); len(es) > racers-1 {
				t.Errorf("%d failed challenges recorded, want at most %d", len(es), racers-1)
			}
		})
		t.Run("one recovery code", func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, b)
			_, codes := c.enrollTOTP(t, c.signedIn(t))
			errs := c.race(t, racers, c.ownSession(t), func(svc *mfa.Service, v *gatehouse.Visit) error {
				_, err := svc.Verify(context.Background(), v, "recovery", codes[3], testIP)
				return err
			})
			checkOneWinner(t, errs, func(err error) bool { return errors.Is(err, mfa.ErrRecoveryUsed) }, "ErrRecoveryUsed")
			if n := c.recoveryLeft(t, c.user); n != 7 {
				t.Errorf("%d recovery codes left, want 7", n)
			}
			if got := c.mail.withSubject("A recovery code was used"); len(got) != 1 {
				t.Errorf("%d recovery e-mails, want 1", len(got))
			}
			if es := c.events(t, "mfa.recovery.used"); len(es) != 1 {
				t.Errorf("%d recovery uses recorded, want 1", len(es))
			}
		})
		t.Run("one e-mail code, submitted on both", func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, b)
			c.addEmailFactor(t, c.user)
			v := c.pending(t)
			if err := c.svc.SendCode(t.Context(), v, gatehouse.MethodEmail, testIP); err != nil {
				t.Fatal(err)
			}
			code := c.mail.lastCode(t)
			// One login, its code submitted several times at once (fewer
			// than MaxLoginFailures): the losers learn that the login went
			// on with it (ErrLoginEnded), not that their code was wrong.
			const n = 4
			errs := c.race(t, n, func(_ int, store stores) *gatehouse.Visit {
				return c.visit(t, store, v.Session.TokenHash)
			}, func(svc *mfa.Service, v *gatehouse.Visit) error {
				_, err := svc.Verify(context.Background(), v, "email", code, testIP)
				return err
			})
			checkOneWinner(t, errs, func(err error) bool { return errors.Is(err, mfa.ErrLoginEnded) }, "ErrLoginEnded")
		})
		t.Run("one send", func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, b)
			c.addEmailFactor(t, c.user)
			errs := c.race(t, racers, c.ownSession(t), func(svc *mfa.Service, v *gatehouse.Visit) error {
				return svc.SendCode(context.Background(), v, gatehouse.MethodEmail, testIP)
			})
			checkOneWinner(t, errs, func(err error) bool {
				var ts *mfa.TooSoonError
				return errors.As(err, &ts) && ts.RetryAfter == mfa.ResendGap && ts.Seconds() == 60
			}, "*TooSoonError of 60 s")
			if _, codes := c.mail.codeMails(); len(codes) != 1 {
				t.Errorf("%d codes e-mailed, want 1", len(codes))
			}
			if n := c.sessionsWithCode(t); n != 1 {
				t.Errorf("%d logins have a code, want 1", n)
			}
			// After the minute, exactly one more.
			c.clock.Advance(mfa.ResendGap)
			errs = c.race(t, racers, c.ownSession(t), func(svc *mfa.Service, v *gatehouse.Visit) error {
				return svc.SendCode(context.Background(), v, gatehouse.MethodEmail, testIP)
			})
			checkOneWinner(t, errs, func(err error) bool {
				var ts *mfa.TooSoonError
				return errors.As(err, &ts) && ts.RetryAfter == mfa.ResendGap
			}, "*TooSoonError of 60 s")
			if _, codes := c.mail.codeMails(); len(codes) != 2 {
				t.Errorf("%d codes e-mailed, want 2", len(codes))
			}
		})
	})
}

// hookStore runs beforeConsume (once) when a code is about to be spent:
// what another request does at that moment.
type hookStore struct {
	stores
	beforeConsume func()
}

func (s *hookStore) ConsumeCode(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method, mac []byte, now time.Time) (*mfa.Code, error) {
	if f := s.beforeConsume; f != nil {
		s.beforeConsume = nil
		f()
	}
	return s.stores.ConsumeCode(ctx, workspaceID, sessionID, channel, mac, now)
}

// TestLoginEndedMeanwhile: a try of a pending login whose session another
// request ended on the way (a double submit: the winner passed the gate and
// replaced the session) is answered ErrLoginEnded, never a store error nor
// the refusal it met because of the winner.
func TestLoginEndedMeanwhile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		h.addEmailFactor(t, h.user)
		ctx := t.Context()
		promote := func(v *gatehouse.Visit) { // what account.Promote does to the old session
			if err := h.store.DeleteSession(ctx, h.ws.ID, v.Session.TokenHash); err != nil {
				t.Fatal(err)
			}
		}

		// Gone before the try is counted.
		v := h.pending(t)
		if err := h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP); err != nil {
			t.Fatal(err)
		}
		code := h.mail.lastCode(t)
		promote(v)
		if _, err := h.svc.Verify(ctx, v, "email", code, testIP); !errors.Is(err, mfa.ErrLoginEnded) {
			t.Errorf("Verify after the session went = %v; want ErrLoginEnded", err)
		}

		// Gone while the code was checked: the winner spent it first.
		h.clock.Advance(mfa.ResendGap)
		v = h.pending(t)
		if err := h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP); err != nil {
			t.Fatal(err)
		}
		code = h.mail.lastCode(t)
		hooked := &hookStore{stores: h.store}
		loser := h.instance(hooked)
		hooked.beforeConsume = func() {
			if _, err := h.svc.Verify(ctx, h.reload(t, v), "email", code, testIP); err != nil {
				t.Errorf("the winner: %v", err)
			}
			promote(v)
		}
		if _, err := loser.Verify(ctx, v, "email", code, testIP); !errors.Is(err, mfa.ErrLoginEnded) {
			t.Errorf("Verify that lost the race = %v; want ErrLoginEnded", err)
		}
	})
}

// factorsFail is a store whose factor reads fail.
type factorsFail struct{ stores }

var errStoreDown = errors.New("store down")

func (factorsFail) FindFactors(context.Context, int64, int64) ([]mfa.Factor, error) {
	return nil, errStoreDown
}

// TestConfirmSMSStoreError: a failed read is reported as such, not as
// "nothing to confirm".
func TestConfirmSMSStoreError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodSMS}})
		h.sms = h.enableSMS(t)
		v := h.signedIn(t)
		if _, err := h.svc.StartSMS(t.Context(), v, "GB", "07700 900123", testIP); err != nil {
			t.Fatal(err)
		}
		broken := h.instance(factorsFail{h.store})
		if err := broken.ConfirmSMS(t.Context(), v, h.sms.lastCode(t), testIP); !errors.Is(err, errStoreDown) {
			t.Errorf("ConfirmSMS with the store down = %v; want its error", err)
		}
	})
}

// TestSMSCapsAcrossInstances: 40 SMS enrollments at once, by 40 users over
// two instances on one database, pass the workspace's hourly cap and the
// per-address limit exactly as many times as they allow.
func TestSMSCapsAcrossInstances(t *testing.T) {
	const n = 40
	tests := []struct {
		name    string
		hourly  int
		ip      func(i int) string // racer i's client address
		want    int
		refusal error
	}{
		{"workspace hourly cap", 5, func(i int) string { return fmt.Sprintf("192.0.2.%d", i+1) }, 5, mfa.ErrSMSCap},
		{"per-address limit", 1000, func(int) string { return testIP }, 10, mfa.ErrSMSIPCap},
		// One IPv6 client holds a /64: its addresses share one limit.
		{"per-address limit, one IPv6 /64", 1000, func(i int) string { return fmt.Sprintf("2001:db8::%x", i+1) }, 10, mfa.ErrSMSIPCap},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := newCluster(t, b)
				q := c.enableSMS(t)
				guard := c.ws.SMSGuard
				guard.HourlyCap = tt.hourly
				methods := []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodSMS}
				c.update(t, gatehouse.WorkspaceUpdate{SMSGuard: &guard, MFAMethods: &methods})
				svcs := [2]*mfa.Service{c.instance(c.stores[0]), c.instance(c.stores[1])}
				for _, svc := range svcs {
					svc.Queue = q
				}
				visits := make([]*gatehouse.Visit, n)
				for i := range n {
					u := c.newUser(t, fmt.Sprintf("user%d@example.com", i), true)
					visits[i] = c.session(t, c.stores[i%2], u, true)
				}
				errs := make([]error, n)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range n {
					ip := tt.ip(i)
					wg.Go(func() {
						<-start
						_, errs[i] = svcs[i%2].StartSMS(context.Background(), visits[i], "GB", fmt.Sprintf("07700 9%05d", i), ip)
					})
				}
				close(start)
				wg.Wait()
				passed := 0
				for i, err := range errs {
					switch {
					case err == nil:
						passed++
					case !errors.Is(err, tt.refusal):
						t.Errorf("racer %d: %v; want nil or %v", i, err, tt.refusal)
					}
				}
				if passed != tt.want || len(q.sent) != tt.want {
					t.Errorf("%d sends passed and %d texts went out, want %d", passed, len(q.sent), tt.want)
				}
				if es := c.events(t, "sms.refused"); len(es) != n-tt.want {
					t.Errorf("%d refusals audited, want %d", len(es), n-tt.want)
				}
			})
		}
	})
}

// slipStore counts another try on a key just before the service's own
// (once): a parallel guess that slipped in between reading the counter and
// adding to it.
type slipStore struct {
	stores
	slip func()
}

func (s *slipStore) AddFailure(ctx context.Context, workspaceID int64, key string, now, forgetBefore time.Time) (gatehouse.Throttle, error) {
	if f := s.slip; f != nil {
		s.slip = nil
		if _, err := s.stores.AddFailure(ctx, workspaceID, key, now, forgetBefore); err != nil {
			return gatehouse.Throttle{}, err
		}
		f()
	}
	return s.stores.AddFailure(ctx, workspaceID, key, now, forgetBefore)
}

// TestGuessSlippedIn: a try that finds another counted since it read the
// account's counter is refused unchecked, even with the right code, which
// stays unspent.
func TestGuessSlippedIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		h.addEmailFactor(t, h.user)
		ctx := t.Context()
		v := h.pending(t)
		if err := h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP); err != nil {
			t.Fatal(err)
		}
		code := h.mail.lastCode(t)
		slipped := false
		racer := h.instance(&slipStore{stores: h.store, slip: func() { slipped = true }})
		var th *mfa.ThrottledError
		if _, err := racer.Verify(ctx, v, "email", code, testIP); !errors.As(err, &th) {
			t.Fatalf("Verify after another guess slipped in = %v; want *ThrottledError", err)
		}
		if !slipped {
			t.Fatal("no guess slipped in")
		}
		// The code was not looked at: after the pause it still works.
		h.clock.Advance(time.Minute)
		h.verify(t, h.reload(t, v), "email", code)
	})
}
