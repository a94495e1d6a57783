package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mail"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/sqlite"
	"github.com/gatehouse-dev/gatehouse/web"
)

func (m Main) serve(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("serve", "[--demo] [flags]", &c)
	addr := fs.String("addr", m.env("GATEHOUSE_ADDR", defaultAddr), "listen address (GATEHOUSE_ADDR)")
	smtpURL := new(m.env("GATEHOUSE_SMTP_URL", ""))
	fs.Var(secretFlag{smtpURL}, "smtp-url", "mail server `URL`: smtp://user:pass@host:587, smtps://... or smtp+plain://host:port (loopback only); empty: dev outbox (GATEHOUSE_SMTP_URL)")
	mailFrom := fs.String("mail-from", m.env("GATEHOUSE_MAIL_FROM", mail.DefaultFrom), "sender of e-mail (GATEHOUSE_MAIL_FROM)")
	maxUploadMB := fs.String("max-upload-mb", m.env("GATEHOUSE_MAX_UPLOAD_MB", "25"), "largest document accepted, in MB; every other request keeps the 1 MiB limit (GATEHOUSE_MAX_UPLOAD_MB)")
	demo := fs.Bool("demo", false, "seed a demo workspace on an empty store and show mail at /_dev/outbox")
	var ops opsAddrs
	fs.StringVar(&ops.metrics, "metrics-addr", m.env("GATEHOUSE_METRICS_ADDR", ""), "listen address of the Prometheus /metrics endpoint; empty: off (GATEHOUSE_METRICS_ADDR)")
	fs.StringVar(&ops.pprof, "pprof-addr", m.env("GATEHOUSE_PPROF_ADDR", ""), "listen address of Go's pprof handlers; empty: off (GATEHOUSE_PPROF_ADDR)")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := m.logger()

	var sender mail.Sender = mail.DevSender{Logger: log}
	if *smtpURL != "" {
		cfg, err := mail.ParseSMTPURL(*smtpURL)
		if err != nil {
			return err
		}
		if sender, err = mail.NewSMTP(cfg, *mailFrom); err != nil {
			return err
		}
		log.Info("mail via SMTP", "server", cfg.String())
	} else {
		log.Info("no SMTP URL: mail is logged (dev outbox)")
	}

	a, err := m.newApp(ctx, c, sender, log)
	if err != nil {
		return err
	}
	defer a.store.Close()
	if db, ok := a.store.(*sqlite.DB); ok {
		if n, err := db.PageSize(ctx); err == nil && n < sqlite.PageSize {
			log.Info("this SQLite database has small pages, so documents download slower: "+
				"gatehouse backup --out FILE writes a copy with larger ones; stop, then move it in place of gatehouse.db",
				"page_size", n, "new_databases", sqlite.PageSize)
		}
	}
	// The dev outbox lists every workspace's codes and links with no login:
	// only in demo mode, and only while mail goes nowhere real.
	devOutbox := *demo && *smtpURL == ""
	a.outbox.KeepSent = devOutbox

	// The operator listeners (metrics, pprof) start first, on addresses of
	// their own: the public handler never serves them.
	errc := make(chan error, 3)
	opsLn, err := m.listenOps(ops, a.store, log, errc)
	if err != nil {
		return err
	}
	defer opsLn.close()
	var obs web.Observer
	if opsLn.metrics != nil {
		obs = opsLn.metrics
		a.mfa.Queue = countingQueue{Queue: a.mfa.Queue, m: opsLn.metrics}
	}

	mb, err := strconv.Atoi(*maxUploadMB)
	if err != nil || mb < 1 || mb > 10<<10 {
		return fmt.Errorf("--max-upload-mb %q: want a whole number of MB from 1 to 10240", *maxUploadMB)
	}
	maxUpload := int64(mb) << 20
	a.portal.MaxUpload = maxUpload
	srv, err := web.NewServer(web.Options{
		Store: a.store, Accounts: a.accounts, MFA: a.mfa, BaseURL: c.BaseURL, DevOutbox: devOutbox, Logger: log,
		MailHTML: func(ctx context.Context, m gatehouse.Message) (string, error) {
			return mail.PreviewHTML(ctx, a.store, m)
		},
		Observer: obs, Portal: a.portal, MaxUploadBytes: maxUpload,
	})
	if err != nil {
		return err
	}
	if *demo {
		if err := m.seedDemo(ctx, a, srv); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.outbox.Run(ctx)
	}()
	go sweepSessions(ctx, a.store, log)
	go sweepUploads(ctx, a.store, log)

	go func() { errc <- hs.Serve(ln) }()
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "base_url", c.BaseURL)
	if m.Ready != nil {
		m.Ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	err = hs.Shutdown(shutdownCtx)
	cancel()
	<-done // the outbox finishes its round; unsent mail stays queued in the store
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sweepSessions deletes expired sessions hourly; expiry is also checked on
// every request, so this only keeps the table small. It also deletes the
// limits and failure counters that no longer count, which would otherwise
// grow with every client address ever seen.
func sweepSessions(ctx context.Context, s gatehouse.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now().UTC()
		if n, err := s.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("sweep sessions", "err", err)
		} else if n > 0 {
			log.Info("swept expired sessions", "count", n)
		}
		if n, err := s.DeleteStaleCounters(ctx, now.Add(-gatehouse.CounterRetention)); err != nil && ctx.Err() == nil {
			log.Warn("sweep counters", "err", err)
		} else if n > 0 {
			log.Info("swept stale counters", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepUploads removes uploads left unfinished by a process that died
// mid-upload: a live upload finishes or discards itself, and none lasts a
// day.
func sweepUploads(ctx context.Context, s portal.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.DeleteStaleUploads(ctx, time.Now().UTC().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			log.Warn("sweep uploads", "err", err)
		} else if n > 0 {
			log.Info("swept unfinished uploads", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// seedDemo creates workspace "demo" with an owner and a client on an empty
// store, and prints how to sign in.
func (m Main) seedDemo(ctx context.Context, a *app, srv *web.Server) error {
	n, err := a.store.CountWorkspaces(ctx)
	if err != nil {
		return err
	}
	url := srv.WorkspaceURL("demo")
	if n > 0 {
		fmt.Fprintf(m.Stdout, "Demo: the store already has workspaces; the demo portal (if seeded before) is at %s/login\n", url)
		return nil
	}
	now := time.Now().UTC()
	ws := gatehouse.NewWorkspace("demo", "Demo", gatehouse.PlanPro, now)
	ws.SignupEnabled, ws.MFA.Mode = true, gatehouse.MFAOptional
	if err := a.store.CreateWorkspace(ctx, ws); err != nil {
		return err
	}
	if ws, err = brandDemo(ctx, a.store, ws, now); err != nil {
		return fmt.Errorf("brand the demo workspace: %w", err)
	}
	type login struct{ email, password string }
	var logins []login
	var users []*gatehouse.User
	for _, u := range []struct {
		email, name string
		role        gatehouse.Role
	}{
		{"owner@demo.localhost", "Demo Owner", gatehouse.RoleOwner},
		{"client@demo.localhost", "Demo Client", gatehouse.RoleClient},
	} {
		pw := demoPassword()
		created, _, err := a.accounts.CreateUser(ctx, ws, account.NewUser{Email: u.email, Name: u.name, Role: u.role, Password: pw})
		if err != nil {
			return err
		}
		users = append(users, created)
		logins = append(logins, login{u.email, pw})
	}
	if err := seedPortal(ctx, a, ws, users[0], users[1], now); err != nil {
		return fmt.Errorf("seed the demo portal: %w", err)
	}
	fmt.Fprintf(m.Stdout, "\nDemo workspace seeded (plan pro, two-step verification optional: passkey, totp, email). Sign in at %s/login\n", url)
	for _, l := range logins {
		fmt.Fprintf(m.Stdout, "  %-24s password %s\n", l.email, l.password)
	}
	fmt.Fprintf(m.Stdout, "Mail Gatehouse sends is listed at %s/_dev/outbox\n", srv.BaseURL())
	fmt.Fprintln(m.Stdout, "(*.localhost names resolve to this machine in browsers and curl.)")
	fmt.Fprintln(m.Stdout)
	return nil
}

// demoPassword returns 16 random letters in groups: easy to type, never common.
func demoPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := make([]byte, 16)
	rand.Read(b)
	out := make([]byte, 0, 19)
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}
