package identity

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFileMode is the permission of key files we create. The reference uses
// 0640; a private key should not be group-readable, so we use 0600.
const KeyFileMode = 0o600

// LoadKeyFile reads a key file: the first 32 bytes are the raw X25519
// secret, the same format the reference node uses.
func LoadKeyFile(path string) (*KeyPair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: open key file: %w", err)
	}
	defer f.Close()
	var s [KeySize]byte
	if _, err := io.ReadFull(f, s[:]); err != nil {
		return nil, fmt.Errorf("identity: key file %s: need 32 bytes: %w", path, err)
	}
	return NewKeyPair(s)
}

// WriteKeyFile writes kp's secret to path (mode 0600), durably: to a
// temporary file that is synced, then renamed into place. Without force it
// refuses to replace an existing file.
func WriteKeyFile(path string, kp *KeyPair, force bool) error {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("identity: key file %s: %w", path, fs.ErrExist)
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("identity: key dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".priv_key-*")
	if err != nil {
		return fmt.Errorf("identity: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	secret := kp.Secret()
	if err := tmp.Chmod(KeyFileMode); err == nil {
		_, err = tmp.Write(secret[:])
		if err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("identity: write key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("identity: install key file: %w", err)
	}
	syncDir(dir)
	return nil
}

// LoadOrCreateKeyFile loads the key file at path, creating it with a fresh
// key pair if it does not exist. created reports whether it was created.
func LoadOrCreateKeyFile(path string) (kp *KeyPair, created bool, err error) {
	kp, err = LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kp, false, err
	}
	kp, err = GenerateKeyPair()
	if err != nil {
		return nil, false, err
	}
	if err := WriteKeyFile(path, kp, false); err != nil {
		return nil, false, err
	}
	return kp, true, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
