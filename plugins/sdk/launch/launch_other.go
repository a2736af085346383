//go:build !linux

package launch

import "os/exec"

// setDeathSignal does nothing here: only Linux has a parent-death signal.
// The lifeline (descriptor 5) still ends the plugin when the host dies.
func setDeathSignal(*exec.Cmd) {}
