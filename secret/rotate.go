package secret

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"strings"
)

// WithPrevious returns a copy of k that also opens values sealed under the
// previous server keys in list (GATEHOUSE_PREVIOUS_SECRET_KEYS: base64 keys
// separated by commas, in any of the forms LoadKey accepts). Seal and MAC
// keep using the current key only. An empty list returns k itself.
func (k *Keyring) WithPrevious(list string) (*Keyring, error) {
	if strings.TrimSpace(list) == "" {
		return k, nil
	}
	out := *k
	out.previous = append([]cipher.AEAD(nil), k.previous...)
	for i, part := range strings.Split(list, ",") {
		key, err := decodeKey(part)
		if err != nil {
			// Never echo the value: it is a key.
			return nil, fmt.Errorf("GATEHOUSE_PREVIOUS_SECRET_KEYS, key %d: %w", i+1, err)
		}
		aead, macKey, err := derive(key)
		if err != nil {
			return nil, err
		}
		if out.firstMAC == nil {
			out.firstMAC = macKey
		}
		out.previous = append(out.previous, aead)
	}
	return &out, nil
}

// Reseal returns sealed sealed again under the current key, and whether it
// changed. A value the current key already opens comes back unchanged, so a
// rotation run twice, or resumed, does no work twice. A value no key opens
// is an error wrapping ErrDecrypt.
func (k *Keyring) Reseal(sealed []byte, aad string) ([]byte, bool, error) {
	if _, err := open(k.aead, sealed, aad); err == nil {
		return sealed, false, nil
	}
	plaintext, err := k.Open(sealed, aad)
	if err != nil {
		return nil, false, err
	}
	return k.Seal(plaintext, aad), true, nil
}

// MACKeyAAD is the owner a database's sealed MAC key is bound to.
const MACKeyAAD = "server-key/mac"

// SealMACKey returns the MAC key a database that has none yet should keep
// (see WithSealedMACKey), sealed under the current key: the MAC subkey of
// the first previous key when there is one — a database meeting this version
// in the middle of a rotation holds codes hashed under the key in force
// before — and otherwise the current key's own.
func (k *Keyring) SealMACKey() []byte {
	if k.firstMAC != nil {
		return k.Seal(k.firstMAC, MACKeyAAD)
	}
	return k.Seal(k.macKey, MACKeyAAD)
}

// WithSealedMACKey returns a copy of k whose MACs use the key in sealed (made
// by SealMACKey, perhaps under a previous server key) instead of the one
// derived from the current server key.
//
// Codes and recovery codes are stored only as MACs, and their plaintexts
// are gone, so they cannot be hashed again under a new key. The MAC key
// therefore stays the same for the life of a database: the one derived from
// the server key in force when the database first met this version, kept in
// the database sealed like any other secret, and re-sealed by a key
// rotation. Rotating the server key then never invalidates a recovery code.
func (k *Keyring) WithSealedMACKey(sealed []byte) (*Keyring, error) {
	macKey, err := k.Open(sealed, MACKeyAAD)
	if err != nil {
		return nil, fmt.Errorf("open the database's MAC key: %w", err)
	}
	if len(macKey) != 32 {
		return nil, fmt.Errorf("%w: the database's MAC key is %d bytes", ErrDecrypt, len(macKey))
	}
	out := *k
	out.macKey = macKey
	return &out, nil
}

// Sealed is one value sealed by the server key, as a rotation sees it.
type Sealed struct {
	ID    int64
	Value []byte
	AAD   string // the owner it was sealed for
}

// SealedSet is one kind of sealed value a rotation walks: TOTP seeds,
// Twilio tokens, document keys and so on. A new kind of secret joins the
// rotation by adding a SealedSet.
type SealedSet struct {
	Name string
	// List returns up to limit values whose ID is above after, by ID.
	List func(ctx context.Context, after int64, limit int) ([]Sealed, error)
	// Replace stores next on the row with the ID only if the row still
	// holds prev (one conditional update), and reports whether it did: a
	// value changed meanwhile, by a server that seals under the current
	// key, is left as it is.
	Replace func(ctx context.Context, id int64, prev, next []byte) (bool, error)
}

// RotateStats counts what a rotation did to one set.
type RotateStats struct {
	Name string
	// Resealed were under a previous key and now are under the current one.
	Resealed int
	// Current were under the current key already.
	Current int
	// Changed were replaced by someone else between read and write; run
	// the rotation again to check them.
	Changed int
	// Unreadable opened under no key given: they stay as they were.
	Unreadable int
}

// ErrUnreadable reports sealed values that no given key opens.
var ErrUnreadable = errors.New("some sealed values open under no given key")

// Rotate re-seals every value of every set under the current key, batch
// values at a time, each with a conditional update, so it may run while
// servers serve, be stopped and run again. It returns what it did per set;
// when some value opens under no key it carries on and returns an error
// wrapping ErrUnreadable at the end.
func (k *Keyring) Rotate(ctx context.Context, sets []SealedSet, batch int) ([]RotateStats, error) {
	if batch <= 0 {
		batch = 100
	}
	var stats []RotateStats
	unreadable := 0
	for _, set := range sets {
		st := RotateStats{Name: set.Name}
		for after := int64(0); ; {
			items, err := set.List(ctx, after, batch)
			if err != nil {
				return stats, fmt.Errorf("rotate %s: %w", set.Name, err)
			}
			for _, it := range items {
				after = it.ID
				next, changed, err := k.Reseal(it.Value, it.AAD)
				switch {
				case errors.Is(err, ErrDecrypt):
					st.Unreadable++
					continue
				case err != nil:
					return stats, fmt.Errorf("rotate %s %d: %w", set.Name, it.ID, err)
				case !changed:
					st.Current++
					continue
				}
				ok, err := set.Replace(ctx, it.ID, it.Value, next)
				if err != nil {
					return stats, fmt.Errorf("rotate %s %d: %w", set.Name, it.ID, err)
				}
				if ok {
					st.Resealed++
				} else {
					st.Changed++
				}
			}
			if len(items) < batch {
				break
			}
		}
		unreadable += st.Unreadable
		stats = append(stats, st)
	}
	if unreadable > 0 {
		return stats, fmt.Errorf("%w: %d (sealed under a key that is neither GATEHOUSE_SECRET_KEY nor in GATEHOUSE_PREVIOUS_SECRET_KEYS)", ErrUnreadable, unreadable)
	}
	return stats, nil
}
