// Package web is Gatehouse's HTTP side: host-based tenancy, middleware, the
// HTML pages and the JSON API. Handlers are thin: they parse input, call the
// account service and render; policy lives in the domain packages.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// MaxBodyBytes bounds every request body (SPEC §10).
const MaxBodyBytes = 1 << 20

// Store is what the handlers read directly, and nothing more (the
// services do every write); the methods are documented on gatehouse.Store.
type Store interface {
	FindWorkspaceBySlug(ctx context.Context, slug string) (*gatehouse.Workspace, error)
	FindWorkspaceByID(ctx context.Context, id int64) (*gatehouse.Workspace, error)
	FindUserByID(ctx context.Context, workspaceID, id int64) (*gatehouse.User, error)
	FindUserByEmail(ctx context.Context, workspaceID int64, email string) (*gatehouse.User, error)
	ListUsers(ctx context.Context, workspaceID int64) ([]gatehouse.User, error)
	FindAuditEvents(ctx context.Context, workspaceID int64, f gatehouse.AuditFilter) ([]gatehouse.AuditEvent, error)
	EachAuditEvent(ctx context.Context, workspaceID int64, f gatehouse.AuditFilter, fn func(gatehouse.AuditEvent) error) error
	ListMessages(ctx context.Context, limit int) ([]gatehouse.Message, error)
	FindMessage(ctx context.Context, id int64) (*gatehouse.Message, error)
	FindLogo(ctx context.Context, workspaceID int64) (*gatehouse.Logo, error)
}

// Options are everything the server depends on.
type Options struct {
	Store    Store
	Accounts *account.Service
	MFA      *mfa.Service
	// BaseURL is the public URL; workspaces live at {scheme}://{slug}.{host}.
	BaseURL string
	// DevOutbox lists queued mail at /_dev/outbox on the base host (--demo).
	DevOutbox bool
	// MailHTML renders the HTML part of a queued e-mail, for the dev
	// outbox to show; nil shows the text alone.
	MailHTML func(ctx context.Context, m gatehouse.Message) (string, error)
	Logger   *slog.Logger
	// Observer is told about requests, sign-ins and codes (metrics); nil
	// observes nothing.
	Observer Observer
	// Portal runs the client portal (clients, documents, requests,
	// messages).
	Portal *portal.Service
	// MaxUploadBytes is the largest upload form (GATEHOUSE_MAX_UPLOAD_MB);
	// 0 means 25 MiB. Only the upload routes take more than MaxBodyBytes.
	MaxUploadBytes int64
}

// Server serves the base host and every workspace host.
type Server struct {
	store     Store
	accounts  *account.Service
	mfa       *mfa.Service
	log       *slog.Logger
	scheme    string // "http" or "https"
	baseHost  string // lowercase host[:port] of BaseURL
	secure    bool   // https: Secure cookies with the __Host- prefix
	devOutbox bool
	mailHTML  func(ctx context.Context, m gatehouse.Message) (string, error)
	pages     *pages
	heads     layoutHead // the portal home's layout start, per workspace (portalhome.go)
	obs       Observer
	portal    *portal.Service
	maxUpload int64

	// slugs caches slug → workspace ID. A slug never changes owner and
	// workspaces are never deleted, so entries cannot go stale; the
	// workspace row itself (plan, settings) is read fresh on every request.
	slugs sync.Map

	handler http.Handler
}

// NewServer builds the server; it fails when a template is broken.
func NewServer(o Options) (*Server, error) {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host[:port]", o.BaseURL)
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		store: o.Store, accounts: o.Accounts, mfa: o.MFA, log: o.Logger,
		scheme: u.Scheme, baseHost: strings.ToLower(u.Host), secure: u.Scheme == "https",
		devOutbox: o.DevOutbox, mailHTML: o.MailHTML, pages: p, obs: o.Observer, portal: o.Portal, maxUpload: o.MaxUploadBytes,
	}
	if s.maxUpload <= 0 {
		s.maxUpload = DefaultMaxUploadBytes
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	s.handler = s.routes()
	return s, nil
}

// WorkspaceURL returns the public URL of a workspace.
func (s *Server) WorkspaceURL(slug string) string {
	return s.scheme + "://" + slug + "." + s.baseHost
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

type ctxKey struct{}

// request is what the middleware learned about a request.
type request struct {
	ws    *gatehouse.Workspace
	visit *gatehouse.Visit // nil when not signed in
	token string           // the session cookie's token, even if it matched nothing
	// decision is the second-factor gate's verdict for the visit, and
	// pending reports that the session has not satisfied it: such a session
	// reaches only the verify, enrollment and logout pages.
	decision mfa.Decision
	pending  bool
}

func reqOf(r *http.Request) *request {
	rq, _ := r.Context().Value(ctxKey{}).(*request)
	return rq
}

// slugOf returns the workspace slug of a workspace host, or "" for the base
// host, and ok false for a host that is neither.
func (s *Server) slugOf(host string) (slug string, ok bool) {
	host = strings.ToLower(host)
	if host == s.baseHost {
		return "", true
	}
	slug, found := strings.CutSuffix(host, "."+s.baseHost)
	if !found || gatehouse.ValidateSlug(slug) != nil {
		return "", false
	}
	return slug, true
}

// workspaceID resolves a slug through the cache.
func (s *Server) workspaceID(ctx context.Context, slug string) (int64, error) {
	if id, ok := s.slugs.Load(slug); ok {
		return id.(int64), nil
	}
	w, err := s.store.FindWorkspaceBySlug(ctx, slug)
	if err != nil {
		return 0, err // unknown slugs are not cached: the CLI may create them
	}
	s.slugs.Store(slug, w.ID)
	return w.ID, nil
}

// tenant finds the workspace and the signed-in visit, if any, with a single
// store read: the session query joins the user and the workspace in.
func (s *Server) tenant(base, workspaces http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, ok := s.slugOf(r.Host)
		if !ok {
			s.renderError(w, r, http.StatusNotFound, "There is no portal at this address.")
			return
		}
		if slug == "" {
			base.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		id, err := s.workspaceID(ctx, slug)
		if errors.Is(err, gatehouse.ErrNotFound) {
			s.renderError(w, r, http.StatusNotFound, "There is no portal at this address.")
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		rq := &request{token: s.sessionToken(r)}
		if rq.token != "" {
			v, err := s.accounts.Visit(ctx, id, rq.token)
			switch {
			case err == nil:
				rq.visit, rq.ws = v, &v.Workspace
				// The gate is decided on every request from what the one
				// session query read, so a plan or mode change, from any
				// instance or the CLI, applies at once.
				rq.decision = mfa.Decide(mfa.InputFor(v, false, s.accounts.Now()))
				rq.pending = mfa.Pending(v, rq.decision)
			case !errors.Is(err, account.ErrNoSession):
				s.serverError(w, r, err)
				return
			}
		}
		if rq.ws == nil {
			if rq.ws, err = s.store.FindWorkspaceByID(ctx, id); err != nil {
				s.serverError(w, r, err)
				return
			}
		}
		workspaces.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxKey{}, rq)))
	})
}

// securityHeaders sets the headers of SPEC §10 on every answer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = pageCSP
		h["X-Frame-Options"] = frameDeny
		h["X-Content-Type-Options"] = noSniff
		h["Referrer-Policy"] = sameOrigin
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies; parseForm turns the overflow into a 413.
// The upload routes alone take up to the upload limit (see isUpload).
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(MaxBodyBytes)
		upload := isUpload(r)
		if upload {
			limit = s.uploadBodyLimit()
		}
		// A declared oversized body is refused before any handler, so even
		// a handler that never reads its body answers 413.
		if r.ContentLength > limit {
			w.Header().Set("Connection", "close")
			if upload {
				s.tooLarge(w, r)
				return
			}
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// logRecover logs each request and turns a panic into a plain 500 page: a
// visitor never sees a stack trace.
func (s *Server) logRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Elapsed real time, for the log only: the injected clock decides
		// what a request may do, it does not measure how long it took.
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic", "method", r.Method, "host", r.Host, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					s.renderError(sw, r, http.StatusInternalServerError, "Something went wrong on our side. Please try again.")
				}
			}
			s.log.Debug("request", "method", r.Method, "host", r.Host, "path", r.URL.Path,
				"status", sw.status, "duration", time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// clientIP is the peer address. Gatehouse does not trust X-Forwarded-For:
// behind a proxy, every client would otherwise be able to pick its own IP
// and dodge the per-IP throttle.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// BaseURL returns the URL of the base host.
func (s *Server) BaseURL() string { return s.scheme + "://" + s.baseHost }
