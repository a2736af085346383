//go:build unix

package launch

import (
	"os/exec"
	"syscall"
)

// killGroup SIGKILLs the plugin's process group: the plugin and anything
// it spawned that may still hold its output pipes.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
