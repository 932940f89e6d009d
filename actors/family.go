package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/ethernet"
)

// family is one network protocol the stack runs (DESIGN.md, the family
// seam): the actors it spawns for the EtherTypes it takes, and its send
// path for the transports. The stack actor wires the families of its
// list, and the Ethernet reader actor routes frames by EtherType to the
// actors they named; nothing else of the stack knows which families run.
type family struct {
	name string
	// output is the family's send path, registered in Env.Out.
	output NetOutput
	// spawn starts the family's actors with spawn and returns, for each
	// EtherType it takes, the actor frames of that type go to.
	spawn func(env *Env, spawn func(name string, a actor.Actor) *actor.PID) []upperLayer
}

// upperLayer is where frames of one EtherType go.
type upperLayer struct {
	etherType ethernet.EtherType
	pid       *actor.PID
}

// ipv4Family is IPv4 with ARP and ICMP (RFC 791, 826, 792).
func ipv4Family(out *IPv4Output) family {
	return family{
		name:   "ipv4",
		output: out,
		spawn: func(env *Env, spawn func(string, actor.Actor) *actor.PID) []upperLayer {
			env.PIDs.ARP = spawn("arp", newARPActor(env))
			env.PIDs.IPv4 = spawn("ipv4", newIPv4Actor(env, out))
			return []upperLayer{{ethernet.ARP, env.PIDs.ARP}, {ethernet.IPv4, env.PIDs.IPv4}}
		},
	}
}

// register makes f's send path the one for its family's destinations.
func (f family) register(outs *Outputs) {
	switch f.name {
	case "ipv4":
		outs.V4 = f.output
	case "ipv6":
		outs.V6 = f.output
	}
}
