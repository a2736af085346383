package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/mycelium-go/mycelium/core/identity"
)

// defaultKeyFile is where the reference keeps its key (spec §1.5).
func defaultKeyFile() string {
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "ThreeFold Tech", "Mycelium", "priv_key.bin")
	case "windows":
		base := os.Getenv("LOCALAPPDATA")
		if base == "" {
			base = filepath.Join(home, "AppData", "Local")
		}
		return filepath.Join(base, "ThreeFold Tech", "Mycelium", "priv_key.bin")
	default:
		base := os.Getenv("XDG_DATA_HOME")
		if base == "" {
			base = filepath.Join(home, ".local", "share")
		}
		return filepath.Join(base, "mycelium", "priv_key.bin")
	}
}

func (g *Globals) keyFile() string {
	if g.KeyFile != "" {
		return g.KeyFile
	}
	return defaultKeyFile()
}

// InspectCmd prints a key and its address.
type InspectCmd struct {
	JSON   bool   `help:"Print JSON."`
	PubKey string `arg:"" optional:"" name:"pubkey" help:"A public key (64 hex digits). Default: the node's own key."`
}

func (c *InspectCmd) Run(g *Globals) error {
	var pk identity.PublicKey
	if c.PubKey != "" {
		k, err := identity.ParsePublicKey(c.PubKey)
		if err != nil {
			return err
		}
		pk = k
	} else {
		kp, err := identity.LoadKeyFile(g.keyFile())
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no key file at %s (run `mycelium generate-keys` or start the node once)", g.keyFile())
			}
			return err
		}
		pk = kp.Public()
	}
	if c.JSON {
		return json.NewEncoder(os.Stdout).Encode(struct {
			PublicKey string `json:"publicKey"`
			Address   string `json:"address"`
		}{pk.String(), pk.Address().String()})
	}
	fmt.Printf("Public key: %s\nAddress: %s\n", pk, pk.Address())
	return nil
}

// GenerateKeysCmd writes a new key file.
type GenerateKeysCmd struct {
	Force bool `help:"Overwrite an existing key file."`
}

func (c *GenerateKeysCmd) Run(g *Globals) error {
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		return err
	}
	path := g.keyFile()
	if err := identity.WriteKeyFile(path, kp, c.Force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("key file %s exists; use --force to replace it", path)
		}
		return err
	}
	fmt.Printf("Wrote %s\nPublic key: %s\nAddress: %s\n", path, kp.Public(), kp.Address())
	return nil
}
