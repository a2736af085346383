package main

import (
	"os"
	"path/filepath"

	"github.com/mycelium-go/mycelium/gateway/ca"
)

// CACmd groups the local CA's commands.
type CACmd struct {
	Export CAExportCmd `cmd:"" help:"Print the node's CA certificate (PEM) for clients to trust."`
}

// CAExportCmd prints the CA certificate. It reads the data directory, so
// it works with the node stopped.
type CAExportCmd struct {
	DataDir string `name:"data-dir" env:"MYCELIUM_DATA_DIR" type:"path" help:"The node's data directory (default: the key file's directory)."`
}

// Run prints <data-dir>/ca/ca.crt.
func (c *CAExportCmd) Run(g *Globals) error {
	pem, err := ca.ReadCertPEM(filepath.Join(g.dataDir(c.DataDir), "ca"))
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(pem)
	return err
}
