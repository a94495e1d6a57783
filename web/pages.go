package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is what every page shows around its content.
type page struct {
	Title     string
	Workspace *gatehouse.Workspace // nil on the base host
	User      *gatehouse.User      // nil when not signed in
	// Pending is a login still at the second-factor gate: the header offers
	// only what it may use (sign out), not the signed-in navigation.
	Pending bool
	Flash   string
}

// pages holds every template, parsed once at start-up.
type pages struct {
	byName map[string]*template.Template
}

func parsePages() (*pages, error) {
	funcs := template.FuncMap{"static": staticPath, "add1": func(i int) int { return i + 1 }, "uploadForm": newUploadFormData, "addr": breakAddr, "ip": breakIP, "option": optionText}
	for k, f := range labelFuncs {
		funcs[k] = f
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range names {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		p.byName[strings.TrimSuffix(path.Base(name), ".html")] = t
	}
	return p, nil
}

// render writes the named page with the status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t, ok := s.pages.byName[name]
	if !ok {
		s.serverError(w, r, fmt.Errorf("no template %q", name))
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := t.ExecuteTemplate(buf, "layout.html", data); err != nil {
		s.serverError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	h := w.Header()
	h["Content-Type"] = htmlType
	h["Cache-Control"] = noStore
	writeBody(w, status, buf)
}

// page returns the shared page data for a request.
func (s *Server) page(r *http.Request, title string) page {
	p := page{Title: title}
	if rq := reqOf(r); rq != nil {
		p.Workspace = rq.ws
		if rq.visit != nil {
			p.User = &rq.visit.User
			p.Pending = rq.pending
		}
	}
	return p
}

type errorPage struct {
	page
	Status  int
	Message string
}

// renderError shows a plain error page with a friendly sentence.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", errorPage{page: s.page(r, statusTitle(status)), Status: status, Message: msg})
}

// serverError logs err and shows a generic 500 page: internals stay in the log.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("internal error", "method", r.Method, "host", r.Host, "path", r.URL.Path, "err", err)
	if _, ok := s.pages.byName["error"]; !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong on our side. Please try again.")
}

// Static files are served under a content hash, so they can be cached for a
// year and a new build is picked up at once.
var staticNames = func() map[string]string {
	m := map[string]string{}
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		m[name] = "/static/" + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		return nil
	})
	return m
}()

// staticPath returns the fingerprinted URL of a static file.
func staticPath(name string) (string, error) {
	p, ok := staticNames[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return p, nil
}

func staticHandler() http.Handler {
	byURL := map[string]string{}
	for name, u := range staticNames {
		byURL[u] = "static/" + name
	}
	files := http.FileServerFS(staticFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := byURL[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		u := *r.URL
		u.Path = "/" + name
		r2 := *r
		r2.URL = &u
		files.ServeHTTP(w, &r2)
	})
}
