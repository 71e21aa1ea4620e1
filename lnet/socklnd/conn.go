package socklnd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
)

const (
	// controlReadBuf is the read buffer of CONTROL connections: many small
	// frames per read system call.
	controlReadBuf = 16 << 10
	// bulkReadBuf is the read buffer of bulk connections: exactly one frame
	// header and LNet header, so that a payload never lands in it and is read
	// straight from the socket into the receiver's sink.
	bulkReadBuf = FrameHeaderSize + lnet.HeaderSize
	// ioChunk bounds one read or write between two deadline extensions, so
	// that Timeout means "no progress for that long", as sock_timeout.
	ioChunk = 16 << 20
	// maxBatch bounds the messages gathered into one vectored write.
	maxBatch = 64
)

// errConnClosed is what a connection's goroutines see when it was closed on
// purpose (replaced, lost a race, peer restarted, NI closed).
var errConnClosed = errors.New("socklnd: connection closed")

// errDetached ends the reading of a goroutine that ran an Inline f and was
// detached meanwhile: another goroutine reads the connection now.
var errDetached = errors.New("socklnd: reader detached")

// conn is one established TCP connection to a peer. It has a reader
// goroutine (frames in, Host.Receive, wait for Rx.Recv) and, when it carries
// our sends (CONTROL and BULK_OUT), a writer goroutine draining its slot's
// queue. Both end when the connection closes; the first to fail detaches it
// from its slot.
type conn struct {
	ni        *NI
	peer      *peer
	typ       connType // from our point of view
	initiator lnet.NID // who dialled: used to break connect races
	nc        net.Conn
	br        *bufio.Reader

	kick      chan struct{} // cap 1: the slot's queue grew
	closing   chan struct{} // closed by close
	closed    atomic.Bool   // set by close before it detaches an Inline f (see runInline)
	closeOnce sync.Once
	cause     error      // why it was closed; set before closing is closed
	recvDone  chan error // cap 1: the current Rx's Recv finished (nil) or broke the stream
	// inline is the Rx of the reader that is running an Inline f, nil when
	// none is: Detach swaps it out and starts a new reader (inline.go).
	inline atomic.Pointer[rx]

	// Reader-owned (and owned by the Rx the reader hands out until it signals recvDone).
	hbuf  [FrameHeaderSize + lnet.HeaderSize]byte
	armed bool // a read deadline is set

	// Write side: see writer.go.
	busy bool            // under ni.mu: a goroutine (the writer or an inline Send) is writing
	rest *restWrite      // under ni.mu: a message an inline Send wrote in part
	raw  syscall.RawConn // for inline writes; nil when not possible
	// Owned by whoever holds busy.
	whdrs  []byte
	wbufs  net.Buffers
	chunk  net.Buffers
	batch  []*lnet.Tx
	ihdr   [FrameHeaderSize + lnet.HeaderSize]byte
	iwrite func(fd uintptr) bool // the inline write: writev of ibufs into in, ierr
	ibufs  [][]byte
	in     int
	ierr   error
}

func newConn(ni *NI, p *peer, typ connType, initiator lnet.NID, nc net.Conn) *conn {
	size := controlReadBuf
	if typ != connControl {
		size = bulkReadBuf
	}
	c := &conn{
		ni:        ni,
		peer:      p,
		typ:       typ,
		initiator: initiator,
		nc:        nc,
		br:        bufio.NewReaderSize(nc, size),
		kick:      make(chan struct{}, 1),
		closing:   make(chan struct{}),
		recvDone:  make(chan error, 1),
		busy:      true, // until start: the handshake owns the socket
	}
	if typ == connControl {
		c.setupInline()
	}
	return c
}

// writes reports whether we send on this connection.
func (c *conn) writes() bool { return c.typ != connBulkIn }

// start runs the connection's goroutines. The caller holds a count on
// ni.wg, so adding to it here cannot race with Close's Wait.
func (c *conn) start() {
	c.ni.mu.Lock()
	c.busy = false
	c.ni.mu.Unlock()
	c.ni.wg.Add(1)
	go c.readLoop()
	if c.writes() {
		c.ni.wg.Add(1)
		go c.writeLoop()
	}
}

func (c *conn) kickWriter() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// close closes the socket and stops the goroutines; it does not touch the slot.
func (c *conn) close() { c.closeWith(errConnClosed) }

// closeWith is close for a reason that the reader then reports when it
// detaches the connection (fail). It lets a goroutine that is not the NI's
// own (an inline Send) end a connection without calling the Host.
func (c *conn) closeWith(cause error) {
	c.closeOnce.Do(func() {
		c.cause = cause
		c.closed.Store(true)
		close(c.closing)
		_ = c.nc.Close()
	})
	// A reader busy with an Inline f must not hold up Close: another
	// reader takes its place, finds the connection closed and ends it.
	if r := c.inline.Load(); r != nil {
		r.Detach()
	}
}

// isClosing reports whether close has been called.
func (c *conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// fail closes c because of err and, if c was still its slot's connection,
// detaches it, fails the slot's queue and tells the Host when the peer has no
// connection left.
func (c *conn) fail(err error) {
	c.close()
	ni, p := c.ni, c.peer
	ni.mu.Lock()
	s := &p.slots[c.typ-1]
	if s.conn != c {
		ni.mu.Unlock()
		return // replaced, or the NI is closing: whoever did that cleaned up
	}
	s.conn = nil
	p.nconns--
	if p.nconns == 0 {
		ni.notePeerLocked(p.nid, false, err)
	}
	txs := s.queue
	s.queue = nil
	ni.mu.Unlock()

	fields := []zap.Field{zap.Stringer("nid", p.nid), zap.Stringer("conn", c.typ), zap.String("reason", err.Error())}
	if errors.Is(err, lnet.ErrProtocol) {
		ni.log.Warn("closing connection", fields...)
	} else {
		ni.log.Info("connection lost", fields...)
	}
	for _, tx := range txs {
		tx.Complete(fmt.Errorf("%w: %v: %w", lnet.ErrPeerDown, p.nid, err))
	}
	ni.flushEvents()
}

// protocolError marks err as the peer's fault.
func protocolError(err error) error { return fmt.Errorf("%w: %w", lnet.ErrProtocol, err) }

// readErr classifies an error from reading inside a frame: the stream ended
// or broke mid-frame.
func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("truncated frame: %w", err)
}

// readLoop is the connection's reader. It holds a count in ni.wg, which it
// hands to its successor when an Inline f detaches it (inline.go).
func (c *conn) readLoop() {
	err := c.readFrames()
	if errors.Is(err, errDetached) {
		return // the new reader holds our count in ni.wg
	}
	defer c.ni.wg.Done()
	if c.isClosing() {
		err = c.cause
	}
	c.fail(err)
}

// arm starts the clock on a frame that has not fully arrived.
func (c *conn) arm() {
	c.armed = true
	_ = c.nc.SetReadDeadline(time.Now().Add(c.ni.cfg.Timeout))
}

// disarm lets the connection idle again.
func (c *conn) disarm() {
	if c.armed {
		c.armed = false
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}

func (c *conn) readFrames() error {
	var fh frameHeader
	buf := c.hbuf[:]
	// One Rx per reader goroutine, reused for every frame it reads: the
	// reader hands out the next frame only after this one's Recv
	// signalled recvDone.
	rx := &rx{c: c}
	for {
		if c.closed.Load() {
			return errConnClosed // a detached reader's successor, started by close
		}
		if _, err := c.br.Peek(1); err != nil {
			return err // idle connection ended: not a truncated frame
		}
		if c.br.Buffered() < len(buf) {
			c.arm()
		}
		if _, err := io.ReadFull(c.br, buf[:FrameHeaderSize]); err != nil {
			return readErr(err)
		}
		if err := fh.decode(buf); err != nil {
			return protocolError(err)
		}
		if fh.Type == frameNoop {
			c.disarm()
			continue
		}
		if _, err := io.ReadFull(c.br, buf[FrameHeaderSize:]); err != nil {
			return readErr(err)
		}
		rx.used.Store(false)
		rx.state.Store(rxWaiting)
		if err := rx.hdr.Decode(buf[FrameHeaderSize:]); err != nil {
			return protocolError(err)
		}
		if rx.hdr.PayloadLen != fh.Length-lnet.HeaderSize {
			return protocolError(fmt.Errorf("%w: frame of %d bytes for payload of %d", ErrBadLength, fh.Length, rx.hdr.PayloadLen))
		}
		if fh.Flags&flagChecksum != 0 && headerChecksum(buf[FrameHeaderSize:]) != fh.Cksum {
			return protocolError(ErrChecksum)
		}
		c.ni.host.Receive(c.ni, c.peer.nid, &rx.hdr, rx)
		select {
		case err := <-c.recvDone:
			if err != nil {
				return err
			}
		case <-c.closing:
			if rx.state.CompareAndSwap(rxWaiting, rxGone) {
				return errConnClosed
			}
			// Recv finished meanwhile and left us an Inline f to run.
			<-c.recvDone
		}
		c.disarm()
		if f := rx.cont; f != nil {
			rx.cont = nil
			if !c.runInline(rx, f) {
				return errDetached
			}
		}
	}
}

// rx is the handle on one arrived message; its payload is still in the socket.
type rx struct {
	c    *conn
	hdr  lnet.Header
	used atomic.Bool
	// Inline support (inline.go).
	inDone atomic.Bool  // Recv is calling done: Inline may set cont
	cont   func()       // the Inline f; the reader's once recvDone is signalled
	state  atomic.Int32 // rxWaiting, rxHanded, rxGone
}

var (
	_ lnet.Rx      = (*rx)(nil)
	_ lnet.Inliner = (*rx)(nil)
)

// Recv reads the first len(sink) bytes of the payload from the socket
// straight into sink, discards the rest, calls done and lets the reader go
// on to the next frame.
func (r *rx) Recv(sink []byte, done func(error)) {
	if !r.used.CompareAndSwap(false, true) {
		done(fmt.Errorf("%w: Recv called twice", ErrRecvMisuse))
		return
	}
	c, ni := r.c, r.c.ni
	total := int(r.hdr.PayloadLen)
	var misuse error
	if len(sink) > total {
		misuse = fmt.Errorf("%w: sink of %d bytes for a payload of %d", ErrRecvMisuse, len(sink), total)
		sink = nil
	}
	err := c.readPayload(sink, total-len(sink))
	switch {
	case err != nil:
		ni.dropCount.Add(1)
		done(fmt.Errorf("%w: %v: %w", lnet.ErrPeerDown, c.peer.nid, err))
	case misuse != nil:
		ni.dropCount.Add(1)
		done(misuse)
	default:
		ni.recvCount.Add(1)
		ni.recvBytes.Add(uint64(len(sink)))
		if len(sink) < total {
			ni.dropCount.Add(1)
		}
		r.inDone.Store(true)
		done(nil)
		r.inDone.Store(false)
	}
	if f := r.cont; f != nil && !r.state.CompareAndSwap(rxWaiting, rxHanded) {
		// The reader went away (its connection closed) before this Recv
		// finished: nobody else will run f.
		r.cont = nil
		f()
	}
	c.recvDone <- err
}

// readPayload reads len(sink) bytes into sink and then discards skip bytes,
// extending the read deadline for every chunk that has not arrived yet.
func (c *conn) readPayload(sink []byte, skip int) error {
	for len(sink) > 0 {
		n := min(len(sink), ioChunk)
		if c.br.Buffered() < n {
			c.arm()
		}
		if _, err := io.ReadFull(c.br, sink[:n]); err != nil {
			return readErr(err)
		}
		sink = sink[n:]
	}
	for skip > 0 {
		n := min(skip, ioChunk)
		if c.br.Buffered() < n {
			c.arm()
		}
		if _, err := io.CopyN(io.Discard, c.br, int64(n)); err != nil {
			return readErr(err)
		}
		skip -= n
	}
	return nil
}

func (ni *NI) isClosed() bool {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	return ni.closed
}
