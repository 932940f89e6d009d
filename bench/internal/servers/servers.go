// Package servers holds the echo, discard and source servers that the
// gVisor and Linux benchmark servers run on a net.Listener. They behave
// like actnet's apps of the same names (see actnet/apps), so the three
// stacks serve the same protocol to the same load generator.
package servers

import (
	"bufio"
	"net"
	"strconv"
	"strings"
)

// Pattern is what Source sends, repeated; it is actnet's apps.SourcePattern,
// copied so that this package does not depend on actnet.
var Pattern = []byte("abcdefghijklmnopqrstuvwxyz0123456789\n")

// chunk is the size of each Write, the same as actnet's source app uses.
const chunk = 64 << 10

// patternBuf is one chunk of the pattern plus one pattern length of slack,
// so any offset into the pattern can be served by slicing, without copying.
var patternBuf = func() []byte {
	b := make([]byte, chunk+len(Pattern))
	for i := range b {
		b[i] = Pattern[i%len(Pattern)]
	}
	return b
}()

// Handler serves one accepted connection and closes it.
type Handler func(net.Conn)

// Serve accepts connections on l until it is closed, one goroutine per
// connection, as a Go server written against net would.
func Serve(l net.Listener, h Handler) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go h(c)
	}
}

// Echo copies everything back until the peer closes, then closes.
func Echo(c net.Conn) {
	defer c.Close()
	var b readBuf
	for {
		data, err := b.read(c)
		if len(data) > 0 {
			if _, werr := c.Write(data); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Discard reads and drops everything until the peer closes, then closes.
func Discard(c net.Conn) {
	defer c.Close()
	var b readBuf
	for {
		if _, err := b.read(c); err != nil {
			return
		}
	}
}

// Source reads a decimal byte count and a newline, sends exactly that many
// bytes of Pattern and closes. A bad request closes the connection.
func Source(c net.Conn) {
	defer c.Close()
	line, err := bufio.NewReaderSize(c, 64).ReadString('\n')
	if err != nil {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil || n < 0 {
		return
	}
	var offset int64
	for n > 0 {
		k := min(n, chunk)
		start := offset % int64(len(Pattern))
		if _, err := c.Write(patternBuf[start : start+k]); err != nil {
			return
		}
		offset += k
		n -= k
	}
}

// readBuf starts small and doubles whenever a read fills it, up to
// maxBuf. An idle connection, blocked in Read, then holds 512 bytes rather
// than a bulk-sized buffer, as a Go server written for 10,000 connections
// would; a bulk connection grows to 64 KiB reads within a few calls.
type readBuf struct{ b []byte }

const (
	minBuf = 512
	maxBuf = 64 << 10
)

func (r *readBuf) read(c net.Conn) ([]byte, error) {
	if r.b == nil {
		r.b = make([]byte, minBuf)
	}
	n, err := c.Read(r.b)
	data := r.b[:n]
	if n == len(r.b) && len(r.b) < maxBuf {
		// The bytes just read stay valid: the old array is not reused.
		r.b = make([]byte, 2*len(r.b))
	}
	return data, err
}
