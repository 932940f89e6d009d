//go:build unix

package main

import (
	"os"
	"syscall"
)

// statsSignals make serve print its counters without stopping.
var statsSignals = []os.Signal{syscall.SIGUSR1}
