package mfa_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// ownerVisit makes a second user the workspace's owner and returns their
// signed-in visit, as the settings page reads it.
func ownerVisit(t *testing.T, h *harness) *gatehouse.Visit {
	t.Helper()
	owner := h.newUser(t, "owner@example.com", true)
	if err := h.store.SetUserRole(context.Background(), h.ws.ID, owner.ID, gatehouse.RoleOwner, t0); err != nil {
		t.Fatal(err)
	}
	owner.Role = gatehouse.RoleOwner
	return h.session(t, h.store, owner, true)
}

// TestSettingsSaveKeepsPlan: the operator's set-plan lands while the owner
// has the settings page open; saving it does not put the old plan back.
func TestSettingsSaveKeepsPlan(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		ctx := t.Context()
		v := ownerVisit(t, h)
		plan := gatehouse.PlanUnlimited
		if _, err := h.store.UpdateWorkspace(ctx, h.ws.ID, gatehouse.WorkspaceUpdate{Plan: &plan}, t0); err != nil {
			t.Fatal(err)
		}
		next := v.Workspace.MFA
		next.GraceDays = 4
		if err := h.svc.UpdateSettings(ctx, v, next, gatehouse.DefaultSMSGuard(), nil, testIP); err != nil {
			t.Fatal(err)
		}
		got, err := h.store.FindWorkspaceByID(ctx, h.ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Plan != gatehouse.PlanUnlimited || got.MFA.GraceDays != 4 {
			t.Fatalf("after the settings save: plan %s, grace %d days; want unlimited, 4", got.Plan, got.MFA.GraceDays)
		}
		if v.Workspace.Plan != gatehouse.PlanUnlimited {
			t.Errorf("the visit after saving shows plan %s, want the stored unlimited", v.Workspace.Plan)
		}
	})
}

// TestGraceClockRestartsOnModeChange: saving settings restarts the grace
// period only when the mode changes.
func TestGraceClockRestartsOnModeChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{mode: gatehouse.MFAOptional})
		ctx := t.Context()
		v := ownerVisit(t, h)
		started := v.Workspace.MFA.ModeChangedAt
		save := func(mode gatehouse.MFAMode, grace int) time.Time {
			t.Helper()
			h.clock.Advance(24 * time.Hour)
			next := v.Workspace.MFA
			next.Mode, next.GraceDays = mode, grace
			if err := h.svc.UpdateSettings(ctx, v, next, gatehouse.DefaultSMSGuard(), nil, testIP); err != nil {
				t.Fatal(err)
			}
			got, err := h.store.FindWorkspaceByID(ctx, h.ws.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.MFA.ModeChangedAt
		}
		if got := save(gatehouse.MFAOptional, 7); !got.Equal(started) {
			t.Fatalf("a save in the same mode moved the grace clock from %v to %v", started, got)
		}
		if got := save(gatehouse.MFADisabled, 7); !got.Equal(h.clock.Now()) {
			t.Fatalf("a mode change set the grace clock to %v, want %v", got, h.clock.Now())
		}
	})
}

// TestResetReasonControlCharacters: a reset's reason is free text from a
// form; a NUL in it (which PostgreSQL text refuses) or another control
// character is dropped, not a failed reset. Line breaks and tabs stay.
func TestResetReasonControlCharacters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		v := ownerVisit(t, h)
		if err := h.svc.Reset(t.Context(), v, h.user, "lost\x00 phone\x1b\nnew\tone\x7f", testIP); err != nil {
			t.Fatalf("Reset with control characters in the reason: %v", err)
		}
		es := h.events(t, "mfa.reset")
		if len(es) != 1 || !strings.HasSuffix(es[0].Detail, ": lost phone\nnew\tone") {
			t.Errorf("reset events = %+v; want one whose reason is %q", es, "lost phone\nnew\tone")
		}
	})
}
