//go:build !unix

package main

import "os"

// statsSignals is empty where there is no SIGUSR1; --metrics still works.
var statsSignals []os.Signal
