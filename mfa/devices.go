package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// MaxDevices is how many trusted devices a user keeps: a sixth replaces the
// least recently used.
const MaxDevices = 5

// NewDevice is a trusted device just made: its cookie token and expiry.
type NewDevice struct {
	Token     string
	ExpiresAt time.Time
}

func deviceHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// TrustDevice remembers the browser of a visit that just passed the second
// factor, for the workspace's trusted-device lifetime. It returns nil when
// the workspace hides "Remember this device" (lifetime 0).
func (s *Service) TrustDevice(ctx context.Context, v *gatehouse.Visit, userAgent, ip string) (*NewDevice, error) {
	days := v.Workspace.MFA.TrustedDeviceDays
	if days <= 0 {
		return nil, nil
	}
	b := make([]byte, 32)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.Now()
	d := &Device{
		UserID: v.User.ID, TokenHash: deviceHash(token), UserAgent: gatehouse.Truncate(userAgent, 256),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Duration(days) * 24 * time.Hour),
	}
	if err := s.Store.CreateDevice(ctx, v.Workspace.ID, d, MaxDevices); err != nil {
		return nil, err
	}
	s.audit(ctx, v, v.User.ID, "device.trusted", ip, BrowserName(userAgent))
	s.notify(ctx, v, "New trusted device", fmt.Sprintf("A browser (%s) was set to skip the second step when you sign in to %s, until %s.",
		BrowserName(userAgent), v.Workspace.DisplayName(), d.ExpiresAt.Format("2 January 2006")))
	return &NewDevice{Token: token, ExpiresAt: d.ExpiresAt}, nil
}

// DeviceTrusted reports whether token is a trusted device of the user in
// the workspace, and records its use. Another user's or another
// workspace's device never matches, and the workspace's current lifetime
// applies: 0 stops every device, and a shorter one ends older devices.
func (s *Service) DeviceTrusted(ctx context.Context, ws *gatehouse.Workspace, userID int64, token string) (bool, error) {
	days := ws.MFA.TrustedDeviceDays
	if token == "" || len(token) > 64 || days <= 0 {
		return false, nil
	}
	now := s.Now()
	d, err := s.Store.FindDevice(ctx, ws.ID, userID, deviceHash(token), now)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !now.Before(d.CreatedAt.Add(time.Duration(days) * 24 * time.Hour)) {
		return false, nil
	}
	return true, s.Store.TouchDevice(ctx, ws.ID, d.ID, now)
}

// Devices lists the user's trusted devices, most recently used first.
func (s *Service) Devices(ctx context.Context, v *gatehouse.Visit) ([]Device, error) {
	return s.Store.ListDevices(ctx, v.Workspace.ID, v.User.ID, s.Now())
}

// RevokeDevice forgets one of the user's trusted devices.
func (s *Service) RevokeDevice(ctx context.Context, v *gatehouse.Visit, id int64, ip string) error {
	if err := s.Store.DeleteDevice(ctx, v.Workspace.ID, v.User.ID, id); err != nil {
		return err
	}
	s.audit(ctx, v, v.User.ID, "device.revoked", ip, "one")
	return nil
}

// RevokeDevices forgets all the user's trusted devices.
func (s *Service) RevokeDevices(ctx context.Context, v *gatehouse.Visit, ip string) error {
	n, err := s.Store.DeleteDevices(ctx, v.Workspace.ID, v.User.ID)
	if err != nil {
		return err
	}
	s.audit(ctx, v, v.User.ID, "device.revoked", ip, fmt.Sprintf("all (%d)", n))
	return nil
}

// BrowserName is a short, human name for a User-Agent string.
func BrowserName(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"},
		{"Chromium/", "Chromium"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			os := ""
			for _, o := range []struct{ token, name string }{
				{"Windows", "Windows"}, {"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"},
				{"Mac OS X", "macOS"}, {"Linux", "Linux"},
			} {
				if strings.Contains(ua, o.token) {
					os = " on " + o.name
					break
				}
			}
			return b.name + os
		}
	}
	if ua == "" {
		return "Unknown browser"
	}
	return gatehouse.Truncate(ua, 40)
}
