package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
)

// Branding per workspace (SPEC §16): the owner sets a display name and an
// accent colour; admins read them; every page of the workspace carries them.
// The accent reaches pages through /brand.css, a stylesheet of one custom
// property, because the CSP forbids inline styles.

type brandingPage struct {
	page
	CanEdit     bool
	Saved       bool
	Error       string
	DisplayName string
	Accent      string
	MaxName     int
}

var brandErrors = map[error]string{
	account.ErrBrandName:      "The display name must be at most 60 characters of plain text.",
	account.ErrAccentFormat:   "Choose the accent colour as #rrggbb, for example #2f5bd3.",
	account.ErrAccentContrast: "That accent colour is too light to read on white (WCAG AA needs a contrast of 4.5:1). Choose a darker one.",
}

func (s *Server) handleBrandingPage(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	p := brandingPage{page: s.page(r, "Branding"), CanEdit: rq.visit.User.Role == gatehouse.RoleOwner,
		Saved: r.URL.Query().Get("saved") == "1", DisplayName: rq.ws.Brand.DisplayName, Accent: rq.ws.Brand.Accent, MaxName: account.MaxBrandName}
	s.render(w, r, http.StatusOK, "branding", p)
}

func (s *Server) handleBranding(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	if rq.visit.User.Role != gatehouse.RoleOwner {
		s.renderError(w, r, http.StatusForbidden, "Only the workspace owner can change the branding.")
		return
	}
	if !s.parseForm(w, r) {
		return
	}
	name, accent := r.PostForm.Get("display_name"), r.PostForm.Get("accent_color")
	err := s.accounts.UpdateBrand(r.Context(), rq.visit, name, accent, clientIP(r))
	for sentinel, msg := range brandErrors {
		if errors.Is(err, sentinel) {
			p := brandingPage{page: s.page(r, "Branding"), CanEdit: true, Error: msg, DisplayName: name, Accent: accent, MaxName: account.MaxBrandName}
			s.render(w, r, http.StatusUnprocessableEntity, "branding", p)
			return
		}
	}
	if errors.Is(err, account.ErrForbidden) {
		s.renderError(w, r, http.StatusForbidden, "Only the workspace owner can change the branding.")
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/settings/branding?saved=1", http.StatusSeeOther)
}

// handleBrandCSS serves the workspace's accent as a custom property. The
// stored accent was checked as #rrggbb when saved; it is checked again here
// so nothing else can ever reach the stylesheet.
func (s *Server) handleBrandCSS(w http.ResponseWriter, r *http.Request) {
	css := ""
	if ws := reqOf(r).ws; ws != nil {
		if c, err := account.ContrastOnWhite(ws.Brand.Accent); err == nil && c >= account.MinAccentContrast {
			css = fmt.Sprintf(":root { --accent: %s; }\n", ws.Brand.Accent)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.Write([]byte(css))
}

// brandName is the name a workspace shows: its display name, else its name.
func brandName(ws *gatehouse.Workspace) string {
	if ws == nil {
		return "Gatehouse"
	}
	return ws.DisplayName()
}
