package testredis

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the server when the test binary exits
// without calling Stop.
func dieWithParent(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
