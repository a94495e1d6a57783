// Package password hashes and checks user passwords (SPEC §6): argon2id
// hashes in the PHC string format, a bound on how many hashes run at once,
// and the rules a new password has to pass.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash reports an encoded hash that is not an argon2id hash this
// package can verify. It points at a corrupt or foreign value in the store,
// never at a wrong password.
var ErrMalformedHash = errors.New("malformed password hash")

// Params are the argon2id cost parameters. They are stored with every hash,
// so changing them only affects new hashes; Verify reports older ones for an
// upgrade at the next login.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes; part of the result, so not a tuning knob for old hashes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane),
// which SPEC §6 makes the default: about 20-50 ms a hash on a server core.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on the parameters of a hash. Verify takes the parameters from the
// stored string, so without an upper bound one corrupt or planted row could
// make a login allocate gigabytes; the lower bounds refuse hashes too weak to
// have been made on purpose.
const (
	maxMemory  = 1 << 20 // KiB, 1 GiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
)

func (p Params) validate() error {
	switch {
	case p.Memory < 1 || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB out of range 1-%d", p.Memory, maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d out of range 1-%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d out of range %d-%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d out of range %d-%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Hasher hashes and verifies passwords with one set of Params. At most a
// fixed number of hashes run at once, the rest wait: each hash holds Memory
// KiB, so a login flood has to queue instead of exhausting the server's
// memory. A Hasher is safe for concurrent use; make one with NewHasher.
type Hasher struct {
	params Params
	// slots is a semaphore: sending takes a slot, receiving gives it back.
	slots chan struct{}
	// dummy is an encoded hash with the current params that no password
	// matches, for VerifyDummy.
	dummy        string
	computations atomic.Int64
}

// NewHasher returns a Hasher that hashes with p and runs at most
// maxConcurrent hashes at once; maxConcurrent <= 0 means
// runtime.GOMAXPROCS(0), as more parallel hashes than cores only add memory.
// NewHasher panics if p is out of the supported range, because that is a
// configuration mistake that must not wait for the first login to show.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if err := p.validate(); err != nil {
		panic("password: NewHasher: " + err.Error())
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	// The dummy's key is random bytes rather than the hash of some password:
	// verifying against it costs exactly what verifying against a real hash
	// with these params costs, and no password can match it.
	return &Hasher{
		params: p,
		slots:  make(chan struct{}, maxConcurrent),
		dummy:  encode(p, randomBytes(p.SaltLen), randomBytes(p.KeyLen)),
	}
}

// Computations reports how many argon2id hashes h has computed. Tests use it
// to check that every login path does the same hashing work.
func (h *Hasher) Computations() int64 { return h.computations.Load() }

// Hash returns the PHC-encoded argon2id hash of plain with a fresh random
// salt, such as $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (unpadded
// standard base64). It waits for a free slot, or returns ctx's error.
func (h *Hasher) Hash(ctx context.Context, plain string) (string, error) {
	return h.hashWithSalt(ctx, plain, randomBytes(h.params.SaltLen))
}

func (h *Hasher) hashWithSalt(ctx context.Context, plain string, salt []byte) (string, error) {
	key, err := h.derive(ctx, plain, salt, h.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether plain is the password of the encoded hash, and, when
// it is, whether the hash was made with other params than h's, so the caller
// should store a new Hash of plain. A hash that cannot be parsed gives an
// error wrapping ErrMalformedHash; an empty one (a user who has not set a
// password yet) is malformed too. Like Hash, it waits for a free slot.
func (h *Hasher) Verify(ctx context.Context, plain, encoded string) (ok, needsRehash bool, err error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, plain, salt, p)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	// Constant time, so the response time says nothing about how many
	// leading bytes of the key a guess got right.
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy does the work of a Verify against a hash with h's current
// params and always reports false. Login calls it for an unknown e-mail, so
// that answer takes as long as a wrong password and does not reveal which
// addresses have accounts (SPEC §5).
func (h *Hasher) VerifyDummy(ctx context.Context, plain string) bool {
	// Errors can only be ctx's: the dummy is well-formed. The caller answers
	// "wrong e-mail or password" either way.
	_, _, _ = h.Verify(ctx, plain, h.dummy)
	return false
}

// derive computes the argon2id key of plain once a slot is free.
func (h *Hasher) derive(ctx context.Context, plain string, salt []byte, p Params) ([]byte, error) {
	// A request that is already gone should not take a slot at all; select
	// alone would pick at random between a free slot and a closed Done.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
	}
	defer func() { <-h.slots }()
	key := argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	h.computations.Add(1)
	return key, nil
}

// randomBytes returns n bytes from crypto/rand, which cannot fail since Go
// 1.24 (it crashes the program instead of returning weak bytes).
func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

var b64 = base64.RawStdEncoding.Strict()

// encode formats a hash in the PHC string format that libargon2 and most
// other implementations use, so hashes stay portable.
func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses a string made by encode. The returned Params have SaltLen
// and KeyLen set from the decoded salt and key.
func decode(encoded string) (p Params, salt, key []byte, err error) {
	malformed := func(format string, args ...any) (Params, []byte, []byte, error) {
		// Never include the hash itself: errors end up in logs.
		return Params{}, nil, nil, fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, args...)...)
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return malformed("want $argon2id$v=…$m=…,t=…,p=…$salt$key")
	}
	if fields[1] != "argon2id" {
		return malformed("algorithm %q is not argon2id", fields[1])
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return malformed("version %q is not v=%d", fields[2], argon2.Version)
	}
	m, t, threads, ok := parseCosts(fields[3])
	if !ok {
		return malformed("parameters %q are not m=<KiB>,t=<passes>,p=<lanes>", fields[3])
	}
	if salt, err = b64.DecodeString(fields[4]); err != nil {
		return malformed("salt: %v", err)
	}
	if key, err = b64.DecodeString(fields[5]); err != nil {
		return malformed("key: %v", err)
	}
	p = Params{Memory: m, Time: t, Threads: threads, SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.validate(); err != nil {
		return malformed("%v", err)
	}
	return p, salt, key, nil
}

// parseCosts parses "m=19456,t=2,p=1", in that order.
func parseCosts(s string) (m, t uint32, p uint8, ok bool) {
	var vals [3]uint64
	parts := strings.Split(s, ",")
	if len(parts) != len(vals) {
		return 0, 0, 0, false
	}
	for i, name := range []string{"m=", "t=", "p="} {
		digits, found := strings.CutPrefix(parts[i], name)
		if !found {
			return 0, 0, 0, false
		}
		bits := 32
		if name == "p=" {
			bits = 8
		}
		v, err := strconv.ParseUint(digits, 10, bits)
		if err != nil {
			return 0, 0, 0, false
		}
		vals[i] = v
	}
	return uint32(vals[0]), uint32(vals[1]), uint8(vals[2]), true
}
