package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type pcapRecord struct {
	ts         time.Time
	incl, orig int
	data       []byte
}

// readPcap parses a classic little-endian microsecond pcap file, checking
// its header the way a reader would.
func readPcap(t *testing.T, b []byte) []pcapRecord {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 24 {
		t.Fatalf("capture of %d bytes has no header", len(b))
	}
	if m := le.Uint32(b); m != 0xa1b2c3d4 {
		t.Fatalf("magic %#x", m)
	}
	if maj, mnr := le.Uint16(b[4:]), le.Uint16(b[6:]); maj != 2 || mnr != 4 {
		t.Fatalf("version %d.%d", maj, mnr)
	}
	if zone, sig := le.Uint32(b[8:]), le.Uint32(b[12:]); zone != 0 || sig != 0 {
		t.Fatalf("thiszone %d sigfigs %d", zone, sig)
	}
	if snap, lt := le.Uint32(b[16:]), le.Uint32(b[20:]); snap != 65535 || lt != 1 {
		t.Fatalf("snaplen %d linktype %d", snap, lt)
	}
	var recs []pcapRecord
	for b = b[24:]; len(b) > 0; {
		if len(b) < 16 {
			t.Fatalf("truncated record header")
		}
		sec, usec := le.Uint32(b), le.Uint32(b[4:])
		incl, orig := int(le.Uint32(b[8:])), int(le.Uint32(b[12:]))
		if usec >= 1e6 || incl > orig || incl > 65535 || len(b) < 16+incl {
			t.Fatalf("bad record header usec=%d incl=%d orig=%d left=%d", usec, incl, orig, len(b))
		}
		recs = append(recs, pcapRecord{
			ts:   time.Unix(int64(sec), int64(usec)*1000),
			incl: incl, orig: orig,
			data: b[16 : 16+incl],
		})
		b = b[16+incl:]
	}
	return recs
}

func TestPcapRecordsBothDirections(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{})
	defer b.Close()
	path := filepath.Join(t.TempDir(), "cap.pcap")
	p, err := OpenPcapFile(a, path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Truncate(time.Microsecond)

	out := testFrame(b.HardwareAddr(), a.HardwareAddr(), 1, 100)
	in1 := testFrame(a.HardwareAddr(), b.HardwareAddr(), 2, 60)
	in2 := testFrame(a.HardwareAddr(), b.HardwareAddr(), 3, 1514)
	if err := p.Write(out); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(make([]byte, 3)); err == nil {
		t.Fatal("short frame accepted")
	}
	_ = b.Write(in1)
	_ = b.Write(in2)
	bufs, sizes := newBufs(4, 2048)
	if n := readTimeout(t, p, bufs, sizes, readWait); n != 2 {
		t.Fatalf("read %d", n)
	}
	if err := p.WriteBatch([][]byte{out, out}); err != nil {
		t.Fatal(err)
	}
	if p.MTU() != a.MTU() || !bytes.Equal(p.HardwareAddr(), a.HardwareAddr()) || p.Stats().FramesIn != 2 || p.Unwrap() != a {
		t.Fatal("Pcap does not pass through MTU, HardwareAddr, Stats or Unwrap")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := a.ReadBatch(bufs, sizes); !errors.Is(err, ErrClosed) {
		t.Fatalf("Close did not close the wrapped device: %v", err)
	}
	if p.Err() != nil {
		t.Fatal(p.Err())
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := readPcap(t, raw)
	want := [][]byte{out, in1, in2, out, out}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	end := time.Now()
	for i, r := range recs {
		if !bytes.Equal(r.data, want[i]) || r.orig != len(want[i]) {
			t.Errorf("record %d: %d bytes (orig %d), want %d", i, len(r.data), r.orig, len(want[i]))
		}
		if r.ts.Before(start) || r.ts.After(end) {
			t.Errorf("record %d: timestamp %v outside [%v, %v]", i, r.ts, start, end)
		}
	}

	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Log("tcpdump not installed; skipping the tcpdump -r check")
		return
	}
	cmd := exec.Command("tcpdump", "-nn", "-e", "-r", path)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, outb)
	}
	lines := 0
	for _, l := range strings.Split(string(outb), "\n") {
		if strings.Contains(l, "ethertype") {
			lines++
		}
	}
	if lines != len(want) || !strings.Contains(string(outb), a.HardwareAddr().String()) {
		t.Fatalf("tcpdump printed %d frames, want %d:\n%s", lines, len(want), outb)
	}
}

func TestPcapSnapLen(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{MTU: 65535})
	defer b.Close()
	var buf bytes.Buffer
	p, err := NewPcap(a, &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	big := make([]byte, 65535+HeaderLen)
	if err := p.Write(big); err != nil {
		t.Fatal(err)
	}
	recs := readPcap(t, buf.Bytes())
	if len(recs) != 1 || recs[0].incl != 65535 || recs[0].orig != len(big) {
		t.Fatalf("records %d, incl %d orig %d", len(recs), recs[0].incl, recs[0].orig)
	}
}

// lockedBuffer is an io.Writer safe for concurrent use, which also counts
// the Flush called by Pcap.Close.
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	flushed int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushed++
	return nil
}

func TestPcapConcurrent(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{RingSize: 4096})
	var w lockedBuffer
	pa, err := NewPcap(a, &w)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_ = pa.Write(testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(g*each+i), 64+i))
			}
		}()
	}
	// Echo everything back so reads and writes are recorded concurrently.
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs, sizes := newBufs(32, 2048)
		got := 0
		for got < writers*each {
			n, err := b.ReadBatch(bufs, sizes)
			if err != nil {
				return
			}
			for i := range n {
				_ = b.Write(bufs[i][:sizes[i]])
			}
			got += n
		}
	}()
	bufs, sizes := newBufs(32, 2048)
	for got := 0; got < writers*each; {
		n := readTimeout(t, pa, bufs, sizes, readWait)
		got += n
	}
	wg.Wait()
	<-done
	_ = pa.Close()
	_ = b.Close()
	if w.flushed != 1 {
		t.Fatalf("Flush called %d times, want 1", w.flushed)
	}
	recs := readPcap(t, w.b.Bytes())
	if len(recs) != 2*writers*each {
		t.Fatalf("%d records, want %d", len(recs), 2*writers*each)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[fmt.Sprintf("%x", r.data[14:18])]++
	}
	for k, v := range seen {
		if v != 2 {
			t.Fatalf("frame %s recorded %d times, want 2 (out and back)", k, v)
		}
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after == 0 {
		return 0, io.ErrShortWrite
	}
	f.after--
	return len(p), nil
}

func TestPcapWriteErrorDoesNotStopTraffic(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{})
	defer b.Close()
	if _, err := NewPcap(a, &failWriter{}); err == nil {
		t.Fatal("NewPcap ignored a failing header write")
	}
	p, err := NewPcap(a, &failWriter{after: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 3 {
		if err := p.Write(make([]byte, 60)); err != nil {
			t.Fatal(err)
		}
	}
	if !errors.Is(p.Err(), io.ErrShortWrite) {
		t.Fatalf("Err() = %v", p.Err())
	}
	bufs, sizes := newBufs(4, 64)
	if n := readTimeout(t, b, bufs, sizes, readWait); n != 3 {
		t.Fatalf("%d frames through, want 3", n)
	}
}
