// Package tcp is the pure TCP core of actnet: the segment wire format,
// sequence-number arithmetic and the connection control block, as plain Go
// with no goroutines and no clock reads (time is always an argument).
package tcp
