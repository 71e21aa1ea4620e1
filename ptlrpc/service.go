package ptlrpc

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// earlyArea is the part of a client's reply buffer that early replies land
// in (offset 0); the final reply lands after it.
const earlyArea = wire.MsgSize

// ServiceConfig configures one service: a request portal on one LNet
// instance, with its buffers, queue and worker pool.
type ServiceConfig struct {
	// Name names the service in logs and statistics ("ost_io", "mdt").
	Name string
	LNet *lnet.LNet
	// Portal is the request portal the service listens on.
	Portal uint32
	// ReplyPortal is the clients' reply portal; BulkPortal the portal their
	// bulk buffers are on (0: the service does no bulk).
	ReplyPortal uint32
	BulkPortal  uint32
	// Threads is the number of handler goroutines (default 8).
	Threads int
	// QueueDepth bounds the requests waiting for a thread (default 1024).
	// A request that finds the queue full is answered at once with an ERR
	// reply of EBUSY, which the client retries after a pause.
	QueueDepth int
	// MaxRequestSize bounds one request, envelope included (default 64 KiB).
	// A longer one is answered with EMSGSIZE, never silently cut.
	MaxRequestSize int
	// RequestBufferSize and RequestBuffers size the buffers requests land
	// in (defaults 1 MiB and 4): each holds many requests, which are copied
	// out as they arrive.
	RequestBufferSize int
	RequestBuffers    int
	// BulkTimeout bounds one bulk transfer (default 100 s).
	BulkTimeout time.Duration
	// Handlers serve requests that need no connection (handle 0), such as
	// lock callbacks on a client. Target opcodes go in TargetConfig.
	Handlers map[wire.Opcode]Handler
	// AT are the adaptive timeout settings (Lustre's defaults if zero).
	AT     ATConfig
	Logger *zap.Logger
}

// Validate checks cfg and fills defaults.
func (c *ServiceConfig) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: service without a name", ErrBadConfig)
	case c.LNet == nil:
		return fmt.Errorf("%w: service %s without LNet", ErrBadConfig, c.Name)
	case c.Portal == lnet.ReservedPortal || c.Portal >= lnet.MaxPortal:
		return fmt.Errorf("%w: service %s: request portal %d", ErrBadConfig, c.Name, c.Portal)
	case c.ReplyPortal == lnet.ReservedPortal || c.ReplyPortal >= lnet.MaxPortal:
		return fmt.Errorf("%w: service %s: reply portal %d", ErrBadConfig, c.Name, c.ReplyPortal)
	case c.BulkPortal >= lnet.MaxPortal:
		return fmt.Errorf("%w: service %s: bulk portal %d", ErrBadConfig, c.Name, c.BulkPortal)
	}
	if c.Threads <= 0 {
		c.Threads = 8
	}
	if c.QueueDepth <= 0 {
		c.QueueDepth = 1024
	}
	if c.MaxRequestSize <= 0 {
		c.MaxRequestSize = 64 << 10
	}
	if c.MaxRequestSize < wire.MsgSize {
		return fmt.Errorf("%w: service %s: max request size %d", ErrBadConfig, c.Name, c.MaxRequestSize)
	}
	if c.RequestBufferSize <= 0 {
		c.RequestBufferSize = max(1<<20, 4*c.MaxRequestSize)
	}
	if c.RequestBufferSize < c.MaxRequestSize {
		return fmt.Errorf("%w: service %s: request buffer %d smaller than max request %d",
			ErrBadConfig, c.Name, c.RequestBufferSize, c.MaxRequestSize)
	}
	if c.RequestBuffers <= 0 {
		c.RequestBuffers = 4
	}
	if c.BulkTimeout <= 0 {
		c.BulkTimeout = 100 * time.Second
	}
	c.AT.fill()
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// Service receives requests on a portal and runs them on a bounded pool of
// handler goroutines. See the package documentation.
type Service struct {
	cfg       ServiceConfig
	ln        *lnet.LNet
	log       *zap.Logger
	at        *atEstimate
	replyPool *bufPool
	smallPool *bufPool
	inPool    *bufPool
	reqPool   sync.Pool
	onReqFn   func(lnet.Event)
	onSentFn  func(lnet.Event)

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup // workers, inline runs and the early-reply loop
	rqWG   sync.WaitGroup // one per request buffer until it is unlinked and released
	pool   pool           // handler threads (threads.go)
	// watchKick wakes the inline watchdog (cap 1); opTime is the handler
	// time estimate of each opcode, in µs (threads.go).
	watchKick chan struct{}
	opTime    [opLearn]atomic.Uint32

	mu      sync.RWMutex // guards the fields below; taken before activeMu
	started bool
	closing bool
	targets []*Target
	rqbds   []*rqbd

	activeMu sync.Mutex
	active   map[*Request]struct{} // requests with a client deadline, for early replies
	bulks    map[*bulkOp]time.Time // bulk transfers in progress and their deadlines

	stats serviceCounters
}

type serviceCounters struct {
	requests, replies, errors, busy, malformed, tooBig, reconstructed,
	duplicates, stale, early, inline, detached atomic.Uint64
	running atomic.Int64
}

// NewService validates cfg and returns a service that is not yet listening.
func NewService(cfg ServiceConfig) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Handlers = maps.Clone(cfg.Handlers)
	s := &Service{
		cfg: cfg, ln: cfg.LNet, log: cfg.Logger.With(zap.String("service", cfg.Name)),
		at:        newATEstimate(cfg.AT, 0),
		replyPool: newBufPool(4 << 10),
		smallPool: newBufPool(wire.MsgSize),
		inPool:    newBufPool(4 << 10),
		done:      make(chan struct{}),
		watchKick: make(chan struct{}, 1),
		active:    map[*Request]struct{}{},
		bulks:     map[*bulkOp]time.Time{},
	}
	s.reqPool.New = func() any { return &Request{svc: s} }
	s.onReqFn = s.onRequestEvent
	s.onSentFn = onSent
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// AddTarget makes the service route the target's connects and requests.
func (s *Service) AddTarget(t *Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.targets {
		if o.Name() == t.Name() {
			return fmt.Errorf("%w: %s on service %s", ErrDuplicateTarget, t.Name(), s.cfg.Name)
		}
	}
	s.targets = append(s.targets[:len(s.targets):len(s.targets)], t)
	return nil
}

// RemoveTarget stops routing to the target named name.
func (s *Service) RemoveTarget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Target, 0, len(s.targets))
	for _, t := range s.targets {
		if t.Name() != name {
			out = append(out, t)
		}
	}
	s.targets = out
}

// Start posts the request buffers and starts the handler goroutines.
func (s *Service) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.started || s.closing {
		s.mu.Unlock()
		return fmt.Errorf("%w: service %s started twice", ErrBadConfig, s.cfg.Name)
	}
	s.started = true
	for i := 0; i < s.cfg.RequestBuffers; i++ {
		s.rqbds = append(s.rqbds, &rqbd{svc: s, buf: make([]byte, s.cfg.RequestBufferSize)})
	}
	s.mu.Unlock()
	s.startWorkers()
	s.wg.Add(2)
	go s.earlyLoop()
	go s.inlineWatch()
	for _, rb := range s.rqbds {
		s.rqWG.Add(1)
		if err := rb.post(); err != nil {
			s.rqWG.Done()
			s.Close()
			return fmt.Errorf("ptlrpc: service %s: post request buffer: %w", s.cfg.Name, err)
		}
	}
	s.log.Debug("ptlrpc: service started", zap.Uint32("portal", s.cfg.Portal), zap.Int("threads", s.cfg.Threads))
	return nil
}

// Close stops the service: no new request is taken, handlers see their
// context cancelled, queued requests are dropped, and Close returns once
// every goroutine it started has exited and every request buffer is
// unlinked. Replies already handed to LNet still go out.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	started := s.started
	rqbds := s.rqbds
	s.mu.Unlock()
	s.cancel()
	if !started {
		return
	}
	for _, rb := range rqbds {
		rb.unlink()
	}
	close(s.done)
	s.wg.Wait()
	s.drainQueue()
	s.rqWG.Wait()
}

func (s *Service) isClosing() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closing
}

// rqbd is a request buffer: an MD on the request portal that many requests
// land in, one after another. Each request is copied out into a pooled
// buffer as its event is delivered, so a buffer never waits for slow
// handlers: LNet unlinks it once less than MaxRequestSize is left, and it is
// posted again at once.
type rqbd struct {
	svc *Service
	buf []byte
	md  *lnet.MDHandle // guarded by svc.mu
}

func (rb *rqbd) post() error {
	s := rb.svc
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrClosed
	}
	md, err := s.ln.Attach(s.cfg.Portal, lnet.MatchSpec{IgnoreBits: ^uint64(0)}, lnet.MD{
		Buf: rb.buf, Threshold: lnet.ThresholdInf, MaxSize: s.cfg.MaxRequestSize,
		Options: lnet.MDOpPut | lnet.MDMaxSize | lnet.MDTruncate | lnet.MDAckDisable,
		Handler: s.onReqFn, UserData: rb,
	}, lnet.InsertAfter)
	if err != nil {
		return err
	}
	rb.md = md
	return nil
}

func (rb *rqbd) unlink() {
	s := rb.svc
	s.mu.RLock()
	md := rb.md
	s.mu.RUnlock()
	if md != nil {
		md.Unlink()
	}
}

// repost posts an unlinked buffer again, unless the service is closing.
func (rb *rqbd) repost() {
	s := rb.svc
	if err := rb.post(); err != nil {
		if !s.isClosing() {
			s.log.Error("ptlrpc: cannot repost request buffer", zap.Error(err))
		}
		s.rqWG.Done()
	}
}

// onRequestEvent is the request buffers' MD handler. LNet delivers one MD's
// events one at a time, in order, after the data landed; a later PUT lands
// further on in the buffer, so the copy here reads stable bytes.
func (s *Service) onRequestEvent(ev lnet.Event) {
	rb := ev.UserData.(*rqbd)
	switch {
	case ev.Type != lnet.EventPut:
	case ev.Err != nil:
		s.log.Debug("ptlrpc: request receive failed", zap.Stringer("nid", ev.Initiator.NID), zap.Error(ev.Err))
	default:
		r := s.reqPool.Get().(*Request)
		r.in = s.inPool.get(int(ev.MLength))
		copy(r.in.b, rb.buf[ev.Offset:ev.Offset+ev.MLength])
		r.data = r.in.b
		r.rlen = ev.RLength
		r.peer = ev.Initiator
		r.arrival = time.Now()
		s.accept(r, ev.Inline)
	}
	if ev.Unlinked {
		rb.repost()
	}
}

// accept checks the envelope and hands the request to a handler thread
// (dispatch); in is the LND's offer to run it on the receiving goroutine.
func (s *Service) accept(r *Request, in lnet.Inliner) {
	s.stats.requests.Add(1)
	if err := r.msg.DecodeHeader(r.data); err != nil || r.msg.Type != wire.MsgRequest {
		s.stats.malformed.Add(1)
		s.log.Warn("ptlrpc: malformed request dropped", zap.Stringer("nid", r.peer.NID), zap.Error(err),
			zap.Stringer("type", r.msg.Type))
		s.release(r)
		return
	}
	s.mu.RLock()
	if s.closing {
		s.mu.RUnlock()
		s.release(r)
		return
	}
	if r.msg.Timeout > 0 {
		r.tracked = true
		r.early = wire.Msg{Type: wire.MsgReply, Flags: wire.FlagEarly, Opcode: r.msg.Opcode, XID: r.msg.XID,
			Handle: r.msg.Handle, ConnCnt: r.msg.ConnCnt}
		s.activeMu.Lock()
		r.deadline = r.arrival.Add(msDur(r.msg.Timeout))
		s.active[r] = struct{}{}
		s.activeMu.Unlock()
	}
	ok := s.dispatch(r, in)
	s.mu.RUnlock()
	if !ok {
		s.stats.busy.Add(1)
		s.log.Debug("ptlrpc: queue full, request refused", zap.Stringer("nid", r.peer.NID), zap.Uint64("xid", r.msg.XID))
		s.replyErr(r, wire.Errno(syscall.EBUSY))
		s.release(r)
	}
}

// release ends a request and returns its buffers.
func (s *Service) release(r *Request) {
	s.deactivate(r)
	if r.rep != nil {
		r.rep.unref()
	}
	r.in.unref()
	*r = Request{svc: s, bop: r.bop, inl: r.inl}
	s.reqPool.Put(r)
}

func (s *Service) deactivate(r *Request) {
	if !r.tracked {
		return
	}
	r.tracked = false
	s.activeMu.Lock()
	delete(s.active, r)
	s.activeMu.Unlock()
}

// watchBulk has the early-reply loop signal op.expired once deadline passed.
func (s *Service) watchBulk(op *bulkOp, deadline time.Time) {
	s.activeMu.Lock()
	s.bulks[op] = deadline
	s.activeMu.Unlock()
}

func (s *Service) unwatchBulk(op *bulkOp) {
	s.activeMu.Lock()
	delete(s.bulks, op)
	s.activeMu.Unlock()
}

// earlyLoop sends early replies for requests whose client deadline nears,
// and ends bulk transfers that ran past BulkTimeout.
func (s *Service) earlyLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(max(min(s.cfg.AT.EarlyMargin, s.cfg.BulkTimeout)/4, time.Millisecond))
	defer tick.Stop()
	type early struct {
		peer  lnet.ProcessID
		msg   wire.Msg
		extra time.Duration
	}
	var due []early
	for {
		select {
		case <-s.done:
			return
		case now := <-tick.C:
			est := s.at.get(now)
			due = due[:0]
			s.activeMu.Lock()
			for r := range s.active {
				// Early only once the request is within the margin of its
				// deadline AND has used half its time: a request whose
				// whole timeout is shorter than the margin would
				// otherwise be answered early the moment it arrives,
				// doubling the messages of every short call.
				if now.Before(r.deadline.Add(-s.cfg.AT.EarlyMargin)) ||
					now.Sub(r.arrival) < r.deadline.Sub(r.arrival)/2 {
					continue
				}
				extra := max(est-now.Sub(r.arrival), 0) + s.cfg.AT.Extra
				r.deadline = now.Add(extra)
				m := r.early
				m.Timeout = durMS(extra)
				due = append(due, early{peer: r.peer, extra: extra, msg: m})
			}
			for op, deadline := range s.bulks {
				if !now.Before(deadline) {
					select {
					case op.expired <- struct{}{}:
					default:
					}
				}
			}
			s.activeMu.Unlock()
			for i := range due {
				e := &due[i]
				b := s.smallPool.get(wire.MsgSize)
				e.msg.Seal(b.b)
				s.stats.early.Add(1)
				s.log.Debug("ptlrpc: early reply", zap.Uint64("xid", e.msg.XID), zap.Stringer("nid", e.peer.NID),
					zap.Duration("extra", e.extra))
				s.send(e.peer, e.msg.XID, b, 0)
			}
		}
	}
}

// send PUTs b to the client's reply buffer for xid at offset, and drops the
// caller's reference on b once LNet is done with it.
func (s *Service) send(peer lnet.ProcessID, xid uint64, b *buf, offset uint32) {
	md, err := s.ln.Bind(lnet.MD{Buf: b.b, Threshold: 1, Handler: s.onSentFn, UserData: b})
	if err != nil {
		b.unref()
		s.log.Debug("ptlrpc: cannot send reply", zap.Uint64("xid", xid), zap.Error(err))
		return
	}
	if err := s.ln.Put(md, lnet.PutArgs{Target: peer, Portal: s.cfg.ReplyPortal, MatchBits: xid, Offset: offset}); err != nil {
		s.log.Debug("ptlrpc: reply not sent", zap.Uint64("xid", xid), zap.Stringer("nid", peer.NID), zap.Error(err))
		md.Unlink()
	}
}

// onSent releases a sent buffer after its last event.
func onSent(ev lnet.Event) {
	if ev.Unlinked {
		ev.UserData.(*buf).unref()
	}
}

// ServiceStats is a snapshot of a service's counters.
type ServiceStats struct {
	Name          string
	Requests      uint64 // requests received
	Replies       uint64 // replies sent by handlers (and ptlrpc itself)
	Errors        uint64 // ERR replies: unknown opcode, not connected, too big, busy
	Busy          uint64 // refused because the queue was full
	Malformed     uint64 // dropped: bad envelope
	TooBig        uint64 // over MaxRequestSize
	Reconstructed uint64 // resent requests answered from a saved reply
	Duplicates    uint64 // dropped: a copy of a request still running
	Stale         uint64 // dropped: sent under an older connection
	EarlyReplies  uint64
	Inline        uint64 // run on the goroutine that received them (no hand-off to a worker)
	Detached      uint64 // of those, how many had their connection handed to a new reader (long or waiting for bulk)
	Queued        int    // waiting for a thread now
	Running       int    // in a handler now
	Threads       int
	Estimate      ATSnapshot // service time estimate
}

// Format writes st as the stats parameter of a service
// ("ost.OSS.ost.stats", "mds.MDS.mdt.stats"): one "name: value" a line.
func (st ServiceStats) Format() string {
	return fmt.Sprintf("requests: %d\nreplies: %d\nerrors: %d\nbusy: %d\nmalformed: %d\nreconstructed: %d\n"+
		"inline: %d\ndetached: %d\nqueued: %d\nrunning: %d\nthreads: %d\n", st.Requests, st.Replies, st.Errors,
		st.Busy, st.Malformed, st.Reconstructed, st.Inline, st.Detached, st.Queued, st.Running, st.Threads)
}

// Stats returns a snapshot of the service's counters.
func (s *Service) Stats() ServiceStats {
	c := &s.stats
	return ServiceStats{
		Name: s.cfg.Name, Requests: c.requests.Load(), Replies: c.replies.Load(), Errors: c.errors.Load(),
		Busy: c.busy.Load(), Malformed: c.malformed.Load(), TooBig: c.tooBig.Load(),
		Reconstructed: c.reconstructed.Load(), Duplicates: c.duplicates.Load(), Stale: c.stale.Load(),
		EarlyReplies: c.early.Load(), Inline: c.inline.Load(), Detached: c.detached.Load(),
		Queued: s.queued(), Running: int(c.running.Load()),
		Threads: s.cfg.Threads, Estimate: s.at.snapshot(time.Now()),
	}
}
