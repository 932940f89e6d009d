package actors

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// Socket is where one connection actor meets the goroutines that use the
// connection through net.Conn. The actor side never blocks: it appends what
// arrived and signals. The user side blocks, with deadlines, on the signal.
//
// Received data is pulled from the control block only while the socket
// holds less than its read limit, so data the application does not read
// stays in the control block and shrinks the advertised window (DESIGN.md,
// principle 5).
type Socket struct {
	root  *actor.RootContext
	life  *lifecycle // the stack's: blocked calls end when it goes down
	Local netip.AddrPort
	// Remote is the peer's address and port.
	Remote netip.AddrPort

	conn  atomic.Pointer[actor.PID] // the connection actor, once it runs
	limit int

	mu          sync.Mutex
	chunks      []*recvChunk // received data, oldest first
	off         int          // bytes of chunks[0] already read
	pending     int          // unread bytes in chunks
	filling     bool         // the actor is reading into the last chunk
	eof         bool
	err         error // terminal: reset, timed out, aborted, closed
	established bool
	starved     bool // the actor stopped pulling; resume it when drained
	readNotify  chan struct{}

	// The events, each a channel made only when someone waits for it
	// before it happens: most sockets never make one (issue 14, memory
	// per idle connection; a channel is 96 bytes).
	evMu   sync.Mutex
	done   event // the connection is gone
	closed event // Close was called: a blocked Write gives up
	est    event // the handshake completed

	writeMu sync.Mutex
	// writeDone is made by the first Write (under writeMu, before the
	// actor hears of it).
	writeDone chan writeResult
	// writeMsg is the one Write message of this socket, reused: writeMu
	// allows one write in flight, and the actor keeps only its data.
	writeMsg socketWrite
}

type writeResult struct {
	n   int
	err error
}

// defaultReadLimit is how much received data a socket holds beyond the
// control block's own receive buffer.
const defaultReadLimit = 256 << 10

// recvChunkSize is the size of the pooled chunks received data is kept in;
// the actor fills a chunk's free tail before taking a new one, so small
// segments do not each hold a whole chunk.
const recvChunkSize = 32 << 10

// recvChunk is one pooled piece of a socket's received data: b[:n] holds
// data, and the reader has consumed up to Socket.off of the first chunk.
type recvChunk struct {
	b [recvChunkSize]byte
	n int
}

var recvChunks = sync.Pool{New: func() any { return new(recvChunk) }}

// minFill is the least free space worth reading into; a chunk with less is
// left as it is and a new one started.
const minFill = 2048

func newSocket(env *Env, local, remote netip.AddrPort) *Socket {
	return &Socket{
		root:       env.System.Root,
		life:       &env.life,
		Local:      local,
		Remote:     remote,
		limit:      defaultReadLimit,
		readNotify: make(chan struct{}, 1),
	}
}

// event is a channel closed once, made on demand.
type event struct {
	ch    chan struct{}
	fired bool
}

// closedChan is every event's channel once it fired before anyone waited.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// fire closes the event's channel (once); mu guards e.
func (e *event) fire(mu *sync.Mutex) {
	mu.Lock()
	defer mu.Unlock()
	if e.fired {
		return
	}
	e.fired = true
	if e.ch != nil {
		close(e.ch)
	}
}

// wait returns the channel closed when the event fires; mu guards e.
func (e *event) wait(mu *sync.Mutex) <-chan struct{} {
	mu.Lock()
	defer mu.Unlock()
	if e.fired {
		return closedChan
	}
	if e.ch == nil {
		e.ch = make(chan struct{})
	}
	return e.ch
}

// Errors of the socket API.
var (
	ErrSocketClosed = errors.New("actnet: use of closed connection")
	// errConnGone is reported when the connection actor stopped without
	// saying why, which only a crash does.
	errConnGone = errors.New("actnet: connection actor crashed")
)

// --- the actor side ---

func (s *Socket) signal() {
	select {
	case s.readNotify <- struct{}{}:
	default:
	}
}

// room reports how many more bytes the actor may deliver now.
func (s *Socket) room() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.limit - s.pending
	if r <= 0 {
		s.starved = true
		return 0
	}
	return r
}

// reserve returns free space to read received data into: the tail of the
// last chunk, or a fresh pooled chunk. The actor reads into it outside the
// lock (the user side never touches a chunk beyond its n) and then calls
// commit with the count.
func (s *Socket) reserve() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := len(s.chunks); k > 0 && recvChunkSize-s.chunks[k-1].n >= minFill {
		s.filling = true
		last := s.chunks[k-1]
		return last.b[last.n:]
	}
	c := recvChunks.Get().(*recvChunk)
	c.n = 0
	s.chunks = append(s.chunks, c)
	s.filling = true
	return c.b[:]
}

// commit makes n bytes read into the space reserve returned readable.
func (s *Socket) commit(n int) {
	s.mu.Lock()
	s.filling = false
	if k := len(s.chunks); k > 0 {
		s.chunks[k-1].n += n
	}
	s.pending += n
	s.mu.Unlock()
	if n > 0 {
		s.signal()
	}
}

func (s *Socket) setEOF() {
	s.mu.Lock()
	s.eof = true
	s.mu.Unlock()
	s.signal()
}

// recycle returns every chunk to the pool; the caller holds the lock and
// knows the actor is not filling one.
func (s *Socket) recycle() {
	for i, c := range s.chunks {
		recvChunks.Put(c)
		s.chunks[i] = nil
	}
	s.chunks, s.off = s.chunks[:0], 0
}

func (s *Socket) eofSet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eof
}

func (s *Socket) setEstablished() {
	s.mu.Lock()
	s.established = true
	s.mu.Unlock()
	s.est.fire(&s.evMu)
}

// finish records the end of the connection; err nil means orderly.
func (s *Socket) finish(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.done.fire(&s.evMu)
	s.signal()
}

// setErr records why the connection ends ahead of the actor's finish,
// whose reason then does not replace it.
func (s *Socket) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// --- the user side ---

// Established is closed when the handshake completes.
func (s *Socket) Established() <-chan struct{} { return s.est.wait(&s.evMu) }

// Done is closed when the connection is gone.
func (s *Socket) Done() <-chan struct{} { return s.done.wait(&s.evMu) }

// Err returns why the connection ended, or nil.
func (s *Socket) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Socket) send(msg any) bool {
	pid := s.conn.Load()
	if pid == nil {
		return false
	}
	s.root.Send(pid, msg)
	return true
}

// Read reads received data, blocking until some is there, the peer closed
// (io.EOF), the connection failed, or the deadline passed.
func (s *Socket) Read(p []byte, deadline <-chan struct{}) (int, error) {
	for {
		s.mu.Lock()
		if errors.Is(s.err, ErrSocketClosed) {
			// Closed by its user: data the actor delivered since is
			// discarded, never read.
			s.mu.Unlock()
			return 0, ErrSocketClosed
		}
		if s.pending > 0 {
			n := 0
			for n < len(p) && len(s.chunks) > 0 {
				c := s.chunks[0]
				k := copy(p[n:], c.b[s.off:c.n])
				n += k
				s.off += k
				if s.off < c.n {
					break
				}
				// Drained. The last chunk may be being filled right
				// now, so it stays; the others go back to the pool.
				if len(s.chunks) == 1 && s.filling {
					break
				}
				s.chunks[0] = nil
				s.chunks = s.chunks[1:]
				s.off = 0
				recvChunks.Put(c)
			}
			s.pending -= n
			resume := s.starved && s.pending <= s.limit/2
			if resume {
				s.starved = false
			}
			s.mu.Unlock()
			if resume {
				s.send(&resumeSocket{})
			}
			return n, nil
		}
		eof, err := s.eof, s.err
		s.mu.Unlock()
		switch {
		case errors.Is(err, ErrSocketClosed):
			return 0, err
		case eof:
			return 0, io.EOF
		case err != nil:
			return 0, s.stackErr(err)
		}
		if err := s.life.err(); err != nil {
			// The stack went down; the connection actor may never say so
			// (a failed ipv4 layer leaves it waiting for segments).
			return 0, err
		}
		if len(p) == 0 {
			return 0, nil
		}
		select {
		case <-s.readNotify:
		case <-s.life.down:
		case <-deadline:
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// Write sends p, blocking until the connection has taken all of it into its
// send buffer, the connection failed, or the deadline passed.
func (s *Socket) Write(p []byte, deadline <-chan struct{}) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.Err(); err != nil {
		return 0, s.stackErr(err)
	}
	if err := s.life.err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.writeDone == nil {
		s.writeDone = make(chan writeResult, 1)
	}
	s.writeMsg.data = p
	if !s.send(&s.writeMsg) {
		return 0, ErrSocketClosed
	}
	select {
	case r := <-s.writeDone:
		return r.n, r.err
	case <-deadline:
		return s.giveUpWrite(len(p), os.ErrDeadlineExceeded)
	case <-s.closed.wait(&s.evMu):
		// Close unblocks a blocked Write (net.Conn's contract); what the
		// send buffer took before still goes out, then the FIN.
		return s.giveUpWrite(len(p), ErrSocketClosed)
	case <-s.life.down:
		// The actor may be gone with the stack and never answer; the
		// write's data may or may not have reached the send buffer, and
		// the stack will send none of it now.
		return 0, s.life.err()
	case <-s.done.wait(&s.evMu):
		// The actor answers a pending write before it finishes, so the
		// answer may already be waiting.
		select {
		case r := <-s.writeDone:
			return r.n, r.err
		default:
		}
		err := s.Err()
		if err == nil {
			err = ErrSocketClosed
		}
		return 0, s.stackErr(err)
	}
}

// stackErr prefers the stack's end to errConnGone: a connection actor
// stopped because its stack closed or failed did not crash.
func (s *Socket) stackErr(err error) error {
	if errors.Is(err, errConnGone) {
		if serr := s.life.err(); serr != nil {
			return serr
		}
	}
	return err
}

// giveUpWrite asks the connection actor to drop the rest of the write in
// progress (of n bytes) and returns how much of it the send buffer took,
// with why when that was not all.
func (s *Socket) giveUpWrite(n int, why error) (int, error) {
	s.send(&cancelWrite{})
	select {
	case r := <-s.writeDone:
		if r.err == nil && r.n < n {
			r.err = why
		}
		return r.n, r.err
	case <-s.done.wait(&s.evMu):
		return 0, why
	case <-s.life.down:
		return 0, why
	}
}

// CloseWrite shuts the sending direction down.
func (s *Socket) CloseWrite() error {
	if !s.send(&mailbox.CloseWrite{}) {
		return ErrSocketClosed
	}
	return nil
}

// Close closes the connection; linger 0 resets it instead (SO_LINGER 0).
// Reads and writes after Close fail with ErrSocketClosed.
func (s *Socket) Close(abort bool) error {
	s.mu.Lock()
	if errors.Is(s.err, ErrSocketClosed) {
		s.mu.Unlock()
		return ErrSocketClosed
	}
	s.err = ErrSocketClosed
	// Closing with unread data resets, as Linux does (RFC 2525 §2.17):
	// the peer learns its data was not consumed.
	abort = abort || s.pending > 0
	s.pending = 0
	if !s.filling {
		s.recycle()
	}
	s.mu.Unlock()
	s.signal()
	// The Close (or Abort) goes first, so that a write given up below is
	// the last thing the connection actor drops before its FIN.
	if abort {
		s.send(&mailbox.Abort{})
	} else {
		s.send(&mailbox.Close{})
	}
	s.closed.fire(&s.evMu)
	return nil
}

// Configure runs apply on the control block, inside the connection actor:
// how socket options (no-delay, keep-alive) reach it.
func (s *Socket) Configure(apply func(now time.Time, c *tcp.Conn)) error {
	if !s.send(&configureConn{apply: apply}) {
		return ErrSocketClosed
	}
	return nil
}
