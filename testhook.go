package actnet

import (
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/internal/testhook"
)

func init() {
	testhook.Running = func(stack any) *actors.Running { return stack.(*Stack).run }
	testhook.Socket = func(conn any) *actors.Socket { return conn.(*Conn).sock }
	testhook.DHCP = func(stack any) actors.Active { return stack.(*Stack).dhcpActive() }
}
