package secret

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// testKey has bytes whose base64 contains '+' and '/' (standard alphabet)
// and '-' and '_' (URL alphabet), so the encodings really differ.
func testKey() []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = byte(0xf8 + i%8)
	}
	return k
}

func newKeyring(tb testing.TB) *Keyring {
	tb.Helper()
	k, err := NewKeyring(testKey())
	if err != nil {
		tb.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func TestNewKeyringKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKeyring(make([]byte, n)); err == nil {
			t.Errorf("NewKeyring(%d bytes): want error", n)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := newKeyring(t)
	for _, plain := range [][]byte{nil, []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), bytes.Repeat([]byte{0}, 1000)} {
		sealed := k.Seal(plain, "totp/ws:3/user:7")
		if want := 1 + nonceSize + len(plain) + tagSize; len(sealed) != want {
			t.Errorf("len(sealed) = %d, want %d", len(sealed), want)
		}
		if len(plain) > 8 && bytes.Contains(sealed, plain) {
			t.Error("sealed value contains the plaintext")
		}
		got, err := k.Open(sealed, "totp/ws:3/user:7")
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealDiffersEachTime(t *testing.T) {
	k := newKeyring(t)
	a := k.Seal([]byte("same"), "aad")
	b := k.Seal([]byte("same"), "aad")
	if bytes.Equal(a, b) {
		t.Error("two Seals of the same plaintext are equal; the nonce must be random")
	}
	if bytes.Equal(a[1:1+nonceSize], b[1:1+nonceSize]) {
		t.Error("two Seals used the same nonce")
	}
}

func TestOpenRefuses(t *testing.T) {
	k := newKeyring(t)
	const aad = "totp/ws:3/user:7"
	sealed := k.Seal([]byte("seed"), aad)
	other, err := NewKeyring(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	versioned := bytes.Clone(sealed)
	versioned[0] = 2

	tests := []struct {
		name   string
		k      *Keyring
		sealed []byte
		aad    string
	}{
		{"other user", k, sealed, "totp/ws:3/user:8"},
		{"other workspace", k, sealed, "totp/ws:4/user:7"},
		{"empty aad", k, sealed, ""},
		{"other key", other, sealed, aad},
		{"flipped version", k, flip(0), aad},
		{"unknown version", k, versioned, aad},
		{"flipped nonce", k, flip(1), aad},
		{"flipped ciphertext", k, flip(1 + nonceSize), aad},
		{"flipped tag", k, flip(len(sealed) - 1), aad},
		{"truncated", k, sealed[:len(sealed)-1], aad},
		{"too short", k, sealed[:1+nonceSize+tagSize-1], aad},
		{"empty", k, nil, aad},
		{"extra byte", k, append(bytes.Clone(sealed), 0), aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.k.Open(tt.sealed, tt.aad)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open = %q, %v; want ErrDecrypt", got, err)
			}
		})
	}
}

func TestVersionByte(t *testing.T) {
	sealed := newKeyring(t).Seal([]byte("x"), "a")
	if sealed[0] != sealVersion {
		t.Errorf("first byte = %d, want version %d", sealed[0], sealVersion)
	}
	_, err := newKeyring(t).Open(append([]byte{9}, sealed[1:]...), "a")
	if !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("Open with version 9: %v; want ErrDecrypt naming the version", err)
	}
}

func TestMAC(t *testing.T) {
	k := newKeyring(t)
	if !bytes.Equal(k.MAC("code", "123456"), k.MAC("code", "123456")) {
		t.Error("MAC is not deterministic")
	}
	if len(k.MAC("x")) != 32 {
		t.Errorf("len(MAC) = %d, want 32", len(k.MAC("x")))
	}
	other, _ := NewKeyring(bytes.Repeat([]byte{1}, KeySize))
	if bytes.Equal(k.MAC("code", "123456"), other.MAC("code", "123456")) {
		t.Error("MAC does not depend on the key")
	}
	distinct := [][]string{
		{"ab", "c"},
		{"a", "bc"},
		{"abc"},
		{"abc", ""},
		{"", "abc"},
		{"a", "b", "c"},
		{},
		{""},
		{"", ""},
	}
	seen := map[string][]string{}
	for _, parts := range distinct {
		m := string(k.MAC(parts...))
		if prev, ok := seen[m]; ok {
			t.Errorf("MAC(%q) == MAC(%q)", parts, prev)
		}
		seen[m] = parts
	}
}

// TestSubkeysIndependent checks that the MAC subkey is derived with its own
// label: it is neither the server key nor the sealing subkey.
func TestSubkeysIndependent(t *testing.T) {
	k := newKeyring(t)
	want, err := hkdf.Key(sha256.New, testKey(), nil, macInfo, 32)
	if err != nil {
		t.Fatal(err)
	}
	sealKey, err := hkdf.Key(sha256.New, testKey(), nil, sealInfo, 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.macKey, want) {
		t.Error("MAC key is not HKDF(server key, macInfo)")
	}
	if bytes.Equal(k.macKey, testKey()) || bytes.Equal(k.macKey, sealKey) {
		t.Error("MAC key equals the server key or the seal key")
	}
}

func TestKeyringDoesNotPrintKeys(t *testing.T) {
	k := newKeyring(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, k); s != "secret.Keyring{redacted}" {
			t.Errorf("Sprintf(%s) = %q", verb, s)
		}
	}
}

func TestLoadKeyFromEnv(t *testing.T) {
	key := testKey()
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"standard padded", base64.StdEncoding.EncodeToString(key), true},
		{"standard unpadded", base64.RawStdEncoding.EncodeToString(key), true},
		{"url padded", base64.URLEncoding.EncodeToString(key), true},
		{"url unpadded", base64.RawURLEncoding.EncodeToString(key), true},
		{"trailing newline", base64.StdEncoding.EncodeToString(key) + "\n", true},
		{"31 bytes", base64.StdEncoding.EncodeToString(key[:31]), false},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 0)), false},
		{"16 bytes", base64.StdEncoding.EncodeToString(key[:16]), false},
		{"not base64", "this is not base64 at all!!", false},
		{"hex", strings.Repeat("ab", 32), false},
	}
	want := newKeyring(t).MAC("probe")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k, err := LoadKey(tt.value, dir)
			if !tt.ok {
				if err == nil {
					t.Fatal("want error")
				}
				if !strings.Contains(err.Error(), "GATEHOUSE_SECRET_KEY") {
					t.Errorf("error %q does not name GATEHOUSE_SECRET_KEY", err)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tt.value)) {
					t.Errorf("error %q echoes the secret value", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadKey: %v", err)
			}
			if !bytes.Equal(k.MAC("probe"), want) {
				t.Error("key from env differs from the encoded key")
			}
			if _, err := os.Stat(filepath.Join(dir, KeyFileName)); err == nil {
				t.Error("a key file was created although the env value was set")
			}
		})
	}
}

func TestLoadKeyFromFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // missing: LoadKey creates it
	k1, err := LoadKey("", dir)
	if err != nil {
		t.Fatalf("first LoadKey: %v", err)
	}
	path := filepath.Join(dir, KeyFileName)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file not created: %v", err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode = %04o, want 0600", perm)
		}
		dinfo, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := dinfo.Mode().Perm(); perm != 0o700 {
			t.Errorf("data dir mode = %04o, want 0700", perm)
		}
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(first)))
	if err != nil || len(raw) != KeySize {
		t.Fatalf("key file holds %q: want base64 of %d bytes", first, KeySize)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the key file (temporary file left?)", len(entries))
	}

	k2, err := LoadKey("", dir)
	if err != nil {
		t.Fatalf("second LoadKey: %v", err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Error("second LoadKey rewrote the key file")
	}
	if !bytes.Equal(k1.MAC("probe"), k2.MAC("probe")) {
		t.Error("second LoadKey returned a different key")
	}
	sealed := k1.Seal([]byte("seed"), "a")
	if _, err := k2.Open(sealed, "a"); err != nil {
		t.Errorf("value sealed before a restart does not open after it: %v", err)
	}

	// The same key given through the environment is the same Keyring.
	k3, err := LoadKey(strings.TrimSpace(string(first)), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.MAC("probe"), k3.MAC("probe")) {
		t.Error("file key and the same key from env differ")
	}
}

func TestLoadKeyRefusesOpenMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadKey("", dir); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, KeyFileName)
			before, _ := os.ReadFile(path)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKey("", dir)
			if err == nil {
				t.Fatal("LoadKey used a key file that others may read")
			}
			if !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("error %q does not tell the operator to chmod 600", err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("LoadKey replaced the refused key file")
			}
		})
	}
}

func TestLoadKeyCorruptFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"not base64", "not a key!\n"},
		{"short", base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n"},
		{"huge", strings.Repeat("A", maxKeyFileSize+10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFileName)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadKey("", dir); err == nil {
				t.Fatal("LoadKey accepted a corrupt key file")
			}
			got, _ := os.ReadFile(path)
			if string(got) != tt.content {
				t.Error("LoadKey overwrote a corrupt key file; it must leave it for the operator")
			}
		})
	}
}

func TestLoadKeyNoDataDir(t *testing.T) {
	if _, err := LoadKey("", ""); err == nil {
		t.Error("LoadKey with no env value and no data dir: want error")
	}
}

// TestLoadKeyFirstStartRace starts several loaders on a fresh data dir at
// once: they must all end up with the key that is in the file, or a value
// sealed by one would not open after a restart.
func TestLoadKeyFirstStartRace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const n = 16
	rings := make([]*Keyring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rings[i], errs[i] = LoadKey("", dir) })
	}
	wg.Wait()
	final, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("loader %d: %v", i, errs[i])
		}
		if !bytes.Equal(rings[i].MAC("probe"), final.MAC("probe")) {
			t.Errorf("loader %d got a key that is not the one in the file", i)
		}
	}
}
