package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// Instances opens two instances of one fresh, migrated database, as two
// Gatehouse processes (or a server and the CLI) open it.
type Instances func(tb testing.TB) *Pair

// Pair is two instances of one database.
type Pair struct {
	A, B Store
	// Hits reports how many visits an instance has served from memory so far.
	Hits func(Store) uint64
	// SpaceHits reports how many client spaces an instance has served from
	// memory so far (RunSpaceCache).
	SpaceHits func(Store) uint64
	// Deafen, when not nil, keeps an instance from hearing of changes by
	// any other way than its own writes until the returned function is
	// called, so a test can tell that an instance sees its own write at
	// once, not when a notice comes back.
	Deafen func(Store) (hear func())
}

// RunVisitCache checks a store's visit cache against SPEC §11: each change
// the session check depends on, made by one instance, applies at once on
// that instance and, on the other, as soon as the other has heard of it.
// The test waits for that without a clock: it polls the other instance
// until it stops serving the visit from memory (a store that never hears
// of the change fails on the deadline, which only a hang reaches) and then
// checks what it reads.
func RunVisitCache(t *testing.T, open Instances) {
	ctx := context.Background()
	cases := []struct {
		name  string
		write func(s Store, f *visitCase) error
		// check returns what is wrong with the visit read after the write.
		check func(f *visitCase, v *gatehouse.Visit, err error) string
	}{
		{
			name:  "logout",
			write: func(s Store, f *visitCase) error { return s.DeleteSession(ctx, f.ws.ID, hash("tok")) },
			check: wantGone,
		},
		{
			name: "password change",
			write: func(s Store, f *visitCase) error {
				return s.SetPassword(ctx, f.ws.ID, f.user.ID, "$argon2id$new", nil, t0, nil)
			},
			check: wantGone,
		},
		{
			name:  "admin reset",
			write: func(s Store, f *visitCase) error { return s.ResetMFA(ctx, f.ws.ID, f.user.ID, "", nil) },
			check: wantGone,
		},
		{
			name: "disable",
			write: func(s Store, f *visitCase) error {
				return s.SetUserDisabled(ctx, f.ws.ID, f.user.ID, true, t0, nil)
			},
			check: func(f *visitCase, v *gatehouse.Visit, err error) string {
				if err == nil && !v.User.Disabled {
					return "the user is not disabled"
				}
				return ""
			},
		},
		{
			name: "plan change",
			write: func(s Store, f *visitCase) error {
				_, err := s.UpdateWorkspace(ctx, f.ws.ID, gatehouse.WorkspaceUpdate{Plan: ptr(gatehouse.PlanStarter)}, t0)
				return err
			},
			check: func(f *visitCase, v *gatehouse.Visit, err error) string {
				if err != nil || v.Workspace.Plan != gatehouse.PlanStarter {
					return "the plan did not change"
				}
				return ""
			},
		},
		{
			name: "mode change",
			write: func(s Store, f *visitCase) error {
				_, err := s.UpdateWorkspace(ctx, f.ws.ID, gatehouse.WorkspaceUpdate{MFAMode: ptr(gatehouse.MFARequired)}, t0)
				return err
			},
			check: func(f *visitCase, v *gatehouse.Visit, err error) string {
				if err != nil || v.Workspace.MFA.Mode != gatehouse.MFARequired {
					return "the mode did not change"
				}
				return ""
			},
		},
		{
			name: "method added",
			write: func(s Store, f *visitCase) error {
				m := &mfa.Factor{UserID: f.user.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: t0, ConfirmedAt: &t0}
				_, err := s.AddMethod(ctx, f.ws.ID, m, nil, hash("tok"), t0, nil)
				return err
			},
			check: func(f *visitCase, v *gatehouse.Visit, err error) string {
				if err != nil || !slices.Contains(v.Methods, gatehouse.MethodEmail) {
					return "the method is not listed"
				}
				return ""
			},
		},
		{
			name: "touch",
			write: func(s Store, f *visitCase) error {
				return s.TouchSession(ctx, f.ws.ID, f.sessionID, t0.Add(time.Minute))
			},
			check: func(f *visitCase, v *gatehouse.Visit, err error) string {
				if err != nil || !v.Session.LastSeenAt.Equal(t0.Add(time.Minute)) {
					return "the last-seen time did not change"
				}
				return ""
			},
		},
		{
			name: "expired sessions deleted",
			write: func(s Store, f *visitCase) error {
				_, err := s.DeleteExpiredSessions(ctx, t0.Add(13*time.Hour))
				return err
			},
			check: wantGone,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newVisitCase(t, open)
			f.cached(t, f.a)
			f.cached(t, f.b)
			hear := func() {}
			if f.deafen != nil {
				hear = f.deafen(f.a)
			}
			must(t, "write", c.write(f.a, f))
			// At once on the instance that wrote.
			v, err := f.a.FindVisit(ctx, f.ws.ID, hash("tok"))
			hear()
			if msg := c.check(f, v, err); msg != "" {
				t.Errorf("on the instance that wrote: %s", msg)
			}
			// On the other, once it stops serving the old visit.
			v, err = f.afterChange(t, f.b)
			if msg := c.check(f, v, err); msg != "" {
				t.Errorf("on the other instance: %s", msg)
			}
		})
	}

	// Expiry is judged per request from what the visit holds, never kept:
	// a visit served from memory on both instances carries the session's
	// expiry and last-seen time, so a later clock ends it on each.
	t.Run("expiry", func(t *testing.T) {
		f := newVisitCase(t, open)
		f.cached(t, f.a)
		f.cached(t, f.b)
		for _, s := range []Store{f.a, f.b} {
			v := f.cached(t, s)
			if v.Session.Expired(t0.Add(59*time.Minute)) || !v.Session.Expired(t0.Add(time.Hour)) ||
				!v.Session.Expired(t0.Add(12*time.Hour)) {
				t.Errorf("a visit from memory does not expire by its idle timeout: %+v", v.Session)
			}
		}
	})
}

type visitCase struct {
	a, b      Store
	hits      func(Store) uint64
	deafen    func(Store) func()
	ws        *gatehouse.Workspace
	user      *gatehouse.User
	sessionID int64
}

func newVisitCase(t *testing.T, open Instances) *visitCase {
	p := open(t)
	f := &visitCase{a: p.A, b: p.B, hits: p.Hits, deafen: p.Deafen}
	f.ws = MustCreateWorkspace(t, f.a, "acme")
	f.user = MustCreateUser(t, f.a, f.ws.ID, "ann@example.com", gatehouse.RoleClient)
	s := newSession(f.user.ID, "tok", t0)
	must(t, "create session", f.a.CreateSession(context.Background(), f.ws.ID, s, fakeHash))
	f.sessionID = s.ID
	return f
}

// visitDeadline only ends a test that hangs: a store hears of a change in
// well under a second.
const visitDeadline = 30 * time.Second

// cached reads the visit on s until s serves it from memory (a store may
// need a moment to start its cache) and returns it.
func (f *visitCase) cached(t *testing.T, s Store) *gatehouse.Visit {
	t.Helper()
	for end := time.Now().Add(visitDeadline); time.Now().Before(end); time.Sleep(time.Millisecond) {
		h := f.hits(s)
		v, err := s.FindVisit(context.Background(), f.ws.ID, hash("tok"))
		must(t, "find visit", err)
		if f.hits(s) > h {
			return v
		}
	}
	t.Fatalf("the visit was never served from memory")
	return nil
}

// afterChange reads the visit on s until s no longer serves it from memory,
// and returns that read.
func (f *visitCase) afterChange(t *testing.T, s Store) (*gatehouse.Visit, error) {
	t.Helper()
	for end := time.Now().Add(visitDeadline); time.Now().Before(end); time.Sleep(time.Millisecond) {
		h := f.hits(s)
		v, err := s.FindVisit(context.Background(), f.ws.ID, hash("tok"))
		if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatal(err)
		}
		if f.hits(s) == h {
			return v, err
		}
	}
	t.Fatalf("the other instance kept serving the visit from memory after the change")
	return nil, nil
}

func wantGone(_ *visitCase, _ *gatehouse.Visit, err error) string {
	if !errors.Is(err, gatehouse.ErrNotFound) {
		return "the session is still found"
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
