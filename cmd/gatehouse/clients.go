package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// clientCreate makes a client (SPEC §12) and prints its ID, which
// `user create --client` and the invitation form take.
func (m Main) clientCreate(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("client create", "--workspace S --name N", &c)
	slug := fs.String("workspace", "", "workspace slug")
	name := fs.String("name", "", "the client's name: a company, household, patient or firm")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "workspace", "name"); err != nil {
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
	n, err := portal.ValidateClientName(*name)
	if err != nil {
		return err
	}
	cl := &portal.Client{Name: n, CreatedAt: a.portal.Now()}
	if err := a.store.CreateClient(ctx, ws.ID, cl); err != nil {
		return err
	}
	a.store.AddAuditEvent(ctx, ws.ID, &gatehouse.AuditEvent{At: cl.CreatedAt, Type: portal.EventClientCreated, ClientID: cl.ID, Detail: "by the operator (CLI)"})
	fmt.Fprintln(m.Stdout, cl.ID)
	return nil
}

// parseClientID reads --client: empty is none.
func parseClientID(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: --client %q: want a client's ID (see client create)", gatehouse.ErrInvalid, s)
	}
	return id, nil
}
