package ptlrpc

import (
	"sync"
	"time"

	"github.com/stria-fs/stria/internal/fifo"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// Handler threads.
//
// A service runs at most Threads handlers at once. A request that arrives
// while fewer run and none waits is run at once: on the LND goroutine that
// received it, when the LND offers that (lnet.Event.Inline: socklnd does),
// or else by waking a parked worker goroutine. Otherwise it waits in the
// queue (QueueDepth), which workers take from in arrival order as they
// finish, or is refused with EBUSY when the queue is full.
//
// Running a request on the receiving goroutine saves the hand-off to a
// worker, which on a small RPC costs more than the rest of the server's work
// (a wake-up and a context switch, often on another CPU). While the handler
// runs nothing more is read from its connection, so only quick handlers run
// inline: the service keeps an estimate of each opcode's handler time (a
// moving average that jumps up at once), and only opcodes estimated under
// inlineQuick qualify. A run that is about to wait for bulk (which may come
// over that very connection) is detached: the LND hands the connection to a
// new reader goroutine. So is one that runs longer than inlineDetachAfter
// after all, by a watchdog that ticks (every inlineDetachAfter) only while
// requests run inline: a timer per request would cost more than the hand-off
// it saves (arming one wakes the thread sleeping in the network poller). A
// handler waiting for something that comes over its own connection is thus
// delayed, never deadlocked. A request run inline holds one of the Threads
// slots like a worker's.

// inlineQuick is the estimated handler time under which an opcode's
// requests may run inline. Estimates are wall-clock times and on a busy
// machine include the handler's waits for a CPU: at 100 µs the MDT's
// creates, answered before their commit in about that, ran inline for
// only 40% of the requests of mdbench's create phase; at 500 µs for 88%,
// which made the phase 10 to 20% faster and cheaper in CPU per create.
// A handler that waits longer than that is still detached by the
// watchdog (inlineDetachAfter).
const inlineQuick = 500 * time.Microsecond

// inlineDetachAfter is how long the watchdog lets a handler run on the
// goroutine that received its request before it hands that goroutine's
// connection to another reader; it is also how often the watchdog looks.
const inlineDetachAfter = 5 * time.Millisecond

// opLearn bounds the opcodes whose handler time a service estimates; others
// never run inline.
const opLearn = 1024

// pool is the handler threads' state: slots, queue and parked workers.
//
// Invariant, under mu: every worker is either parked or counted in busy
// (from the moment a request is handed to it until it parks again), and
// there are Threads workers; so whenever busy < Threads a worker is parked.
type pool struct {
	mu     sync.Mutex           // taken after Service.mu
	busy   int                  // handlers running (inline or on a worker); at most Threads
	queue  fifo.Queue[*Request] // requests waiting for a thread; at most QueueDepth
	parked []*worker            // workers waiting for a request, most recent last
	all    []*worker            // every worker; set by Start
	inl    []*inlineRun         // requests running inline, for the watchdog
	inlSeq uint64               // inline runs started so far
	watch  bool                 // the watchdog ticks
}

// worker is a handler goroutine. It parks on wake, which hands it a request
// together with a slot.
type worker struct {
	wake chan *Request // cap 1
}

// inlineRun is a Request's state for running inline. A Request keeps it
// across its pooled lives, so that running inline allocates nothing.
type inlineRun struct {
	svc   *Service
	fn    func()    // r.runInline, made once
	since time.Time // under pool.mu: when the request arrived
	idx   int       // under pool.mu: its index in pool.inl
	mu    sync.Mutex
	in    lnet.Inliner // under mu: the LND's, while the run is not detached
}

func (r *Request) inline() *inlineRun {
	if r.inl == nil {
		r.inl = &inlineRun{svc: r.svc}
		r.inl.fn = r.runInline
	}
	return r.inl
}

// dispatch hands a request that accept took to a thread, or queues it; it
// reports false when the queue is full (the caller refuses the request). in
// is the LND's offer to run it on the receiving goroutine (nil: none). The
// caller holds s.mu for reading and has checked closing.
func (s *Service) dispatch(r *Request, in lnet.Inliner) bool {
	p := &s.pool
	p.mu.Lock()
	if p.busy < s.cfg.Threads && p.queue.Len() == 0 {
		p.busy++
		if in != nil && s.quick(r.msg.Opcode) {
			ir := r.inline()
			ir.mu.Lock() // the watchdog may look at the Request's last life
			ir.in = in
			ir.mu.Unlock()
			s.wg.Add(1)
			if in.Inline(ir.fn) {
				ir.since, ir.idx = r.arrival, len(p.inl)
				p.inl = append(p.inl, ir)
				p.inlSeq++
				kick := !p.watch
				p.watch = true
				p.mu.Unlock()
				if kick {
					select {
					case s.watchKick <- struct{}{}:
					default:
					}
				}
				return true
			}
			ir.mu.Lock()
			ir.in = nil
			ir.mu.Unlock()
			s.wg.Done()
		}
		w := p.unparkLocked()
		p.mu.Unlock()
		w.wake <- r
		return true
	}
	ok := p.queue.Len() < s.cfg.QueueDepth
	if ok {
		p.queue.Push(r)
	}
	p.mu.Unlock()
	return ok
}

// unparkLocked takes a parked worker, which the invariant says exists when
// a slot is free or held by an inline run.
func (p *pool) unparkLocked() *worker {
	w := p.parked[len(p.parked)-1]
	p.parked = p.parked[:len(p.parked)-1]
	return w
}

// next ends a thread's request and returns the next queued one, keeping the
// slot; nil when none waits, the slot given back and w (if not nil) parked.
// ir is the inline run that ends, if it is one.
func (s *Service) next(w *worker, ir *inlineRun) *Request {
	p := &s.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if ir != nil {
		last := p.inl[len(p.inl)-1]
		p.inl[ir.idx], last.idx = last, ir.idx
		p.inl[len(p.inl)-1] = nil
		p.inl = p.inl[:len(p.inl)-1]
	}
	if r, ok := p.queue.Pop(); ok {
		return r
	}
	p.busy--
	if w != nil {
		p.parked = append(p.parked, w)
	}
	return nil
}

// startWorkers makes the workers, parked, and starts their goroutines.
func (s *Service) startWorkers() {
	p := &s.pool
	p.mu.Lock()
	for range s.cfg.Threads {
		w := &worker{wake: make(chan *Request, 1)}
		p.all = append(p.all, w)
		p.parked = append(p.parked, w)
	}
	p.mu.Unlock()
	for _, w := range p.all {
		s.wg.Add(1)
		go s.worker(w)
	}
}

func (s *Service) worker(w *worker) {
	defer s.wg.Done()
	for {
		var r *Request
		select {
		case r = <-w.wake:
		case <-s.done:
			return // Close drops what is left (drainQueue)
		}
		for r != nil {
			s.serveOnThread(r)
			s.release(r)
			r = s.next(w, nil)
		}
	}
}

// serveOnThread serves r on a thread holding a slot, unless the service is
// closing (queued requests are dropped).
func (s *Service) serveOnThread(r *Request) {
	select {
	case <-s.done:
	default:
		s.stats.running.Add(1)
		s.serve(r)
		s.stats.running.Add(-1)
	}
}

// runInline is the Inline f of a request dispatch ran on the goroutine that
// received it. A request queued meanwhile gets this slot, on a worker: the
// receiving goroutine goes back to its connection.
func (r *Request) runInline() {
	s, ir := r.svc, r.inl
	s.stats.inline.Add(1)
	s.serveOnThread(r)
	ir.mu.Lock()
	ir.in = nil
	ir.mu.Unlock()
	next := s.next(nil, ir)
	s.release(r) // r may run again at once, elsewhere: ir is done with
	if next != nil {
		p := &s.pool
		p.mu.Lock()
		w := p.unparkLocked()
		p.mu.Unlock()
		w.wake <- next
	}
	s.wg.Done()
}

// detach hands the connection of a request running inline to another
// reader (lnet.Inliner.Detach): its handler is about to wait, or has run
// long. It does nothing for a request that does not run inline.
func (r *Request) detach() {
	if r.inl != nil {
		r.inl.detach()
	}
}

// detach is detach of the Request ir belongs to. A late call, for a run
// already over, finds in cleared (or detaches the Request's next run, which
// costs a goroutine and nothing else).
func (ir *inlineRun) detach() {
	ir.mu.Lock()
	in := ir.in
	ir.in = nil
	ir.mu.Unlock()
	if in != nil {
		// Counted first: the new reader may serve what the handler waits
		// for, and its reply reach the client, before Detach returns.
		ir.svc.stats.detached.Add(1)
		in.Detach()
	}
}

// inlineWatch is the watchdog of inline runs: while requests run inline it
// ticks every inlineDetachAfter and detaches the runs that take longer; it
// sleeps after a tick that found no inline run and none started since the
// last.
func (s *Service) inlineWatch() {
	defer s.wg.Done()
	p := &s.pool
	var late []*inlineRun
	for {
		select {
		case <-s.watchKick:
		case <-s.done:
			return
		}
		tick := time.NewTicker(inlineDetachAfter)
		seq := p.seq()
		for idle := false; !idle; {
			select {
			case <-tick.C:
			case <-s.done:
				tick.Stop()
				return
			}
			now := time.Now()
			late = late[:0]
			p.mu.Lock()
			for _, ir := range p.inl {
				if now.Sub(ir.since) >= inlineDetachAfter {
					late = append(late, ir)
				}
			}
			idle = len(p.inl) == 0 && p.inlSeq == seq
			seq = p.inlSeq
			if idle {
				p.watch = false
			}
			p.mu.Unlock()
			for i, ir := range late {
				ir.detach()
				late[i] = nil
			}
		}
		tick.Stop()
	}
}

func (p *pool) seq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inlSeq
}

// quick reports whether requests of opc are expected to be quick enough to
// run inline.
func (s *Service) quick(opc wire.Opcode) bool {
	return opc < opLearn && time.Duration(s.opTime[opc].Load())*time.Microsecond < inlineQuick
}

// learn adds a handler time of opc to its estimate: a moving average of
// 1/8 weight that jumps at once to a longer time, so that an opcode that
// turns slow stops running inline at its first slow request.
func (s *Service) learn(opc wire.Opcode, d time.Duration) {
	if opc >= opLearn {
		return
	}
	us := uint32(min(d.Microseconds(), 1<<31))
	est := &s.opTime[opc]
	old := est.Load()
	if us < old {
		us = old - (old-us)/8
	}
	est.Store(us)
}

// drainQueue drops the requests of a closed service that no thread took:
// queued ones, and any handed to a worker that had already left. Every
// thread has ended.
func (s *Service) drainQueue() {
	p := &s.pool
	p.mu.Lock()
	var rs []*Request
	for {
		r, ok := p.queue.Pop()
		if !ok {
			break
		}
		rs = append(rs, r)
	}
	for _, w := range p.all {
		select {
		case r := <-w.wake:
			rs = append(rs, r)
		default:
		}
	}
	p.mu.Unlock()
	for _, r := range rs {
		s.release(r)
	}
}

// queued returns the number of requests waiting for a thread.
func (s *Service) queued() int {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	return s.pool.queue.Len()
}
