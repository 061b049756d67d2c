//go:build !unix

package localaws

import "os"

// ProcessAlive reports whether a process pid exists: where FindProcess
// opens the process (Windows), it fails for one that does not.
func ProcessAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
