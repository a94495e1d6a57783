package web

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// The one place where identifiers become words on screen (SPEC §16: never
// raw identifiers such as `signin.password.ok` or `totp, email`). Templates
// reach these through the functions registered in labelFuncs.

var labelFuncs = map[string]any{
	"modeLabel":   modeLabel,
	"modeHint":    modeHint,
	"methodName":  methodName,
	"methodList":  methodList,
	"roleLabel":   roleLabel,
	"eventLabel":  eventLabel,
	"planLabel":   planLabel,
	"auditDetail": auditDetail,
	"statusTitle": statusTitle,
	"brandName":   brandName,
}

func modeLabel(m gatehouse.MFAMode) string {
	switch m {
	case gatehouse.MFADisabled:
		return "Off"
	case gatehouse.MFAOptional:
		return "Optional"
	case gatehouse.MFARequired:
		return "Required for everyone"
	}
	return "Unknown"
}

func modeHint(m gatehouse.MFAMode) string {
	switch m {
	case gatehouse.MFADisabled:
		return "Nobody is asked for a second step."
	case gatehouse.MFAOptional:
		return "People who set up a method are asked for it when they sign in."
	case gatehouse.MFARequired:
		return "Everyone must set up a method and use it when they sign in."
	}
	return ""
}

// methodName accepts a Method or its string form (rows carry either).
func methodName(m any) string {
	switch v := m.(type) {
	case gatehouse.Method:
		return mfa.MethodName(v)
	case string:
		return mfa.MethodName(gatehouse.Method(v))
	}
	return ""
}

// methodList names methods for people: "Authenticator app, E-mail codes",
// or "None" for no method.
func methodList(ms []gatehouse.Method) string {
	if len(ms) == 0 {
		return "None"
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = mfa.MethodName(m)
	}
	return strings.Join(names, ", ")
}

func roleLabel(r gatehouse.Role) string {
	switch r {
	case gatehouse.RoleOwner:
		return "Owner"
	case gatehouse.RoleAdmin:
		return "Admin"
	case gatehouse.RoleMember:
		return "Member"
	case gatehouse.RoleClient:
		return "Client"
	}
	return "Unknown role"
}

func planLabel(p gatehouse.Plan) string {
	switch p {
	case gatehouse.PlanStarter:
		return "Starter"
	case gatehouse.PlanPro:
		return "Pro"
	case gatehouse.PlanUnlimited:
		return "Unlimited"
	}
	return "Unknown plan"
}

// eventNames are the audit event types the product writes, in words.
var eventNames = map[string]string{
	"account.bogus":              "Unknown account tried",
	"account.reset":              "Account reset",
	"account.signup":             "Signed up",
	"device.revoked":             "Trusted browser removed",
	"device.trusted":             "Browser trusted",
	"mfa.challenge.failed":       "Wrong two-step code",
	"mfa.challenge.passed":       "Passed two-step check",
	"mfa.code.refused":           "Code refused",
	"mfa.enrolled":               "Set up two-step verification",
	"mfa.method.added":           "Two-step method added",
	"mfa.method.removed":         "Two-step method removed",
	"mfa.passkey.cloned":         "Passkey looked copied",
	"mfa.recovery.regenerated":   "New recovery codes made",
	"mfa.recovery.used":          "Recovery code used",
	"mfa.reset":                  "Two-step verification reset",
	"password.changed":           "Password changed",
	"password.reset":             "Password reset",
	"portal.client.created":      "Client created",
	"portal.document.deleted":    "Document deleted",
	"portal.document.downloaded": "Document downloaded",
	"portal.document.uploaded":   "Document uploaded",
	"portal.message.sent":        "Message sent",
	"portal.request.cancelled":   "Request cancelled",
	"portal.request.created":     "Request created",
	"portal.request.fulfilled":   "Request fulfilled",
	"portal.request.reopened":    "Request reopened",
	"settings.changed":           "Security settings changed",
	"settings.twilio":            "SMS provider changed",
	"settings.branding":          "Branding changed",
	"signin.ok":                  "Signed in",
	"signin.passkey.failed":      "Passkey sign-in failed",
	"signin.passkey.ok":          "Signed in with passkey",
	"signin.password.failed":     "Wrong password",
	"signin.password.ok":         "Signed in with password",
	"sms.refused":                "Text message refused",
	"sms.test":                   "Test text message sent",
	"user.disabled":              "Account disabled",
	"user.enabled":               "Account enabled",
	"workspace.created":          "Workspace created",
}

// eventGroup is a choice of the audit page's event filter: the events whose
// type starts with Prefix.
type eventGroup struct {
	Prefix, Label string
}

// eventGroups are the audit filter's choices, so nobody types "mfa." by hand.
var eventGroups = []eventGroup{
	{"signin.", "Sign-ins"},
	{"mfa.", "Two-step verification"},
	{"device.", "Trusted browsers"},
	{"password.", "Passwords"},
	{"account.", "Accounts and invitations"},
	{"user.", "Accounts disabled or enabled"},
	{"settings.", "Settings and branding"},
	{"sms.", "Text messages"},
	{"portal.", "Documents, requests and messages"},
	{"workspace.", "Workspace"},
}

// eventLabel names an audit event type; an unknown type gets a readable
// fallback rather than the dotted identifier.
func eventLabel(t string) string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	s := strings.NewReplacer(".", " ", "_", " ").Replace(t)
	if s == "" {
		return "Event"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// statusTitle is an error page's heading: a sentence, not "Not Found".
func statusTitle(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "That request didn't look right"
	case http.StatusUnauthorized:
		return "Please sign in first"
	case http.StatusForbidden:
		return "You don't have access to this page"
	case http.StatusNotFound:
		return "We couldn't find that page"
	case http.StatusMethodNotAllowed:
		return "That action isn't available here"
	case http.StatusRequestEntityTooLarge:
		return "That upload is too large"
	case http.StatusTooManyRequests:
		return "Too many attempts — please wait a moment"
	case http.StatusServiceUnavailable:
		return "The service is busy — please try again shortly"
	}
	if status >= 500 {
		return "Something went wrong"
	}
	return "That didn't work"
}

// detailWordRE finds identifiers inside an audit event's free-text detail
// (e.g. "mode optional, methods totp,email") that are not part of an address.
var detailWordRE = regexp.MustCompile(`(^|[\s,(:])(totp|sms|email|passkey|recovery|disabled|optional|required)($|[\s,);])`)

var detailWords = map[string]string{
	"totp": mfa.MethodName(gatehouse.MethodTOTP), "sms": mfa.MethodName(gatehouse.MethodSMS),
	"email": mfa.MethodName(gatehouse.MethodEmail), "passkey": mfa.MethodName(gatehouse.MethodPasskey),
	"recovery": "Recovery code", "disabled": modeLabel(gatehouse.MFADisabled),
	"optional": modeLabel(gatehouse.MFAOptional), "required": modeLabel(gatehouse.MFARequired),
}

// auditDetail shows an audit event's detail with identifiers named for
// people; the exports keep the stored text.
func auditDetail(d string) string {
	for i := 0; i < 2; i++ { // twice: adjacent matches share a separator
		d = detailWordRE.ReplaceAllStringFunc(d, func(m string) string {
			sub := detailWordRE.FindStringSubmatch(m)
			return sub[1] + detailWords[sub[2]] + sub[3]
		})
	}
	return d
}
