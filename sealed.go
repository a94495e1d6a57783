package gatehouse

import "context"

// SealedKind names a kind of value sealed by the server key (SPEC §10). A
// key rotation walks every kind.
type SealedKind string

// The kinds of sealed values.
const (
	// SealedTOTPSeed is a factor's TOTP seed; Owner is its user.
	SealedTOTPSeed SealedKind = "totp_seed"
	// SealedTwilioToken is a workspace's Twilio auth token.
	SealedTwilioToken SealedKind = "twilio_token"
	// SealedDocumentKey is a document's data key; ID is the document's.
	SealedDocumentKey SealedKind = "document_key"
	// SealedServerKey is a key the database keeps sealed by the server key,
	// such as the MAC key (secret.Keyring.WithSealedMACKey); ID names it.
	SealedServerKey SealedKind = "server_key"
)

// ServerKeyMAC is the ID of the database's MAC key among its server keys.
const ServerKeyMAC int64 = 1

// SealedValue is one sealed value and the row it lives on.
type SealedValue struct {
	ID          int64 // the row's ID (for a Twilio token, the workspace's)
	WorkspaceID int64 // 0 for server keys
	OwnerID     int64 // the user, for a TOTP seed; 0 otherwise
	Sealed      []byte
}

// SealedStore is what a key rotation and the start-up need of the sealed
// values. Its methods serve operators and span every workspace, like
// DeleteExpiredSessions.
type SealedStore interface {
	// ListSealed returns up to limit values of the kind whose row ID is
	// above afterID, by ID; rows without a value are left out.
	ListSealed(ctx context.Context, kind SealedKind, afterID int64, limit int) ([]SealedValue, error)
	// ReplaceSealed stores next on the row only if it still holds prev,
	// with one conditional update, and reports whether it did.
	ReplaceSealed(ctx context.Context, kind SealedKind, id int64, prev, next []byte) (bool, error)
	// ServerKey returns the server key with the ID, sealed; ErrNotFound
	// when there is none.
	ServerKey(ctx context.Context, id int64) ([]byte, error)
	// AddServerKey stores the sealed key under the ID unless one is there
	// already (the first of several starting instances wins), and returns
	// the key stored.
	AddServerKey(ctx context.Context, id int64, sealed []byte) ([]byte, error)
}
