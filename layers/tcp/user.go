package tcp

import (
	"io"
	"time"
)

// The user calls of RFC 9293 §3.10 (SEND, RECEIVE, CLOSE, ABORT) and the
// per-connection options.

// SetNoDelay turns Nagle's algorithm off (true) or on (false). Data held
// back by Nagle goes out on the next call that sends.
func (c *Conn) SetNoDelay(on bool) { c.noDelay = on }

// SetPathMTU changes the path MTU towards the peer (from ICMP "packet too
// big" or "fragmentation needed", RFC 8201/RFC 1191). The send MSS follows
// it but never exceeds what the peer announced.
func (c *Conn) SetPathMTU(mtu int) {
	c.mtu = min(max(mtu, 68), 65535)
	c.updateMSS()
}

// SetKeepAlive switches keep-alive probing on or off, with the idle time,
// interval and count from the Config unless the arguments are positive.
func (c *Conn) SetKeepAlive(now time.Time, on bool, idle, interval time.Duration, count int) {
	c.cfg.KeepAlive = on
	if idle > 0 {
		c.cfg.KeepAliveIdle = idle
	}
	if interval > 0 {
		c.cfg.KeepAliveInterval = interval
	}
	if count > 0 {
		c.cfg.KeepAliveCount = count
	}
	c.keepProbes = 0
	c.armKeepAlive(now)
}

// SetUserTimeout sets the user timeout (RFC 9293 §3.8.3); zero disables.
func (c *Conn) SetUserTimeout(now time.Time, d time.Duration) {
	c.cfg.UserTimeout = d
	c.timers[timerUser] = time.Time{}
	c.armUserTimeout(now)
}

// Write queues as much of p as the send buffer has room for and returns
// how many bytes it took; the rest must be offered again after
// EventWritable. Data written before the handshake completes is sent once
// it does.
func (c *Conn) Write(now time.Time, p []byte) (int, error) {
	switch c.state {
	case StateClosed:
		if c.err != nil {
			return 0, c.err
		}
		return 0, ErrClosed
	case StateListen:
		return 0, ErrNotConnected
	}
	if c.finQueued {
		return 0, ErrWriteClosed
	}
	n := min(len(p), c.cfg.SendBufferSize-c.sndq.ext)
	if n <= 0 {
		return 0, nil
	}
	c.sndq.writeAt(c.sndq.ext, p[:n])
	c.output(now)
	return n, nil
}

// Read moves buffered in-order data into p. It returns io.EOF once the
// peer's FIN has been reached, the close error after an abnormal close,
// and (0, nil) when nothing is buffered yet. Reading opens the receive
// window and may send a window update (RFC 9293 §3.8.6.2.2).
func (c *Conn) Read(now time.Time, p []byte) (int, error) {
	if c.rcvAvail == 0 {
		switch {
		case c.err != nil:
			return 0, c.err
		case c.peerFin:
			return 0, io.EOF
		case c.state == StateClosed:
			return 0, ErrClosed
		case c.state == StateListen:
			return 0, ErrNotConnected
		}
		return 0, nil
	}
	n := c.rcvq.readAt(0, p[:min(len(p), c.rcvAvail)])
	c.rcvq.discard(n)
	c.rcvAvail -= n
	if c.peerMaySend() && c.windowUpdateDue() {
		c.ackNow = true
		c.output(now)
	}
	return n, nil
}

// CloseWrite shuts the sending direction down: a FIN follows the data
// already queued (the RFC's CLOSE, a half-close: the peer may go on
// sending). In SYN-SENT and SYN-RECEIVED the FIN waits for the handshake.
func (c *Conn) CloseWrite(now time.Time) error {
	switch c.state {
	case StateClosed:
		if c.err != nil {
			return c.err
		}
		return ErrClosed
	case StateListen:
		c.enterClosed(nil)
		return nil
	}
	if c.finQueued {
		return nil
	}
	c.finQueued = true
	switch c.state {
	case StateEstablished:
		c.state = StateFinWait1
	case StateCloseWait:
		c.state = StateLastAck
	}
	c.output(now)
	return nil
}

// Close closes both directions. If received data is still unread, or
// arrives later, it resets the connection instead, so the peer learns its
// data was not consumed (RFC 1122 §4.2.2.13, RFC 2525 §2.17). Otherwise it
// is CloseWrite, and the connection lingers through FIN-WAIT and TIME-WAIT
// on its own. In LISTEN, and in SYN-SENT with nothing written, it closes
// at once (RFC 9293 §3.10.4); data written in SYN-SENT is still delivered,
// followed by the FIN, once the handshake completes.
func (c *Conn) Close(now time.Time) error {
	switch c.state {
	case StateClosed:
		return nil
	case StateListen:
		c.enterClosed(nil)
		return nil
	case StateSynSent:
		if c.sndq.ext == 0 {
			c.enterClosed(nil)
			return nil
		}
	}
	if c.rcvAvail > 0 {
		c.Abort(now)
		return nil
	}
	c.readClosed = true
	if c.state == StateFinWait2 {
		c.timers[timerLinger] = now.Add(c.cfg.FinWait2Timeout)
	}
	return c.CloseWrite(now)
}

// Abort resets the connection (the RFC's ABORT, §3.10.5): a RST goes to the
// peer from the states where it has state to discard, all queues are
// flushed and the Conn enters CLOSED with ErrAborted.
func (c *Conn) Abort(now time.Time) {
	switch c.state {
	case StateSynReceived, StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait:
		c.sendRST(now, c.acceptableSeq())
	}
	if c.state != StateClosed {
		c.enterClosed(ErrAborted)
	}
}

// AddrRemoved ends the connection because the host gave up its local
// address (a DHCP lease ended or changed it): nothing can reach the
// connection any more and no segment may leave from that address, so no
// RST is sent. The Conn enters CLOSED with ErrAddrRemoved.
func (c *Conn) AddrRemoved() {
	if c.state != StateClosed {
		c.enterClosed(ErrAddrRemoved)
	}
}

// DropUnreachable gives up a passive open whose SYN-ACK cannot reach the
// peer (no route back, or resolving the next hop's address failed): the
// request is dropped without a reset, which could not be sent either, as
// Linux drops a request whose SYN-ACK it cannot route. The connection
// enters CLOSED with ErrHostUnreachable. It reports whether it did so;
// any other state is left alone.
func (c *Conn) DropUnreachable() bool {
	if c.state != StateSynReceived || !c.passive {
		return false
	}
	c.enterClosed(ErrHostUnreachable)
	return true
}

// TimeWaitReuse reports whether the connection closed because a new SYN
// arrived in TIME-WAIT with a sequence number above the old connection's
// (RFC 1122 §4.2.2.13). The owner should then hand that SYN to the
// listener (Accept) with an ISN of at least minISS, so that old duplicates
// of this connection cannot be mistaken for the new one.
func (c *Conn) TimeWaitReuse() (minISS Seq, ok bool) {
	if !c.reuse {
		return 0, false
	}
	return c.sndMax.Add(1 << 16), true
}
