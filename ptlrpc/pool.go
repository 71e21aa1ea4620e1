package ptlrpc

import (
	"sync"
	"sync/atomic"
)

// buf is a pooled message buffer with a reference count: a reply buffer is
// held by its LNet send and, when saved for reconstruction, by its export.
type buf struct {
	b    []byte
	refs atomic.Int32
	pool *bufPool
}

// bufPool hands out buffers of at least size bytes.
type bufPool struct {
	size int
	p    sync.Pool
}

func newBufPool(size int) *bufPool {
	bp := &bufPool{size: size}
	bp.p.New = func() any { return &buf{b: make([]byte, size), pool: bp} }
	return bp
}

// get returns a buffer with one reference, b of length n (>= size grows it).
func (bp *bufPool) get(n int) *buf {
	x := bp.p.Get().(*buf)
	if cap(x.b) < n {
		x.b = make([]byte, n)
	}
	x.b = x.b[:n]
	x.refs.Store(1)
	return x
}

func (x *buf) ref() { x.refs.Add(1) }

// unref drops a reference; the last returns the buffer to its pool.
func (x *buf) unref() {
	if n := x.refs.Add(-1); n == 0 {
		if cap(x.b) <= 4*x.pool.size {
			x.pool.p.Put(x)
		}
	} else if n < 0 {
		panic("ptlrpc: buffer released twice")
	}
}
