package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mail"
)

func (m Main) migrate(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("migrate", "[flags]", &c)
	if err := parse(fs, args); err != nil {
		return err
	}
	s, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintln(m.Stdout, "database is up to date")
	return nil
}

// adminApp opens the store for a one-shot command. Mail it queues is sent by
// the running server's outbox, which reads the same store.
func (m Main) adminApp(ctx context.Context, c config) (*app, error) {
	return m.newApp(ctx, c, mail.DevSender{Logger: m.logger()}, m.logger())
}

func (m Main) workspaceCreate(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("workspace create", "--slug S --name N --plan P --owner-email E [--owner-password X]", &c)
	slug := fs.String("slug", "", "workspace slug: its host is {slug}.{base host}")
	name := fs.String("name", "", "display name")
	plan := fs.String("plan", "", "starter, pro or unlimited")
	ownerEmail := fs.String("owner-email", "", "the owner's e-mail")
	ownerPassword := fs.String("owner-password", "", "the owner's password; without it an invitation link is printed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "slug", "name", "plan", "owner-email"); err != nil {
		return err
	}
	p, err := gatehouse.ParsePlan(*plan)
	if err != nil {
		return err
	}
	if err := gatehouse.ValidateSlug(*slug); err != nil {
		return err
	}
	if _, err := account.NormalizeEmail(*ownerEmail); err != nil {
		return fmt.Errorf("--owner-email: %w", err)
	}
	a, err := m.adminApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.store.Close()
	now := time.Now().UTC()
	ws := gatehouse.NewWorkspace(*slug, strings.TrimSpace(*name), p, now)
	if *ownerPassword != "" {
		// Check the password before anything is written, so a refused
		// password leaves no half-made workspace behind.
		if err := account.CheckPassword(ws, *ownerPassword); err != nil {
			return fmt.Errorf("--owner-password: %w", err)
		}
	}
	if err := a.store.CreateWorkspace(ctx, ws); err != nil {
		if errors.Is(err, gatehouse.ErrConflict) {
			return fmt.Errorf("workspace %q already exists", ws.Slug)
		}
		return err
	}
	_, link, err := a.accounts.CreateUser(ctx, ws, account.NewUser{Email: *ownerEmail, Role: gatehouse.RoleOwner, Password: *ownerPassword})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "created workspace %q (plan %s) at %s\n", ws.Slug, ws.Plan, a.accounts.WorkspaceURL(ws.Slug))
	if link != "" {
		fmt.Fprintf(m.Stdout, "owner invitation (valid 7 days): %s\n", link)
	}
	return nil
}

func (m Main) workspaceSetPlan(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("workspace set-plan", "--workspace S --plan P", &c)
	slug := fs.String("workspace", "", "workspace slug")
	plan := fs.String("plan", "", "starter, pro or unlimited")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "workspace", "plan"); err != nil {
		return err
	}
	p, err := gatehouse.ParsePlan(*plan)
	if err != nil {
		return err
	}
	return m.updateWorkspace(ctx, c, *slug, "plan.changed", func(*gatehouse.Workspace) (gatehouse.WorkspaceUpdate, error) {
		return gatehouse.WorkspaceUpdate{Plan: &p}, nil
	})
}

func (m Main) workspaceSetOptions(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("workspace set-options", "--workspace S [--signup on|off] [--remember-me on|off]", &c)
	slug := fs.String("workspace", "", "workspace slug")
	signup := fs.String("signup", "", "on: visitors may create client accounts at /signup")
	remember := fs.String("remember-me", "", "on: offer \"remember me\" (30-day sessions) at sign-in")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "workspace"); err != nil {
		return err
	}
	onOff := func(flag, v string) (*bool, error) {
		switch v {
		case "":
			return nil, nil
		case "on":
			t := true
			return &t, nil
		case "off":
			f := false
			return &f, nil
		}
		return nil, fmt.Errorf("--%s takes on or off, not %q", flag, v)
	}
	su, err := onOff("signup", *signup)
	if err != nil {
		return err
	}
	rm, err := onOff("remember-me", *remember)
	if err != nil {
		return err
	}
	return m.updateWorkspace(ctx, c, *slug, "settings.changed", func(*gatehouse.Workspace) (gatehouse.WorkspaceUpdate, error) {
		return gatehouse.WorkspaceUpdate{SignupEnabled: su, RememberMeEnabled: rm}, nil
	})
}

func (m Main) workspaceSetMFA(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("workspace set-mfa", "--workspace S --mode M [--methods passkey,totp,sms,email] [--trusted-days N] [--grace-days N]", &c)
	slug := fs.String("workspace", "", "workspace slug")
	mode := fs.String("mode", "", "disabled, optional or required")
	methods := fs.String("methods", "", "allowed methods, comma-separated: passkey, totp, sms, email (default: unchanged)")
	trusted := fs.Int("trusted-days", -1, "trusted-device lifetime in days, 1-90; 0 hides \"Remember this device\" (default: unchanged)")
	grace := fs.Int("grace-days", -1, "days an unenrolled user may skip enrollment in required mode, 0-30 (default: unchanged)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "workspace", "mode"); err != nil {
		return err
	}
	md, err := gatehouse.ParseMFAMode(*mode)
	if err != nil {
		return err
	}
	var allowed []gatehouse.Method
	if *methods != "" {
		if allowed, err = parseMethods(*methods); err != nil {
			return err
		}
	}
	if *trusted != -1 && (*trusted < 0 || *trusted > 90) {
		return fmt.Errorf("--trusted-days must be 0-90, not %d", *trusted)
	}
	if *grace != -1 && (*grace < 0 || *grace > 30) {
		return fmt.Errorf("--grace-days must be 0-30, not %d", *grace)
	}
	return m.updateWorkspace(ctx, c, *slug, "settings.changed", func(w *gatehouse.Workspace) (gatehouse.WorkspaceUpdate, error) {
		// Only the flags given are written; the store restarts the grace
		// clock when the mode changes.
		upd := gatehouse.WorkspaceUpdate{MFAMode: &md}
		next := w.MFA
		next.Mode = md
		if allowed != nil {
			next.Methods, upd.MFAMethods = allowed, &allowed
		}
		if *trusted != -1 {
			next.TrustedDeviceDays, upd.TrustedDeviceDays = *trusted, trusted
		}
		if *grace != -1 {
			next.GraceDays, upd.GraceDays = *grace, grace
		}
		// SMS can be allowed only once the workspace's Twilio account is set.
		return upd, next.Validate(w.Twilio.Ready())
	})
}

// parseMethods reads a comma-separated method list into strength order.
func parseMethods(list string) ([]gatehouse.Method, error) {
	want := map[gatehouse.Method]bool{}
	for _, part := range strings.Split(list, ",") {
		m, err := gatehouse.ParseMethod(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		want[m] = true
	}
	var out []gatehouse.Method
	for _, m := range gatehouse.Methods {
		if want[m] {
			out = append(out, m)
		}
	}
	return out, nil
}

// updateWorkspace writes the fields that change names (given the
// workspace as read, to validate against) and records the change in the
// audit log as done by the operator (actor 0, IP "cli"). Fields it does not
// name keep whatever is stored, so a settings save in the dashboard
// meanwhile is not undone.
func (m Main) updateWorkspace(ctx context.Context, c config, slug, event string, change func(*gatehouse.Workspace) (gatehouse.WorkspaceUpdate, error)) error {
	s, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()
	w, err := findWorkspace(ctx, s, slug)
	if err != nil {
		return err
	}
	upd, err := change(w)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if w, err = s.UpdateWorkspace(ctx, w.ID, upd, now); err != nil {
		return err
	}
	summary := fmt.Sprintf("plan %s, sign-up %s, remember-me %s, two-step %s (methods %s, trusted devices %d days, grace %d days)",
		w.Plan, onOffText(w.SignupEnabled), onOffText(w.RememberMeEnabled),
		w.MFA.Mode, joinMethods(w.MFA.Methods), w.MFA.TrustedDeviceDays, w.MFA.GraceDays)
	if err := s.AddAuditEvent(ctx, w.ID, &gatehouse.AuditEvent{At: now, Type: event, IP: "cli", Detail: summary}); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "workspace %q: %s\n", w.Slug, summary)
	return nil
}

func joinMethods(ms []gatehouse.Method) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}

func onOffText(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (m Main) userCreate(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("user create", "--workspace S --email E --role R [--password X] [--name N] [--client ID]", &c)
	slug := fs.String("workspace", "", "workspace slug")
	email := fs.String("email", "", "the user's e-mail")
	role := fs.String("role", "", "admin, member or client (the owner is made by workspace create)")
	pw := fs.String("password", "", "the user's password; without it an invitation link is printed")
	name := fs.String("name", "", "display name")
	clientFlag := fs.String("client", "", "for role client: the ID of the client they belong to (from client create); without it they get a client of their own")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "workspace", "email", "role"); err != nil {
		return err
	}
	clientID, err := parseClientID(*clientFlag)
	if err != nil {
		return err
	}
	r, err := gatehouse.ParseRole(*role)
	if err != nil {
		return err
	}
	if r == gatehouse.RoleOwner {
		// SPEC §1: one owner per workspace, made with the workspace.
		return fmt.Errorf("%w: --role owner: a workspace has exactly one owner, made by workspace create", gatehouse.ErrInvalid)
	}
	a, err := m.adminApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.store.Close()
	ws, err := findWorkspace(ctx, a.store, *slug)
	if err != nil {
		return err
	}
	if clientID != 0 {
		// Checked first, so a wrong ID leaves no user behind.
		if r != gatehouse.RoleClient {
			return fmt.Errorf("%w: --client is for role client", gatehouse.ErrInvalid)
		}
		if _, err := a.store.FindClient(ctx, ws.ID, clientID); err != nil {
			return fmt.Errorf("no client %d in workspace %q", clientID, ws.Slug)
		}
	}
	// The client is written with the user, in one write.
	u, link, err := a.accounts.CreateUser(ctx, ws, account.NewUser{Email: *email, Name: *name, Role: r, Password: *pw, ClientID: clientID})
	if err != nil {
		return err
	}
	if clientID == 0 {
		if _, err := a.portal.AssignClient(ctx, ws.ID, u, 0); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.Stdout, "created %s %s in workspace %q\n", u.Role, u.Email, ws.Slug)
	if u.ClientID != 0 {
		fmt.Fprintf(m.Stdout, "client: %d\n", u.ClientID)
	}
	if link != "" {
		fmt.Fprintf(m.Stdout, "invitation (valid 7 days): %s\n", link)
	}
	return nil
}

func (m Main) userReset2FA(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("user reset-2fa", "--workspace S --email E [--reason R]", &c)
	slug := fs.String("workspace", "", "workspace slug")
	email := fs.String("email", "", "the user's e-mail")
	reason := fs.String("reason", "", "why (recorded in the audit log and e-mailed to the user)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "workspace", "email"); err != nil {
		return err
	}
	a, err := m.adminApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.store.Close()
	ws, err := findWorkspace(ctx, a.store, *slug)
	if err != nil {
		return err
	}
	u, err := a.store.FindUserByEmail(ctx, ws.ID, strings.ToLower(strings.TrimSpace(*email)))
	if errors.Is(err, gatehouse.ErrNotFound) {
		return fmt.Errorf("no user %q in workspace %q", *email, ws.Slug)
	}
	if err != nil {
		return err
	}
	if err := a.mfa.ResetByOperator(ctx, ws, u, *reason); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "reset two-step verification of %s in workspace %q: methods, recovery codes and trusted devices removed, sessions ended\n", u.Email, ws.Slug)
	return nil
}

func (m Main) workspaceSetTwilio(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("workspace set-twilio", "--workspace S --account-sid A --auth-token T (--from +E164 | --messaging-service-sid M)", &c)
	slug := fs.String("workspace", "", "workspace slug")
	sid := fs.String("account-sid", "", "Twilio Account SID (AC…)")
	// No environment default, so --help can never print a token.
	token := fs.String("auth-token", "", "Twilio Auth Token (stored encrypted, never shown again)")
	from := fs.String("from", "", "sender number in E.164 (+15017122661)")
	msid := fs.String("messaging-service-sid", "", "Twilio Messaging Service SID (MG…), instead of --from")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "workspace", "account-sid", "auth-token"); err != nil {
		return err
	}
	if (*from == "") == (*msid == "") {
		return fmt.Errorf("give exactly one of --from and --messaging-service-sid")
	}
	a, err := m.adminApp(ctx, c)
	if err != nil {
		return err
	}
	defer a.store.Close()
	ws, err := findWorkspace(ctx, a.store, *slug)
	if err != nil {
		return err
	}
	acct, err := a.mfa.TwilioAccount(ws, *sid, *token, *from+*msid)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if ws, err = a.store.UpdateWorkspace(ctx, ws.ID, gatehouse.WorkspaceUpdate{Twilio: &acct}, now); err != nil {
		return err
	}
	if err := a.store.AddAuditEvent(ctx, ws.ID, &gatehouse.AuditEvent{At: now, Type: "settings.twilio", IP: "cli", Detail: "account " + acct.AccountSID}); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "workspace %q: Twilio account %s set (sender %s%s); sms can now be allowed with set-mfa --methods\n",
		ws.Slug, acct.AccountSID, acct.From, acct.MessagingServiceSID)
	return nil
}
