//go:build race

package tcp

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts that rely on the chunk pool mean nothing under it.
const raceEnabled = true
