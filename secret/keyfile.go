package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeyFileName is the name of the key file in the data dir.
const KeyFileName = "secret.key"

// maxKeyFileSize bounds what LoadKey reads: the file holds 44 bytes of
// base64, and a huge file at that path is a mistake, not a key.
const maxKeyFileSize = 4096

// LoadKey returns the Keyring for the server key.
//
// When envValue (the value of GATEHOUSE_SECRET_KEY) is not empty it must be
// the base64 (standard or URL alphabet, padded or not) of exactly 32 bytes.
// Otherwise the key is read from dataDir/secret.key, which is created with
// mode 0600 on first start (and dataDir with 0700 if missing). An existing
// key file that group or others may access is refused rather than used: the
// key decrypts every stored secret, so the operator must fix the mode.
//
// Several instances that share a database must share the key: set
// GATEHOUSE_SECRET_KEY on each, or copy one key file to all.
func LoadKey(envValue, dataDir string) (*Keyring, error) {
	if envValue != "" {
		key, err := decodeKey(envValue)
		if err != nil {
			// The value is a secret: never echo it back.
			return nil, fmt.Errorf("GATEHOUSE_SECRET_KEY: %w (generate one with: openssl rand -base64 32)", err)
		}
		return NewKeyring(key)
	}
	if dataDir == "" {
		return nil, errors.New("server key: no GATEHOUSE_SECRET_KEY and no data dir for a key file")
	}
	path := filepath.Join(dataDir, KeyFileName)
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKeyFile(dataDir, path)
	}
	if err != nil {
		return nil, err
	}
	return NewKeyring(key)
}

// decodeKey accepts any of the four common base64 forms, so a key made with
// openssl, base64(1) or a URL-safe generator can be pasted as it is.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != KeySize {
			return nil, fmt.Errorf("key is %d bytes, want %d", len(b), KeySize)
		}
		return b, nil
	}
	return nil, fmt.Errorf("key is not valid base64 of %d bytes", KeySize)
}

// readKeyFile reads and checks an existing key file. The mode is checked on
// the open file, not by path, so the file checked is the file read.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits; Go reports 0666 for every
	// writable file there, which says nothing about who may read it.
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("key file %s has mode %04o, so other users may read the server key; run: chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("key file %s is too large to be a key", path)
	}
	key, err := decodeKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new random key to path and returns the key that is
// in the file afterwards.
//
// The key is written to a temporary file (0600 from the start, so it is never
// readable by others, whatever the umask) and synced, then put in place with
// a hard link, which fails if path exists. A rename would silently replace
// a key that another process starting at the same moment had just written
// and begun to use, leaving whatever it sealed undecryptable; with the link,
// the loser reads the winner's key instead.
func createKeyFile(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	key := make([]byte, KeySize)
	rand.Read(key) // never fails; see Keyring.Seal

	tmp, err := os.CreateTemp(dir, ".secret.key-*")
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after the link, this removes only the temporary name
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}

	switch err := os.Link(tmpName, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		// Another process created the key first: use its key.
		return readKeyFile(path)
	default:
		// Some file systems (certain network and FUSE mounts) have no hard
		// links. Fall back to a rename, which is still atomic; only the
		// simultaneous first start of two processes can race there.
		if _, statErr := os.Lstat(path); statErr == nil {
			return readKeyFile(path)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return nil, fmt.Errorf("install key file: %w", err)
		}
	}
	syncDir(dir)
	return key, nil
}

// syncDir makes the new directory entry durable, so a crash right after the
// first start cannot lose the key while data sealed under it survives.
// Best effort: some systems cannot sync a directory, and the file's own data
// is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
