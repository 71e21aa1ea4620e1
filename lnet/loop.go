package lnet

import (
	"fmt"
	"sync"

	"github.com/stria-fs/stria/internal/fifo"
)

// loopNI carries messages from this instance to itself (Lustre's 0@lo):
// one goroutine, owned by LNet, delivers them in order. Its Rx copies from
// the sender's payload into the sink, then completes the sender's Tx.
type loopNI struct {
	ln   *LNet
	wake chan struct{} // cap 1: work was queued or Close was called
	done chan struct{} // closed when run returns

	mu     sync.Mutex // guards the fields below; a leaf lock
	queue  fifo.Queue[*Tx]
	closed bool
	sent   uint64
	bytes  uint64
}

func newLoopNI(ln *LNet) *loopNI {
	return &loopNI{ln: ln, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (l *loopNI) NID() NID { return LoNID(0) }

func (l *loopNI) Send(tx *Tx) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		tx.Complete(fmt.Errorf("%w: loopback", ErrClosed))
		return
	}
	l.queue.Push(tx)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *loopNI) run() {
	defer l.ln.wg.Done()
	defer close(l.done)
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return
		}
		tx, ok := l.queue.Pop()
		if ok {
			l.sent++
			l.bytes += uint64(len(tx.Payload))
		}
		l.mu.Unlock()
		if !ok {
			<-l.wake
			continue
		}
		hdr := tx.Hdr
		l.ln.receive(l.ln.lo, hdr.Src, &hdr, loopRx{tx})
	}
}

// Close stops the loopback; messages still queued complete with ErrClosed.
func (l *loopNI) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
	l.mu.Lock()
	rest := l.queue.Drain()
	l.mu.Unlock()
	for _, tx := range rest {
		tx.Complete(fmt.Errorf("%w: loopback", ErrClosed))
	}
	return nil
}

func (l *loopNI) Status() NIStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return NIStatus{NID: LoNID(0), Up: !l.closed, SendCount: l.sent, RecvCount: l.sent,
		SendBytes: l.bytes, RecvBytes: l.bytes}
}

// loopRx is the receive side of a looped-back Tx.
type loopRx struct{ tx *Tx }

func (r loopRx) Recv(sink []byte, done func(error)) {
	copy(sink, r.tx.Payload)
	done(nil)
	r.tx.Complete(nil)
}
