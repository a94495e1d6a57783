package secret

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func keyNumber(n byte) []byte { return bytes.Repeat([]byte{n}, KeySize) }

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func ring(tb testing.TB, current []byte, previous ...[]byte) *Keyring {
	tb.Helper()
	k, err := NewKeyring(current)
	if err != nil {
		tb.Fatal(err)
	}
	var list []string
	for _, p := range previous {
		list = append(list, b64(p))
	}
	k, err = k.WithPrevious(strings.Join(list, ","))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestWithPrevious(t *testing.T) {
	old, mid, cur := keyNumber(1), keyNumber(2), keyNumber(3)
	sealedOld := ring(t, old).Seal([]byte("seed-1"), "totp/ws:1/user:1")
	sealedMid := ring(t, mid).Seal([]byte("seed-2"), "totp/ws:1/user:2")

	k := ring(t, cur, mid, old)
	for _, tt := range []struct {
		sealed []byte
		aad    string
		want   string
	}{
		{sealedOld, "totp/ws:1/user:1", "seed-1"},
		{sealedMid, "totp/ws:1/user:2", "seed-2"},
	} {
		got, err := k.Open(tt.sealed, tt.aad)
		if err != nil || string(got) != tt.want {
			t.Errorf("Open = %q, %v; want %q", got, err, tt.want)
		}
	}
	// The owner binding still holds under a previous key.
	if _, err := k.Open(sealedOld, "totp/ws:1/user:2"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open with another owner = %v, want ErrDecrypt", err)
	}
	// Seal uses the current key only: the current key alone opens it.
	fresh := k.Seal([]byte("x"), "a")
	if _, err := ring(t, cur).Open(fresh, "a"); err != nil {
		t.Errorf("a value sealed during the rotation does not open under the current key alone: %v", err)
	}
	if _, err := ring(t, old).Open(fresh, "a"); err == nil {
		t.Errorf("a value sealed during the rotation opens under a previous key")
	}
	// Without the previous keys, the old values no longer open.
	if _, err := ring(t, cur).Open(sealedOld, "totp/ws:1/user:1"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open without the previous key = %v, want ErrDecrypt", err)
	}
	// WithPrevious leaves the original keyring alone.
	base := ring(t, cur)
	if _, err := base.WithPrevious(b64(old)); err != nil {
		t.Fatal(err)
	}
	if _, err := base.Open(sealedOld, "totp/ws:1/user:1"); err == nil {
		t.Errorf("WithPrevious changed the keyring it was called on")
	}
}

func TestWithPreviousRefusesBadKeys(t *testing.T) {
	k := ring(t, keyNumber(3))
	for _, list := range []string{"not-base64!", b64(keyNumber(1)) + ",c2hvcnQ=", ","} {
		_, err := k.WithPrevious(list)
		if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_PREVIOUS_SECRET_KEYS") {
			t.Errorf("WithPrevious(%q) = %v, want an error naming the variable", list, err)
		}
		if err != nil && strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	// Spaces around the commas are fine.
	if _, err := k.WithPrevious(" " + b64(keyNumber(1)) + " , " + b64(keyNumber(2)) + " "); err != nil {
		t.Errorf("WithPrevious with spaces: %v", err)
	}
}

func TestReseal(t *testing.T) {
	old, cur := keyNumber(1), keyNumber(2)
	k := ring(t, cur, old)
	sealed := ring(t, old).Seal([]byte("token"), "twilio/ws:4")
	next, changed, err := k.Reseal(sealed, "twilio/ws:4")
	if err != nil || !changed {
		t.Fatalf("Reseal = %v, %v; want changed", changed, err)
	}
	if got, err := ring(t, cur).Open(next, "twilio/ws:4"); err != nil || string(got) != "token" {
		t.Errorf("resealed value under the current key alone = %q, %v", got, err)
	}
	again, changed, err := k.Reseal(next, "twilio/ws:4")
	if err != nil || changed || !bytes.Equal(again, next) {
		t.Errorf("Reseal of a current value = changed %v, %v; want it unchanged", changed, err)
	}
	if _, _, err := k.Reseal(ring(t, keyNumber(9)).Seal([]byte("x"), "a"), "a"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Reseal of a value under an unknown key = %v, want ErrDecrypt", err)
	}
}

// TestSealedMACKey checks that MACs survive a rotation: the MAC key kept
// sealed in the database, re-sealed under the new server key, gives the
// same MACs, while the new server key's own derived MAC key would not.
func TestSealedMACKey(t *testing.T) {
	old, cur := keyNumber(1), keyNumber(2)
	first := ring(t, old)
	stored := first.SealMACKey()
	k1, err := first.WithSealedMACKey(stored)
	if err != nil {
		t.Fatal(err)
	}
	want := first.MAC("recovery", "ws:1", "user:1", "abcd-efgh")
	if got := k1.MAC("recovery", "ws:1", "user:1", "abcd-efgh"); !bytes.Equal(got, want) {
		t.Fatalf("the stored MAC key differs from the derived one on first use")
	}

	during := ring(t, cur, old)
	resealed, changed, err := during.Reseal(stored, MACKeyAAD)
	if err != nil || !changed {
		t.Fatalf("reseal the MAC key: %v, %v", changed, err)
	}
	after, err := ring(t, cur).WithSealedMACKey(resealed)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.MAC("recovery", "ws:1", "user:1", "abcd-efgh"); !bytes.Equal(got, want) {
		t.Errorf("after the rotation the MAC changed: recovery codes would stop working")
	}
	if bytes.Equal(ring(t, cur).MAC("recovery", "ws:1", "user:1", "abcd-efgh"), want) {
		t.Fatalf("the new key's derived MAC equals the old one: this test proves nothing")
	}
	if _, err := ring(t, keyNumber(9)).WithSealedMACKey(resealed); !errors.Is(err, ErrDecrypt) {
		t.Errorf("WithSealedMACKey under a wrong key = %v, want ErrDecrypt", err)
	}
}

// memSet is a SealedSet over a map, whose Replace can be made to lose a
// race.
type memSet struct {
	rows    map[int64][]byte
	aad     func(id int64) string
	lists   int
	meddle  func(id int64) // runs between a List and the Replace of id
	replace int
}

func (m *memSet) set(name string) SealedSet {
	return SealedSet{
		Name: name,
		List: func(_ context.Context, after int64, limit int) ([]Sealed, error) {
			m.lists++
			var ids []int64
			for id := range m.rows {
				if id > after {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			var out []Sealed
			for _, id := range ids[:min(limit, len(ids))] {
				out = append(out, Sealed{ID: id, Value: m.rows[id], AAD: m.aad(id)})
			}
			return out, nil
		},
		Replace: func(_ context.Context, id int64, prev, next []byte) (bool, error) {
			if m.meddle != nil {
				m.meddle(id)
			}
			if !bytes.Equal(m.rows[id], prev) {
				return false, nil
			}
			m.replace++
			m.rows[id] = next
			return true, nil
		},
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	old, cur := keyNumber(1), keyNumber(2)
	oldRing := ring(t, old)
	k := ring(t, cur, old)
	aad := func(id int64) string { return fmt.Sprintf("totp/ws:1/user:%d", id) }
	seeds := &memSet{rows: map[int64][]byte{}, aad: aad}
	for id := int64(1); id <= 7; id++ {
		seeds.rows[id] = oldRing.Seal([]byte(fmt.Sprint("seed-", id)), aad(id))
	}
	seeds.rows[8] = k.Seal([]byte("seed-8"), aad(8)) // enrolled during the rotation
	tokens := &memSet{rows: map[int64][]byte{3: oldRing.Seal([]byte("tok"), "twilio/ws:3")}, aad: func(id int64) string { return fmt.Sprintf("twilio/ws:%d", id) }}
	// A user re-enrolls while the rotation runs: row 5 changes between the
	// read and the write, and the new value must survive.
	reenrolled := k.Seal([]byte("seed-5-new"), aad(5))
	seeds.meddle = func(id int64) {
		if id == 5 {
			seeds.rows[5] = reenrolled
		}
	}

	stats, err := k.Rotate(ctx, []SealedSet{seeds.set("totp"), tokens.set("twilio")}, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []RotateStats{{Name: "totp", Resealed: 6, Current: 1, Changed: 1}, {Name: "twilio", Resealed: 1}}
	if !slices.Equal(stats, want) {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}
	if seeds.lists != 3 {
		t.Errorf("%d batches of 3 for 8 rows, want 3", seeds.lists)
	}
	if !bytes.Equal(seeds.rows[5], reenrolled) {
		t.Errorf("the rotation overwrote a value that changed meanwhile")
	}
	newOnly := ring(t, cur)
	for id, v := range seeds.rows {
		got, err := newOnly.Open(v, aad(id))
		wantSeed := fmt.Sprint("seed-", id)
		if id == 5 {
			wantSeed = "seed-5-new"
		}
		if err != nil || string(got) != wantSeed {
			t.Errorf("seed %d under the new key alone = %q, %v; want %q", id, got, err, wantSeed)
		}
	}
	if got, err := newOnly.Open(tokens.rows[3], "twilio/ws:3"); err != nil || string(got) != "tok" {
		t.Errorf("token under the new key alone = %q, %v", got, err)
	}

	// Run again (resumed, or by mistake): nothing is written.
	seeds.meddle, seeds.replace, tokens.replace = nil, 0, 0
	stats, err = k.Rotate(ctx, []SealedSet{seeds.set("totp"), tokens.set("twilio")}, 3)
	if err != nil || seeds.replace+tokens.replace != 0 {
		t.Errorf("second run wrote %d values (%v), want none", seeds.replace+tokens.replace, err)
	}
	if want := []RotateStats{{Name: "totp", Current: 8}, {Name: "twilio", Current: 1}}; !slices.Equal(stats, want) {
		t.Errorf("second run stats = %+v, want %+v", stats, want)
	}
}

func TestRotateUnreadable(t *testing.T) {
	k := ring(t, keyNumber(2), keyNumber(1))
	aad := func(id int64) string { return "a" }
	set := &memSet{rows: map[int64][]byte{
		1: ring(t, keyNumber(9)).Seal([]byte("x"), "a"), // under a key not given
		2: ring(t, keyNumber(1)).Seal([]byte("y"), "a"),
	}, aad: aad}
	stats, err := k.Rotate(context.Background(), []SealedSet{set.set("x")}, 10)
	if !errors.Is(err, ErrUnreadable) {
		t.Errorf("Rotate = %v, want ErrUnreadable", err)
	}
	if want := []RotateStats{{Name: "x", Resealed: 1, Unreadable: 1}}; !slices.Equal(stats, want) {
		t.Errorf("stats = %+v, want %+v: the rotation must carry on past an unreadable value", stats, want)
	}
}

// TestSealMACKeyMidRotation checks the MAC key a database gets when it first
// meets this version during a rotation: the previous key's, under which its
// codes were hashed.
func TestSealMACKeyMidRotation(t *testing.T) {
	old, cur := keyNumber(1), keyNumber(2)
	want := ring(t, old).MAC("recovery", "x")
	k := ring(t, cur, old)
	k2, err := k.WithSealedMACKey(k.SealMACKey())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.MAC("recovery", "x"), want) {
		t.Errorf("mid-rotation the stored MAC key is not the previous key's")
	}
}
