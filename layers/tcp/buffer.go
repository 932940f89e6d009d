package tcp

import "sync"

// chunkSize is the unit in which send and receive buffers take memory.
// Buffers hold chunks only while they hold bytes, so an idle connection
// costs no buffer memory at all (the 16 KiB per-idle-connection budget),
// and the chunks go back to a shared pool for the next busy connection.
const chunkSize = 16 << 10

type chunk = [chunkSize]byte

// chunkPool recycles chunks between connections. A pointer to an array is
// stored so that Put does not allocate.
var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// byteQueue is a bounded-by-its-owner queue of bytes addressed by logical
// offset: offset 0 is the oldest byte still held. Bytes may be written at
// any offset (the receive side places out-of-order data beyond the
// contiguous part), read at any offset (the send side re-reads unacked data
// for retransmission) and dropped from the front. Memory is taken lazily in
// chunks and returned when the queue empties.
type byteQueue struct {
	chunks []*chunk
	head   int // offset of logical byte 0 within chunks[0]
	ext    int // logical bytes [0, ext) are backed by chunks
}

// ensure backs logical bytes [0, end) with chunks.
func (q *byteQueue) ensure(end int) {
	for q.head+end > len(q.chunks)*chunkSize {
		q.chunks = append(q.chunks, chunkPool.Get().(*chunk))
	}
	if end > q.ext {
		q.ext = end
	}
}

// writeAt copies p to logical offset off.
func (q *byteQueue) writeAt(off int, p []byte) {
	if len(p) == 0 {
		return
	}
	q.ensure(off + len(p))
	pos := q.head + off
	for len(p) > 0 {
		c := q.chunks[pos/chunkSize]
		n := copy(c[pos%chunkSize:], p)
		p = p[n:]
		pos += n
	}
}

// readAt copies bytes from logical offset off into p, up to the backed
// extent, and returns how many it copied.
func (q *byteQueue) readAt(off int, p []byte) int {
	if off >= q.ext || off < 0 {
		return 0
	}
	if len(p) > q.ext-off {
		p = p[:q.ext-off]
	}
	total := len(p)
	pos := q.head + off
	for len(p) > 0 {
		c := q.chunks[pos/chunkSize]
		n := copy(p, c[pos%chunkSize:])
		p = p[n:]
		pos += n
	}
	return total
}

// discard drops the first n logical bytes, returning chunks no longer
// needed to the pool. When nothing is backed any more, all memory goes.
func (q *byteQueue) discard(n int) {
	if n <= 0 {
		return
	}
	if n >= q.ext {
		q.release()
		return
	}
	q.ext -= n
	q.head += n
	drop := q.head / chunkSize
	if drop > 0 {
		for i := 0; i < drop; i++ {
			chunkPool.Put(q.chunks[i])
		}
		m := copy(q.chunks, q.chunks[drop:])
		clear(q.chunks[m:])
		q.chunks = q.chunks[:m]
		q.head -= drop * chunkSize
	}
}

// release returns all chunks to the pool and empties the queue. The chunk
// list keeps its (small: one pointer per 16 KiB of buffer) backing array,
// so a connection that drains and refills allocates nothing.
func (q *byteQueue) release() {
	for _, c := range q.chunks {
		chunkPool.Put(c)
	}
	clear(q.chunks)
	q.chunks = q.chunks[:0]
	q.head = 0
	q.ext = 0
}
