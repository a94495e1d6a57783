package web_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// authenticator is a software WebAuthn authenticator for tests through the
// real router: it makes an ES256 credential with "none" attestation and
// signs assertions, with the counter, flags and origin under the test's
// control, so the refusals (wrong origin, no user verification, counter
// regression, replay) can each be provoked on purpose.
type authenticator struct {
	tb     testing.TB
	key    *ecdsa.PrivateKey
	credID []byte
	handle []byte // the user handle given at registration
	rpID   string
	// Count is the signature counter the next answer reports; Step is
	// added after each answer (0: an authenticator that does not count).
	Count, Step uint32
	// UV sets the user-verified flag; Origin overrides the origin the
	// client data names (a look-alike site).
	UV     bool
	Origin string
}

func newAuthenticator(tb testing.TB) *authenticator {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &authenticator{tb: tb, key: key, credID: id, UV: true, Count: 1, Step: 1}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// publicKeyOptions is what a begin endpoint answers (the parts the
// authenticator reads).
type publicKeyOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Attestation        string                `json:"attestation"`
		UserVerification   string                `json:"userVerification"`
		AllowCredentials   []struct{ ID string } `json:"allowCredentials"`
		ExcludeCredentials []struct{ ID string } `json:"excludeCredentials"`
	} `json:"publicKey"`
}

func (a *authenticator) clientData(typ, challenge, origin string) []byte {
	if a.Origin != "" {
		origin = a.Origin
	}
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

func (a *authenticator) authData(rpID string, attested bool) []byte {
	h := sha256.Sum256([]byte(rpID))
	flags := byte(0x01) // user present
	if a.UV {
		flags |= 0x04
	}
	if attested {
		flags |= 0x40
	}
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, a.Count)
	a.Count += a.Step
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.credID)))
		out = append(out, a.credID...)
		x, y := a.key.X.FillBytes(make([]byte, 32)), a.key.Y.FillBytes(make([]byte, 32))
		cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
		if err != nil {
			a.tb.Fatal(err)
		}
		out = append(out, cose...)
	}
	return out
}

// create answers a registration ceremony's options, as
// navigator.credentials.create would at origin.
func (a *authenticator) create(opts publicKeyOptions, origin string) string {
	a.tb.Helper()
	a.rpID = opts.PublicKey.RP.ID
	a.handle = unb64(a.tb, opts.PublicKey.User.ID)
	cd := a.clientData("webauthn.create", opts.PublicKey.Challenge, origin)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(a.rpID, true)})
	if err != nil {
		a.tb.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64(a.credID), "rawId": b64(a.credID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64(cd), "attestationObject": b64(att), "transports": []string{"internal"}},
	})
	return string(b)
}

// get answers an assertion ceremony's options, as
// navigator.credentials.get would at origin, signing for rpID.
func (a *authenticator) get(opts publicKeyOptions, origin string) string {
	a.tb.Helper()
	rpID := opts.PublicKey.RPID
	if rpID == "" {
		rpID = a.rpID
	}
	cd := a.clientData("webauthn.get", opts.PublicKey.Challenge, origin)
	ad := a.authData(rpID, false)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.tb.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64(a.credID), "rawId": b64(a.credID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(ad), "signature": b64(sig), "userHandle": b64(a.handle)},
	})
	return string(b)
}
