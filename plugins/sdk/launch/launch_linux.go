package launch

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel SIGKILL the plugin when the thread that
// forked it exits; Start keeps that thread alive for the plugin's life.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
