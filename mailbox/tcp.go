package mailbox

import "net/netip"

// The messages below are the actor-native TCP API, in the style of Akka IO
// (DESIGN.md, principle 4): an application actor spawned for an accepted
// connection receives the events and sends the commands to the connection
// actor named in Connected. Every command is answered: Write with Written
// once the connection has taken the data into its send buffer, the others
// with CommandFailed when they cannot be carried out.

// Connected tells an app actor its connection is established. Conn is the
// connection actor's PID (a *actor.PID; typed any so that this package does
// not depend on the actor runtime).
type Connected struct {
	Conn          any
	Local, Remote netip.AddrPort
}

// Received carries data that arrived in order. The app owns Data.
type Received struct {
	Data []byte
}

// PeerClosed tells the app that the peer sent FIN: no more data will come.
type PeerClosed struct{}

// Closed tells the app the connection is gone; Err is nil for an orderly
// close and says why otherwise (reset, timed out, aborted).
type Closed struct {
	Err error
}

// Write asks the connection to send Data. The connection owns Data until
// it answers Written; the app must not modify it before then.
type Write struct {
	Data []byte
}

// Written answers Write: all N bytes are in the send buffer.
type Written struct {
	N int
}

// CloseWrite shuts the sending direction down after the data queued so far
// (a FIN follows it); reading goes on.
type CloseWrite struct{}

// Close closes the connection in both directions, gracefully.
type Close struct{}

// Abort resets the connection at once (a RST goes to the peer).
type Abort struct{}

// SuspendReading stops delivering Received; data accumulates in the
// receive buffer and the advertised window shrinks until ResumeReading.
type SuspendReading struct{}

// ResumeReading resumes delivering Received after SuspendReading.
type ResumeReading struct{}

// CommandFailed answers a command that could not be carried out.
type CommandFailed struct {
	Cmd any
	Err error
}
