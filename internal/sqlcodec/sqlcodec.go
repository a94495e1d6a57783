// Package sqlcodec holds what the SQL stores (sqlite and postgres) encode
// alike: list columns, LIKE patterns and the SET clause of a workspace
// update. The stores import it; they never import each other.
package sqlcodec

import (
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// JoinCountries stores a country list as text; no countries is "".
func JoinCountries(cs []string) string { return strings.Join(cs, ",") }

// SplitCountries reverses JoinCountries; "" is nil (any country).
func SplitCountries(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// NullBytes stores an unset (nil or empty) byte string as NULL.
func NullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// JoinMethods stores a method list as text, in the given order.
func JoinMethods(ms []gatehouse.Method) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}

// SplitMethods reverses JoinMethods; "" is no methods.
func SplitMethods(s string) []gatehouse.Method {
	if s == "" {
		return nil
	}
	var ms []gatehouse.Method
	for m := range strings.SplitSeq(s, ",") {
		ms = append(ms, gatehouse.Method(m))
	}
	return ms
}

// Qualify prefixes every column of a comma-separated list with alias.
func Qualify(alias, cols string) string {
	var out []string
	for c := range strings.SplitSeq(cols, ",") {
		out = append(out, alias+"."+strings.TrimSpace(c))
	}
	return strings.Join(out, ", ")
}

// WithholdPassword replaces the column password_hash of the qualified
// column list cols (see Qualify) by an expression that tells only whether
// there is one: gatehouse.PasswordWithheld, or empty. The session check
// reads users so (SPEC §11: it never reads a password hash).
func WithholdPassword(alias, cols string) string {
	col := alias + ".password_hash"
	return withhold(cols, col, "CASE WHEN "+col+" = '' THEN '' ELSE '"+gatehouse.PasswordWithheld+"' END")
}

// WithholdTwilioToken replaces the column twilio_auth_token of the
// qualified column list cols by an expression that tells only whether a
// token is set: gatehouse.TokenWithheld as bytes (marker, the dialect's
// literal of it), or NULL. The session check reads workspaces so (SPEC §11:
// it never reads a sealed secret); an update that carries the marker back
// keeps the stored token (see WorkspaceSets).
func WithholdTwilioToken(alias, cols, marker string) string {
	col := alias + ".twilio_auth_token"
	return withhold(cols, col, "CASE WHEN length("+col+") > 0 THEN "+marker+" END")
}

func withhold(cols, col, expr string) string {
	if strings.Count(cols, col) != 1 {
		panic("sqlcodec: no single " + col + " in " + cols)
	}
	return strings.Replace(cols, col, expr, 1)
}

// EscapeLike escapes LIKE's wildcards (and the escape character itself) in
// s, for a pattern written with ESCAPE '\'.
func EscapeLike(s string) string { return likeEscaper.Replace(s) }

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Args collects the arguments of a statement built piece by piece.
type Args struct {
	// Dollar numbers placeholders ($1, $2, … for PostgreSQL) instead of
	// writing ? (SQLite).
	Dollar bool
	List   []any
}

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	a.List = append(a.List, v)
	if a.Dollar {
		return "$" + strconv.Itoa(len(a.List))
	}
	return "?"
}

// WorkspaceSets returns the assignments of an UPDATE of workspaces that
// write the fields of u that are set, and updated_at = now, adding their
// arguments to a. The stores encode booleans (b) and times (now) their own
// way. A new mode restarts the grace clock only when it differs from the
// stored one: the comparison is made in the statement, against the row as
// it is, so no earlier read can make it wrong.
func WorkspaceSets(u gatehouse.WorkspaceUpdate, a *Args, b func(bool) any, now any) string {
	var sets []string
	set := func(col string, v any) { sets = append(sets, col+" = "+a.Add(v)) }
	if u.Name != nil {
		set("name", *u.Name)
	}
	if u.Plan != nil {
		set("plan", string(*u.Plan))
	}
	if u.SignupEnabled != nil {
		set("signup_enabled", b(*u.SignupEnabled))
	}
	if u.RememberMeEnabled != nil {
		set("remember_me_enabled", b(*u.RememberMeEnabled))
	}
	if u.MFAMode != nil {
		// Every right-hand side reads the row before the update, so the
		// order of the assignments does not matter.
		sets = append(sets, "mode_changed_at = CASE WHEN mfa_mode <> "+a.Add(string(*u.MFAMode))+
			" THEN "+a.Add(now)+" ELSE mode_changed_at END")
		set("mfa_mode", string(*u.MFAMode))
	}
	if u.MFAMethods != nil {
		set("mfa_methods", JoinMethods(*u.MFAMethods))
	}
	if u.TrustedDeviceDays != nil {
		set("trusted_device_days", *u.TrustedDeviceDays)
	}
	if u.GraceDays != nil {
		set("grace_days", *u.GraceDays)
	}
	if t := u.Twilio; t != nil {
		set("twilio_account_sid", t.AccountSID)
		if string(t.AuthToken) != gatehouse.TokenWithheld {
			set("twilio_auth_token", NullBytes(t.AuthToken))
		}
		set("twilio_from", t.From)
		set("twilio_messaging_service_sid", t.MessagingServiceSID)
	}
	if g := u.SMSGuard; g != nil {
		set("sms_countries", JoinCountries(g.Countries))
		set("sms_hourly_cap", g.HourlyCap)
		set("sms_daily_cap", g.DailyCap)
	}
	set("updated_at", now)
	return strings.Join(sets, ", ")
}

// AuditWhere returns the conditions that select the audit events of f in
// workspaceID, adding their arguments to a. The stores encode times (at)
// and write the test that a text column starts with a literal prefix
// (prefix), which the dialects do differently.
func AuditWhere(workspaceID int64, f gatehouse.AuditFilter, a *Args, at func(time.Time) any, prefix func(col, p string, a *Args) string) string {
	conds := []string{"workspace_id = " + a.Add(workspaceID)}
	if f.UserID != 0 {
		conds = append(conds, "(actor_id = "+a.Add(f.UserID)+" OR target_id = "+a.Add(f.UserID)+")")
	}
	if f.Type != "" {
		conds = append(conds, prefix("type", f.Type, a))
	}
	if !f.From.IsZero() {
		conds = append(conds, "at >= "+a.Add(at(f.From)))
	}
	if !f.To.IsZero() {
		conds = append(conds, "at < "+a.Add(at(f.To)))
	}
	if f.ClientID != 0 {
		conds = append(conds, "client_id = "+a.Add(f.ClientID))
	}
	if f.DocumentID != 0 {
		conds = append(conds, "document_id = "+a.Add(f.DocumentID))
	}
	if f.BeforeID != 0 {
		conds = append(conds, "id < "+a.Add(f.BeforeID))
	}
	return strings.Join(conds, " AND ")
}

// SessionSets returns the assignments of an UPDATE of sessions that write
// the marks of m that are set, adding their arguments to a; at encodes a
// time. It is empty when m sets nothing.
func SessionSets(m gatehouse.SessionMarks, a *Args, at func(time.Time) any) string {
	var sets []string
	set := func(col string, t *time.Time) {
		if t != nil {
			sets = append(sets, col+" = "+a.Add(at(*t)))
		}
	}
	set("mfa_verified_at", m.MFAVerifiedAt)
	set("reauth_at", m.ReauthAt)
	set("mailbox_proven_at", m.MailboxProvenAt)
	return strings.Join(sets, ", ")
}
