package twilio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/secret"
)

// WorkspaceFinder reads the workspace whose account sends a message.
type WorkspaceFinder interface {
	FindWorkspaceByID(ctx context.Context, id int64) (*gatehouse.Workspace, error)
}

// Sender delivers the outbox's "sms" messages through each workspace's own
// Twilio account (the account is read for every message, so a change of
// credentials applies at once, on every instance).
type Sender struct {
	Workspaces WorkspaceFinder
	Keys       *secret.Keyring
	Client     *Client
	// Validity is how long after it was queued a text is still worth
	// delivering (the code lifetime). Twilio's ValidityPeriod is set to what
	// remains, so a late text is dropped by Twilio rather than delivered.
	Validity time.Duration
	Now      func() time.Time
}

// deliveryError is a failed send worded for the user, with Twilio's own
// words after it for the log: "<sentence> (Twilio <error>)".
type deliveryError struct {
	msg       string
	permanent bool
}

func (e *deliveryError) Error() string { return e.msg }

// Is makes errors.Is(err, gatehouse.ErrPermanent) true for failures that
// retrying cannot fix, so the outbox gives them up at once.
func (e *deliveryError) Is(target error) bool { return e.permanent && target == gatehouse.ErrPermanent }

func failed(permanent bool, sentence string, cause error) error {
	msg := sentence
	if cause != nil {
		msg += " (Twilio " + cause.Error() + ")"
	}
	return &deliveryError{msg: msg, permanent: permanent}
}

// Send implements the outbox's sender for one text message.
func (s *Sender) Send(ctx context.Context, m gatehouse.Message) error {
	ws, err := s.Workspaces.FindWorkspaceByID(ctx, m.WorkspaceID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return failed(true, "The workspace no longer exists.", nil)
	}
	if err != nil {
		return err // the store: try again later
	}
	if !ws.Twilio.Ready() {
		return failed(true, "Text messages are not set up for this workspace.", nil)
	}
	token, err := s.Keys.Open(ws.Twilio.AuthToken, gatehouse.TwilioTokenAAD(ws.ID))
	if err != nil {
		return failed(true, "The workspace's Twilio token cannot be read; the owner must enter it again.", nil)
	}
	remaining := m.CreatedAt.Add(s.Validity).Sub(s.Now())
	if remaining < time.Second {
		return failed(true, "The code expired before it could be sent. Ask for a new one.", nil)
	}
	acct := Account{SID: ws.Twilio.AccountSID, AuthToken: string(token), From: ws.Twilio.From, MessagingServiceSID: ws.Twilio.MessagingServiceSID}
	if _, err := s.Client.Send(ctx, acct, m.To, m.Body, remaining); err != nil {
		return failed(!IsTemporary(err), FormMessage(err), err)
	}
	return nil
}

// String keeps the sender's secrets out of logs.
func (s *Sender) String() string { return fmt.Sprintf("twilio.Sender{%s}", s.Client.APIBase) }
