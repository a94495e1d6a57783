package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// signedIn lets only fully signed-in users through: others go to the login
// page, and pending sessions to their verify or enrollment page.
func (s *Server) signedIn(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := reqOf(r)
		switch {
		case rq.visit == nil:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		case rq.pending:
			http.Redirect(w, r, gateURL(rq.decision), http.StatusSeeOther)
		default:
			h(w, r)
		}
	})
}

// gateURL is where a pending session goes next.
func gateURL(d mfa.Decision) string {
	switch d.Next {
	case mfa.ProveMailbox:
		return "/login/verify?method=email"
	case mfa.Enroll:
		return "/account/security"
	}
	return "/login/verify"
}

// staffOnly is signedIn plus a 403 for clients: they never reach the dashboard.
func (s *Server) staffOnly(h http.HandlerFunc) http.Handler {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request) {
		if !reqOf(r).visit.User.Role.IsStaff() {
			s.renderError(w, r, http.StatusForbidden, "The dashboard is for staff. Your pages are in the portal.")
			return
		}
		h(w, r)
	})
}

// apiSignedIn answers JSON and never redirects (SPEC §9).
func (s *Server) apiSignedIn(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := reqOf(r)
		switch {
		case rq.visit == nil:
			writeJSON(w, http.StatusUnauthorized, apiError{Error: "unauthenticated"})
		case rq.pending:
			writeJSON(w, http.StatusUnauthorized, apiError{Error: "mfa_required"})
		default:
			h(w, r)
		}
	})
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := getBuffer()
	defer putBuffer(buf)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		// Only a type that cannot be encoded fails: a programming error.
		http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	writeBody(w, status, buf)
}

// meResponse is the JSON of GET /api/v1/me.
type meResponse struct {
	User      meUser      `json:"user"`
	Role      string      `json:"role"`
	Workspace meWorkspace `json:"workspace"`
	TwoFactor meTwoFactor `json:"two_factor"`
}

type meUser struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type meWorkspace struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
	Plan string `json:"plan"`
}

type meTwoFactor struct {
	Enabled  bool     `json:"enabled"`
	Verified bool     `json:"verified"`
	Methods  []string `json:"methods"`
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	v := reqOf(r).visit
	methods := make([]string, len(v.Methods))
	for i, m := range v.Methods {
		methods[i] = string(m)
	}
	writeJSON(w, http.StatusOK, meResponse{
		User:      meUser{ID: v.User.ID, Email: v.User.Email, Name: v.User.Name},
		Role:      string(v.User.Role),
		Workspace: meWorkspace{Slug: v.Workspace.Slug, Name: v.Workspace.Name, Plan: string(v.Workspace.Plan)},
		TwoFactor: meTwoFactor{Enabled: len(methods) > 0, Verified: v.Session.MFAVerifiedAt != nil, Methods: methods},
	})
}

func (s *Server) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, apiError{Error: "not_found"})
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "There is no page at this address.")
}

type usersPage struct {
	page
	Users     []userRow
	CanManage bool
	Roles     []gatehouse.Role
	Error     string
	Email     string
	Clients   []portal.ClientSummary // for the invitation's client field
}

func (s *Server) usersPage(r *http.Request) (usersPage, error) {
	rq := reqOf(r)
	users, _, err := s.userRows(r)
	if err != nil {
		return usersPage{}, err
	}
	clients, err := s.portal.Clients(r.Context(), portal.ViewerOf(rq.visit))
	return usersPage{
		page: s.page(r, "Users"), Users: users, CanManage: rq.visit.User.Role.CanManageUsers(),
		Roles:   []gatehouse.Role{gatehouse.RoleClient, gatehouse.RoleMember, gatehouse.RoleAdmin},
		Clients: clients,
	}, err
}

func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	p, err := s.usersPage(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if r.URL.Query().Get("invited") != "" {
		p.Flash = "Invitation sent to " + r.URL.Query().Get("invited") + "."
	}
	s.render(w, r, http.StatusOK, "users", p)
}

func (s *Server) handleInviteUser(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	if !rq.visit.User.Role.CanManageUsers() {
		s.renderError(w, r, http.StatusForbidden, "Only the owner and admins can invite people.")
		return
	}
	if !s.parseForm(w, r) {
		return
	}
	email := r.PostForm.Get("email")
	role, err := gatehouse.ParseRole(r.PostForm.Get("role"))
	var clientID int64
	if err == nil {
		clientID, err = s.inviteClient(r, role)
	}
	var invited *gatehouse.User
	if err == nil {
		// The chosen client is written with the invitee, in one write.
		invited, _, err = s.accounts.InviteTo(r.Context(), rq.ws, &rq.visit.User, email, role, clientID)
	}
	if err == nil && clientID == 0 {
		// No client chosen: a client user gets one of their own now (or,
		// should this fail, at their first portal visit).
		_, err = s.portal.AssignClient(r.Context(), rq.ws.ID, invited, 0)
	}
	if errors.Is(err, account.ErrForbidden) {
		s.renderError(w, r, http.StatusForbidden, "You cannot change that person's invitation.")
		return
	}
	if msg, ok := formError(err); ok {
		p, lerr := s.usersPage(r)
		if lerr != nil {
			s.serverError(w, r, lerr)
			return
		}
		p.Error, p.Email = msg, email
		s.render(w, r, http.StatusUnprocessableEntity, "users", p)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	addr, _ := account.NormalizeEmail(email)
	http.Redirect(w, r, "/dashboard/users?invited="+url.QueryEscape(addr), http.StatusSeeOther)
}

type landingPage struct {
	page
	DevOutbox bool
}

func (s *Server) handleLanding(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "landing", landingPage{page: s.page(r, "Gatehouse"), DevOutbox: s.devOutbox})
}

type outboxPage struct {
	page
	Messages []gatehouse.Message
	// HTML offers each e-mail's HTML part (MailHTML is set).
	HTML bool
}

// handleDevOutbox lists recent mail for local development (--demo only):
// it shows links and codes, so it is never on in production.
func (s *Server) handleDevOutbox(w http.ResponseWriter, r *http.Request) {
	all, err := s.store.ListMessages(r.Context(), 100)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The outbox also holds jobs (work left for after an answer), which
	// are not mail.
	var ms []gatehouse.Message
	for _, m := range all {
		if m.Channel == "email" || m.Channel == "sms" {
			ms = append(ms, m)
		}
	}
	s.render(w, r, http.StatusOK, "outbox", outboxPage{page: s.page(r, "Dev outbox"), Messages: ms, HTML: s.mailHTML != nil})
}

// mailPreviewCSP lets an e-mail's HTML part show as its mail client would:
// its inline styles and its logo (a data: URL here, an inline part in the
// mail), and nothing else — no script, no request anywhere, no form.
const mailPreviewCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// handleDevOutboxHTML shows the HTML part of one e-mail of the dev outbox,
// in its workspace's branding as it stands now (as SMTP would send it).
func (s *Server) handleDevOutboxHTML(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.handleNotFound(w, r)
		return
	}
	m, err := s.store.FindMessage(r.Context(), id)
	if errors.Is(err, gatehouse.ErrNotFound) || (err == nil && m.Channel != "email") {
		s.handleNotFound(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	html, err := s.mailHTML(r.Context(), *m)
	if errors.Is(err, gatehouse.ErrNotFound) {
		s.handleNotFound(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", mailPreviewCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, html)
}
