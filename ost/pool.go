package ost

import (
	"math/bits"
	"sync"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

// Bulk buffers come from size classes of powers of two, minClassShift
// (4 KiB) to wire.MaxIOSize (16 MiB), so a handler takes one buffer per RPC
// and allocates nothing proportional to the I/O once the pool is warm.
const (
	minClassShift = 12
	maxClassShift = 24 // log2(wire.MaxIOSize)
	numClasses    = maxClassShift - minClassShift + 1
)

// ioBuf is a pooled bulk buffer; pools hold *ioBuf so that putting one back
// allocates nothing.
type ioBuf struct {
	b     []byte
	class int
}

// bufPool hands out bulk buffers by size class. It is safe for concurrent
// use.
type bufPool struct {
	classes [numClasses]sync.Pool
}

func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// get returns a buffer whose b has length n (0 < n <= wire.MaxIOSize).
func (p *bufPool) get(n int) *ioBuf {
	if n > wire.MaxIOSize {
		panic("ost: bulk buffer above MaxIOSize") // callers check first
	}
	c := classOf(n)
	if x, ok := p.classes[c].Get().(*ioBuf); ok {
		x.b = x.b[:n]
		return x
	}
	// Aligned, so that whole aligned blocks of it can go direct (osd).
	return &ioBuf{b: osd.AlignedBuf(n, 1<<(c+minClassShift)), class: c}
}

// put returns x to its class.
func (p *bufPool) put(x *ioBuf) {
	x.b = x.b[:0]
	p.classes[x.class].Put(x)
}
