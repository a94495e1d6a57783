package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
)

// afterFindUser runs hook once, right after the first FindUserByEmail
// returns: another request that lands between a read and its write.
type afterFindUser struct {
	account.Store
	hook func()
}

func (s *afterFindUser) FindUserByEmail(ctx context.Context, workspaceID int64, email string) (*gatehouse.User, error) {
	u, err := s.Store.FindUserByEmail(ctx, workspaceID, email)
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
	return u, err
}

// TestReinviteRacingAcceptKeepsRole: a re-invite that read "invited, no
// password yet" while the invitation was being accepted does not change
// the new member's role; it reports the person as a member already.
func TestReinviteRacingAcceptKeepsRole(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, token := e.mustInvited(t, e.ws, "dan@example.com", gatehouse.RoleClient)
	racing := *e.svc
	racing.Store = &afterFindUser{Store: e.db, hook: func() {
		if _, err := e.svc.AcceptInvite(ctx, e.ws, token, "Dan", goodPassword); err != nil {
			t.Fatal(err)
		}
	}}
	_, _, err := racing.Invite(ctx, e.ws, nil, "dan@example.com", gatehouse.RoleAdmin)
	if !errors.Is(err, account.ErrAlreadyMember) {
		t.Errorf("re-invite racing the acceptance: %v, want ErrAlreadyMember", err)
	}
	if u := e.mustFindUser(t, e.ws, "dan@example.com"); u.Role != gatehouse.RoleClient {
		t.Errorf("the member's role became %s, want client as invited", u.Role)
	}
}
