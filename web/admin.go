package web

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// managers lets through the owner and admins only.
func (s *Server) managers(h http.HandlerFunc) http.Handler {
	return s.staffOnly(func(w http.ResponseWriter, r *http.Request) {
		if !reqOf(r).visit.User.Role.CanManageUsers() {
			s.renderError(w, r, http.StatusForbidden, "Only the owner and admins can see this page.")
			return
		}
		h(w, r)
	})
}

type settingsPage struct {
	page
	Available  bool // the plan includes 2FA
	IsOwner    bool
	CanEdit    bool // the owner, on a plan with 2FA
	Settings   gatehouse.MFASettings
	AllMethods []methodChoice
	Modes      []gatehouse.MFAMode
	Error      string
	Saved      bool
	Guard      gatehouse.SMSGuard
	Countries  string // the guard's list as typed
	TwilioSID  string
	TwilioFrom string
	TwilioSet  bool // a token is stored (never shown)
	TestResult string
	// OwnerNeedsMethod: the owner has no active method these settings
	// allow, so required mode is offered as enrollment first.
	OwnerNeedsMethod bool
}

type methodChoice struct {
	Method  gatehouse.Method
	Name    string
	Checked bool
	Blocked string // why it cannot be chosen
}

func (s *Server) settingsPage(r *http.Request, set gatehouse.MFASettings) settingsPage {
	v := reqOf(r).visit
	tw := v.Workspace.Twilio
	p := settingsPage{
		Guard: v.Workspace.SMSGuard, Countries: strings.Join(v.Workspace.SMSGuard.Countries, ", "),
		TwilioSID: tw.AccountSID, TwilioFrom: tw.From + tw.MessagingServiceSID, TwilioSet: len(tw.AuthToken) > 0,
		page: s.page(r, "Security settings"), Available: v.Workspace.Plan.HasMFA(), Settings: set,
		Modes: []gatehouse.MFAMode{gatehouse.MFADisabled, gatehouse.MFAOptional, gatehouse.MFARequired},
	}
	p.IsOwner = v.User.Role == gatehouse.RoleOwner
	p.CanEdit = p.Available && p.IsOwner
	p.OwnerNeedsMethod = p.CanEdit && !mfa.OwnsAllowedMethod(v, set)
	for _, m := range gatehouse.Methods {
		c := methodChoice{Method: m, Name: mfa.MethodName(m), Checked: set.Allows(m)}
		if m == gatehouse.MethodSMS && !tw.Ready() {
			c.Blocked = "Needs the workspace's Twilio account, below."
		}
		p.AllMethods = append(p.AllMethods, c)
	}
	return p
}

func (s *Server) handleSettingsPage(w http.ResponseWriter, r *http.Request) {
	p := s.settingsPage(r, reqOf(r).ws.MFA)
	p.Saved = r.URL.Query().Get("saved") != ""
	s.render(w, r, http.StatusOK, "settings", p)
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	if rq.visit.User.Role != gatehouse.RoleOwner {
		s.renderError(w, r, http.StatusForbidden, "Only the workspace owner can change security settings.")
		return
	}
	if !rq.ws.Plan.HasMFA() {
		s.renderError(w, r, http.StatusForbidden, "Two-step verification is available on Pro and Unlimited.")
		return
	}
	if !s.parseForm(w, r) {
		return
	}
	f := r.PostForm
	next := rq.ws.MFA
	next.Mode = gatehouse.MFAMode(f.Get("mfa_mode"))
	next.Methods = nil
	for _, m := range f["methods"] {
		next.Methods = append(next.Methods, gatehouse.Method(m))
	}
	guard := rq.ws.SMSGuard
	if f.Has("sms_countries") {
		guard.Countries = strings.FieldsFunc(f.Get("sms_countries"), func(r rune) bool { return r == ',' || r == ' ' })
	}
	var err error
	if next.TrustedDeviceDays, err = formInt(f, "trusted_device_days", next.TrustedDeviceDays); err == nil {
		next.GraceDays, err = formInt(f, "grace_days", next.GraceDays)
	}
	if err == nil {
		guard.HourlyCap, err = formInt(f, "sms_hourly_cap", guard.HourlyCap)
	}
	if err == nil {
		guard.DailyCap, err = formInt(f, "sms_daily_cap", guard.DailyCap)
	}
	// A Twilio account typed in is checked with the rest and saved in the
	// same update, so SMS may be allowed with it and a refusal saves nothing.
	var twilio *gatehouse.TwilioAccount
	if sid := strings.TrimSpace(f.Get("twilio_account_sid")); err == nil && sid != "" {
		var acct gatehouse.TwilioAccount
		if acct, err = s.mfa.TwilioAccount(rq.ws, sid, f.Get("twilio_auth_token"), f.Get("twilio_from")); err == nil {
			twilio = &acct
		}
	}
	if err == nil {
		err = s.mfa.UpdateSettings(r.Context(), rq.visit, next, guard, twilio, clientIP(r))
	}
	if errors.Is(err, mfa.ErrOwnerNeedsMethod) {
		p := s.settingsPage(r, next)
		p.Error = err.Error()
		s.render(w, r, http.StatusUnprocessableEntity, "settings", p)
		return
	}
	if errors.Is(err, gatehouse.ErrInvalid) {
		p := s.settingsPage(r, next)
		p.Error = sentence(err)
		s.render(w, r, http.StatusUnprocessableEntity, "settings", p)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/settings/security?saved=1", http.StatusSeeOther)
}

// handleGeneralSettings saves the sign-in options (any plan, owner only).
func (s *Server) handleGeneralSettings(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	f := r.PostForm
	err := s.accounts.UpdateOptions(r.Context(), reqOf(r).visit, f.Get("signup_enabled") == "on", f.Get("remember_me_enabled") == "on", clientIP(r))
	if errors.Is(err, account.ErrForbidden) {
		s.renderError(w, r, http.StatusForbidden, "Only the workspace owner can change sign-in options.")
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/settings/security?saved=1", http.StatusSeeOther)
}

// handleTestSMS sends the owner's test text through the outbox and shows
// Twilio's verdict.
func (s *Server) handleTestSMS(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	if rq.visit.User.Role != gatehouse.RoleOwner {
		s.renderError(w, r, http.StatusForbidden, "Only the workspace owner can send a test SMS.")
		return
	}
	if !s.parseForm(w, r) {
		return
	}
	err := s.mfa.SendTestSMS(r.Context(), rq.visit, r.PostForm.Get("country"), r.PostForm.Get("phone"), clientIP(r))
	p := s.settingsPage(r, rq.ws.MFA)
	var delivery *mfa.DeliveryError
	switch {
	case err == nil:
		p.TestResult = "Test message sent."
	case errors.As(err, &delivery) || isFormMFAError(err):
		p.Error = mfaSentence(err)
		s.render(w, r, http.StatusUnprocessableEntity, "settings", p)
		return
	default:
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settings", p)
}

// formInt reads a whole number field, keeping def when it is absent.
func formInt(f url.Values, name string, def int) (int, error) {
	raw := strings.TrimSpace(f.Get(name))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, errors.Join(gatehouse.ErrInvalid, errors.New(strings.ReplaceAll(name, "_", " ")+" must be a whole number"))
	}
	return n, nil
}

type userRow struct {
	User   gatehouse.User
	MFA    mfa.UserMFA
	Locked bool
}

func (s *Server) userRows(r *http.Request) ([]userRow, *mfa.Coverage, error) {
	cov, users, states, err := s.mfa.CoverageFor(r.Context(), reqOf(r).ws)
	if err != nil {
		return nil, nil, err
	}
	byUser := map[int64]mfa.UserMFA{}
	for _, st := range states {
		byUser[st.UserID] = st
	}
	locked := map[int64]bool{}
	for _, u := range cov.Locked {
		locked[u.ID] = true
	}
	rows := make([]userRow, len(users))
	for i, u := range users {
		rows[i] = userRow{User: u, MFA: byUser[u.ID], Locked: locked[u.ID]}
	}
	return rows, cov, nil
}

type userPage struct {
	page
	Target    userRow
	CanManage bool
	Done      string
}

func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	target, ok := s.targetUser(w, r)
	if !ok {
		return
	}
	rows, _, err := s.userRows(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := userPage{page: s.page(r, target.Email), CanManage: reqOf(r).visit.User.CanManage(target)}
	for _, row := range rows {
		if row.User.ID == target.ID {
			p.Target = row
		}
	}
	p.Flash = map[string]string{
		"reset":    "Two-step verification was reset. The user was signed out and e-mailed.",
		"disabled": "The account was disabled and signed out everywhere.", "enabled": "The account was enabled.",
	}[r.URL.Query().Get("done")]
	s.render(w, r, http.StatusOK, "user", p)
}

// targetUser finds the {id} user of the workspace or answers 404.
func (s *Server) targetUser(w http.ResponseWriter, r *http.Request) (*gatehouse.User, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var u *gatehouse.User
	if err == nil {
		u, err = s.store.FindUserByID(r.Context(), reqOf(r).ws.ID, id)
	}
	if errors.Is(err, gatehouse.ErrNotFound) || errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange) {
		s.renderError(w, r, http.StatusNotFound, "There is no such user in this workspace.")
		return nil, false
	}
	if err != nil {
		s.serverError(w, r, err)
		return nil, false
	}
	return u, true
}

func (s *Server) handleResetUser(w http.ResponseWriter, r *http.Request) {
	target, ok := s.targetUser(w, r)
	if !ok || !s.parseForm(w, r) {
		return
	}
	err := s.mfa.Reset(r.Context(), reqOf(r).visit, target, r.PostForm.Get("reason"), clientIP(r))
	s.afterUserAction(w, r, target, err, "reset")
}

func (s *Server) handleDisableUser(w http.ResponseWriter, r *http.Request) {
	target, ok := s.targetUser(w, r)
	if !ok {
		return
	}
	disable := strings.HasSuffix(r.URL.Path, "/disable")
	err := s.accounts.SetDisabled(r.Context(), reqOf(r).visit, target, disable, clientIP(r))
	done := "enabled"
	if disable {
		done = "disabled"
	}
	s.afterUserAction(w, r, target, err, done)
}

func (s *Server) afterUserAction(w http.ResponseWriter, r *http.Request, target *gatehouse.User, err error, done string) {
	if errors.Is(err, mfa.ErrForbidden) || errors.Is(err, account.ErrForbidden) {
		s.renderError(w, r, http.StatusForbidden, "You cannot do that to this account.")
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/users/"+strconv.FormatInt(target.ID, 10)+"?done="+done, http.StatusSeeOther)
}

type coveragePage struct {
	page
	Coverage *mfa.Coverage
	Mode     gatehouse.MFAMode
}

func (s *Server) handleCoverage(w http.ResponseWriter, r *http.Request) {
	cov, _, _, err := s.mfa.CoverageFor(r.Context(), reqOf(r).ws)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "coverage", coveragePage{page: s.page(r, "Two-step coverage"), Coverage: cov, Mode: reqOf(r).ws.MFA.Mode})
}

type auditPage struct {
	page
	Events   []gatehouse.AuditEvent
	Names    map[int64]string
	Filter   auditQuery
	NextPage string
	Export   string
	// Clients are the portal's clients, for the filter and the column.
	Clients     []portal.ClientSummary
	ClientNames map[int64]string
	// Groups are the event filter's choices; OtherType is a filter from
	// the URL that none of them names ("" when one does).
	Groups    []eventGroup
	OtherType string
}

type auditQuery struct {
	User, Type, From, To, Client string
}

// auditFilter reads the filter of the audit page from its query string.
func (s *Server) auditFilter(r *http.Request) (gatehouse.AuditFilter, auditQuery, error) {
	q := r.URL.Query()
	aq := auditQuery{User: q.Get("user"), Type: q.Get("type"), From: q.Get("from"), To: q.Get("to"), Client: q.Get("client")}
	f := gatehouse.AuditFilter{Type: aq.Type, Limit: 50}
	if aq.Client != "" {
		id, err := strconv.ParseInt(aq.Client, 10, 64)
		if err != nil || id <= 0 {
			return f, aq, errors.Join(gatehouse.ErrInvalid, errors.New("choose a client from the list"))
		}
		f.ClientID = id
	}
	if aq.User != "" {
		u, err := s.store.FindUserByEmail(r.Context(), reqOf(r).ws.ID, strings.ToLower(strings.TrimSpace(aq.User)))
		if err != nil {
			return f, aq, errors.Join(gatehouse.ErrInvalid, errors.New("no user with that e-mail"))
		}
		f.UserID = u.ID
	}
	for _, d := range []struct {
		raw string
		to  *time.Time
		add time.Duration
	}{{aq.From, &f.From, 0}, {aq.To, &f.To, 24 * time.Hour}} {
		if d.raw == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", d.raw)
		if err != nil {
			return f, aq, errors.Join(gatehouse.ErrInvalid, errors.New("dates look like 2026-11-22"))
		}
		*d.to = t.Add(d.add) // "to" includes its whole day
	}
	if b := q.Get("before"); b != "" {
		f.BeforeID, _ = strconv.ParseInt(b, 10, 64)
	}
	return f, aq, nil
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	f, aq, err := s.auditFilter(r)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, sentence(err))
		return
	}
	switch r.URL.Query().Get("format") {
	case "csv":
		s.exportAudit(w, r, f, "csv")
		return
	case "json":
		s.exportAudit(w, r, f, "json")
		return
	}
	events, err := s.store.FindAuditEvents(r.Context(), reqOf(r).ws.ID, f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	names, err := s.userNames(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	q := url.Values{"user": {aq.User}, "type": {aq.Type}, "from": {aq.From}, "to": {aq.To}, "client": {aq.Client}}
	p := auditPage{page: s.page(r, "Audit log"), Events: events, Names: names, Filter: aq, ClientNames: map[int64]string{}}
	p.Groups, p.OtherType = eventGroups, aq.Type
	for _, g := range eventGroups {
		if g.Prefix == aq.Type {
			p.OtherType = ""
		}
	}
	if p.Clients, err = s.portal.Clients(r.Context(), portal.ViewerOf(reqOf(r).visit)); err != nil {
		s.serverError(w, r, err)
		return
	}
	for _, c := range p.Clients {
		p.ClientNames[c.ID] = c.Name
	}
	if len(events) == f.Limit {
		next := cloneValues(q)
		next.Set("before", strconv.FormatInt(events[len(events)-1].ID, 10))
		p.NextPage = "/dashboard/audit?" + next.Encode()
	}
	p.Export = q.Encode()
	s.render(w, r, http.StatusOK, "audit", p)
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func (s *Server) userNames(r *http.Request) (map[int64]string, error) {
	users, err := s.store.ListUsers(r.Context(), reqOf(r).ws.ID)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{0: "system"}
	for _, u := range users {
		names[u.ID] = u.Email
	}
	return names, nil
}

// auditRecord is one exported event.
type auditRecord struct {
	ID     int64  `json:"id"`
	At     string `json:"at"`
	Type   string `json:"type"`
	Actor  string `json:"actor"`
	Target string `json:"target"`
	IP     string `json:"ip"`
	Detail string `json:"detail"`
}

// exportAudit streams the matching events as CSV or JSON: rows go out as
// the store reads them, so a large log never sits in memory.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request, f gatehouse.AuditFilter, format string) {
	names, err := s.userNames(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	name := func(id int64) string {
		if n, ok := names[id]; ok {
			return n
		}
		return "user " + strconv.FormatInt(id, 10)
	}
	record := func(e gatehouse.AuditEvent) auditRecord {
		return auditRecord{ID: e.ID, At: e.At.UTC().Format(time.RFC3339), Type: e.Type, Actor: name(e.ActorID), Target: name(e.TargetID), IP: e.IP, Detail: e.Detail}
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `attachment; filename="audit-`+reqOf(r).ws.Slug+`.`+format+`"`)
	ctx := r.Context()
	wsID := reqOf(r).ws.ID
	if format == "csv" {
		h.Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "at", "type", "actor", "target", "ip", "detail"})
		err = s.store.EachAuditEvent(ctx, wsID, f, func(e gatehouse.AuditEvent) error {
			rec := record(e)
			return cw.Write([]string{strconv.FormatInt(rec.ID, 10), rec.At, csvSafe(rec.Type), csvSafe(rec.Actor), csvSafe(rec.Target), csvSafe(rec.IP), csvSafe(rec.Detail)})
		})
		cw.Flush()
	} else {
		h.Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		w.Write([]byte("[\n"))
		first := true
		err = s.store.EachAuditEvent(ctx, wsID, f, func(e gatehouse.AuditEvent) error {
			if !first {
				w.Write([]byte(","))
			}
			first = false
			return enc.Encode(record(e))
		})
		if err == nil {
			w.Write([]byte("]\n"))
		}
	}
	if err != nil {
		// The status is sent already. Breaking the connection (no final
		// chunk) is how HTTP says the body is incomplete: a cut-short
		// export must not look like the whole log.
		s.log.Error("audit export cut short", "workspace", reqOf(r).ws.Slug, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// csvSafe defuses spreadsheet formulas (CSV injection): any field may start
// with a formula character, e-mail addresses included.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
