package sdk

import "os"

// DataPlane is the host's side of one plugin's data plane: the Handoff
// that sends connections, and the plugin's ends of the sockets, to be
// inherited by the plugin process as FDDataListener and FDHandoff.
type DataPlane struct {
	// Handoff sends connections to the plugin.
	Handoff    *Handoff
	socketPath string
	files      []*os.File
}

// PluginFiles returns the plugin's ends, in descriptor order starting at
// FDDataListener: put them first in exec.Cmd.ExtraFiles.
func (d *DataPlane) PluginFiles() []*os.File { return d.files }

// ClosePluginFiles closes the host's copies of the plugin's ends. Call it
// once the plugin process started (or failed to).
func (d *DataPlane) ClosePluginFiles() {
	for _, f := range d.files {
		_ = f.Close()
	}
}

// SocketPath is the data socket's path.
func (d *DataPlane) SocketPath() string { return d.socketPath }

// Close closes the Handoff and the plugin's ends, and removes the data
// socket's file.
func (d *DataPlane) Close() error {
	d.ClosePluginFiles()
	err := d.Handoff.Close()
	if rmErr := os.Remove(d.socketPath); rmErr != nil && !os.IsNotExist(rmErr) && err == nil {
		err = rmErr
	}
	return err
}
