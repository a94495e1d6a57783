package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/secret"
)

// loadKeys returns the keyring every command uses: the server key, the
// previous keys of a rotation (GATEHOUSE_PREVIOUS_SECRET_KEYS, which only
// open), and the database's own MAC key, stored on first use.
func (m Main) loadKeys(ctx context.Context, c config, store database) (*secret.Keyring, error) {
	keys, err := secret.LoadKey(m.Getenv("GATEHOUSE_SECRET_KEY"), c.DataDir)
	if err != nil {
		return nil, err
	}
	if keys, err = keys.WithPrevious(m.Getenv("GATEHOUSE_PREVIOUS_SECRET_KEYS")); err != nil {
		return nil, err
	}
	// The MAC key of code hashes outlives server keys (see
	// secret.Keyring.WithSealedMACKey). The first process to start stores
	// it; the others, and later starts, read the one stored.
	sealed, err := store.ServerKey(ctx, gatehouse.ServerKeyMAC)
	if errors.Is(err, gatehouse.ErrNotFound) {
		sealed, err = store.AddServerKey(ctx, gatehouse.ServerKeyMAC, keys.SealMACKey())
	}
	if err != nil {
		return nil, err
	}
	keys, err = keys.WithSealedMACKey(sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: the server key is not the one this database was used with; "+
			"during a rotation put the old key in GATEHOUSE_PREVIOUS_SECRET_KEYS", err)
	}
	return keys, nil
}

// sealedSets lists every kind of value sealed by the server key, with the
// owner each is bound to: what a key rotation walks. A new kind of secret
// joins the rotation here.
func sealedSets(s gatehouse.SealedStore) []secret.SealedSet {
	set := func(kind gatehouse.SealedKind, aad func(gatehouse.SealedValue) string) secret.SealedSet {
		return secret.SealedSet{
			Name: string(kind),
			List: func(ctx context.Context, after int64, limit int) ([]secret.Sealed, error) {
				vs, err := s.ListSealed(ctx, kind, after, limit)
				if err != nil {
					return nil, err
				}
				out := make([]secret.Sealed, len(vs))
				for i, v := range vs {
					out[i] = secret.Sealed{ID: v.ID, Value: v.Sealed, AAD: aad(v)}
				}
				return out, nil
			},
			Replace: func(ctx context.Context, id int64, prev, next []byte) (bool, error) {
				return s.ReplaceSealed(ctx, kind, id, prev, next)
			},
		}
	}
	return []secret.SealedSet{
		set(gatehouse.SealedServerKey, func(v gatehouse.SealedValue) string {
			if v.ID == gatehouse.ServerKeyMAC {
				return secret.MACKeyAAD
			}
			return fmt.Sprintf("server-key/%d", v.ID)
		}),
		set(gatehouse.SealedTOTPSeed, func(v gatehouse.SealedValue) string { return mfa.TOTPSeedAAD(v.WorkspaceID, v.OwnerID) }),
		set(gatehouse.SealedTwilioToken, func(v gatehouse.SealedValue) string { return gatehouse.TwilioTokenAAD(v.ID) }),
		set(gatehouse.SealedDocumentKey, func(v gatehouse.SealedValue) string { return portal.DocumentKeyAAD(v.WorkspaceID, v.ID) }),
	}
}

// keysRotate re-seals every secret under the current server key, so the
// previous keys can be dropped. It is safe while servers run (each value is
// replaced only if it has not changed since it was read) and may be run
// again, or after an interruption, at no cost.
func (m Main) keysRotate(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("keys rotate", "[--batch N]", &c)
	batch := fs.Int("batch", 100, "values re-sealed per batch")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch < 1 {
		return errors.New("--batch must be at least 1")
	}
	if m.Getenv("GATEHOUSE_PREVIOUS_SECRET_KEYS") == "" {
		fmt.Fprintln(m.Stderr, "No GATEHOUSE_PREVIOUS_SECRET_KEYS: nothing can be under an older key that this run could open; checking only.")
	}
	store, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	keys, err := m.loadKeys(ctx, c, store)
	if err != nil {
		return err
	}
	stats, err := keys.Rotate(ctx, sealedSets(store), *batch)
	changed := 0
	for _, st := range stats {
		fmt.Fprintf(m.Stdout, "%-14s %d re-sealed, %d already under the current key, %d changed meanwhile, %d unreadable\n",
			st.Name, st.Resealed, st.Current, st.Changed, st.Unreadable)
		changed += st.Changed
	}
	if err != nil {
		return err
	}
	if changed > 0 {
		fmt.Fprintln(m.Stdout, "Some values changed while this ran: run it again to check them before dropping the previous keys.")
		return nil
	}
	fmt.Fprintln(m.Stdout, "Every secret is under the current key: GATEHOUSE_PREVIOUS_SECRET_KEYS can be removed once every instance runs with the current key.")
	return nil
}
