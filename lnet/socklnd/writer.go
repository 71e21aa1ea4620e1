package socklnd

import (
	"fmt"
	"net"
	"time"

	"github.com/stria-fs/stria/lnet"
)

// The write side of a connection.
//
// Messages queue in the slot; the writer goroutine takes them in batches
// and writes each batch with vectored writes. One shortcut: a small message
// Sent to a CONTROL connection whose queue is empty and that nobody is
// writing to is written by Send itself with one non-blocking writev (no
// goroutine hand-off, which is most of a small message's latency). If the
// socket takes it all, the Tx completes inside Send; if it takes part or
// nothing, the rest goes to the writer goroutine (conn.rest), which writes
// it before anything else. conn.busy, under ni.mu, says that someone (the
// writer or an inline Send) is writing, so frames never interleave; an
// inline write happens only when nothing is queued, so order is kept.

// restWrite is a message an inline Send could not finish.
type restWrite struct {
	tx   *lnet.Tx
	bufs net.Buffers // what is left to write
}

func (c *conn) writeLoop() {
	defer c.ni.wg.Done()
	defer c.abandonRest()
	for {
		select {
		case <-c.kick:
		case <-c.closing:
			return
		}
		for {
			rest, batch := c.take()
			if rest == nil && len(batch) == 0 {
				break
			}
			err := c.writeBatch(rest, batch)
			c.release()
			if rest != nil {
				batch = append(batch, rest.tx)
			}
			if err == nil {
				for i, tx := range batch {
					c.ni.sendCount.Add(1)
					c.ni.sendBytes.Add(uint64(len(tx.Payload)))
					tx.Complete(nil)
					batch[i] = nil
				}
				continue
			}
			cause := c.writeFailure(err)
			for i, tx := range batch {
				tx.Complete(cause)
				batch[i] = nil
			}
			c.fail(err)
			return
		}
	}
}

// writeFailure is the error a Tx that could not be written completes with.
func (c *conn) writeFailure(err error) error {
	if c.ni.isClosed() {
		return fmt.Errorf("socklnd: send to %v: %w", c.peer.nid, lnet.ErrClosed)
	}
	if c.isClosing() {
		err = c.cause
	}
	return fmt.Errorf("%w: %v: %w", lnet.ErrPeerDown, c.peer.nid, err)
}

// abandonRest fails a message an inline Send left half written on a
// connection whose writer is gone.
func (c *conn) abandonRest() {
	c.ni.mu.Lock()
	rest := c.rest
	c.rest = nil
	c.ni.mu.Unlock()
	if rest != nil {
		rest.tx.Complete(c.writeFailure(errConnClosed))
	}
}

// take claims the socket (busy) and returns what there is to write: the
// rest of an inline write first, then up to maxBatch queued messages.
// It returns nothing when someone else is writing or c no longer owns its
// slot.
func (c *conn) take() (*restWrite, []*lnet.Tx) {
	ni := c.ni
	ni.mu.Lock()
	defer ni.mu.Unlock()
	s := &c.peer.slots[c.typ-1]
	if s.conn != c || c.busy {
		return nil, nil
	}
	rest := c.rest
	c.rest = nil
	n := min(len(s.queue), maxBatch)
	c.batch = append(c.batch[:0], s.queue[:n]...)
	clear(s.queue[:n])
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = nil
	}
	if rest != nil || n > 0 {
		c.busy = true
	}
	return rest, c.batch
}

// release gives up the socket and reports whether there is work for the
// writer.
func (c *conn) release() bool {
	c.ni.mu.Lock()
	defer c.ni.mu.Unlock()
	c.busy = false
	return c.rest != nil || len(c.peer.slots[c.typ-1].queue) > 0
}

// encodeFrame writes the frame header and LNet header of tx into h.
func (c *conn) encodeFrame(h []byte, tx *lnet.Tx) {
	fh := frameHeader{Type: frameLNet, Length: lnet.HeaderSize + uint32(len(tx.Payload))}
	tx.Hdr.Encode(h[FrameHeaderSize:])
	if c.ni.cfg.Checksum {
		fh.Flags |= flagChecksum
		fh.Cksum = headerChecksum(h[FrameHeaderSize:])
	}
	fh.encode(h)
}

// writeBatch writes the rest of an inline write, then every message of
// batch, with vectored writes: frame header and LNet header from a scratch
// buffer, the payload from the caller's buffer, never copied.
func (c *conn) writeBatch(rest *restWrite, batch []*lnet.Tx) error {
	const hsize = FrameHeaderSize + lnet.HeaderSize
	if need := hsize * len(batch); cap(c.whdrs) < need {
		c.whdrs = make([]byte, hsize*maxBatch)
	}
	bufs := c.wbufs[:0]
	if rest != nil {
		bufs = append(bufs, rest.bufs...)
	}
	for i, tx := range batch {
		h := c.whdrs[i*hsize : (i+1)*hsize]
		c.encodeFrame(h, tx)
		bufs = append(bufs, h)
		if len(tx.Payload) > 0 {
			bufs = append(bufs, tx.Payload)
		}
	}
	c.wbufs = bufs
	err := c.writeAll(bufs)
	clear(c.wbufs[:cap(c.wbufs)])
	return err
}

// writeAll writes bufs in chunks of at most ioChunk bytes, each under a
// fresh write deadline, and clears the deadline when done: sendInline's raw
// write honours it too, and a deadline left behind would fail every inline
// send once it passed, on a healthy socket.
func (c *conn) writeAll(bufs net.Buffers) error {
	defer clear(c.chunk[:cap(c.chunk)])
	defer func() { _ = c.nc.SetWriteDeadline(time.Time{}) }()
	for len(bufs) > 0 {
		chunk, n := c.chunk[:0], 0
		for len(bufs) > 0 && n < ioChunk {
			b := bufs[0]
			if k := ioChunk - n; len(b) > k {
				chunk = append(chunk, b[:k])
				bufs[0] = b[k:]
				n += k
				break
			}
			chunk = append(chunk, b)
			n += len(b)
			bufs = bufs[1:]
		}
		c.chunk = chunk
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.ni.cfg.Timeout))
		if _, err := chunk.WriteTo(c.nc); err != nil {
			return err
		}
	}
	return nil
}

// sendInline writes tx, which the caller took off the empty queue while
// claiming busy, with one non-blocking writev, and hands whatever the socket
// did not take to the writer goroutine.
func (c *conn) sendInline(tx *lnet.Tx) {
	h := c.ihdr[:]
	c.encodeFrame(h, tx)
	bufs := append(c.ibufs[:0], h)
	if len(tx.Payload) > 0 {
		bufs = append(bufs, tx.Payload)
	}
	c.ibufs = bufs
	n, err := c.tryWrite(bufs)
	total := len(h) + len(tx.Payload)
	if err == nil && n == total {
		clear(c.ibufs[:cap(c.ibufs)])
		c.ni.sendCount.Add(1)
		c.ni.sendBytes.Add(uint64(len(tx.Payload)))
		if c.release() {
			c.kickWriter()
		}
		tx.Complete(nil)
		return
	}
	if err != nil {
		clear(c.ibufs[:cap(c.ibufs)])
		c.release()
		tx.Complete(c.writeFailure(err))
		c.closeWith(err) // the reader detaches it and tells the Host
		return
	}
	// The socket is full: the writer finishes the frame. The header moves
	// out of ihdr, which the next inline Send reuses.
	c.ni.inlineSplit.Add(1)
	left := make(net.Buffers, 0, 2)
	for i, b := range bufs {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		b = b[n:]
		n = 0
		if i == 0 { // the header, in ihdr
			b = append([]byte(nil), b...)
		}
		left = append(left, b)
	}
	clear(c.ibufs[:cap(c.ibufs)])
	ni := c.ni
	ni.mu.Lock()
	handed := !c.isClosing()
	if handed {
		c.rest = &restWrite{tx: tx, bufs: left}
	}
	c.busy = false
	ni.mu.Unlock()
	if !handed { // the writer is gone or going: nobody will finish it
		tx.Complete(c.writeFailure(errConnClosed))
		return
	}
	c.kickWriter()
}
