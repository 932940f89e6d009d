// Command producer serves a streaming producer with back-pressure: a client
// asks for a number of records, and the app actor generates them only as
// fast as the connection takes them, keeping at most maxOutstanding writes
// unanswered and producing more on each Written. The client, on another
// stack over the memory link with the net.Conn API, reads the records,
// pauses halfway like a slow consumer, and checks that every record came
// in order and that the producer never ran further ahead of it than the
// buffers between them allow.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

const (
	maxOutstanding = 4        // writes not yet answered with Written
	batchSize      = 32 << 10 // bytes of records per Write, at most
	bufferSize     = 128 << 10
)

// record is the text of record i: its number and a payload derived from it.
func record(dst []byte, i int64) []byte {
	dst = fmt.Appendf(dst, "%08d ", i)
	for j := range int64(64) {
		dst = append(dst, 'a'+byte((i+j)%26))
	}
	return append(dst, '\n')
}

// Producer is the app actor of one connection. The client sends a record
// count and a newline; the producer sends that many records and closes.
type Producer struct {
	// Produced counts the bytes produced, for the demonstration's check.
	Produced *atomic.Int64

	conn        *actor.PID
	request     []byte
	next, count int64
	outstanding int
	maxSeen     int
	done        bool
}

func (p *Producer) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actnet.Connected:
		p.conn = m.Conn.(*actor.PID)
	case *actnet.Received:
		if p.count > 0 || p.done {
			return
		}
		p.request = append(p.request, m.Data...)
		line, _, found := bytes.Cut(p.request, []byte("\n"))
		if !found {
			return
		}
		n, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil || n <= 0 {
			ctx.Send(p.conn, &actnet.Abort{})
			p.done = true
			return
		}
		p.count = n
		p.produce(ctx)
	case *actnet.Written:
		// Back-pressure: one write answered, room for one more.
		p.outstanding--
		p.produce(ctx)
	case *actnet.CommandFailed:
		fmt.Fprintf(os.Stderr, "producer: %T failed: %v\n", m.Cmd, m.Err)
	case *actnet.Closed:
		if p.maxSeen > maxOutstanding {
			fmt.Fprintf(os.Stderr, "producer: %d writes were outstanding\n", p.maxSeen)
		}
	}
}

// produce generates batches of records while fewer than maxOutstanding
// writes wait for their Written, and closes after the last one.
func (p *Producer) produce(ctx actor.Context) {
	for p.outstanding < maxOutstanding && p.next < p.count {
		batch := make([]byte, 0, batchSize)
		for p.next < p.count && len(batch)+100 <= batchSize {
			batch = record(batch, p.next)
			p.next++
		}
		p.Produced.Add(int64(len(batch)))
		ctx.Send(p.conn, &actnet.Write{Data: batch}) // the connection owns batch now
		p.outstanding++
		p.maxSeen = max(p.maxSeen, p.outstanding)
	}
	if p.next == p.count && !p.done {
		p.done = true
		ctx.Send(p.conn, &actnet.Close{}) // after the queued writes
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func run() error {
	const records = 200_000
	// Between the producer and the reader: the writes outstanding, the
	// server's send buffer, the client's receive buffer and what the
	// client socket reads ahead (256 KiB), and some slack for the
	// granularity of a scaled window.
	const bound = maxOutstanding*batchSize + 2*bufferSize + 256<<10 + 128<<10
	tcp := actnet.TCPConfig{SendBufferSize: bufferSize, RecvBufferSize: bufferSize}
	a, b := device.NewMemoryPair(device.MemoryConfig{})
	client, err := actnet.New(actnet.Config{Device: a, IPv4: netip.MustParsePrefix("10.0.0.1/24"), TCP: tcp})
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := actnet.New(actnet.Config{Device: b, IPv4: netip.MustParsePrefix("10.0.0.2/24"), TCP: tcp})
	if err != nil {
		return err
	}
	defer server.Close()
	var produced atomic.Int64
	if _, err := server.Serve(9100, actor.PropsFromProducer(func() actor.Actor { return &Producer{Produced: &produced} })); err != nil {
		return err
	}

	conn, err := client.Dial("tcp", "10.0.0.2:9100")
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := fmt.Fprintf(conn, "%d\n", records); err != nil {
		return err
	}
	counted := &countingReader{r: conn}
	r := bufio.NewReader(counted)
	var want []byte
	var maxAhead, aheadAfterPause int64
	for i := range int64(records) {
		if i == records/2 {
			// A slow consumer: the producer runs into the full buffers
			// and waits for Written instead of piling records up.
			time.Sleep(200 * time.Millisecond)
			aheadAfterPause = produced.Load() - counted.n
		}
		line, err := r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("record %d: %v", i, err)
		}
		if want = record(want[:0], i); !bytes.Equal(line, want) {
			return fmt.Errorf("record %d is %q, want %q", i, line, want)
		}
		if ahead := produced.Load() - counted.n; ahead > maxAhead {
			maxAhead = ahead
			if ahead > bound {
				return fmt.Errorf("the producer ran %d bytes ahead of the reader; the buffers hold %d", ahead, bound)
			}
		}
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
		return fmt.Errorf("after the last record: read %q, %v; want EOF", rest, err)
	}
	fmt.Printf("producer: ok, %d records (%d KiB) in order; at most %d KiB produced ahead of the reader (%d KiB after its pause, bound %d KiB)\n",
		records, produced.Load()>>10, maxAhead>>10, aheadAfterPause>>10, bound>>10)
	return nil
}
