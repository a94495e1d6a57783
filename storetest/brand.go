package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// testSetBrand: the brand, the logo and the audit event are written
// together; the logo is kept apart from the workspace row and names itself
// in Brand.Logo; it belongs to its workspace only; a brand save without a
// logo keeps the logo, and removing it removes both.
func testSetBrand(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "brand")
	other := MustCreateWorkspace(t, s, "brand-other")
	if _, err := s.FindLogo(ctx, w.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("logo of a new workspace: %v, want ErrNotFound", err)
	}

	logo := &gatehouse.Logo{ID: "0123456789abcdef", PNG: []byte("\x89PNG pretend pixels")}
	brand := gatehouse.Brand{DisplayName: "Acme", Accent: "#0b5cad", Logo: "ignored"}
	at := t0.Add(time.Hour)
	e := &gatehouse.AuditEvent{At: at, ActorID: 1, Type: "settings.branding", Detail: "new logo"}
	got, err := s.SetBrand(ctx, w.ID, brand, logo, at, e)
	must(t, "set brand with a logo", err)
	want := gatehouse.Brand{DisplayName: "Acme", Accent: "#0b5cad", Logo: logo.ID}
	if got.Brand != want || !got.UpdatedAt.Equal(at) || got.Plan != w.Plan {
		t.Fatalf("after SetBrand = %+v", got)
	}
	if e.ID == 0 {
		t.Fatal("the audit event was not recorded")
	}
	l, err := s.FindLogo(ctx, w.ID)
	must(t, "find logo", err)
	if l.ID != logo.ID || !bytes.Equal(l.PNG, logo.PNG) || !l.UpdatedAt.Equal(at) {
		t.Fatalf("logo = %+v", l)
	}
	if found, err := s.FindWorkspaceByID(ctx, w.ID); err != nil || found.Brand != want {
		t.Fatalf("workspace read back: %+v, %v", found, err)
	}
	if _, err := s.FindLogo(ctx, other.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("another workspace's logo: %v, want ErrNotFound", err)
	}

	// A save without a logo keeps it; a new logo replaces it.
	got, err = s.SetBrand(ctx, w.ID, gatehouse.Brand{DisplayName: "Acme Co"}, nil, at.Add(time.Minute), nil)
	must(t, "set brand, keep logo", err)
	if got.Brand.Logo != logo.ID || got.Brand.DisplayName != "Acme Co" || got.Brand.Accent != "" {
		t.Fatalf("after a save without a logo = %+v", got.Brand)
	}
	next := &gatehouse.Logo{ID: "fedcba9876543210", PNG: []byte("other pixels")}
	got, err = s.SetBrand(ctx, w.ID, got.Brand, next, at.Add(2*time.Minute), nil)
	must(t, "replace logo", err)
	if l, err := s.FindLogo(ctx, w.ID); err != nil || got.Brand.Logo != next.ID || l.ID != next.ID || !bytes.Equal(l.PNG, next.PNG) {
		t.Fatalf("after a new logo: brand %+v, logo %+v, %v", got.Brand, l, err)
	}

	// Removing drops the logo and its name.
	got, err = s.SetBrand(ctx, w.ID, got.Brand, &gatehouse.Logo{}, at.Add(3*time.Minute), nil)
	must(t, "remove logo", err)
	if got.Brand.Logo != "" {
		t.Fatalf("after removal Brand.Logo = %q", got.Brand.Logo)
	}
	if _, err := s.FindLogo(ctx, w.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("removed logo: %v, want ErrNotFound", err)
	}

	// No such workspace: nothing written, not even the audit event.
	if _, err := s.SetBrand(ctx, 987654, brand, logo, at, &gatehouse.AuditEvent{At: at, Type: "settings.branding"}); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("SetBrand of no workspace: %v, want ErrNotFound", err)
	}
	if _, err := s.FindLogo(ctx, 987654); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("a logo was kept for no workspace: %v", err)
	}
}
