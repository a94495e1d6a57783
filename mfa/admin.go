package mfa

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/gatehouse-dev/gatehouse"
)

// Errors of the admin controls.
var (
	ErrForbidden = errors.New("You are not allowed to do that.")
	ErrPlan      = errors.New("Two-step verification is available on Pro and Unlimited.")
	// ErrOwnerNeedsMethod refuses required mode to an owner without an
	// active method the new settings allow (SPEC §3): switching would lock
	// them out mid-session.
	ErrOwnerNeedsMethod = errors.New("Set up two-step verification for yourself first: in required mode everyone needs a method, you too.")
)

// lockKey is the throttle key of a user's second-factor failures.
func lockKey(userID int64) string { return "mfa:" + strconv.FormatInt(userID, 10) }

// UpdateSettings saves the owner's two-factor settings (SPEC §3). Only the
// owner may, and only on a plan with two-factor features. A mode change
// restarts the grace period clock.
// twilio, when not nil, replaces the workspace's Twilio account (see
// TwilioAccount) in the same save, so SMS can be allowed with it and a
// refused form changes nothing.
func (s *Service) UpdateSettings(ctx context.Context, v *gatehouse.Visit, next gatehouse.MFASettings, guard gatehouse.SMSGuard, twilio *gatehouse.TwilioAccount, ip string) error {
	if v.User.Role != gatehouse.RoleOwner {
		return ErrForbidden
	}
	if !v.Workspace.Plan.HasMFA() {
		return ErrPlan
	}
	next.Methods = gatehouse.SortMethods(next.Methods)
	acct := v.Workspace.Twilio
	if twilio != nil {
		acct = *twilio
	}
	if err := next.Validate(acct.Ready()); err != nil {
		return err
	}
	if next.Mode == gatehouse.MFARequired && !OwnsAllowedMethod(v, next) {
		return ErrOwnerNeedsMethod
	}
	if err := validateGuard(&guard); err != nil {
		return err
	}
	// Only what the form sets is written (not the plan, which the operator
	// may change meanwhile); the store restarts the grace clock when the
	// mode differs from the stored one.
	upd := gatehouse.MFASettingsUpdate(next)
	upd.SMSGuard = &guard
	if twilio != nil {
		upd.Twilio = &acct
	}
	ws, err := s.Store.UpdateWorkspace(ctx, v.Workspace.ID, upd, s.Now())
	if err != nil {
		return err
	}
	v.Workspace = *ws
	methods := make([]string, len(next.Methods))
	for i, m := range next.Methods {
		methods[i] = string(m)
	}
	countries := "any"
	if len(guard.Countries) > 0 {
		countries = strings.Join(guard.Countries, ",")
	}
	if twilio != nil {
		s.audit(ctx, v, 0, "settings.twilio", ip, "account "+acct.AccountSID)
	}
	s.audit(ctx, v, 0, "settings.changed", ip, fmt.Sprintf("mode %s, methods %s, trusted devices %d days, grace %d days, SMS countries %s, SMS caps %d/h %d/day",
		next.Mode, strings.Join(methods, ","), next.TrustedDeviceDays, next.GraceDays, countries, guard.HourlyCap, guard.DailyCap))
	return nil
}

// Reset clears the target's methods, recovery codes, trusted devices and
// failure lock, ends their sessions, e-mails them and records who did it
// and why. In required mode their next sign-in must enroll again.
func (s *Service) Reset(ctx context.Context, v *gatehouse.Visit, target *gatehouse.User, reason, ip string) error {
	if !v.User.CanManage(target) {
		return ErrForbidden
	}
	ws := v.Workspace.ID
	reason = gatehouse.Truncate(strings.TrimSpace(reason), 500)
	detail := "by " + v.User.Email
	if reason != "" {
		detail += ": " + reason
	}
	// One transaction: a failure half way must not leave a half-reset user.
	e := &gatehouse.AuditEvent{At: s.Now(), ActorID: v.User.ID, TargetID: target.ID, Type: "mfa.reset", IP: ip, Detail: detail}
	if err := s.Store.ResetMFA(ctx, ws, target.ID, lockKey(target.ID), e); err != nil {
		return err
	}
	body := fmt.Sprintf("%s reset the two-step verification of your account at %s.", v.User.Email, v.Workspace.DisplayName())
	if reason != "" {
		body += "\nReason: " + reason
	}
	body += "\n\nYour methods, recovery codes and trusted devices were removed, and you were signed out everywhere.\nIf you did not expect this, contact your workspace admin.\n"
	if err := s.Mailer.Enqueue(ctx, ws, target.Email, "Your two-step verification was reset", body); err != nil {
		s.logger().Error("queue reset e-mail", "user", target.ID, "err", err)
	}
	return nil
}

// Coverage is the owner's view of 2FA adoption (SPEC §8).
type Coverage struct {
	Roles      []RoleCoverage
	Total      RoleCoverage
	MethodMix  []MethodCount
	Unenrolled []gatehouse.User
	InGrace    []GraceUser
	Locked     []gatehouse.User
}

// RoleCoverage counts users with an active method among a role's users.
type RoleCoverage struct {
	Role     gatehouse.Role
	Users    int
	Enrolled int
}

// Percent is the enrolled share, rounded down.
func (r RoleCoverage) Percent() int {
	if r.Users == 0 {
		return 0
	}
	return r.Enrolled * 100 / r.Users
}

// MethodCount is how many users have a method active.
type MethodCount struct {
	Method gatehouse.Method
	Users  int
}

// GraceUser is an unenrolled user inside the grace period.
type GraceUser struct {
	User  gatehouse.User
	Until time.Time
}

// BuildCoverage computes the coverage of the workspace's active users
// (disabled accounts and unaccepted invitations do not count). A user is
// enrolled with any active method the workspace allows.
func BuildCoverage(ws *gatehouse.Workspace, users []gatehouse.User, states []UserMFA, throttles map[string]gatehouse.Throttle, now time.Time) *Coverage {
	byUser := map[int64]UserMFA{}
	for _, st := range states {
		byUser[st.UserID] = st
	}
	c := &Coverage{}
	roles := map[gatehouse.Role]*RoleCoverage{}
	order := []gatehouse.Role{gatehouse.RoleOwner, gatehouse.RoleAdmin, gatehouse.RoleMember, gatehouse.RoleClient}
	for _, r := range order {
		roles[r] = &RoleCoverage{Role: r}
	}
	mix := map[gatehouse.Method]int{}
	for _, u := range users {
		if !u.Active() {
			continue
		}
		st := byUser[u.ID]
		usable := Usable(ws.MFA, st.Methods, false)
		rc := roles[u.Role]
		rc.Users++
		c.Total.Users++
		for _, m := range st.Methods {
			mix[m]++
		}
		if len(usable) > 0 {
			rc.Enrolled++
			c.Total.Enrolled++
		} else {
			c.Unenrolled = append(c.Unenrolled, u)
			d := Decide(Input{Plan: ws.Plan, Settings: ws.MFA, UserCreatedAt: u.CreatedAt, MailboxProven: true, Now: now})
			if d.Next == Enroll && d.CanSkip {
				c.InGrace = append(c.InGrace, GraceUser{User: u, Until: d.GraceUntil})
			}
		}
		if accountBackoff.Locked(throttles[lockKey(u.ID)], now) {
			c.Locked = append(c.Locked, u)
		}
	}
	for _, r := range order {
		if roles[r].Users > 0 {
			c.Roles = append(c.Roles, *roles[r])
		}
	}
	for _, m := range gatehouse.Methods {
		if mix[m] > 0 {
			c.MethodMix = append(c.MethodMix, MethodCount{Method: m, Users: mix[m]})
		}
	}
	sort.SliceStable(c.InGrace, func(i, j int) bool { return c.InGrace[i].Until.Before(c.InGrace[j].Until) })
	return c
}

// CoverageFor reads what BuildCoverage needs (three queries, whatever the
// number of users) and returns it with the users and their states, for
// pages that list them too.
func (s *Service) CoverageFor(ctx context.Context, ws *gatehouse.Workspace) (*Coverage, []gatehouse.User, []UserMFA, error) {
	now := s.Now()
	users, err := s.Store.ListUsers(ctx, ws.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	states, err := s.Store.ListUserMFA(ctx, ws.ID, now)
	if err != nil {
		return nil, nil, nil, err
	}
	throttles, err := s.Store.ListThrottles(ctx, ws.ID, "mfa:")
	if err != nil {
		return nil, nil, nil, err
	}
	return BuildCoverage(ws, users, states, throttles, now), users, states, nil
}

// ResetByOperator is Reset done from the command line: the operator acts as
// the workspace's highest authority, recorded as actor 0 ("the operator").
func (s *Service) ResetByOperator(ctx context.Context, ws *gatehouse.Workspace, target *gatehouse.User, reason string) error {
	operator := &gatehouse.Visit{Workspace: *ws, User: gatehouse.User{WorkspaceID: ws.ID, Email: "the operator", Role: gatehouse.RoleOwner}}
	return s.Reset(ctx, operator, target, reason, "cli")
}

// validateGuard checks and normalises an SMS guard: known ISO 3166 alpha-2
// codes (upper-cased, deduplicated) and caps of 1 to 1,000,000.
func validateGuard(g *gatehouse.SMSGuard) error {
	seen := map[string]bool{}
	var countries []string
	for _, c := range g.Countries {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "" || seen[c] {
			continue
		}
		if len(c) != 2 || phonenumbers.GetCountryCodeForRegion(c) == 0 {
			return fmt.Errorf("%w: %q is not a country code (use two letters, like GB or US)", gatehouse.ErrInvalid, c)
		}
		seen[c] = true
		countries = append(countries, c)
	}
	g.Countries = countries
	if g.HourlyCap < 1 || g.HourlyCap > 1_000_000 || g.DailyCap < 1 || g.DailyCap > 1_000_000 {
		return fmt.Errorf("%w: SMS caps must be between 1 and 1,000,000", gatehouse.ErrInvalid)
	}
	if g.HourlyCap > g.DailyCap {
		return fmt.Errorf("%w: the hourly SMS cap cannot exceed the daily one", gatehouse.ErrInvalid)
	}
	return nil
}

// OwnsAllowedMethod reports whether the visit's user has an active method
// that settings allow: what the owner needs before requiring two-step
// verification of everyone.
func OwnsAllowedMethod(v *gatehouse.Visit, settings gatehouse.MFASettings) bool {
	for _, m := range v.Methods {
		if settings.Allows(m) {
			return true
		}
	}
	return false
}
