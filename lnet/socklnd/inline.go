package socklnd

// Inline work (lnet.Inliner).
//
// A Host that gets a message on a reader goroutine may ask, from within
// Recv's done, to run the work the message starts on that same goroutine
// (Rx.Inline): ptlrpc runs a request's handler there when a handler thread
// is free, which saves the hand-off to another goroutine — on a small RPC
// that hand-off costs more than the rest. Inline is refused while more
// frames wait in the read buffer: under a burst the work is better spread
// over other goroutines (and CPUs) while the reader reads on; the last
// frame of a burst, and a lone one, run inline. The reader runs f once Recv has
// signalled recvDone and before it reads the next frame, so nothing is read
// from the connection while f runs. That is fine for short work; for long
// or blocking work (a handler waiting for bulk data that arrives on this
// same connection) the Host calls Detach: a new reader goroutine takes the
// connection over, with the old reader's count in ni.wg, and the old one
// ends once f returns (errDetached). Closing the connection detaches too, so
// that neither the connection nor the NI ever waits for f.
//
// Hand-over rules: conn.inline holds the Rx of the reader running f; both
// runInline and Detach swap it out with a CompareAndSwap, and whoever wins
// decides: runInline's win means the reader goes on, Detach's that a new
// reader was started. close sets conn.closed before looking at conn.inline,
// and runInline sets conn.inline before looking at conn.closed, so one of
// them sees the other and a reader never blocks Close by running f.
//
// An Rx whose Recv is made late, on another goroutine, while the
// connection closes: the reader, gone, marks the Rx rxGone, and Recv then
// runs f itself; if Recv got there first (rxHanded) the reader waits for
// recvDone and runs f. Either way f runs exactly once.

// The states of an Rx between Receive and recvDone.
const (
	rxWaiting int32 = iota // the reader waits for Recv
	rxHanded               // Recv finished and left its f (if any) to the reader
	rxGone                 // the reader left (connection closed); Recv runs f itself
)

// Inline implements lnet.Inliner. It refuses when the next frame has
// already begun to arrive (bytes wait in the read buffer): that frame's
// work should start now, beside f, not after it, so f is better run
// elsewhere (ptlrpc hands it to a worker) and the reader goes on.
func (r *rx) Inline(f func()) bool {
	if f == nil || !r.inDone.Load() || r.cont != nil || r.c.br.Buffered() > 0 {
		return false
	}
	r.cont = f
	return true
}

// Detach implements lnet.Inliner.
func (r *rx) Detach() {
	c := r.c
	if c.inline.CompareAndSwap(r, nil) {
		c.ni.inlineDetached.Add(1)
		go c.readLoop() // takes over the count in ni.wg of the reader running f
	}
}

// runInline runs f on the reader goroutine, as the reader of r. It reports
// whether this goroutine is still the connection's reader afterwards (false:
// it was detached, and another goroutine reads now).
func (c *conn) runInline(r *rx, f func()) bool {
	c.inline.Store(r)
	if c.closed.Load() {
		r.Detach()
	}
	f()
	return c.inline.CompareAndSwap(r, nil)
}
