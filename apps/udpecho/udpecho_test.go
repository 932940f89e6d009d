package udpecho

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// TestEchoOnKernelSocket runs the service on a loopback kernel socket,
// which shows it depends on nothing but net.PacketConn.
func TestEchoOnKernelSocket(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	s := Serve(pc)
	c, err := net.Dial("udp4", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, size := range []int{0, 1, 1472, 9000} {
		want := bytes.Repeat([]byte{byte(size)}, size)
		if _, err := c.Write(want); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		got := make([]byte, 65536)
		n, err := c.Read(got)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !bytes.Equal(got[:n], want) {
			t.Fatalf("%d bytes came back as %d", size, n)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Echoed() != 4 {
		t.Errorf("Echoed = %d, want 4", s.Echoed())
	}
}
