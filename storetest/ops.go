package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// OpsStore is a store with the operator methods (metrics, key rotation),
// which span every workspace.
type OpsStore interface {
	Store
	gatehouse.SealedStore
	OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error)
}

// RunOps runs the conformance tests of the operator methods.
func RunOps(t *testing.T, open func(tb testing.TB) OpsStore) {
	t.Run("OutboxStats", func(t *testing.T) { testOutboxStats(t, open(t)) })
	t.Run("Sealed", func(t *testing.T) { testSealed(t, open(t)) })
	t.Run("ServerKeys", func(t *testing.T) { testServerKeys(t, open(t)) })
}

// testSealed checks the listing and the conditional replacement a key
// rotation relies on, for TOTP seeds and Twilio tokens across workspaces.
func testSealed(t *testing.T, s OpsStore) {
	ctx := context.Background()
	wa := MustCreateWorkspace(t, s, "sealed-a")
	wb := &gatehouse.Workspace{Slug: "sealed-b", Name: "B", Plan: gatehouse.PlanPro, CreatedAt: t0, UpdatedAt: t0,
		MFA:    gatehouse.MFASettings{Mode: gatehouse.MFADisabled, ModeChangedAt: t0},
		Twilio: gatehouse.TwilioAccount{AccountSID: "AC1", AuthToken: []byte("sealed-token-b"), From: "+15005550006"}}
	must(t, "create workspace with a token", s.CreateWorkspace(ctx, wb))
	var users []*gatehouse.User
	for i, ws := range []*gatehouse.Workspace{wa, wa, wb} {
		u := MustCreateUser(t, s, ws.ID, fmt.Sprintf("u%d@example.com", i), gatehouse.RoleMember)
		users = append(users, u)
		must(t, "save factor", s.SaveFactor(ctx, ws.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP,
			Secret: []byte(fmt.Sprint("seed-", i)), CreatedAt: t0}))
	}
	// A factor without a secret (e-mail) is not listed.
	must(t, "save e-mail factor", s.SaveFactor(ctx, wa.ID, &mfa.Factor{UserID: users[0].ID, Method: gatehouse.MethodEmail, CreatedAt: t0}))

	var all []gatehouse.SealedValue
	for after := int64(0); ; {
		batch, err := s.ListSealed(ctx, gatehouse.SealedTOTPSeed, after, 2)
		must(t, "list seeds", err)
		all = append(all, batch...)
		if len(batch) < 2 {
			break
		}
		after = batch[len(batch)-1].ID
	}
	if len(all) != 3 {
		t.Fatalf("listed %d seeds in batches of 2, want 3: %+v", len(all), all)
	}
	for i, v := range all {
		ws := wa.ID
		if i == 2 {
			ws = wb.ID
		}
		if string(v.Sealed) != fmt.Sprint("seed-", i) || v.WorkspaceID != ws || v.OwnerID != users[i].ID {
			t.Errorf("seed %d = %+v, want workspace %d, owner %d", i, v, ws, users[i].ID)
		}
		if i > 0 && v.ID <= all[i-1].ID {
			t.Errorf("seeds not in ID order: %+v", all)
		}
	}

	// The replacement happens only while the row holds what was read.
	ok, err := s.ReplaceSealed(ctx, gatehouse.SealedTOTPSeed, all[0].ID, []byte("seed-0"), []byte("resealed-0"))
	must(t, "replace", err)
	if !ok {
		t.Fatalf("ReplaceSealed with the current value = false")
	}
	ok, err = s.ReplaceSealed(ctx, gatehouse.SealedTOTPSeed, all[0].ID, []byte("seed-0"), []byte("stale"))
	must(t, "replace stale", err)
	if ok {
		t.Errorf("ReplaceSealed with a stale value = true")
	}
	fs, err := s.FindFactors(ctx, wa.ID, users[0].ID)
	must(t, "find factors", err)
	for _, f := range fs {
		if f.Method == gatehouse.MethodTOTP && string(f.Secret) != "resealed-0" {
			t.Errorf("the seed is %q after the replacements, want resealed-0", f.Secret)
		}
	}

	tokens, err := s.ListSealed(ctx, gatehouse.SealedTwilioToken, 0, 10)
	must(t, "list tokens", err)
	if len(tokens) != 1 || tokens[0].ID != wb.ID || tokens[0].WorkspaceID != wb.ID || string(tokens[0].Sealed) != "sealed-token-b" {
		t.Fatalf("tokens = %+v, want workspace %d's only", tokens, wb.ID)
	}
	ok, err = s.ReplaceSealed(ctx, gatehouse.SealedTwilioToken, wb.ID, []byte("sealed-token-b"), []byte("resealed-b"))
	must(t, "replace token", err)
	got, err := s.FindWorkspaceByID(ctx, wb.ID)
	must(t, "find workspace", err)
	if !ok || string(got.Twilio.AuthToken) != "resealed-b" {
		t.Errorf("token after replacement = %q (%v), want resealed-b", got.Twilio.AuthToken, ok)
	}

	if _, err := s.ListSealed(ctx, "nonsense", 0, 10); err == nil {
		t.Errorf("ListSealed of an unknown kind succeeded")
	}
	if docs, err := s.ListSealed(ctx, gatehouse.SealedDocumentKey, 0, 10); err != nil || len(docs) != 0 {
		t.Errorf("document keys of a store without documents = %v, %v", docs, err)
	}
}

// testServerKeys checks that the first key stored wins and stays.
func testServerKeys(t *testing.T, s OpsStore) {
	ctx := context.Background()
	if _, err := s.ServerKey(ctx, gatehouse.ServerKeyMAC); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("ServerKey before any = %v, want ErrNotFound", err)
	}
	got, err := s.AddServerKey(ctx, gatehouse.ServerKeyMAC, []byte("first"))
	must(t, "add", err)
	if string(got) != "first" {
		t.Errorf("AddServerKey = %q, want first", got)
	}
	got, err = s.AddServerKey(ctx, gatehouse.ServerKeyMAC, []byte("second"))
	must(t, "add again", err)
	if string(got) != "first" {
		t.Errorf("second AddServerKey = %q, want the first key kept", got)
	}
	got, err = s.ServerKey(ctx, gatehouse.ServerKeyMAC)
	if err != nil || string(got) != "first" {
		t.Errorf("ServerKey = %q, %v; want first", got, err)
	}
	list, err := s.ListSealed(ctx, gatehouse.SealedServerKey, 0, 10)
	must(t, "list server keys", err)
	if len(list) != 1 || list[0].ID != gatehouse.ServerKeyMAC || string(list[0].Sealed) != "first" {
		t.Errorf("server keys = %+v", list)
	}
	ok, err := s.ReplaceSealed(ctx, gatehouse.SealedServerKey, gatehouse.ServerKeyMAC, []byte("first"), []byte("resealed"))
	must(t, "replace", err)
	if got, _ := s.ServerKey(ctx, gatehouse.ServerKeyMAC); !ok || string(got) != "resealed" {
		t.Errorf("server key after replacement = %q (%v)", got, ok)
	}
}

// testOutboxStats checks the outbox depth behind the metrics: pending
// messages of every workspace, retries included, sent and failed ones not.
func testOutboxStats(t *testing.T, s OpsStore) {
	ctx := context.Background()
	n, oldest, err := s.OutboxStats(ctx)
	must(t, "stats of an empty outbox", err)
	if n != 0 || !oldest.IsZero() {
		t.Fatalf("empty outbox: OutboxStats = %d, %v; want 0, zero time", n, oldest)
	}
	wa := MustCreateWorkspace(t, s, "ops-a")
	wb := MustCreateWorkspace(t, s, "ops-b")
	enqueue := func(wsID int64, created time.Time) *gatehouse.Message {
		m := &gatehouse.Message{Channel: "email", To: "a@example.com", Subject: "s", Body: "b", CreatedAt: created, NextAttempt: created}
		must(t, "enqueue", s.EnqueueMessage(ctx, wsID, m))
		return m
	}
	sent := enqueue(wa.ID, t0.Add(-3*time.Hour))
	failed := enqueue(wa.ID, t0.Add(-2*time.Hour))
	retry := enqueue(wb.ID, t0.Add(-time.Hour))
	enqueue(wa.ID, t0)
	must(t, "sent", s.MarkMessageSent(ctx, sent.ID, t0))
	must(t, "failed", s.MarkMessageFailed(ctx, failed.ID, "550 no such user", t0, true))
	must(t, "retry", s.MarkMessageFailed(ctx, retry.ID, "421 try later", t0.Add(time.Minute), false))

	n, oldest, err = s.OutboxStats(ctx)
	must(t, "stats", err)
	if n != 2 || !oldest.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("OutboxStats = %d, %v; want 2 pending (one a retry, in another workspace), the oldest queued at %v", n, oldest, t0.Add(-time.Hour))
	}
}
