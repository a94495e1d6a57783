// Package mail delivers Gatehouse's outgoing e-mail. SMTP sends through a real
// server with github.com/wneessen/go-mail, DevSender only logs (the dev outbox
// when no SMTP URL is configured), and Outbox drains the durable outbox table
// through either of them, retrying with backoff, so that a message enqueued
// once is delivered, or given up on loudly, even across restarts.
package mail

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
)

// DefaultFrom is the sender address used when GATEHOUSE_MAIL_FROM is not set.
const DefaultFrom = "Gatehouse <no-reply@localhost>"

// Sender delivers one message now.
type Sender interface {
	// Send delivers m. An error wrapping ErrPermanent means that retrying the
	// same message cannot succeed; any other error is worth another attempt.
	Send(ctx context.Context, m gatehouse.Message) error
}

// ErrPermanent marks a delivery failure that retrying cannot fix, such as a
// 5xx reply to the message or an unusable recipient address. The outbox gives
// up on such a message at once instead of retrying it for hours.
// It is gatehouse.ErrPermanent, shared with the SMS sender.
var ErrPermanent = gatehouse.ErrPermanent

// IsPermanent reports whether err is a delivery failure that retrying cannot fix.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// permanent wraps err so that IsPermanent reports true for it while errors.Is
// and errors.As still reach err.
func permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }
