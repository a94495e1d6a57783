package secret_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/secret"
)

// FuzzOpen hands Open any sealed bytes and owner (a TOTP seed, Twilio
// token or document key read back from a tampered database, under a
// keyring that also holds a previous key): it never panics, every failure
// is ErrDecrypt, and only a value sealed for that owner opens, to exactly
// what was sealed.
func FuzzOpen(f *testing.F) {
	old, err := secret.NewKeyring(bytes.Repeat([]byte{1}, secret.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	k, err := secret.NewKeyring(bytes.Repeat([]byte{2}, secret.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	k, err = k.WithPrevious(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, secret.KeySize)))
	if err != nil {
		f.Fatal(err)
	}
	const owner = "totp/ws:3/user:7"
	plain := []byte("JBSWY3DPEHPK3PXP")
	sealed, prevSealed := k.Seal(plain, owner), old.Seal(plain, owner)
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	for _, s := range []struct {
		sealed []byte
		aad    string
	}{
		{sealed, owner}, {prevSealed, owner}, {sealed, "totp/ws:3/user:8"}, {flipped, owner}, {sealed[:20], owner},
		{nil, owner}, {append([]byte{9}, sealed[1:]...), owner}, {append(bytes.Clone(sealed), 0), owner}, {sealed, ""},
	} {
		f.Add(s.sealed, s.aad)
	}
	f.Fuzz(func(t *testing.T, in []byte, aad string) {
		got, err := k.Open(in, aad)
		if err != nil {
			if !errors.Is(err, secret.ErrDecrypt) {
				t.Fatalf("error %v is not ErrDecrypt", err)
			}
			return
		}
		// Only a value sealed for this owner opens, to what was sealed.
		// (Seal's nonce is random, so the seeds a fuzz worker gets were
		// sealed in another process: the test cannot compare bytes, only
		// what they open to.)
		if aad != owner || !bytes.Equal(got, plain) {
			t.Fatalf("opened %x under %q to %q", in, aad, got)
		}
	})
}
