// Package secret holds the server key and what is derived from it (SPEC §10):
// AES-256-GCM sealing for secrets kept at rest (TOTP seeds, Twilio tokens)
// and HMAC-SHA256 for values stored only as keyed hashes (one-time and
// recovery codes).
//
// One 32-byte server key comes from GATEHOUSE_SECRET_KEY or from a 0600 key
// file in the data dir (see LoadKey). It is never used directly: HKDF-SHA256
// derives an independent subkey for each purpose, so a weakness in how one
// purpose uses its key cannot leak into another.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the size in bytes of the server key.
const KeySize = 32

// ErrDecrypt reports a sealed value that cannot be opened: it was sealed
// under another key or for another owner (AAD), was altered, or is not a
// sealed value at all. Open wraps it; test with errors.Is.
var ErrDecrypt = errors.New("cannot decrypt sealed secret")

// HKDF info labels. Distinct labels make the subkeys independent; the
// version lets a future format derive fresh keys from the same server key.
const (
	sealInfo = "gatehouse/v1 seal aes-256-gcm"
	macInfo  = "gatehouse/v1 mac hmac-sha256"
)

// sealVersion is the first byte of every sealed value, so the format (cipher,
// nonce size, key derivation) can change later without guessing what an old
// value is.
const sealVersion byte = 1

const (
	nonceSize = 12 // the standard GCM nonce
	tagSize   = 16
)

// Keyring holds the subkeys derived from the server key, and those of the
// previous keys during a key rotation. It is safe for concurrent use once
// built (WithPrevious and UseSealedMACKey are for start-up). It never keeps
// a server key itself.
type Keyring struct {
	aead   cipher.AEAD
	macKey []byte
	// previous open values sealed under earlier server keys
	// (GATEHOUSE_PREVIOUS_SECRET_KEYS); Seal never uses them.
	previous []cipher.AEAD
	// firstMAC is the MAC subkey of the first previous key (SealMACKey).
	firstMAC []byte
}

// NewKeyring derives a Keyring from a 32-byte server key.
func NewKeyring(key []byte) (*Keyring, error) {
	aead, macKey, err := derive(key)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead, macKey: macKey}, nil
}

// derive returns the sealing cipher and the MAC subkey of a server key.
func derive(key []byte) (cipher.AEAD, []byte, error) {
	if len(key) != KeySize {
		return nil, nil, fmt.Errorf("server key is %d bytes, want %d", len(key), KeySize)
	}
	// No salt: the server key is already uniformly random, and the info
	// labels alone separate the subkeys (RFC 5869 §3.1).
	sealKey, err := hkdf.Key(sha256.New, key, nil, sealInfo, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("derive seal key: %w", err)
	}
	macKey, err := hkdf.Key(sha256.New, key, nil, macInfo, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("derive mac key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, nil, fmt.Errorf("seal cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("seal cipher: %w", err)
	}
	return aead, macKey, nil
}

// String hides the keys, so a Keyring that ends up in a log line or an error
// message with %v or %+v never prints key material.
func (k *Keyring) String() string { return "secret.Keyring{redacted}" }

// GoString hides the keys from %#v, like String.
func (k *Keyring) GoString() string { return k.String() }

// Seal encrypts plaintext with AES-256-GCM and returns
// version || nonce || ciphertext+tag.
//
// aad names the owner of the secret, such as "totp/ws:3/user:7". It is
// authenticated but not stored: Open must be given the same aad, so a sealed
// value copied into another user's or workspace's row does not open there.
//
// The nonce is random. With 96-bit random nonces a key must seal fewer than
// about 2^32 values, far beyond the number of secrets a server keeps.
func (k *Keyring) Seal(plaintext []byte, aad string) []byte {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+tagSize)
	out[0] = sealVersion
	// crypto/rand.Read never returns an error; it crashes the program if the
	// system's source of randomness fails, rather than sealing with a
	// predictable nonce.
	rand.Read(out[1 : 1+nonceSize])
	return k.aead.Seal(out, out[1:1+nonceSize], plaintext, additionalData(aad))
}

// Open decrypts a value made by Seal with the same aad, under the current
// server key or, during a rotation, a previous one. Every failure wraps
// ErrDecrypt.
func (k *Keyring) Open(sealed []byte, aad string) ([]byte, error) {
	plaintext, err := open(k.aead, sealed, aad)
	if err == nil || len(k.previous) == 0 {
		return plaintext, err
	}
	for _, prev := range k.previous {
		if plaintext, perr := open(prev, sealed, aad); perr == nil {
			return plaintext, nil
		}
	}
	return nil, err
}

func open(aead cipher.AEAD, sealed []byte, aad string) ([]byte, error) {
	if len(sealed) < 1+nonceSize+tagSize {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrDecrypt, len(sealed))
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrDecrypt, sealed[0])
	}
	nonce, ciphertext := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	plaintext, err := aead.Open(nil, nonce, ciphertext, additionalData(aad))
	if err != nil {
		// GCM does not say why; it is a wrong key, a wrong owner or an
		// altered value, and the caller treats them all alike.
		return nil, fmt.Errorf("%w: authentication failed (wrong key, wrong owner or altered value)", ErrDecrypt)
	}
	return plaintext, nil
}

// additionalData authenticates the version byte along with the owner, so the
// header cannot be changed independently of the ciphertext.
func additionalData(aad string) []byte {
	b := make([]byte, 0, 1+len(aad))
	b = append(b, sealVersion)
	return append(b, aad...)
}

// MAC returns HMAC-SHA256, under the MAC subkey, of the parts. Each part is
// prefixed with its length, so no two different lists of parts feed the same
// bytes to the HMAC: MAC("ab", "c") differs from MAC("a", "bc").
//
// Callers store MACs instead of codes and find a code by its MAC, so a
// leaked database does not reveal codes, and without the server key a
// six-digit code cannot be found by trying all million values against the
// hash. Start the parts with a purpose label and bind the owner, such as
// MAC("recovery", "ws:3", "user:7", code), so a MAC made for one purpose or
// user never matches another.
func (k *Keyring) MAC(parts ...string) []byte {
	m := hmac.New(sha256.New, k.macKey)
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}
