//go:build unix && !linux

package launch

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the plugin in its own process group. There is no
// parent-death signal here: the lifeline (descriptor 5) ends the plugin
// when the host dies.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
