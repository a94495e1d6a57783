package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// PasskeyStore is a store that also keeps passkeys (SPEC §15).
type PasskeyStore interface {
	Store
	mfa.PasskeyStore
}

// RunPasskeys runs the passkey conformance tests against stores made by open.
func RunPasskeys(t *testing.T, open func(tb testing.TB) PasskeyStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s PasskeyStore)
	}{
		{"Passkeys", testPasskeys},
		{"PasskeyLimit", testPasskeyLimit},
		{"PasskeyCounter", testPasskeyCounter},
		{"PasskeyReset", testPasskeyReset},
		{"PasskeyAddWhole", testPasskeyAddWhole},
		{"PasskeyDeleteWhole", testPasskeyDeleteWhole},
		{"PasskeyKeepsOne", testPasskeyKeepsOne},
		{"Ceremonies", testCeremonies},
		{"CeremonyRace", testCeremonyRace},
		{"PasskeyTenancy", testPasskeyTenancy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// addPK adds a passkey with nothing else in the transaction.
func addPK(s PasskeyStore, wsID int64, p *mfa.Passkey, max int) error {
	_, err := s.AddPasskey(context.Background(), wsID, p, max, nil, nil, nil)
	return err
}

// delPK deletes a passkey with nothing else in the transaction.
func delPK(s PasskeyStore, wsID, userID, id int64) (int, error) {
	return s.DeletePasskey(context.Background(), wsID, userID, id, nil, nil, nil)
}

func newPasskey(userID int64, name, credID string, at time.Time) *mfa.Passkey {
	return &mfa.Passkey{UserID: userID, Name: name, CredentialID: []byte(credID), PublicKey: []byte("cose " + credID),
		SignCount: 7, BackupEligible: true, BackupState: true, UserVerified: true, Transports: []string{"internal", "hybrid"},
		AAGUID: bytes.Repeat([]byte{1}, 16), AttestationType: "none", CreatedAt: at}
}

func activeMethods(tb testing.TB, s PasskeyStore, wsID, userID int64) []gatehouse.Method {
	tb.Helper()
	fs, err := s.FindFactors(context.Background(), wsID, userID)
	must(tb, "find factors", err)
	var out []gatehouse.Method
	for _, f := range fs {
		if f.Active {
			out = append(out, f.Method)
		}
	}
	return out
}

func testPasskeys(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "pk")
	u := MustCreateUser(t, s, ws.ID, "a@x.test", gatehouse.RoleClient)
	other := MustCreateUser(t, s, ws.ID, "b@x.test", gatehouse.RoleClient)

	must(t, "save totp", s.SaveFactor(ctx, ws.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Secret: []byte("s"), Active: true, CreatedAt: t0}))
	p1 := newPasskey(u.ID, "Laptop", "cred-1", t0)
	must(t, "add passkey", addPK(s, ws.ID, p1, 10))
	if p1.ID == 0 || p1.WorkspaceID != ws.ID {
		t.Fatalf("added passkey has ID %d, workspace %d", p1.ID, p1.WorkspaceID)
	}
	// The passkey method is active and ranks first.
	if got := activeMethods(t, s, ws.ID, u.ID); !slices.Equal(got, []gatehouse.Method{gatehouse.MethodPasskey, gatehouse.MethodTOTP}) {
		t.Fatalf("active methods = %v, want passkey, totp", got)
	}
	p2 := newPasskey(u.ID, "Phone", "cred-2", t0.Add(time.Minute))
	p2.Transports, p2.AAGUID, p2.BackupEligible, p2.BackupState = nil, nil, false, false
	must(t, "add second passkey", addPK(s, ws.ID, p2, 10))

	// The same credential twice in a workspace is a conflict.
	if err := addPK(s, ws.ID, newPasskey(other.ID, "Copy", "cred-1", t0), 10); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("duplicate credential: got %v, want ErrConflict", err)
	}
	if got := activeMethods(t, s, ws.ID, other.ID); len(got) != 0 {
		t.Fatalf("a refused add left methods %v", got)
	}

	ps, err := s.ListPasskeys(ctx, ws.ID, u.ID)
	must(t, "list passkeys", err)
	if len(ps) != 2 || ps[0].Name != "Laptop" || ps[1].Name != "Phone" {
		t.Fatalf("list = %+v, want Laptop then Phone", ps)
	}
	got := ps[0]
	if !bytes.Equal(got.CredentialID, p1.CredentialID) || !bytes.Equal(got.PublicKey, p1.PublicKey) || got.SignCount != 7 ||
		!got.BackupEligible || !got.BackupState || !got.UserVerified || !slices.Equal(got.Transports, []string{"internal", "hybrid"}) ||
		!bytes.Equal(got.AAGUID, p1.AAGUID) || got.AttestationType != "none" || !got.CreatedAt.Equal(t0) || got.LastUsedAt != nil ||
		got.UserID != u.ID || got.WorkspaceID != ws.ID {
		t.Fatalf("stored passkey = %+v, want the fields of %+v", got, p1)
	}
	if ps[1].Transports != nil || ps[1].BackupEligible || ps[1].BackupState {
		t.Fatalf("second passkey = %+v, want no transports and no backup flags", ps[1])
	}

	found, err := s.FindPasskey(ctx, ws.ID, []byte("cred-2"))
	must(t, "find passkey", err)
	if found.ID != p2.ID || found.UserID != u.ID {
		t.Fatalf("found %+v, want passkey %d of user %d", found, p2.ID, u.ID)
	}
	_, err = s.FindPasskey(ctx, ws.ID, []byte("cred-9"))
	wantNotFound(t, "find unknown credential", err)

	// Another user's passkey is not theirs to delete.
	_, err = delPK(s, ws.ID, other.ID, p1.ID)
	wantNotFound(t, "delete another user's passkey", err)
	left, err := delPK(s, ws.ID, u.ID, p1.ID)
	must(t, "delete passkey", err)
	if left != 1 {
		t.Fatalf("left = %d, want 1", left)
	}
	if got := activeMethods(t, s, ws.ID, u.ID); !slices.Contains(got, gatehouse.MethodPasskey) {
		t.Fatalf("with one passkey left, methods = %v", got)
	}
	_, err = delPK(s, ws.ID, u.ID, p1.ID)
	wantNotFound(t, "delete a deleted passkey", err)
	left, err = delPK(s, ws.ID, u.ID, p2.ID)
	must(t, "delete last passkey", err)
	if left != 0 {
		t.Fatalf("left = %d, want 0", left)
	}
	// The last passkey takes the method with it, and nothing else.
	if got := activeMethods(t, s, ws.ID, u.ID); !slices.Equal(got, []gatehouse.Method{gatehouse.MethodTOTP}) {
		t.Fatalf("after the last passkey, methods = %v, want totp", got)
	}
}

func testPasskeyLimit(t *testing.T, s PasskeyStore) {
	ws := MustCreateWorkspace(t, s, "pklimit")
	u := MustCreateUser(t, s, ws.ID, "a@x.test", gatehouse.RoleClient)
	for i := range 3 {
		must(t, "add", addPK(s, ws.ID, newPasskey(u.ID, "k", string(rune('a'+i)), t0), 3))
	}
	if err := addPK(s, ws.ID, newPasskey(u.ID, "k", "d", t0), 3); !errors.Is(err, mfa.ErrPasskeyLimit) {
		t.Fatalf("fourth passkey with max 3: got %v, want ErrPasskeyLimit", err)
	}
	// Parallel adds cannot pass the limit together.
	v := MustCreateUser(t, s, ws.ID, "b@x.test", gatehouse.RoleClient)
	var wg sync.WaitGroup
	var ok, limited atomic.Int32
	start := make(chan struct{})
	for i := range 8 {
		wg.Go(func() {
			<-start
			switch err := addPK(s, ws.ID, newPasskey(v.ID, "k", "r"+string(rune('a'+i)), t0), 3); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, mfa.ErrPasskeyLimit):
				limited.Add(1)
			default:
				t.Errorf("parallel add: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 3 || limited.Load() != 5 {
		t.Fatalf("%d of 8 parallel adds passed a limit of 3 (%d refused)", ok.Load(), limited.Load())
	}
}

func testPasskeyCounter(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "pkcount")
	u := MustCreateUser(t, s, ws.ID, "a@x.test", gatehouse.RoleClient)
	p := newPasskey(u.ID, "Key", "cred", t0)
	must(t, "add", addPK(s, ws.ID, p, 10))
	at := t0.Add(time.Hour)
	must(t, "use", s.UsePasskey(ctx, ws.ID, p.ID, 7, 8, false, at))
	got, err := s.FindPasskey(ctx, ws.ID, []byte("cred"))
	must(t, "find", err)
	if got.SignCount != 8 || got.BackupState || got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) {
		t.Fatalf("after use: count %d, backup %v, last used %v", got.SignCount, got.BackupState, got.LastUsedAt)
	}
	// A use that read the counter before another moved it finds nothing:
	// one assertion counts once.
	err = s.UsePasskey(ctx, ws.ID, p.ID, 7, 8, false, at)
	wantNotFound(t, "use with a stale counter", err)
	// Counters beyond 2^31 survive.
	must(t, "use high", s.UsePasskey(ctx, ws.ID, p.ID, 8, 4_000_000_000, true, at))
	got, _ = s.FindPasskey(ctx, ws.ID, []byte("cred"))
	if got.SignCount != 4_000_000_000 || !got.BackupState {
		t.Fatalf("count = %d, backup %v", got.SignCount, got.BackupState)
	}
}

func testPasskeyReset(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "pkreset")
	u := MustCreateUser(t, s, ws.ID, "a@x.test", gatehouse.RoleClient)
	must(t, "add", addPK(s, ws.ID, newPasskey(u.ID, "Key", "cred", t0), 10))
	// An admin reset clears passkeys with the other methods.
	must(t, "reset", s.ResetMFA(ctx, ws.ID, u.ID, "mfa:pkreset", nil))
	ps, err := s.ListPasskeys(ctx, ws.ID, u.ID)
	must(t, "list", err)
	if len(ps) != 0 || len(activeMethods(t, s, ws.ID, u.ID)) != 0 {
		t.Fatalf("after reset: %d passkeys, methods %v", len(ps), activeMethods(t, s, ws.ID, u.ID))
	}
	// The users list counts the method.
	must(t, "add again", addPK(s, ws.ID, newPasskey(u.ID, "Key", "cred", t0), 10))
	list, err := s.ListUserMFA(ctx, ws.ID, t0)
	must(t, "list user MFA", err)
	if len(list) != 1 || !slices.Equal(list[0].Methods, []gatehouse.Method{gatehouse.MethodPasskey}) {
		t.Fatalf("user MFA = %+v, want passkey", list)
	}
}

func newCeremony(token string, session []byte, userID int64, purpose mfa.CeremonyPurpose, at time.Time) *mfa.Ceremony {
	return &mfa.Ceremony{TokenHash: hash(token), SessionHash: session, UserID: userID, Purpose: purpose,
		Data: []byte(`{"challenge":"` + token + `"}`), CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
}

func testCeremonies(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "cer")
	c := newCeremony("t1", hash("s42"), 7, mfa.CeremonyVerify, t0)
	must(t, "create", s.CreateCeremony(ctx, ws.ID, c))
	if c.ID == 0 || c.WorkspaceID != ws.ID {
		t.Fatalf("created ceremony has ID %d, workspace %d", c.ID, c.WorkspaceID)
	}
	// Bound to its purpose and session: a mismatch finds nothing and leaves it.
	_, err := s.ConsumeCeremony(ctx, ws.ID, hash("t1"), mfa.CeremonyRegister, hash("s42"), t0)
	wantNotFound(t, "consume for another purpose", err)
	_, err = s.ConsumeCeremony(ctx, ws.ID, hash("t1"), mfa.CeremonyVerify, hash("s43"), t0)
	wantNotFound(t, "consume from another session", err)
	got, err := s.ConsumeCeremony(ctx, ws.ID, hash("t1"), mfa.CeremonyVerify, hash("s42"), t0.Add(time.Minute))
	must(t, "consume", err)
	if got.ID != c.ID || got.UserID != 7 || !bytes.Equal(got.SessionHash, hash("s42")) || got.Purpose != mfa.CeremonyVerify ||
		string(got.Data) != string(c.Data) || !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("consumed %+v, want %+v", got, c)
	}
	// Single use.
	_, err = s.ConsumeCeremony(ctx, ws.ID, hash("t1"), mfa.CeremonyVerify, hash("s42"), t0.Add(time.Minute))
	wantNotFound(t, "consume twice", err)

	// Five minutes, by the clock given.
	must(t, "create sign-in", s.CreateCeremony(ctx, ws.ID, newCeremony("t2", nil, 0, mfa.CeremonySignIn, t0)))
	_, err = s.ConsumeCeremony(ctx, ws.ID, hash("t2"), mfa.CeremonySignIn, nil, t0.Add(5*time.Minute))
	wantNotFound(t, "consume at expiry", err)
	must(t, "create sign-in", s.CreateCeremony(ctx, ws.ID, newCeremony("t3", nil, 0, mfa.CeremonySignIn, t0)))
	_, err = s.ConsumeCeremony(ctx, ws.ID, hash("t3"), mfa.CeremonySignIn, nil, t0.Add(5*time.Minute-time.Nanosecond))
	must(t, "consume just before expiry", err)
}

func testCeremonyRace(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	ws := MustCreateWorkspace(t, s, "cerrace")
	must(t, "create", s.CreateCeremony(ctx, ws.ID, newCeremony("t", hash("s1"), 1, mfa.CeremonyRegister, t0)))
	if ok := race(t, 8, func() error {
		_, err := s.ConsumeCeremony(ctx, ws.ID, hash("t"), mfa.CeremonyRegister, hash("s1"), t0)
		return err
	}); ok != 1 {
		t.Fatalf("%d of 8 simultaneous finishes consumed one ceremony", ok)
	}
}

func testPasskeyTenancy(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	a := MustCreateWorkspace(t, s, "pka")
	b := MustCreateWorkspace(t, s, "pkb")
	ua := MustCreateUser(t, s, a.ID, "a@x.test", gatehouse.RoleClient)
	ub := MustCreateUser(t, s, b.ID, "a@x.test", gatehouse.RoleClient)
	p := newPasskey(ua.ID, "Key", "cred", t0)
	must(t, "add", addPK(s, a.ID, p, 10))

	// A user of A named under B's ID is nobody there.
	err := addPK(s, b.ID, newPasskey(ua.ID, "Key", "cred-x", t0), 10)
	wantNotFound(t, "add under another workspace", err)
	// The same credential may exist in both (each workspace is its own relying party).
	must(t, "add in B", addPK(s, b.ID, newPasskey(ub.ID, "Key", "cred", t0), 10))

	_, err = s.FindPasskey(ctx, b.ID, []byte("cred"))
	must(t, "find in B", err)
	if got, _ := s.FindPasskey(ctx, b.ID, []byte("cred")); got.UserID != ub.ID {
		t.Fatalf("B's lookup found user %d, want %d", got.UserID, ub.ID)
	}
	ps, err := s.ListPasskeys(ctx, b.ID, ua.ID)
	must(t, "list under B", err)
	if len(ps) != 0 {
		t.Fatalf("A's user listed %d passkeys under B", len(ps))
	}
	err = s.UsePasskey(ctx, b.ID, p.ID, 7, 8, false, t0)
	wantNotFound(t, "use under B", err)
	_, err = delPK(s, b.ID, ua.ID, p.ID)
	wantNotFound(t, "delete under B", err)

	must(t, "create ceremony", s.CreateCeremony(ctx, a.ID, newCeremony("t", nil, 0, mfa.CeremonySignIn, t0)))
	_, err = s.ConsumeCeremony(ctx, b.ID, hash("t"), mfa.CeremonySignIn, nil, t0)
	wantNotFound(t, "consume A's ceremony under B", err)
	_, err = s.ConsumeCeremony(ctx, a.ID, hash("t"), mfa.CeremonySignIn, nil, t0)
	must(t, "consume under A", err)
}

// testPasskeyAddWhole: adding a passkey is one operation: the passkey, the
// method, recovery codes when the user has none, the end of the other
// sessions and the event; a refused add changes nothing.
func testPasskeyAddWhole(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "pkadd")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	signedIn(t, s, w.ID, u.ID, "here")
	signedIn(t, s, w.ID, u.ID, "there")
	e := &gatehouse.AuditEvent{At: t0, ActorID: u.ID, TargetID: u.ID, Type: "mfa.method.added", Detail: "passkey"}
	issued, err := s.AddPasskey(ctx, w.ID, newPasskey(u.ID, "Key", "c1", t0), 2, [][]byte{hash("r1"), hash("r2")}, hash("here"), e)
	must(t, "add the first passkey", err)
	st := stateOf(t, s, w.ID, u.ID, "here", "there")
	if !issued || st.unused != 2 || st.sessions != 1 || st.devices != 2 || st.audit != 1 || st.factors != 1 || e.ID == 0 {
		t.Fatalf("after the first passkey: issued %t, %+v; want codes issued, 2 codes, the kept session, 1 event, 1 factor", issued, st)
	}
	// The user has codes: none are stored.
	signedIn(t, s, w.ID, u.ID, "again")
	issued, err = s.AddPasskey(ctx, w.ID, newPasskey(u.ID, "Key 2", "c2", t0), 2, [][]byte{hash("r3")}, hash("here"), nil)
	must(t, "add the second passkey", err)
	if st := stateOf(t, s, w.ID, u.ID, "here", "again"); issued || st.unused != 2 || st.sessions != 1 {
		t.Fatalf("after the second passkey: issued %t, %+v", issued, st)
	}
	// Refused (limit, or a credential taken): nothing changes.
	signedIn(t, s, w.ID, u.ID, "third")
	for _, tc := range []struct {
		cred string
		want error
	}{{"c3", mfa.ErrPasskeyLimit}, {"c1", gatehouse.ErrConflict}} {
		max := 2
		if tc.cred == "c1" {
			max = 10
		}
		ev := &gatehouse.AuditEvent{At: t0, ActorID: u.ID, TargetID: u.ID, Type: "mfa.method.added"}
		_, err = s.AddPasskey(ctx, w.ID, newPasskey(u.ID, "Key 3", tc.cred, t0), max, [][]byte{hash("r4")}, hash("here"), ev)
		if !errors.Is(err, tc.want) {
			t.Fatalf("refused add %s: %v, want %v", tc.cred, err, tc.want)
		}
		if st := stateOf(t, s, w.ID, u.ID, "here", "third"); st.sessions != 2 || st.audit != 1 || st.unused != 2 {
			t.Fatalf("a refused add changed %+v", st)
		}
	}
}

// testPasskeyDeleteWhole: removing a passkey ends the other sessions, and
// voids the recovery codes only with the last active method.
func testPasskeyDeleteWhole(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "pkdel")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	p1, p2 := newPasskey(u.ID, "A", "c1", t0), newPasskey(u.ID, "B", "c2", t0)
	must(t, "add", addPK(s, w.ID, p1, 10))
	must(t, "add", addPK(s, w.ID, p2, 10))
	must(t, "totp", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Active: true, CreatedAt: t0}))
	must(t, "codes", s.ReplaceRecoveryCodes(ctx, w.ID, u.ID, [][]byte{hash("r1"), hash("r2")}, t0))
	signedIn(t, s, w.ID, u.ID, "here")
	signedIn(t, s, w.ID, u.ID, "there")

	e := &gatehouse.AuditEvent{At: t0, ActorID: u.ID, TargetID: u.ID, Type: "mfa.method.removed", Detail: "passkey A"}
	left, err := s.DeletePasskey(ctx, w.ID, u.ID, p1.ID, nil, hash("here"), e)
	must(t, "delete one of two", err)
	st := stateOf(t, s, w.ID, u.ID, "here", "there")
	if left != 1 || st.factors != 2 || st.unused != 2 || st.sessions != 1 || st.audit != 1 || e.ID == 0 {
		t.Fatalf("after one of two passkeys: left %d, %+v", left, st)
	}
	// The last passkey with TOTP still on: the codes stay.
	_, err = s.DeletePasskey(ctx, w.ID, u.ID, p2.ID, nil, hash("here"), nil)
	must(t, "delete the last passkey", err)
	if st := stateOf(t, s, w.ID, u.ID, "here"); st.factors != 1 || st.unused != 2 {
		t.Fatalf("after the last passkey, TOTP on: %+v, want TOTP and 2 codes", st)
	}
	// The last method of all: the codes go.
	p3 := newPasskey(u.ID, "C", "c3", t0)
	must(t, "add", addPK(s, w.ID, p3, 10))
	must(t, "remove totp", s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodTOTP, nil, hash("here"), nil))
	if n, _ := s.CountRecoveryCodes(ctx, w.ID, u.ID); n != 2 {
		t.Fatalf("with a passkey left, %d codes, want 2", n)
	}
	_, err = s.DeletePasskey(ctx, w.ID, u.ID, p3.ID, nil, hash("here"), nil)
	must(t, "delete the last method", err)
	if st := stateOf(t, s, w.ID, u.ID, "here"); st.factors != 0 || st.unused != 0 {
		t.Fatalf("after the last method: %+v, want no factor and no codes", st)
	}
	_, err = s.DeletePasskey(ctx, w.ID, u.ID, p3.ID, nil, hash("here"), nil)
	wantNotFound(t, "delete again", err)
}

// testPasskeyKeepsOne: with keepOneOf, removing the last passkey and the
// other method at once leaves one of them.
func testPasskeyKeepsOne(t *testing.T, s PasskeyStore) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "pkkeep")
	keep := []gatehouse.Method{gatehouse.MethodPasskey, gatehouse.MethodTOTP}
	for round := range 5 {
		u := MustCreateUser(t, s, w.ID, fmt.Sprintf("u%d@example.com", round), gatehouse.RoleClient)
		p := newPasskey(u.ID, "A", fmt.Sprint("c", round), t0)
		must(t, "add", addPK(s, w.ID, p, 10))
		must(t, "totp", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Active: true, CreatedAt: t0}))
		ea, eb := both(
			func() error { _, err := s.DeletePasskey(ctx, w.ID, u.ID, p.ID, keep, nil, nil); return err },
			func() error { return s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodTOTP, keep, nil, nil) })
		wantOneLastMethod(t, "passkey and totp removed at once", ea, eb)
		fs, err := s.FindFactors(ctx, w.ID, u.ID)
		must(t, "factors", err)
		ps, err := s.ListPasskeys(ctx, w.ID, u.ID)
		must(t, "passkeys", err)
		if len(fs) != 1 || (fs[0].Method == gatehouse.MethodPasskey) != (len(ps) == 1) {
			t.Fatalf("round %d: factors %+v, %d passkeys; want one method, whole", round, fs, len(ps))
		}
	}
	// One of two passkeys may go: the method stays.
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	p1, p2 := newPasskey(u.ID, "A", "d1", t0), newPasskey(u.ID, "B", "d2", t0)
	must(t, "add", addPK(s, w.ID, p1, 10))
	must(t, "add", addPK(s, w.ID, p2, 10))
	_, err := s.DeletePasskey(ctx, w.ID, u.ID, p1.ID, keep, nil, nil)
	must(t, "delete one of two", err)
	if _, err := s.DeletePasskey(ctx, w.ID, u.ID, p2.ID, keep, nil, nil); !errors.Is(err, mfa.ErrLastMethod) {
		t.Errorf("deleting the last passkey of the last method: %v, want ErrLastMethod", err)
	}
	if ps, _ := s.ListPasskeys(ctx, w.ID, u.ID); len(ps) != 1 {
		t.Errorf("a refused delete left %d passkeys, want 1", len(ps))
	}
}
