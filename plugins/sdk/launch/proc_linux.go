package launch

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the plugin in its own process group (so Kill can end
// anything it spawned) and makes the kernel SIGKILL it when the thread
// that forked it exits; Start keeps that thread alive for the plugin's
// life.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
