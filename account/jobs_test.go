package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// TestFormsQueueOneJobAlike: the forms that take any address do the same
// work on the request path for a member and a stranger (SPEC §10): each
// queues exactly one job and writes nothing else — no user, no link, no
// mail — until the job runs; then the member gets their mail and the
// stranger what a stranger gets.
func TestFormsQueueOneJobAlike(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		submit  func(e *env, email string) error
		address string // the address the check reads back after the job
		mailTo  int    // mails to address after the job
		subject string // of that mail
		user    bool   // whether address has an account after the job
	}{
		{name: "reset, member", address: "alice@example.com", mailTo: 1, subject: "Reset your", user: true,
			submit: func(e *env, a string) error { return e.svc.RequestReset(ctx, e.ws, a) }},
		{name: "reset, stranger", address: "nobody@example.com", mailTo: 0,
			submit: func(e *env, a string) error { return e.svc.RequestReset(ctx, e.ws, a) }},
		{name: "sign-up, member", address: "alice@example.com", mailTo: 1, subject: "Your Acme Corp account", user: true,
			submit: func(e *env, a string) error { return e.svc.SignUp(ctx, e.ws, "Al", a, otherPassword) }},
		{name: "sign-up, stranger", address: "nobody@example.com", mailTo: 1, subject: "Confirm your", user: true,
			submit: func(e *env, a string) error { return e.svc.SignUp(ctx, e.ws, "No", a, otherPassword) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.mail.worker = nil // the jobs run only when this test says
			e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
			mailsBefore := len(e.mail.all())
			if err := tt.submit(e, tt.address); err != nil {
				t.Fatal(err)
			}
			jobs := e.jobs.take()
			if len(jobs) != 1 || jobs[0].workspaceID != e.ws.ID {
				t.Fatalf("the request queued %+v, want one job for workspace %d", jobs, e.ws.ID)
			}
			if n := len(e.mail.all()) - mailsBefore; n != 0 {
				t.Errorf("the request itself mailed %d times", n)
			}
			if _, err := e.db.FindUserByEmail(ctx, e.ws.ID, "nobody@example.com"); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("the request itself created the stranger's account (%v)", err)
			}

			e.jobs.jobs = jobs
			e.runJobs(t)
			got := e.mail.to(tt.address)
			if len(got) != tt.mailTo || (tt.mailTo > 0 && !strings.HasPrefix(got[0].Subject, tt.subject)) {
				t.Errorf("after the job: mails to %s = %+v, want %d starting %q", tt.address, got, tt.mailTo, tt.subject)
			}
			_, err := e.db.FindUserByEmail(ctx, e.ws.ID, tt.address)
			if has := err == nil; has != tt.user {
				t.Errorf("after the job: %s has an account = %v (%v), want %v", tt.address, has, err, tt.user)
			}
		})
	}
}

// TestRunJob: a job that can never work is permanent (the outbox gives it
// up); a job for a workspace that closed sign-up meanwhile, or that is gone,
// does nothing; a job run twice mails twice but leaves one live link.
func TestRunJob(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, tc := range []struct{ kind, payload string }{
		{"account.reset", "{not json"},
		{"account.bogus", "{}"},
	} {
		if err := e.svc.RunJob(ctx, e.ws.ID, tc.kind, tc.payload); !errors.Is(err, gatehouse.ErrPermanent) {
			t.Errorf("RunJob(%s, %q) = %v, want gatehouse.ErrPermanent", tc.kind, tc.payload, err)
		}
	}
	if err := e.svc.RunJob(ctx, 9999, "account.reset", `{"email":"a@example.com"}`); err != nil {
		t.Errorf("job for a missing workspace: %v", err)
	}

	e.mail.worker = nil
	if err := e.svc.SignUp(ctx, e.ws, "Carol", "carol@example.com", goodPassword); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := e.db.UpdateWorkspace(ctx, e.ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &off}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.ws.SignupEnabled = false
	e.runJobs(t)
	if n := len(e.mail.to("carol@example.com")); n != 0 {
		t.Errorf("sign-up closed before its job ran: %d mails", n)
	}
	if _, err := e.db.FindUserByEmail(ctx, e.ws.ID, "carol@example.com"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("sign-up closed before its job ran, yet the account exists (%v)", err)
	}

	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	if err := e.svc.RequestReset(ctx, e.ws, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	jobs := e.jobs.take()
	e.jobs.jobs = append(jobs, jobs...) // a crash after the work, before the outbox recorded it
	e.runJobs(t)
	if n := len(e.mail.to("alice@example.com")); n != 2 {
		t.Fatalf("%d mails after the job ran twice, want 2", n)
	}
	first := tokenOf(t, e.ws, linkRE.FindString(e.mail.to("alice@example.com")[0].Body), "/password/reset/")
	if _, err := e.svc.ResetPassword(ctx, e.ws, first, otherPassword); err == nil {
		t.Error("the first run's link still works after the second run")
	}
	last := e.lastToken(t, e.ws, "alice@example.com", "/password/reset/")
	if _, err := e.svc.ResetPassword(ctx, e.ws, last, otherPassword); err != nil {
		t.Errorf("the second run's link: %v", err)
	}
}
