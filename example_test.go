package actnet_test

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps"
	"github.com/actnet/actnet/device"
)

// Two stacks over the in-memory link: one serves echo with an app actor per
// connection, the other dials it through the net.Conn API.
func Example() {
	a, b := device.NewMemoryPair(device.MemoryConfig{})
	client, err := actnet.New(actnet.Config{Device: a, IPv4: netip.MustParsePrefix("10.0.0.1/24")})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	server, err := actnet.New(actnet.Config{Device: b, IPv4: netip.MustParsePrefix("10.0.0.2/24")})
	if err != nil {
		panic(err)
	}
	defer server.Close()

	if _, err := server.Serve(9000, apps.Echo()); err != nil {
		panic(err)
	}
	conn, err := client.Dial("tcp", "10.0.0.2:9000")
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.Write([]byte("hello\n"))
	conn.(*actnet.Conn).CloseWrite()
	reply, err := io.ReadAll(conn)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s", reply)
	// Output: hello
}
