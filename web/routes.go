package web

import (
	"net/http"
	"path"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// routes wires every route. The order of the middleware matters: the access
// log and panic guard wrap everything; static files need no tenant; forms are
// refused cross-origin before any handler runs.
func (s *Server) routes() http.Handler {
	base := http.NewServeMux()
	base.HandleFunc("GET /{$}", s.handleLanding)
	if s.devOutbox {
		base.HandleFunc("GET /_dev/outbox", s.handleDevOutbox)
		if s.mailHTML != nil {
			base.HandleFunc("GET /_dev/outbox/{id}", s.handleDevOutboxHTML)
		}
	}
	base.HandleFunc("/", s.handleNotFound)

	ws := http.NewServeMux()
	ws.HandleFunc("GET /{$}", s.handleHome)

	ws.HandleFunc("GET /login", s.handleLoginPage)
	ws.HandleFunc("POST /login", s.handleLogin)
	ws.HandleFunc("POST /logout", s.handleLogout)
	ws.HandleFunc("GET /signup", s.handleSignupPage)
	ws.HandleFunc("POST /signup", s.handleSignup)
	ws.HandleFunc("GET /signup/confirm/{token}", s.handleSignupConfirmPage)
	ws.HandleFunc("POST /signup/confirm/{token}", s.handleSignupConfirm)
	ws.HandleFunc("GET /invite/{token}", s.handleInvitePage)
	ws.HandleFunc("POST /invite/{token}", s.handleInvite)
	ws.HandleFunc("GET /password/forgot", s.handleForgotPage)
	ws.HandleFunc("POST /password/forgot", s.handleForgot)
	ws.HandleFunc("GET /password/reset/{token}", s.handleResetPage)
	ws.HandleFunc("POST /password/reset/{token}", s.handleReset)

	ws.Handle("GET /login/verify", s.withVisit(s.handleVerifyPage))
	ws.Handle("POST /login/verify", s.withVisit(s.handleVerify))
	ws.Handle("POST /login/verify/resend", s.withVisit(s.handleResend))
	ws.Handle("POST /login/verify/skip", s.withVisit(s.handleSkip))
	ws.Handle("POST /login/verify/passkey/begin", s.withVisit(s.handlePasskeyVerifyBegin))
	ws.HandleFunc("POST /login/passkey/begin", s.handlePasskeySignInBegin)
	ws.HandleFunc("POST /login/passkey", s.handlePasskeySignIn)

	ws.Handle("GET /account/security", s.enrolling(s.handleSecurity))
	ws.Handle("POST /account/security/totp/start", s.sensitive(s.handleTOTPStart))
	ws.Handle("POST /account/security/totp/confirm", s.sensitive(s.handleTOTPConfirm))
	ws.Handle("POST /account/security/sms/start", s.sensitive(s.handleSMSStart))
	ws.Handle("GET /account/security/sms/confirm", s.sensitive(s.handleSMSConfirmPage))
	ws.Handle("POST /account/security/sms/resend", s.sensitive(s.handleSMSResend))
	ws.Handle("POST /account/security/sms/confirm", s.sensitive(s.confirmCode(gatehouse.MethodSMS, "smsconfirm", s.mfa.ConfirmSMS)))
	ws.Handle("POST /account/security/email/enable", s.sensitive(s.handleEmailEnable))
	ws.Handle("GET /account/security/email/confirm", s.sensitive(s.handleEmailConfirmPage))
	ws.Handle("POST /account/security/email/confirm", s.sensitive(s.confirmCode(gatehouse.MethodEmail, "emailconfirm", s.mfa.ConfirmEmail)))
	ws.Handle("POST /account/security/{method}/disable", s.signedInSensitive(s.handleDisable))
	ws.Handle("POST /account/security/passkeys/begin", s.sensitive(s.handlePasskeyRegisterBegin))
	ws.Handle("POST /account/security/passkeys", s.sensitive(s.handlePasskeyRegister))
	ws.Handle("POST /account/security/passkeys/{id}/remove", s.signedInSensitive(s.handlePasskeyRemove))
	ws.Handle("POST /account/security/recovery-codes/regenerate", s.signedInSensitive(s.handleRegenerate))
	ws.Handle("POST /account/security/devices/revoke-all", s.signedIn(s.handleRevokeDevices))
	ws.Handle("POST /account/security/devices/{id}/revoke", s.signedIn(s.handleRevokeDevices))
	ws.Handle("POST /account/security/password", s.signedInSensitive(s.handleChangePassword))
	ws.Handle("GET /account/security/reauth", s.signedIn(s.handleReauthPage))
	ws.Handle("POST /account/security/reauth", s.signedIn(s.handleReauth))

	ws.Handle("GET /dashboard", s.staffOnly(s.handleDashboard))
	ws.Handle("GET /dashboard/users", s.managers(s.handleUsers))
	ws.Handle("POST /dashboard/users/invite", s.managers(s.handleInviteUser))
	ws.Handle("GET /dashboard/users/{id}", s.managers(s.handleUser))
	ws.Handle("POST /dashboard/users/{id}/reset-2fa", s.managers(s.handleResetUser))
	ws.Handle("POST /dashboard/users/{id}/disable", s.managers(s.handleDisableUser))
	ws.Handle("POST /dashboard/users/{id}/enable", s.managers(s.handleDisableUser))
	ws.Handle("GET /dashboard/settings/security", s.managers(s.handleSettingsPage))
	ws.Handle("GET /dashboard/settings/branding", s.managers(s.handleBrandingPage))
	ws.Handle("POST /dashboard/settings/branding", s.staffOnly(s.handleBranding))
	ws.HandleFunc("GET /brand.css", s.handleBrandCSS)
	ws.HandleFunc("GET /brand/logo.png", s.handleLogo)
	ws.Handle("POST /dashboard/settings/security", s.staffOnly(s.handleSettings))
	ws.Handle("POST /dashboard/settings/security/test-sms", s.staffOnly(s.handleTestSMS))
	ws.Handle("POST /dashboard/settings/general", s.staffOnly(s.handleGeneralSettings))
	ws.Handle("GET /dashboard/security/coverage", s.managers(s.handleCoverage))
	ws.Handle("GET /dashboard/audit", s.managers(s.handleAudit))
	ws.Handle("GET /portal", s.signedIn(s.handlePortal))
	s.portalRoutes(ws)

	ws.Handle("GET /api/v1/me", s.apiSignedIn(s.handleMe))
	ws.Handle("/api/", s.apiSignedIn(s.handleAPINotFound))
	ws.HandleFunc("/", s.handleNotFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSON(w, http.StatusForbidden, apiError{Error: "forbidden"})
			return
		}
		s.renderError(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused.")
	}))

	app := s.tenant(recordRoute(base), apiPaths(recordRoute(ws)))
	app = cop.Handler(app)
	app = s.limitBody(app)

	root := http.NewServeMux()
	root.Handle("GET /static/", staticHandler())
	// Probes come by address, not by workspace name: /healthz answers on
	// any Host, before the tenant lookup (SPEC §9).
	root.HandleFunc("GET /healthz", handleHealth)
	root.Handle("/", app)
	h := s.logRecover(securityHeaders(recordRoute(root)))
	if _, off := s.obs.(nopObserver); off {
		// Without metrics, requests skip the timing and counting wrapper
		// (recordRoute finds no route holder and does nothing).
		return h
	}
	return s.observeRequests(h)
}

// apiPaths keeps /api answering JSON: ServeMux would redirect an unclean
// path ("/api//v1/me") with a 307, and the API never redirects.
func apiPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasPrefix(p, "/api/") && path.Clean(p) != p {
			writeJSON(w, http.StatusNotFound, apiError{Error: "not_found"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok"))
}
