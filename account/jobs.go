package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Jobs queues work for after the answer, durably (the outbox). The forms
// that take any e-mail address (password reset, sign-up) queue one job
// whatever the address, so that their answer does the same work, and takes
// the same time, for a member and a stranger (SPEC §10); the job, run later
// by the outbox worker through RunJob, finds out which it was.
type Jobs interface {
	EnqueueJob(ctx context.Context, workspaceID int64, kind, payload string) error
}

// The job kinds RunJob knows.
const (
	jobReset  = "account.reset"
	jobSignup = "account.signup"
)

// resetJob is a password-reset request for whatever address was typed.
type resetJob struct {
	Email string `json:"email"`
}

// signupJob is a sign-up: the address, the name and the hash of the chosen
// password (never the password itself), which rides in the link it mails.
type signupJob struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Hash  string `json:"hash"`
}

// enqueue queues job of the kind for the workspace.
func (s *Service) enqueue(ctx context.Context, workspaceID int64, kind string, job any) error {
	if s.Jobs == nil {
		return errors.New("account: no job queue is configured")
	}
	payload, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode %s job: %w", kind, err)
	}
	return s.Jobs.EnqueueJob(ctx, workspaceID, kind, string(payload))
}

// RunJob does the work a request queued (the outbox worker calls it). A
// payload it cannot read or a kind it does not know will never work, so it
// is gatehouse.ErrPermanent; any other error is worth a retry. Running a job
// twice is harmless: a second reset or sign-up link voids the first.
func (s *Service) RunJob(ctx context.Context, workspaceID int64, kind, payload string) error {
	ws, err := s.Store.FindWorkspaceByID(ctx, workspaceID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil // the workspace is gone, and its work with it
	}
	if err != nil {
		return fmt.Errorf("%s job: %w", kind, err)
	}
	switch kind {
	case jobReset:
		var j resetJob
		if err := decodeJob(kind, payload, &j); err != nil {
			return err
		}
		return s.sendReset(ctx, ws, j.Email)
	case jobSignup:
		var j signupJob
		if err := decodeJob(kind, payload, &j); err != nil {
			return err
		}
		return s.sendSignup(ctx, ws, j)
	}
	return fmt.Errorf("%w: unknown job kind %q", gatehouse.ErrPermanent, kind)
}

func decodeJob(kind, payload string, v any) error {
	if err := json.Unmarshal([]byte(payload), v); err != nil {
		return fmt.Errorf("%w: decode %s job: %v", gatehouse.ErrPermanent, kind, err)
	}
	return nil
}

// sendReset e-mails a reset link when email belongs to an active account
// with a password, and otherwise does nothing.
func (s *Service) sendReset(ctx context.Context, ws *gatehouse.Workspace, email string) error {
	u, err := s.Store.FindUserByEmail(ctx, ws.ID, email)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.Disabled || u.PasswordHash == "" {
		return nil
	}
	if ok, err := s.allowMailTo(ctx, ws, u.Email); !ok || err != nil {
		return err
	}
	token, err := s.issueToken(ctx, ws, u, gatehouse.TokenPasswordReset, "")
	if err != nil {
		return err
	}
	link := s.WorkspaceURL(ws.Slug) + "/password/reset/" + token
	body := fmt.Sprintf("Someone asked to reset your password for %s.\n\nChoose a new one here (the link works once, for 1 hour):\n%s\n\nIf it was not you, ignore this e-mail: your password stays as it is.\n", ws.DisplayName(), link)
	return s.Mailer.Enqueue(ctx, ws.ID, u.Email, "Reset your "+ws.DisplayName()+" password", body)
}

// sendSignup mails a new address a confirmation link carrying the chosen
// password's hash, and an existing member a note pointing to sign-in and
// reset. A workspace that closed sign-up since the request mails nothing.
func (s *Service) sendSignup(ctx context.Context, ws *gatehouse.Workspace, j signupJob) error {
	if !ws.SignupEnabled {
		return nil
	}
	if ok, err := s.allowMailTo(ctx, ws, j.Email); !ok || err != nil {
		return err
	}
	now := s.Now()
	u, err := s.Store.FindUserByEmail(ctx, ws.ID, j.Email)
	if errors.Is(err, gatehouse.ErrNotFound) {
		u = &gatehouse.User{Email: j.Email, Name: cleanName(j.Name), Role: gatehouse.RoleClient, CreatedAt: now, UpdatedAt: now}
		err = s.Store.CreateUser(ctx, ws.ID, u)
		if errors.Is(err, gatehouse.ErrConflict) {
			// Another sign-up for the address got there first.
			u, err = s.Store.FindUserByEmail(ctx, ws.ID, j.Email)
		}
	}
	if err != nil {
		return err
	}
	if u.PasswordHash != "" {
		body := fmt.Sprintf("Someone tried to sign up to %s with this address, which already has an account.\n\nSign in at %s/login, or reset your password at %s/password/forgot.\nIf it was not you, you can ignore this e-mail.\n",
			ws.DisplayName(), s.WorkspaceURL(ws.Slug), s.WorkspaceURL(ws.Slug))
		return s.Mailer.Enqueue(ctx, ws.ID, j.Email, "Your "+ws.DisplayName()+" account", body)
	}
	token, err := s.issueToken(ctx, ws, u, gatehouse.TokenSignup, j.Hash)
	if err != nil {
		return err
	}
	link := s.WorkspaceURL(ws.Slug) + "/signup/confirm/" + token
	body := fmt.Sprintf("Welcome to %s.\n\nConfirm your e-mail address to finish signing up (the link works once, for 24 hours):\n%s\n", ws.DisplayName(), link)
	return s.Mailer.Enqueue(ctx, ws.ID, j.Email, "Confirm your "+ws.DisplayName()+" account", body)
}

// mailPerRecipientPerHour bounds the reset and sign-up e-mails one address
// receives, however many client addresses the requests come from (the
// per-address limit of the forms counts only each sender).
const mailPerRecipientPerHour = 3

// allowMailTo counts one reset or sign-up e-mail to email and reports
// whether it may go; past the hourly cap the job mails nothing, and says
// nothing, as for an unknown address.
func (s *Service) allowMailTo(ctx context.Context, ws *gatehouse.Workspace, email string) (bool, error) {
	full, err := s.Store.TakeLimits(ctx, ws.ID, s.Now(), gatehouse.Limit{Key: "mailto:" + strings.ToLower(email), Max: mailPerRecipientPerHour, Window: time.Hour})
	if err != nil {
		return false, err
	}
	if full >= 0 {
		s.logger().Warn("mail to one recipient capped", "workspace", ws.ID, "kind", "reset/signup")
		return false, nil
	}
	return true, nil
}
