//go:build !unix

package main

import "os"

// processAlive reports whether a process pid exists: where FindProcess
// opens the process (Windows), it fails for one that does not.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
