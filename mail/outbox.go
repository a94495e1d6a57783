package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Defaults of the Outbox fields left zero.
const (
	DefaultPollInterval = time.Second
	DefaultLease        = 2 * time.Minute
	DefaultMaxAttempts  = 10
	DefaultBatch        = 20
	DefaultSendTimeout  = 30 * time.Second
)

// Backoff bounds: the n-th failed attempt waits firstRetry·2^(n-1), at most
// maxRetry. With the default 10 attempts a message is retried for about 1½
// hours before it is given up on.
const (
	firstRetry = 5 * time.Second
	maxRetry   = time.Hour
)

// maxErrorLen caps the error text kept with a message; SMTP servers can
// answer with whole paragraphs.
const maxErrorLen = 1000

// Outbox queues messages in the store and delivers them through Sender.
// Because every message lives in the store until it is sent or given up on,
// nothing is lost on a restart: a message claimed by a process that crashed
// becomes due again when its lease runs out, and several processes on one
// database share the work without sending a message twice while its lease
// holds.
//
// Zero fields take the defaults; Store and Sender are required. An Outbox
// must not be copied after first use.
type Outbox struct {
	Store  gatehouse.OutboxStore
	Sender Sender // e-mail
	// SMS delivers messages on the "sms" channel; nil gives them up at once.
	SMS Sender
	// Jobs runs the messages on the "job" channel (EnqueueJob); nil gives
	// them up at once.
	Jobs JobRunner
	// KeepSent keeps the text of delivered and abandoned messages, for the
	// dev outbox (--demo). Otherwise it is blanked at once: messages carry
	// codes and links, which must not stay stored in the clear.
	KeepSent     bool
	Logger       *slog.Logger     // nil means slog.Default()
	Now          func() time.Time // nil means time.Now
	PollInterval time.Duration    // between rounds when not poked; default 1s
	Lease        time.Duration    // how long a claimed message is ours; default 2m
	MaxAttempts  int              // attempts before giving up; default 10
	Batch        int              // messages claimed per round; default 20
	// SendTimeout bounds one delivery; default 30s, and never more than half
	// the Lease, so that a slow send cannot outlast its lease.
	SendTimeout time.Duration

	pokeOnce sync.Once
	poke     chan struct{}
}

func (o *Outbox) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Outbox) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (o *Outbox) lease() time.Duration { return positive(o.Lease, DefaultLease) }

func (o *Outbox) sendTimeout() time.Duration {
	return min(positive(o.SendTimeout, DefaultSendTimeout), o.lease()/2)
}

// pokes returns the channel that wakes Run; made lazily so that the zero
// Outbox works.
func (o *Outbox) pokes() chan struct{} {
	o.pokeOnce.Do(func() { o.poke = make(chan struct{}, 1) })
	return o.poke
}

// Poke wakes the worker to look for due messages now: for mail a store
// wrote in a transaction of its own (beside what it announces) rather
// than through Enqueue. It never waits.
func (o *Outbox) Poke() {
	select {
	case o.pokes() <- struct{}{}:
	default:
	}
}

// Enqueue stores an e-mail to to for workspaceID, due now, and wakes the
// worker so it goes out right away. Once Enqueue returns nil the message is
// durable. A recipient that is not an e-mail address is refused here with
// gatehouse.ErrInvalid, so the user sees the problem at once rather than the
// message failing later.
func (o *Outbox) Enqueue(ctx context.Context, workspaceID int64, to, subject, body string) error {
	_, err := o.EnqueueEmail(ctx, workspaceID, to, subject, body)
	return err
}

// EnqueueEmail is Enqueue returning the message's ID (for Await).
func (o *Outbox) EnqueueEmail(ctx context.Context, workspaceID int64, to, subject, body string) (int64, error) {
	to = strings.TrimSpace(to)
	if _, err := netmail.ParseAddress(to); err != nil {
		return 0, fmt.Errorf("%w: enqueue message: recipient %q is not an e-mail address", gatehouse.ErrInvalid, to)
	}
	now := o.now()
	m := &gatehouse.Message{
		WorkspaceID: workspaceID,
		Channel:     "email",
		To:          to,
		Subject:     subject,
		Body:        body,
		Status:      gatehouse.MessagePending,
		CreatedAt:   now,
		NextAttempt: now,
	}
	if err := o.Store.EnqueueMessage(ctx, workspaceID, m); err != nil {
		return 0, fmt.Errorf("enqueue message to %s: %w", to, err)
	}
	// Non-blocking: one pending poke is enough to make Run look again, and
	// Enqueue must never wait for the worker.
	select {
	case o.pokes() <- struct{}{}:
	default:
	}
	return m.ID, nil
}

// EnqueueSMS stores a text message to the E.164 number to, due now, wakes
// the worker, and returns the message's ID (for Await).
func (o *Outbox) EnqueueSMS(ctx context.Context, workspaceID int64, to, body string) (int64, error) {
	now := o.now()
	m := &gatehouse.Message{
		WorkspaceID: workspaceID, Channel: "sms", To: to, Body: body,
		Status: gatehouse.MessagePending, CreatedAt: now, NextAttempt: now,
	}
	if err := o.Store.EnqueueMessage(ctx, workspaceID, m); err != nil {
		return 0, fmt.Errorf("enqueue SMS: %w", err)
	}
	select {
	case o.pokes() <- struct{}{}:
	default:
	}
	return m.ID, nil
}

// ChannelJob is the channel of queued work (EnqueueJob), as opposed to
// "email" and "sms".
const ChannelJob = "job"

// JobRunner does work queued with EnqueueJob. An error wrapping
// ErrPermanent (a payload it cannot read, a kind it does not know) gives the
// job up; any other error retries it with backoff, like a failed delivery.
// A job may run more than once (a process can crash after the work but
// before the outbox records it), so its work must tolerate a second run.
type JobRunner interface {
	RunJob(ctx context.Context, workspaceID int64, kind, payload string) error
}

// EnqueueJob stores a job of the kind for workspaceID, due now, and wakes
// the worker, which hands it to Jobs. It is how a request leaves work for
// after its answer: the request's cost is this one insert whatever the job
// will do, so the answer's timing tells nothing of it, and the job is as
// durable as a queued e-mail.
func (o *Outbox) EnqueueJob(ctx context.Context, workspaceID int64, kind, payload string) error {
	now := o.now()
	m := &gatehouse.Message{
		WorkspaceID: workspaceID, Channel: ChannelJob, Subject: kind, Body: payload,
		Status: gatehouse.MessagePending, CreatedAt: now, NextAttempt: now,
	}
	if err := o.Store.EnqueueMessage(ctx, workspaceID, m); err != nil {
		return fmt.Errorf("enqueue %s job: %w", kind, err)
	}
	select {
	case o.pokes() <- struct{}{}:
	default:
	}
	return nil
}

// Await returns message id once its first delivery attempt is over (sent,
// given up on, or failed and rescheduled), or as it stands when timeout
// passes. It polls the store, so it also sees another instance's worker.
func (o *Outbox) Await(ctx context.Context, id int64, timeout time.Duration) (*gatehouse.Message, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := o.Store.FindMessage(ctx, id)
		if err != nil {
			return nil, err
		}
		if m.Status != gatehouse.MessagePending || m.Attempts > 0 || !time.Now().Before(deadline) {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Run delivers messages until ctx is done, then returns nil. It claims a
// batch, sends it, and waits PollInterval or until Enqueue pokes it. A round
// that fails (the store is down, say) is logged and tried again next round.
func (o *Outbox) Run(ctx context.Context) error {
	if o.Store == nil || o.Sender == nil {
		return errors.New("outbox: Store and Sender are required")
	}
	batch := positive(o.Batch, DefaultBatch)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		claimed, _, _, err := o.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			o.logger().ErrorContext(ctx, "outbox: delivery round failed", "error", err)
		}
		wait := positive(o.PollInterval, DefaultPollInterval)
		if err == nil && claimed == batch {
			wait = 0 // a full batch: more may be due already
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-o.pokes():
		case <-timer.C:
		}
	}
}

// RunOnce claims the messages due now (up to Batch) and tries to deliver
// each, recording the outcome in the store. It reports how many were sent and
// how many failed (whether rescheduled or given up on). It stops at the first
// store error, leaving the rest of the batch leased; they are retried once
// the lease runs out.
func (o *Outbox) RunOnce(ctx context.Context) (sent, failed int, err error) {
	_, sent, failed, err = o.runOnce(ctx)
	return sent, failed, err
}

// Flush runs rounds until one finds nothing due: every message due now, and
// every message a job due now queues, has had its attempt. Tests call it
// where a server runs Run beside it.
func (o *Outbox) Flush(ctx context.Context) (sent, failed int, err error) {
	for {
		claimed, s, f, err := o.runOnce(ctx)
		sent, failed = sent+s, failed+f
		if err != nil || claimed == 0 {
			return sent, failed, err
		}
	}
}

func (o *Outbox) runOnce(ctx context.Context) (claimed, sent, failed int, err error) {
	now := o.now()
	leaseUntil := now.Add(o.lease())
	msgs, err := o.Store.ClaimMessages(ctx, now, leaseUntil, positive(o.Batch, DefaultBatch))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("outbox: %w", err)
	}
	timeout := o.sendTimeout()
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return len(msgs), sent, failed, err
		}
		// Stop while the lease still covers a whole send: past it another
		// process may claim the same message and both would deliver it. The
		// rest of the batch goes out when its lease runs out.
		if leaseUntil.Sub(o.now()) < timeout {
			o.logger().WarnContext(ctx, "outbox: lease running out, leaving the rest of the batch for later",
				"left", len(msgs)-sent-failed)
			break
		}
		ok, err := o.deliver(ctx, m, timeout)
		if err != nil {
			return len(msgs), sent, failed, err
		}
		if ok {
			sent++
		} else {
			failed++
		}
	}
	return len(msgs), sent, failed, nil
}

// deliver sends m and records the outcome. It reports whether m was sent; the
// error is for the store failing (or ctx ending), not for the delivery.
func (o *Outbox) deliver(ctx context.Context, m gatehouse.Message, timeout time.Duration) (bool, error) {
	sendCtx, cancel := context.WithTimeout(ctx, timeout)
	var sendErr error
	switch {
	case m.Channel == ChannelJob && o.Jobs != nil:
		sendErr = o.Jobs.RunJob(sendCtx, m.WorkspaceID, m.Subject, m.Body)
	case m.Channel == ChannelJob:
		sendErr = fmt.Errorf("%w: no job runner is configured", ErrPermanent)
	case m.Channel != "sms":
		sendErr = o.Sender.Send(sendCtx, m)
	case o.SMS != nil:
		sendErr = o.SMS.Send(sendCtx, m)
	default:
		sendErr = fmt.Errorf("%w: no SMS sender is configured", ErrPermanent)
	}
	cancel()

	if sendErr != nil && ctx.Err() != nil {
		// We are shutting down and interrupted the send ourselves; that says
		// nothing about the message, so count no attempt. It stays leased
		// and is tried again when the lease runs out.
		return false, ctx.Err()
	}
	// Record the outcome even when ctx ends now: after a delivery, losing the
	// record would mean sending the message a second time.
	storeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := o.now()

	if sendErr == nil {
		if err := o.Store.MarkMessageSent(storeCtx, m.ID, now); err != nil {
			return false, fmt.Errorf("outbox: message %d was delivered but not recorded: %w", m.ID, err)
		}
		return true, o.scrub(storeCtx, m)
	}

	attempt := m.Attempts + 1
	maxAttempts := positive(o.MaxAttempts, DefaultMaxAttempts)
	giveUp := IsPermanent(sendErr) || attempt >= maxAttempts
	next := now
	if !giveUp {
		next = now.Add(backoff(attempt))
	}
	// One line per failure: a warning while it will be retried, an error
	// when it will not, since then someone has to act.
	attrs := []any{"id", m.ID, "workspace_id", m.WorkspaceID, "channel", m.Channel, "to", m.To, "attempt", attempt, "error", sendErr}
	if giveUp {
		o.logger().ErrorContext(ctx, "outbox: delivery failed, giving up on message",
			append(attrs, "permanent", IsPermanent(sendErr), "max_attempts", maxAttempts)...)
	} else {
		o.logger().WarnContext(ctx, "outbox: delivery failed, will retry",
			append(attrs, "next_attempt", next)...)
	}
	errMsg := gatehouse.Truncate(sendErr.Error(), maxErrorLen)
	if len(sendErr.Error()) > maxErrorLen {
		errMsg += "…"
	}
	if err := o.Store.MarkMessageFailed(storeCtx, m.ID, errMsg, next, giveUp); err != nil {
		return false, fmt.Errorf("outbox: record failed delivery of message %d: %w", m.ID, err)
	}
	if giveUp {
		return false, o.scrub(storeCtx, m)
	}
	return false, nil
}

// scrub blanks a finished message's text unless KeepSent.
func (o *Outbox) scrub(ctx context.Context, m gatehouse.Message) error {
	// A job's payload is never mail anyone reads, and may hold what a
	// visitor typed (a sign-up's password hash): it goes whatever KeepSent.
	if o.KeepSent && m.Channel != ChannelJob {
		return nil
	}
	id := m.ID
	if err := o.Store.ScrubMessage(ctx, id); err != nil {
		return fmt.Errorf("outbox: scrub message %d: %w", id, err)
	}
	return nil
}

// backoff returns how long to wait after the attempt-th failed attempt:
// 5s, 10s, 20s, … doubling up to one hour. It has no jitter, so tests with a
// fixed clock can predict it; leases already keep several processes from
// retrying the same message together.
func backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := firstRetry
	for i := 1; i < attempt && d < maxRetry; i++ {
		d *= 2
	}
	return min(d, maxRetry)
}
