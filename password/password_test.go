package password

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// cheap keeps tests fast; the format and code paths are the same as with
// DefaultParams.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(tb testing.TB, p Params, maxConcurrent int) *Hasher {
	tb.Helper()
	return NewHasher(p, maxConcurrent)
}

func mustHash(tb testing.TB, h *Hasher, plain string) string {
	tb.Helper()
	encoded, err := h.Hash(context.Background(), plain)
	if err != nil {
		tb.Fatalf("Hash(%q): %v", plain, err)
	}
	return encoded
}

func TestHashVerify(t *testing.T) {
	h := newHasher(t, cheap, 0)
	tests := []struct {
		name  string
		plain string
	}{
		{name: "ascii", plain: "correct horse battery staple"},
		{name: "unicode", plain: "pässwörd ✓ 🔑 пароль"},
		{name: "max length", plain: strings.Repeat("é", MaxLength)},
		{name: "empty", plain: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded := mustHash(t, h, tt.plain)
			if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(encoded, want) {
				t.Errorf("Hash = %q, want prefix %q", encoded, want)
			}
			ok, rehash, err := h.Verify(context.Background(), tt.plain, encoded)
			if err != nil || !ok || rehash {
				t.Errorf("Verify = (%v, %v, %v), want (true, false, nil)", ok, rehash, err)
			}
			// A fresh salt every time: equal passwords must not give equal hashes.
			if again := mustHash(t, h, tt.plain); again == encoded {
				t.Errorf("two hashes of the same password are equal: %q", encoded)
			}
		})
	}
}

func TestVerifyWrongPassword(t *testing.T) {
	h := newHasher(t, cheap, 0)
	encoded := mustHash(t, h, "correct horse battery staple")
	tests := []struct {
		name  string
		plain string
	}{
		{name: "different", plain: "Tr0ub4dor&3"},
		{name: "case", plain: "Correct horse battery staple"},
		{name: "trailing space", plain: "correct horse battery staple "},
		{name: "prefix", plain: "correct horse battery"},
		{name: "empty", plain: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), tt.plain, encoded)
			if err != nil || ok || rehash {
				t.Errorf("Verify = (%v, %v, %v), want (false, false, nil)", ok, rehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHRzb21lc2FsdA"                      // 16 bytes
		key  = "sSCMP16cXUghmkR+xmVMb/CZGtjfHs2pNxbNGYj0drc" // 32 bytes
	)
	tests := []struct {
		name    string
		encoded string
	}{
		{name: "empty", encoded: ""},
		{name: "plain text", encoded: "hunter22"},
		{name: "bcrypt", encoded: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{name: "argon2i", encoded: "$argon2i$v=19$m=64,t=1,p=2$" + salt + "$" + key},
		{name: "argon2d", encoded: "$argon2d$v=19$m=64,t=1,p=2$" + salt + "$" + key},
		{name: "no version", encoded: "$argon2id$m=64,t=1,p=2$" + salt + "$" + key},
		{name: "version 16", encoded: "$argon2id$v=16$m=64,t=1,p=2$" + salt + "$" + key},
		{name: "missing key", encoded: "$argon2id$v=19$m=64,t=1,p=2$" + salt},
		{name: "extra field", encoded: "$argon2id$v=19$m=64,t=1,p=2$" + salt + "$" + key + "$x"},
		{name: "trailing dollar", encoded: "$argon2id$v=19$m=64,t=1,p=2$" + salt + "$" + key + "$"},
		{name: "text before", encoded: "x$argon2id$v=19$m=64,t=1,p=2$" + salt + "$" + key},
		{name: "params reordered", encoded: "$argon2id$v=19$t=1,m=64,p=2$" + salt + "$" + key},
		{name: "params missing", encoded: "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{name: "params with keyid", encoded: "$argon2id$v=19$m=64,t=1,p=2,keyid=1$" + salt + "$" + key},
		{name: "params signed", encoded: "$argon2id$v=19$m=+64,t=1,p=2$" + salt + "$" + key},
		{name: "params with space", encoded: "$argon2id$v=19$m=64, t=1,p=2$" + salt + "$" + key},
		{name: "memory zero", encoded: "$argon2id$v=19$m=0,t=1,p=2$" + salt + "$" + key},
		{name: "memory huge", encoded: "$argon2id$v=19$m=4194304,t=1,p=2$" + salt + "$" + key},
		{name: "memory overflows", encoded: "$argon2id$v=19$m=4294967296,t=1,p=2$" + salt + "$" + key},
		{name: "time zero", encoded: "$argon2id$v=19$m=64,t=0,p=2$" + salt + "$" + key},
		{name: "time huge", encoded: "$argon2id$v=19$m=64,t=1000,p=2$" + salt + "$" + key},
		{name: "threads zero", encoded: "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{name: "threads overflow", encoded: "$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key},
		{name: "salt not base64", encoded: "$argon2id$v=19$m=64,t=1,p=2$c29tZX*hbHRzb21lc2FsdA$" + key},
		{name: "salt padded", encoded: "$argon2id$v=19$m=64,t=1,p=2$" + salt + "==$" + key},
		{name: "key url alphabet", encoded: "$argon2id$v=19$m=64,t=1,p=2$" + salt + "$" + strings.NewReplacer("+", "-", "/", "_").Replace(key)},
		{name: "salt too short", encoded: "$argon2id$v=19$m=64,t=1,p=2$c2FsdA$" + key},
		{name: "salt empty", encoded: "$argon2id$v=19$m=64,t=1,p=2$$" + key},
		{name: "key too short", encoded: "$argon2id$v=19$m=64,t=1,p=2$" + salt + "$c2hvcnQ"},
		{name: "key empty", encoded: "$argon2id$v=19$m=64,t=1,p=2$" + salt + "$"},
	}
	h := newHasher(t, cheap, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.Computations()
			ok, rehash, err := h.Verify(context.Background(), "Tr0ub4dor&3", tt.encoded)
			if !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify error = %v, want ErrMalformedHash", err)
			}
			if ok || rehash {
				t.Errorf("Verify = (%v, %v), want (false, false)", ok, rehash)
			}
			if err != nil && tt.encoded != "" && strings.Contains(err.Error(), tt.encoded) {
				t.Errorf("error %q repeats the stored hash", err)
			}
			if got := h.Computations() - before; got != 0 {
				t.Errorf("malformed hash cost %d computations, want 0", got)
			}
		})
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	const plain = "correct horse battery staple"
	encoded := mustHash(t, newHasher(t, cheap, 0), plain)
	with := func(change func(p *Params)) Params {
		p := cheap
		change(&p)
		return p
	}
	tests := []struct {
		name   string
		params Params
		plain  string
		wantOK bool
		want   bool
	}{
		{name: "same params", params: cheap, plain: plain, wantOK: true, want: false},
		{name: "more memory", params: with(func(p *Params) { p.Memory = 128 }), plain: plain, wantOK: true, want: true},
		{name: "more time", params: with(func(p *Params) { p.Time = 2 }), plain: plain, wantOK: true, want: true},
		{name: "more threads", params: with(func(p *Params) { p.Threads = 2 }), plain: plain, wantOK: true, want: true},
		{name: "longer salt", params: with(func(p *Params) { p.SaltLen = 32 }), plain: plain, wantOK: true, want: true},
		{name: "longer key", params: with(func(p *Params) { p.KeyLen = 64 }), plain: plain, wantOK: true, want: true},
		{name: "defaults", params: DefaultParams, plain: plain, wantOK: true, want: true},
		{name: "wrong password never asks for a rehash", params: DefaultParams, plain: "Tr0ub4dor&3", wantOK: false, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHasher(t, tt.params, 0)
			ok, rehash, err := h.Verify(context.Background(), tt.plain, encoded)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.wantOK || rehash != tt.want {
				t.Errorf("Verify = (%v, %v), want (%v, %v)", ok, rehash, tt.wantOK, tt.want)
			}
			if !ok {
				return
			}
			// The upgrade path: the new hash has the new params and verifies
			// without asking for another upgrade.
			upgraded := mustHash(t, h, tt.plain)
			ok, rehash, err = h.Verify(context.Background(), tt.plain, upgraded)
			if err != nil || !ok || rehash {
				t.Errorf("Verify(upgraded) = (%v, %v, %v), want (true, false, nil)", ok, rehash, err)
			}
		})
	}
}

// TestKnownAnswers checks the encoding against libargon2, the reference
// implementation, so hashes stay portable. The vectors come from Debian's
// argon2 command (20171227), e.g.
//
//	echo -n "correct horse battery staple" | argon2 gatehouse-salt16 -id -t 2 -k 19456 -p 1 -l 32 -e
func TestKnownAnswers(t *testing.T) {
	tests := []struct {
		name   string
		params Params
		plain  string
		salt   string
		want   string
	}{
		{
			name:   "default params",
			params: DefaultParams,
			plain:  "correct horse battery staple",
			salt:   "gatehouse-salt16",
			want:   "$argon2id$v=19$m=19456,t=2,p=1$Z2F0ZWhvdXNlLXNhbHQxNg$bsXFENIwjcWvJE0fNSKGJUdiUsIMdeBM0ApgamQdnew",
		},
		{
			name:   "cheap, two passes",
			params: Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
			plain:  "correct horse battery staple",
			salt:   "gatehouse-salt16",
			want:   "$argon2id$v=19$m=64,t=2,p=1$Z2F0ZWhvdXNlLXNhbHQxNg$2sFfKHXMXxnDeLEZui9br/4zgQIZuUwbf24G4VQ3JAg",
		},
		{
			name:   "two lanes",
			params: Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32},
			plain:  "Tr0ub4dor&3",
			salt:   "somesaltsomesalt",
			want:   "$argon2id$v=19$m=64,t=1,p=2$c29tZXNhbHRzb21lc2FsdA$sSCMP16cXUghmkR+xmVMb/CZGtjfHs2pNxbNGYj0drc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.params
			key := argon2.IDKey([]byte(tt.plain), []byte(tt.salt), p.Time, p.Memory, p.Threads, p.KeyLen)
			if got := encode(p, []byte(tt.salt), key); got != tt.want {
				t.Errorf("encode(IDKey) = %q\nwant            %q", got, tt.want)
			}
			h := newHasher(t, p, 0)
			got, err := h.hashWithSalt(context.Background(), tt.plain, []byte(tt.salt))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("hashWithSalt = %q\nwant           %q", got, tt.want)
			}
			ok, rehash, err := h.Verify(context.Background(), tt.plain, tt.want)
			if err != nil || !ok || rehash {
				t.Errorf("Verify = (%v, %v, %v), want (true, false, nil)", ok, rehash, err)
			}
		})
	}
}

func TestNewHasherConcurrency(t *testing.T) {
	tests := []struct {
		name          string
		maxConcurrent int
		want          int
	}{
		{name: "zero means GOMAXPROCS", maxConcurrent: 0, want: runtime.GOMAXPROCS(0)},
		{name: "negative means GOMAXPROCS", maxConcurrent: -1, want: runtime.GOMAXPROCS(0)},
		{name: "explicit", maxConcurrent: 3, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cap(newHasher(t, cheap, tt.maxConcurrent).slots); got != tt.want {
				t.Errorf("slots = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	with := func(change func(p *Params)) Params {
		p := cheap
		change(&p)
		return p
	}
	tests := []struct {
		name   string
		params Params
	}{
		{name: "zero value", params: Params{}},
		{name: "no memory", params: with(func(p *Params) { p.Memory = 0 })},
		{name: "too much memory", params: with(func(p *Params) { p.Memory = maxMemory + 1 })},
		{name: "no time", params: with(func(p *Params) { p.Time = 0 })},
		{name: "no threads", params: with(func(p *Params) { p.Threads = 0 })},
		{name: "short salt", params: with(func(p *Params) { p.SaltLen = 4 })},
		{name: "short key", params: with(func(p *Params) { p.KeyLen = 8 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHasher(%+v) did not panic", tt.params)
				}
			}()
			NewHasher(tt.params, 1)
		})
	}
}

// TestWaitForSlot holds the only slot, as a long hash would, and checks that
// Hash and Verify wait for it and give up with their context.
func TestWaitForSlot(t *testing.T) {
	h := newHasher(t, cheap, 1)
	encoded := mustHash(t, h, "correct horse battery staple")
	start := h.Computations()

	h.slots <- struct{}{} // taken, as by a hash in progress

	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		// cancelWhileWaiting cancels only after the call started.
		cancelWhileWaiting bool
		want               error
	}{
		{
			name: "cancelled before",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			want: context.Canceled,
		},
		{
			name:               "cancelled while waiting",
			ctx:                func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			cancelWhileWaiting: true,
			want:               context.Canceled,
		},
		{
			name: "deadline while waiting",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 10*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
	}
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{name: "Hash", call: func(ctx context.Context) error { _, err := h.Hash(ctx, "x"); return err }},
		{name: "Verify", call: func(ctx context.Context) error { _, _, err := h.Verify(ctx, "x", encoded); return err }},
	}
	for _, c := range calls {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				ctx, cancel := tt.ctx()
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- c.call(ctx) }()
				if tt.cancelWhileWaiting {
					select {
					case err := <-done:
						t.Fatalf("returned %v while the slot was taken", err)
					case <-time.After(10 * time.Millisecond):
					}
					cancel()
				}
				select {
				case err := <-done:
					if !errors.Is(err, tt.want) {
						t.Errorf("error = %v, want %v", err, tt.want)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("still waiting after the context ended")
				}
			})
		}
	}
	if got := h.Computations() - start; got != 0 {
		t.Errorf("computed %d hashes without a slot", got)
	}

	<-h.slots // the long hash finishes
	ok, _, err := h.Verify(context.Background(), "correct horse battery staple", encoded)
	if err != nil || !ok {
		t.Errorf("Verify after the slot freed = (%v, %v), want (true, nil)", ok, err)
	}
}

// TestComputations checks that the login paths cost the same hashing work, so
// an unknown e-mail cannot be told from a wrong password by timing.
func TestComputations(t *testing.T) {
	const plain = "correct horse battery staple"
	h := newHasher(t, cheap, 0)
	encoded := mustHash(t, h, plain)
	tests := []struct {
		name string
		do   func(ctx context.Context)
		want int64
	}{
		{name: "hash", do: func(ctx context.Context) { h.Hash(ctx, plain) }, want: 1},
		{name: "right password", do: func(ctx context.Context) { h.Verify(ctx, plain, encoded) }, want: 1},
		{name: "wrong password", do: func(ctx context.Context) { h.Verify(ctx, "wrong", encoded) }, want: 1},
		{name: "unknown e-mail", do: func(ctx context.Context) { h.VerifyDummy(ctx, "wrong") }, want: 1},
		{name: "unknown e-mail again", do: func(ctx context.Context) { h.VerifyDummy(ctx, plain) }, want: 1},
		{name: "malformed hash", do: func(ctx context.Context) { h.Verify(ctx, plain, "$argon2id$") }, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.Computations()
			tt.do(context.Background())
			if got := h.Computations() - before; got != tt.want {
				t.Errorf("computations = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newHasher(t, cheap, 0)
	p, _, _, err := decode(h.dummy)
	if err != nil {
		t.Fatalf("dummy hash: %v", err)
	}
	if p != h.params {
		t.Errorf("dummy params = %+v, want the hasher's %+v", p, h.params)
	}
	for _, plain := range []string{"", "correct horse battery staple", h.dummy} {
		if h.VerifyDummy(context.Background(), plain) {
			t.Errorf("VerifyDummy(%q) = true", plain)
		}
	}
	if other := newHasher(t, cheap, 0); other.dummy == h.dummy {
		t.Error("two hashers share a dummy hash")
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		plain      string
		workspaces []string
		want       error
	}{
		{name: "empty", plain: "", want: ErrTooShort},
		{name: "seven", plain: "sevench", want: ErrTooShort},
		{name: "seven runes in more bytes", plain: "ääääääs", want: ErrTooShort},
		{name: "eight", plain: "zq8vkw3x", want: nil},
		{name: "eight runes", plain: "ζωήκαλήx", want: nil},
		{name: "spaces allowed", plain: "correct horse battery", want: nil},
		{name: "max", plain: strings.Repeat("é", MaxLength), want: nil},
		{name: "max plus one", plain: strings.Repeat("é", MaxLength+1), want: ErrTooLong},
		{name: "common", plain: "password", want: ErrCommon},
		{name: "common any case", plain: "PassWord", want: ErrCommon},
		{name: "common longer", plain: "iloveyou", want: ErrCommon},
		{name: "common with digits", plain: "password1", want: ErrCommon},
		{name: "common with space is not exact", plain: "password ", want: nil},
		{name: "workspace name with digits", plain: "Acme2024!", workspaces: []string{"Acme"}, want: ErrWorkspaceName},
		{name: "workspace name lowercase", plain: "acme", workspaces: []string{"Acme"}, want: ErrTooShort},
		{name: "workspace name padded", plain: "--acme--", workspaces: []string{"Acme"}, want: ErrWorkspaceName},
		{name: "workspace name with spaces", plain: "acme ltd 2024", workspaces: []string{"Acme Ltd."}, want: ErrWorkspaceName},
		{name: "second name", plain: "Acme2024!", workspaces: []string{"Globex", "Acme"}, want: ErrWorkspaceName},
		{name: "unicode name", plain: "ÉCOLE-2024", workspaces: []string{"École"}, want: ErrWorkspaceName},
		{name: "other words allowed", plain: "correct horse battery", workspaces: []string{"Acme"}, want: nil},
		{name: "name inside is allowed", plain: "acme rocket skates", workspaces: []string{"Acme"}, want: nil},
		{name: "name doubled is allowed", plain: "acmeacme", workspaces: []string{"Acme"}, want: nil},
		{name: "short names ignored", plain: "xy345678", workspaces: []string{"XY"}, want: nil},
		{name: "digits only never match", plain: "93845127", workspaces: []string{"42"}, want: nil},
		{name: "no names", plain: "Acme2024!", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Check(tt.plain, tt.workspaces...); got != tt.want {
				t.Errorf("Check(%q, %q) = %v, want %v", tt.plain, tt.workspaces, got, tt.want)
			}
		})
	}
}

func TestIsWorkspaceName(t *testing.T) {
	tests := []struct {
		name  string
		plain string
		names []string
		want  bool
	}{
		{name: "same", plain: "acme", names: []string{"Acme"}, want: true},
		{name: "case and digits", plain: "ACME1", names: []string{"acme"}, want: true},
		{name: "different", plain: "acne", names: []string{"Acme"}, want: false},
		{name: "two letters", plain: "ab", names: []string{"AB"}, want: false},
		{name: "three letters", plain: "abc!", names: []string{"A.B.C."}, want: true},
		{name: "empty name", plain: "12345678", names: []string{""}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isWorkspaceName(tt.plain, tt.names); got != tt.want {
				t.Errorf("isWorkspaceName(%q, %q) = %v, want %v", tt.plain, tt.names, got, tt.want)
			}
		})
	}
}

func TestErrorTexts(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "too short", err: ErrTooShort, want: "Use at least 8 characters."},
		{name: "too long", err: ErrTooLong, want: "Use at most 256 characters."},
		{name: "common", err: ErrCommon, want: "That password is too common — choose another."},
		{name: "workspace name", err: ErrWorkspaceName, want: "Don't use the workspace's name as your password."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommonList(t *testing.T) {
	set := commonPasswords()
	// SPEC §6 asks for at least 10,000 common passwords; count only those
	// Check can reach, as shorter ones already fail the length rule.
	reachable := 0
	for p := range set {
		if p != strings.ToLower(p) || strings.TrimSpace(p) != p || p == "" {
			t.Errorf("entry %q is not a trimmed, lowercase password", p)
		}
		if utf8.RuneCountInString(p) >= MinLength {
			reachable++
		}
	}
	if reachable < 10000 {
		t.Errorf("%d common passwords of at least %d characters (of %d), want >= 10000", reachable, MinLength, len(set))
	}
	for _, p := range []string{"123456", "password", "qwerty", "trustno1", "pic's"} {
		if _, ok := set[p]; !ok {
			t.Errorf("%q missing from the common list", p)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
