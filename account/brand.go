package account

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
)

// MaxBrandName is the longest display name, in characters.
const MaxBrandName = 60

var (
	// ErrBrandName reports a display name that is too long or holds control characters.
	ErrBrandName = errors.New("the display name must be at most 60 characters of text")
	// ErrAccentFormat reports an accent colour that is not #rrggbb.
	ErrAccentFormat = errors.New("the accent colour must look like #1a2b3c")
	// ErrAccentContrast reports an accent colour too light for white text and a white page.
	ErrAccentContrast = errors.New("that accent colour is too light: white text on it and it on white would be hard to read (WCAG AA needs 4.5:1)")
)

// MinAccentContrast is WCAG AA's contrast ratio for normal text.
const MinAccentContrast = 4.5

// ContrastOnWhite is the WCAG 2 contrast ratio of the #rrggbb colour
// against white, or an error for anything else.
func ContrastOnWhite(hex string) (float64, error) {
	if len(hex) != 7 || hex[0] != '#' {
		return 0, ErrAccentFormat
	}
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil {
		return 0, ErrAccentFormat
	}
	lin := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff)
	return 1.05 / (l + 0.05), nil
}

// BrandChange is what the owner's branding form asks for.
type BrandChange struct {
	DisplayName string
	Accent      string // #rrggbb, or "" for the product's colour
	// Logo is an uploaded image; nil keeps the current logo.
	Logo []byte
	// RemoveLogo drops the current logo (ignored with a Logo).
	RemoveLogo bool
}

// UpdateBrand sets the workspace's display name, accent colour (empty for
// the defaults) and logo; only the owner may, on any plan. An accent that
// fails WCAG AA against white is refused, and so is a logo NormalizeLogo
// refuses. The brand, the logo and the audit event are one transaction.
func (s *Service) UpdateBrand(ctx context.Context, v *gatehouse.Visit, c BrandChange, ip string) error {
	if v.User.Role != gatehouse.RoleOwner {
		return ErrForbidden
	}
	name := strings.TrimSpace(c.DisplayName)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxBrandName || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return ErrBrandName
	}
	accent := strings.ToLower(strings.TrimSpace(c.Accent))
	if accent != "" {
		c, err := ContrastOnWhite(accent)
		if err != nil {
			return err
		}
		if c < MinAccentContrast {
			return ErrAccentContrast
		}
	}
	now := s.Now()
	detail := fmt.Sprintf("name %q, accent %q", name, accent)
	var logo *gatehouse.Logo
	switch {
	case c.Logo != nil:
		png, err := NormalizeLogo(c.Logo)
		if err != nil {
			return err
		}
		logo = &gatehouse.Logo{ID: LogoID(png), PNG: png, UpdatedAt: now}
		detail += ", new logo"
	case c.RemoveLogo:
		logo = &gatehouse.Logo{}
		detail += ", logo removed"
	}
	e := &gatehouse.AuditEvent{At: now, ActorID: v.User.ID, Type: "settings.branding", IP: ip, Detail: detail}
	ws, err := s.Store.SetBrand(ctx, v.Workspace.ID, gatehouse.Brand{DisplayName: name, Accent: accent}, logo, now, e)
	if err != nil {
		return err
	}
	v.Workspace = *ws
	return nil
}
