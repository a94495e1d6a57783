package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
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
	account.ErrLogoTooBig:     "That logo file is larger than 256 KiB. Upload a smaller PNG, JPEG or WebP image.",
	account.ErrLogoSVG:        "SVG logos are not accepted, because an SVG file can carry script. Upload a PNG, JPEG or WebP image.",
	account.ErrLogoFormat:     "That file is not a PNG, JPEG or WebP image Gatehouse can read.",
	account.ErrLogoDimensions: "That image is too large in pixels (at most 4096 on a side and 4 million in all). Upload a smaller one.",
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
	c, ok := s.brandForm(w, r)
	if !ok {
		return
	}
	err := s.accounts.UpdateBrand(r.Context(), rq.visit, c, clientIP(r))
	for sentinel, msg := range brandErrors {
		if errors.Is(err, sentinel) {
			p := brandingPage{page: s.page(r, "Branding"), CanEdit: true, Error: msg, DisplayName: c.DisplayName, Accent: c.Accent, MaxName: account.MaxBrandName}
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

// brandForm reads the branding form: multipart when it carries the logo
// file (the page sends it so), plain otherwise. The whole body is under the
// server's 1 MiB limit, so the parts stay in memory; the logo is read up to
// one byte past its own limit, enough for the service to refuse it.
func (s *Server) brandForm(w http.ResponseWriter, r *http.Request) (account.BrandChange, bool) {
	var c account.BrandChange
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		if !s.parseForm(w, r) {
			return c, false
		}
	} else if err := r.ParseMultipartForm(MaxBodyBytes); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.renderError(w, r, http.StatusRequestEntityTooLarge, "That request was too large. A logo can be at most 256 KiB.")
		} else {
			s.renderError(w, r, http.StatusBadRequest, "That form could not be read. Please try again.")
		}
		return c, false
	} else {
		defer r.MultipartForm.RemoveAll()
		if f, hdr, err := r.FormFile("logo"); err == nil {
			defer f.Close()
			if hdr.Size > 0 { // an empty file part: no file was chosen
				data, err := io.ReadAll(io.LimitReader(f, account.MaxLogoBytes+1))
				if err != nil {
					s.renderError(w, r, http.StatusBadRequest, "That form could not be read. Please try again.")
					return c, false
				}
				c.Logo = data
			}
		}
	}
	c.DisplayName, c.Accent = r.PostForm.Get("display_name"), r.PostForm.Get("accent_color")
	c.RemoveLogo = r.PostForm.Get("remove_logo") == "on"
	return c, true
}

// handleLogo serves the workspace's logo: a PNG Gatehouse drew itself
// (never the uploaded bytes), as image/png with nosniff. Pages link it as
// /brand/logo.png?v={ID}; a URL naming the current logo may be cached for
// good, since a new logo gets a new ID, and any other is revalidated.
func (s *Server) handleLogo(w http.ResponseWriter, r *http.Request) {
	ws := reqOf(r).ws
	if ws == nil || ws.Brand.Logo == "" {
		s.renderError(w, r, http.StatusNotFound, "This workspace has no logo.")
		return
	}
	l, err := s.store.FindLogo(r.Context(), ws.ID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		s.renderError(w, r, http.StatusNotFound, "This workspace has no logo.")
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", `inline; filename="logo.png"`)
	h.Set("ETag", `"`+l.ID+`"`)
	if r.URL.Query().Get("v") == l.ID {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", l.UpdatedAt, bytes.NewReader(l.PNG))
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
