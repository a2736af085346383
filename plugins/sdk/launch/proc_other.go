//go:build !unix

package launch

import "os/exec"

// setProcAttrs does nothing here.
func setProcAttrs(*exec.Cmd) {}

// killGroup kills the plugin process.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
