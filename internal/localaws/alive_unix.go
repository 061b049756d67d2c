//go:build unix

package localaws

import (
	"errors"
	"syscall"
)

// ProcessAlive reports whether a process pid exists (perhaps another
// user's).
func ProcessAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
