package mail_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mail"
)

// memStore is an in-memory gatehouse.OutboxStore that keeps the contract
// honestly: it claims only pending, due, unleased messages, and marking a
// message ends its lease.
type memStore struct {
	mu     sync.Mutex
	msgs   []*memMessage
	nextID int64
	// claimed, if set, gets a value after every ClaimMessages call.
	claimed chan struct{}
}

type memMessage struct {
	gatehouse.Message
	leasedUntil time.Time
}

var _ gatehouse.OutboxStore = (*memStore)(nil)

func (s *memStore) EnqueueMessage(_ context.Context, workspaceID int64, m *gatehouse.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	m.ID, m.WorkspaceID, m.Status = s.nextID, workspaceID, gatehouse.MessagePending
	s.msgs = append(s.msgs, &memMessage{Message: *m})
	return nil
}

func (s *memStore) ClaimMessages(_ context.Context, now, leaseUntil time.Time, limit int) ([]gatehouse.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed != nil {
		defer func() { s.claimed <- struct{}{} }()
	}
	var due []*memMessage
	for _, m := range s.msgs {
		if m.Status == gatehouse.MessagePending && !m.NextAttempt.After(now) && !m.leasedUntil.After(now) {
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b *memMessage) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.ID, b.ID))
	})
	var out []gatehouse.Message
	for _, m := range due[:min(limit, len(due))] {
		m.leasedUntil = leaseUntil
		out = append(out, m.Message)
	}
	return out, nil
}

func (s *memStore) FindMessage(_ context.Context, id int64) (*gatehouse.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.find(id)
	if err != nil {
		return nil, err
	}
	c := m.Message
	return &c, nil
}

func (s *memStore) CountMessages(_ context.Context, workspaceID int64, channel string, since time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if m.WorkspaceID == workspaceID && m.Channel == channel && !m.CreatedAt.Before(since) {
			n++
		}
	}
	return n, nil
}

func (s *memStore) ScrubMessage(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.find(id)
	if err != nil {
		return err
	}
	m.Subject, m.Body = "", ""
	return nil
}

func (s *memStore) find(id int64) (*memMessage, error) {
	for _, m := range s.msgs {
		if m.ID == id {
			return m, nil
		}
	}
	return nil, fmt.Errorf("message %d: %w", id, gatehouse.ErrNotFound)
}

func (s *memStore) MarkMessageSent(_ context.Context, id int64, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.find(id)
	if err != nil {
		return err
	}
	m.Status, m.SentAt, m.leasedUntil = gatehouse.MessageSent, &now, time.Time{}
	m.Attempts++
	return nil
}

func (s *memStore) MarkMessageFailed(_ context.Context, id int64, errMsg string, next time.Time, giveUp bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.find(id)
	if err != nil {
		return err
	}
	m.Attempts++
	m.LastError, m.NextAttempt, m.leasedUntil = errMsg, next, time.Time{}
	if giveUp {
		m.Status = gatehouse.MessageFailed
	}
	return nil
}

func (s *memStore) ListMessages(_ context.Context, limit int) ([]gatehouse.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []gatehouse.Message
	for i := len(s.msgs) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, s.msgs[i].Message)
	}
	return out, nil
}

// get returns message id as stored now.
func (s *memStore) get(tb testing.TB, id int64) gatehouse.Message {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.find(id)
	if err != nil {
		tb.Fatal(err)
	}
	return m.Message
}

// fakeSender answers Send with the queued results in order, then with
// success, and records every message it was asked to send.
type fakeSender struct {
	mu      sync.Mutex
	results []error
	calls   []gatehouse.Message
	onSend  func(ctx context.Context, m gatehouse.Message) // runs inside Send, if set
	sentCh  chan gatehouse.Message                         // gets every message, if set
}

func (f *fakeSender) Send(ctx context.Context, m gatehouse.Message) error {
	if f.onSend != nil {
		f.onSend(ctx, m)
	}
	f.mu.Lock()
	f.calls = append(f.calls, m)
	var err error
	if len(f.results) > 0 {
		err, f.results = f.results[0], f.results[1:]
	}
	f.mu.Unlock()
	if f.sentCh != nil {
		f.sentCh <- m
	}
	return err
}

func (f *fakeSender) Calls() []gatehouse.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// clock is a fixed test clock that only moves when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2039, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// newOutbox returns an outbox over a fresh memStore with a fixed clock and
// a logger writing into the returned buffer.
func newOutbox(tb testing.TB, sender mail.Sender) (*mail.Outbox, *memStore, *clock, *syncBuffer) {
	tb.Helper()
	store, clk, logs := &memStore{}, newClock(), &syncBuffer{}
	o := &mail.Outbox{
		Store:  store,
		Sender: sender,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Now:    clk.Now,
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("outbox log:\n%s", logs)
		}
	})
	return o, store, clk, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// enqueue adds one message through the outbox and returns its ID.
func enqueue(tb testing.TB, o *mail.Outbox, store *memStore) int64 {
	tb.Helper()
	if err := o.Enqueue(tb.Context(), 7, "ada@example.com", "Your code", "Your code is 123456."); err != nil {
		tb.Fatal(err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	return store.msgs[len(store.msgs)-1].ID
}

// runOnce runs one round and checks its counts.
func runOnce(tb testing.TB, o *mail.Outbox, wantSent, wantFailed int) {
	tb.Helper()
	sent, failed, err := o.RunOnce(tb.Context())
	if err != nil {
		tb.Fatalf("RunOnce: %v", err)
	}
	if sent != wantSent || failed != wantFailed {
		tb.Fatalf("RunOnce = %d sent, %d failed; want %d, %d", sent, failed, wantSent, wantFailed)
	}
}

var (
	errTemporary = errors.New("451 4.3.0 try again later")
	errPermanent = fmt.Errorf("%w: 550 5.1.1 no such user", mail.ErrPermanent)
)

func TestOutboxEnqueueAndSend(t *testing.T) {
	sender := &fakeSender{}
	o, store, clk, _ := newOutbox(t, sender)

	id := enqueue(t, o, store)
	m := store.get(t, id)
	want := gatehouse.Message{
		ID: id, WorkspaceID: 7, Channel: "email", To: "ada@example.com",
		Subject: "Your code", Body: "Your code is 123456.",
		Status: gatehouse.MessagePending, CreatedAt: clk.Now(), NextAttempt: clk.Now(),
	}
	if m != want {
		t.Fatalf("stored message = %+v\nwant %+v", m, want)
	}

	runOnce(t, o, 1, 0)
	m = store.get(t, id)
	if m.Status != gatehouse.MessageSent || m.SentAt == nil || !m.SentAt.Equal(clk.Now()) {
		t.Errorf("after sending: status %q, sent at %v; want sent at %v", m.Status, m.SentAt, clk.Now())
	}
	calls := sender.Calls()
	if len(calls) != 1 || calls[0].To != "ada@example.com" || calls[0].Subject != "Your code" || calls[0].Body != "Your code is 123456." {
		t.Errorf("sender got %+v", calls)
	}

	// Sent is final: nothing is claimed again, however much time passes.
	clk.Add(24 * time.Hour)
	runOnce(t, o, 0, 0)
	if n := len(sender.Calls()); n != 1 {
		t.Errorf("sender called %d times, want 1", n)
	}
}

func TestOutboxEnqueueRefusesBadRecipient(t *testing.T) {
	o, store, _, _ := newOutbox(t, &fakeSender{})
	for _, to := range []string{"", "  ", "ada", "ada@example.com\r\nBcc: eve@example.com"} {
		err := o.Enqueue(t.Context(), 7, to, "s", "b")
		if !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("Enqueue to %q = %v, want gatehouse.ErrInvalid", to, err)
		}
	}
	if len(store.msgs) != 0 {
		t.Errorf("store holds %d messages, want 0", len(store.msgs))
	}
}

// A temporary failure reschedules with a doubling delay; the message is not
// due before then.
func TestOutboxTemporaryFailureBacksOff(t *testing.T) {
	sender := &fakeSender{results: []error{errTemporary, errTemporary, errTemporary, errTemporary}}
	o, store, clk, logs := newOutbox(t, sender)
	id := enqueue(t, o, store)

	for i, wantDelay := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second} {
		attempt := i + 1
		runOnce(t, o, 0, 1)
		m := store.get(t, id)
		if want := clk.Now().Add(wantDelay); !m.NextAttempt.Equal(want) {
			t.Fatalf("attempt %d: NextAttempt = %v, want now+%v = %v", attempt, m.NextAttempt, wantDelay, want)
		}
		if m.Status != gatehouse.MessagePending || m.Attempts != attempt || !strings.Contains(m.LastError, "try again later") {
			t.Fatalf("attempt %d: status %q, attempts %d, last error %q", attempt, m.Status, m.Attempts, m.LastError)
		}

		// Not due a second early.
		clk.Set(m.NextAttempt.Add(-time.Second))
		runOnce(t, o, 0, 0)
		clk.Set(m.NextAttempt)
	}
	runOnce(t, o, 1, 0)
	if m := store.get(t, id); m.Status != gatehouse.MessageSent || m.Attempts != 5 {
		t.Errorf("status %q after %d attempts, want sent after 5", m.Status, m.Attempts)
	}
	if n := len(sender.Calls()); n != 5 {
		t.Errorf("sender called %d times, want 5", n)
	}

	// Every failure is logged with what an operator needs.
	log := logs.String()
	if got := strings.Count(log, "level=WARN"); got != 4 {
		t.Errorf("%d warnings logged, want 4:\n%s", got, log)
	}
	for _, want := range []string{"id=1", "to=ada@example.com", "attempt=4", "try again later"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestOutboxGivesUp(t *testing.T) {
	tests := []struct {
		name         string
		maxAttempts  int
		results      []error
		wantAttempts int
		wantLastErr  string
	}{
		{
			name:         "permanent failure at once",
			results:      []error{errPermanent},
			wantAttempts: 1,
			wantLastErr:  "no such user",
		},
		{
			name:         "permanent failure after a temporary one",
			results:      []error{errTemporary, errPermanent},
			wantAttempts: 2,
			wantLastErr:  "no such user",
		},
		{
			name:         "MaxAttempts temporary failures",
			maxAttempts:  3,
			results:      []error{errTemporary, errTemporary, errTemporary, errTemporary},
			wantAttempts: 3,
			wantLastErr:  "try again later",
		},
		{
			name:         "default MaxAttempts is 10",
			results:      slices.Repeat([]error{errTemporary}, 11),
			wantAttempts: 10,
			wantLastErr:  "try again later",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sender := &fakeSender{results: tt.results}
			o, store, clk, logs := newOutbox(t, sender)
			o.MaxAttempts = tt.maxAttempts
			id := enqueue(t, o, store)

			for attempt := 1; attempt <= tt.wantAttempts; attempt++ {
				runOnce(t, o, 0, 1)
				clk.Add(2 * time.Hour) // past any backoff
			}
			m := store.get(t, id)
			if m.Status != gatehouse.MessageFailed || m.Attempts != tt.wantAttempts || !strings.Contains(m.LastError, tt.wantLastErr) {
				t.Errorf("status %q, attempts %d, last error %q; want failed after %d with %q",
					m.Status, m.Attempts, m.LastError, tt.wantAttempts, tt.wantLastErr)
			}

			// Given up is final.
			runOnce(t, o, 0, 0)
			if n := len(sender.Calls()); n != tt.wantAttempts {
				t.Errorf("sender called %d times, want %d", n, tt.wantAttempts)
			}
			log := logs.String()
			if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "giving up") ||
				!strings.Contains(log, fmt.Sprintf("attempt=%d", tt.wantAttempts)) {
				t.Errorf("give-up not logged as an error with its attempt:\n%s", log)
			}
		})
	}
}

func TestOutboxBackoffIsCapped(t *testing.T) {
	sender := &fakeSender{results: slices.Repeat([]error{errTemporary}, 12)}
	o, store, clk, _ := newOutbox(t, sender)
	o.MaxAttempts = 20
	id := enqueue(t, o, store)

	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600}
	for i, secs := range want {
		runOnce(t, o, 0, 1)
		m := store.get(t, id)
		if got := m.NextAttempt.Sub(clk.Now()); got != secs*time.Second {
			t.Fatalf("attempt %d: delay %v, want %v", i+1, got, secs*time.Second)
		}
		clk.Set(m.NextAttempt)
	}
}

// A message leased by another sender (or one that crashed) is left alone
// until its lease runs out, then delivered.
func TestOutboxRespectsLease(t *testing.T) {
	sender := &fakeSender{}
	o, store, clk, _ := newOutbox(t, sender)
	id := enqueue(t, o, store)
	start := clk.Now()

	// Another process claims the message and dies without marking it.
	claimed, err := store.ClaimMessages(t.Context(), start, start.Add(2*time.Minute), 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != id {
		t.Fatalf("ClaimMessages = %v, %v", claimed, err)
	}

	for _, at := range []time.Duration{0, time.Minute, 2*time.Minute - time.Second} {
		clk.Set(start.Add(at))
		runOnce(t, o, 0, 0)
	}
	if n := len(sender.Calls()); n != 0 {
		t.Fatalf("leased message sent %d times before its lease ran out", n)
	}

	clk.Set(start.Add(2 * time.Minute))
	runOnce(t, o, 1, 0)
	if m := store.get(t, id); m.Status != gatehouse.MessageSent {
		t.Errorf("status %q after the lease ran out, want sent", m.Status)
	}
}

// Two outboxes on one store never send the same message twice: while one is
// sending, the other finds nothing to claim.
func TestOutboxTwoWorkersDoNotDoubleSend(t *testing.T) {
	other := &fakeSender{}
	var otherSent, otherFailed int
	var otherErr error
	sender := &fakeSender{}
	o, store, clk, _ := newOutbox(t, sender)
	o2 := &mail.Outbox{Store: store, Sender: other, Now: clk.Now, Logger: o.Logger}
	sender.onSend = func(ctx context.Context, _ gatehouse.Message) {
		otherSent, otherFailed, otherErr = o2.RunOnce(ctx)
	}
	enqueue(t, o, store)

	runOnce(t, o, 1, 0)
	if otherErr != nil || otherSent != 0 || otherFailed != 0 || len(other.Calls()) != 0 {
		t.Errorf("second worker: %d sent, %d failed, %v, %d calls; want nothing", otherSent, otherFailed, otherErr, len(other.Calls()))
	}
}

func TestOutboxBatch(t *testing.T) {
	sender := &fakeSender{}
	o, store, _, _ := newOutbox(t, sender)
	o.Batch = 2
	for range 5 {
		enqueue(t, o, store)
	}
	runOnce(t, o, 2, 0)
	runOnce(t, o, 2, 0)
	runOnce(t, o, 1, 0)
	runOnce(t, o, 0, 0)
	var ids []int64
	for _, m := range sender.Calls() {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("sent IDs %v, want 1-5 in order", ids)
	}
}

// A send interrupted by shutdown says nothing about the message: no attempt
// is counted, and the message goes out after the lease.
func TestOutboxShutdownCountsNoAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sender := &fakeSender{}
	sender.onSend = func(sendCtx context.Context, _ gatehouse.Message) {
		cancel()
		<-sendCtx.Done()
	}
	sender.results = []error{context.Canceled}
	o, store, clk, _ := newOutbox(t, sender)
	id := enqueue(t, o, store)

	if _, _, err := o.RunOnce(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunOnce = %v, want context.Canceled", err)
	}
	if m := store.get(t, id); m.Status != gatehouse.MessagePending || m.Attempts != 0 || m.LastError != "" {
		t.Errorf("after shutdown: status %q, attempts %d, error %q; want untouched", m.Status, m.Attempts, m.LastError)
	}

	sender.onSend = nil
	clk.Add(2 * time.Minute)
	runOnce(t, o, 1, 0)
}

// Run delivers an enqueued message right away, without waiting for the poll
// interval, and returns nil when its context ends.
func TestOutboxRunDeliversOnEnqueue(t *testing.T) {
	sender := &fakeSender{sentCh: make(chan gatehouse.Message, 10)}
	o, store, _, _ := newOutbox(t, sender)
	o.PollInterval = time.Hour // only a poke can wake it in time
	store.claimed = make(chan struct{}, 100)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()

	// Let Run finish its first, empty round, so that only the poke can
	// bring the message out.
	select {
	case <-store.claimed:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start")
	}
	for range 3 {
		enqueue(t, o, store)
	}
	for range 3 {
		select {
		case <-sender.sentCh:
		case <-time.After(10 * time.Second):
			t.Fatal("message not delivered after Enqueue")
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil on cancellation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

func TestOutboxRunNeedsStoreAndSender(t *testing.T) {
	if err := (&mail.Outbox{}).Run(t.Context()); err == nil {
		t.Error("Run without Store and Sender succeeded")
	}
}

func TestDevSenderLogs(t *testing.T) {
	var buf bytes.Buffer
	d := mail.DevSender{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	m := testMessage()
	if err := d.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	log := buf.String()
	for _, want := range []string{"level=INFO", "to=ada@example.com", "123456", "subject="} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestSMSRouting: "sms" messages go to the SMS sender, the rest to e-mail,
// and Await reports the first attempt's outcome.
func TestSMSRouting(t *testing.T) {
	store := &memStore{}
	clock := time.Date(2039, 6, 15, 12, 0, 0, 0, time.UTC)
	email, sms := &recordingSender{}, &recordingSender{}
	o := &mail.Outbox{Store: store, Sender: email, SMS: sms, Now: func() time.Time { return clock }}
	ctx := context.Background()
	id, err := o.EnqueueSMS(ctx, 1, "+447700900123", "123456 is your code")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, 1, "a@example.com", "Hi", "Body"); err != nil {
		t.Fatal(err)
	}
	m, err := o.Await(ctx, id, 0)
	if err != nil || m.Status != gatehouse.MessagePending || m.Attempts != 0 {
		t.Fatalf("before any attempt: %+v, %v", m, err)
	}
	if _, _, err := o.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if len(sms.sent()) != 1 || sms.sent()[0].To != "+447700900123" || len(email.sent()) != 1 || email.sent()[0].To != "a@example.com" {
		t.Fatalf("sms got %+v, email got %+v", sms.sent(), email.sent())
	}
	if m, err = o.Await(ctx, id, time.Second); err != nil || m.Status != gatehouse.MessageSent {
		t.Fatalf("after the attempt: %+v, %v", m, err)
	}
	if n, _ := store.CountMessages(ctx, 1, "sms", clock); n != 1 {
		t.Fatalf("CountMessages = %d", n)
	}

	// Without an SMS sender a text is given up at once, not retried.
	o2 := &mail.Outbox{Store: store, Sender: email, Now: func() time.Time { return clock }}
	id, _ = o2.EnqueueSMS(ctx, 1, "+447700900123", "x")
	o2.RunOnce(ctx)
	if m, _ := o2.Await(ctx, id, 0); m.Status != gatehouse.MessageFailed {
		t.Fatalf("SMS without a sender: %+v", m)
	}
}

// recordingSender records what it delivers.
type recordingSender struct {
	mu   sync.Mutex
	msgs []gatehouse.Message
}

func (r *recordingSender) Send(_ context.Context, m gatehouse.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recordingSender) sent() []gatehouse.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gatehouse.Message(nil), r.msgs...)
}

// TestScrub: a delivered or abandoned message loses its text (it may hold
// a code or a link) unless KeepSent, and a retried one keeps it.
func TestScrub(t *testing.T) {
	clock := time.Date(2039, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, keep := range []bool{false, true} {
		store := &memStore{}
		sender := &scriptedSender{}
		o := &mail.Outbox{Store: store, Sender: sender, KeepSent: keep, Now: func() time.Time { return clock }}
		ctx := context.Background()
		for _, to := range []string{"ok@example.com", "later@example.com", "never@example.com"} {
			if err := o.Enqueue(ctx, 1, to, "123456 is your code", "Your code is 123456"); err != nil {
				t.Fatal(err)
			}
		}
		sender.fail = map[string]error{
			"later@example.com": errors.New("451 try later"),
			"never@example.com": fmt.Errorf("%w: 550 no such user", mail.ErrPermanent),
		}
		if _, _, err := o.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		for id, wantBody := range map[int64]bool{1: keep, 2: true, 3: keep} {
			m := store.get(t, id)
			if (m.Body != "") != wantBody || (m.Subject != "") != wantBody {
				t.Errorf("keep=%v: message %d (%s, %s) has subject %q body %q", keep, id, m.To, m.Status, m.Subject, m.Body)
			}
		}
	}
}

// scriptedSender fails for the recipients in fail.
type scriptedSender struct{ fail map[string]error }

func (s *scriptedSender) Send(_ context.Context, m gatehouse.Message) error { return s.fail[m.To] }

// jobRunner records the jobs it runs, fails a kind as told, and may queue an
// e-mail from inside a job, as the account jobs do.
type jobRunner struct {
	mu   sync.Mutex
	runs []string // "workspace kind payload"
	fail map[string]error
	then func(ctx context.Context, workspaceID int64)
}

func (j *jobRunner) RunJob(ctx context.Context, workspaceID int64, kind, payload string) error {
	j.mu.Lock()
	j.runs = append(j.runs, fmt.Sprint(workspaceID, " ", kind, " ", payload))
	err := j.fail[kind]
	j.mu.Unlock()
	if err == nil && j.then != nil {
		j.then(ctx, workspaceID)
	}
	return err
}

func (j *jobRunner) ran() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.runs)
}

// TestOutboxJobs: a job is one stored row, run by the worker (never by
// EnqueueJob), retried with backoff on a temporary error, given up on a
// permanent one, and always scrubbed once done; mail a job queues goes out
// in the same Flush.
func TestOutboxJobs(t *testing.T) {
	sender := &fakeSender{}
	o, store, clk, _ := newOutbox(t, sender)
	o.KeepSent = true // jobs are scrubbed even so
	jobs := &jobRunner{fail: map[string]error{"flaky": errTemporary, "broken": errPermanent}}
	jobs.then = func(ctx context.Context, ws int64) {
		if err := o.Enqueue(ctx, ws, "ada@example.com", "Reset", "Your link"); err != nil {
			t.Error(err)
		}
	}
	o.Jobs = jobs
	ctx := t.Context()
	for _, kind := range []string{"reset", "flaky", "broken"} {
		if err := o.EnqueueJob(ctx, 7, kind, `{"email":"ada@example.com"}`); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(jobs.ran()); n != 0 {
		t.Fatalf("EnqueueJob ran %d jobs itself; the worker must", n)
	}
	if m := store.get(t, 1); m.Channel != mail.ChannelJob || m.Subject != "reset" || m.Body != `{"email":"ada@example.com"}` || m.To != "" || m.Status != gatehouse.MessagePending {
		t.Fatalf("stored job = %+v", m)
	}

	sent, failed, err := o.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Three jobs ran: "reset" and the mail it queued went out, the other two failed.
	if sent != 2 || failed != 2 {
		t.Errorf("Flush = %d sent, %d failed; want 2 (the job and the mail it queued), 2", sent, failed)
	}
	if got := jobs.ran(); len(got) != 3 || got[0] != `7 reset {"email":"ada@example.com"}` {
		t.Errorf("jobs run: %q", got)
	}
	if c := sender.Calls(); len(c) != 1 || c[0].Subject != "Reset" {
		t.Errorf("sender got %+v, want the job's one mail; jobs must never reach the e-mail sender", c)
	}
	for id, want := range map[int64]gatehouse.MessageStatus{1: gatehouse.MessageSent, 2: gatehouse.MessagePending, 3: gatehouse.MessageFailed} {
		m := store.get(t, id)
		if m.Status != want {
			t.Errorf("job %d (%s): status %s, want %s", id, m.Subject, m.Status, want)
		}
		if scrubbed := m.Body == "" && m.Subject == ""; scrubbed != (want != gatehouse.MessagePending) {
			t.Errorf("job %d (%s, %s): subject %q body %q; a finished job is scrubbed, a pending one kept", id, m.Subject, m.Status, m.Subject, m.Body)
		}
	}
	// The flaky job is retried when its backoff is over, and not before.
	runOnce(t, o, 0, 0)
	clk.Add(5 * time.Second)
	jobs.fail["flaky"] = nil
	jobs.then = nil
	runOnce(t, o, 1, 0)
	if m := store.get(t, 2); m.Status != gatehouse.MessageSent || m.Attempts != 2 {
		t.Errorf("retried job: %+v", m)
	}

	// Without a runner a job is given up at once, not retried.
	o.Jobs = nil
	if err := o.EnqueueJob(ctx, 7, "reset", "{}"); err != nil {
		t.Fatal(err)
	}
	runOnce(t, o, 0, 1)
	if m := store.get(t, int64(len(store.msgs))); m.Status != gatehouse.MessageFailed {
		t.Errorf("job without a runner: %+v", m)
	}
}
