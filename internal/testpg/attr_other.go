//go:build !linux

package testpg

import "syscall"

func dieWithParent(*syscall.SysProcAttr) {}
