package testpg

import "syscall"

// dieWithParent has the kernel kill the server when the test binary exits
// without calling Stop.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
