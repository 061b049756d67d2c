//go:build unix

package rie

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the emulator in a process group of its own, so that
// stopping it also stops the bootstrap it started.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup signals the emulator's process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, sig)
	}
}
