// Package testhook lets actnet's own tests reach the actors behind an
// actnet.Stack (to wait until they are idle, say) without adding to the
// public API. Being internal, it is out of reach of the module's users.
package testhook

import "github.com/actnet/actnet/actors"

// Running returns the actors of stack, an *actnet.Stack. Package actnet
// sets it when it is initialised.
var Running func(stack any) *actors.Running

// Socket returns the socket behind conn, an *actnet.Conn, for tests that
// act on its connection actor (Configure runs a function inside it).
// Package actnet sets it when it is initialised.
var Socket func(conn any) *actors.Socket

// DHCP returns the DHCP client of stack, an *actnet.Stack, as an
// actors.Active (nil without one), so that tests on virtual time can wait
// until it has handled what is due. Package actnet sets it.
var DHCP func(stack any) actors.Active
