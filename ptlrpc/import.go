package ptlrpc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// State is an import's connection state (Lustre's import states).
type State int32

// Import states.
const (
	StateNew          State = iota // created, Connect not called yet
	StateConnecting                // a connect RPC is under way
	StateReplay                    // connected to a restarted server, replaying
	StateFull                      // connected: requests flow
	StateDisconnected              // lost the connection, about to reconnect
	StateClosed                    // closed
)

func (s State) String() string {
	switch s {
	case StateNew:
		return "NEW"
	case StateConnecting:
		return "CONNECTING"
	case StateReplay:
		return "REPLAY"
	case StateFull:
		return "FULL"
	case StateDisconnected:
		return "DISCONN"
	case StateClosed:
		return "CLOSED"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// ImportConfig configures a client's connection to one target.
type ImportConfig struct {
	// Target is the target's name ("lustre-OST0001").
	Target string
	// NIDs are the target's NIDs, one per server that can run it (the
	// failover list), tried in turn.
	NIDs []lnet.NID
	// PID is the servers' LNet process id (default lnet.PIDLustre).
	PID  uint32
	LNet *lnet.LNet
	// RequestPortal is the service's request portal; ReplyPortal and
	// BulkPortal must match the service's configuration.
	RequestPortal, ReplyPortal, BulkPortal uint32
	// ConnectOpcode is the target type's connect opcode (MDSConnect,
	// OSTConnect, MGSConnect); its disconnect is the next opcode.
	ConnectOpcode wire.Opcode
	// NoConnect makes an import to a connectionless service (lock
	// callbacks): no connect RPC, requests go with handle 0.
	NoConnect bool
	// ClientUUID names this client to the target; random if empty.
	ClientUUID string
	// Flags are the connect flags asked for.
	Flags wire.ConnectFlags
	// MaxReplySize is the size of reply buffers, envelope included, unless
	// a Req says otherwise (default 8 KiB). A call whose reply is longer is
	// not failed but resent with a buffer that fits (up to 16 MiB; beyond,
	// Call returns ErrReplyTooBig and the caller may retry with a larger
	// Req.ReplySize).
	MaxReplySize int
	// ConnectTimeout bounds one connect attempt (default 5 s).
	ConnectTimeout time.Duration
	// ReconnectBackoff is the pause after every NID of the list failed
	// once (default 1 s); it doubles up to 32 times that.
	ReconnectBackoff time.Duration
	// PingInterval: an idle FULL import pings this often (default 25 s,
	// obd_timeout/4); negative disables the pinger.
	PingInterval time.Duration
	// AT are the adaptive timeout settings (Lustre's defaults if zero).
	AT     ATConfig
	Logger *zap.Logger
}

// Validate checks cfg and fills defaults.
func (c *ImportConfig) Validate() error {
	switch {
	case c.LNet == nil:
		return fmt.Errorf("%w: import without LNet", ErrBadConfig)
	case len(c.NIDs) == 0:
		return fmt.Errorf("%w: import to %q without NIDs", ErrBadConfig, c.Target)
	case c.RequestPortal == 0 || c.RequestPortal >= lnet.MaxPortal || c.ReplyPortal == 0 ||
		c.ReplyPortal >= lnet.MaxPortal || c.BulkPortal >= lnet.MaxPortal:
		return fmt.Errorf("%w: import to %q: portals %d/%d/%d", ErrBadConfig, c.Target,
			c.RequestPortal, c.ReplyPortal, c.BulkPortal)
	case !c.NoConnect && !c.ConnectOpcode.IsConnect():
		return fmt.Errorf("%w: import to %q: %v is not a connect opcode", ErrBadConfig, c.Target, c.ConnectOpcode)
	case !c.NoConnect && (c.Target == "" || len(c.Target) > wire.MaxNameLen):
		return fmt.Errorf("%w: import target %q", ErrBadConfig, c.Target)
	}
	if c.PID == 0 {
		c.PID = lnet.PIDLustre
	}
	if c.ClientUUID == "" {
		c.ClientUUID = fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rand.Uint32(), rand.Uint32()&0xffff,
			rand.Uint32()&0xffff, rand.Uint32()&0xffff, rand.Uint64()&0xffffffffffff)
	}
	if len(c.ClientUUID) > wire.MaxNameLen {
		return fmt.Errorf("%w: client UUID of %d bytes", ErrBadConfig, len(c.ClientUUID))
	}
	if c.MaxReplySize <= 0 {
		c.MaxReplySize = 8 << 10
	}
	c.MaxReplySize = max(c.MaxReplySize, wire.MsgSize)
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.ReconnectBackoff <= 0 {
		c.ReconnectBackoff = time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 25 * time.Second
	}
	c.AT.fill()
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// connState is one connection of an import.
type connState struct {
	peer        lnet.ProcessID
	handle      uint64
	connCnt     uint32
	gen         uint64 // grows by one at every successful connect
	incarnation uint64
}

// Import is a client's connection to one target: XIDs, the connection state
// machine, resend, replay and the pinger. See the package documentation.
type Import struct {
	cfg       ImportConfig
	ln        *lnet.LNet
	log       *zap.Logger
	replyPool *bufPool
	sendPool  *bufPool
	callPool  sync.Pool
	onReplyFn func(lnet.Event)
	onSendFn  func(lnet.Event)
	onBulkFn  func(lnet.Event)
	svcAT     *atEstimate
	netAT     *atEstimate
	xid       atomic.Uint64

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closed    chan struct{}
	kick      chan struct{}
	startOnce sync.Once
	wg        sync.WaitGroup // the run loop and pings
	calls     sync.WaitGroup // calls in progress
	waiters   waiterPool     // what calls sleep on (wait.go)

	lastActivity atomic.Int64 // unix nanoseconds of the last reply
	pinging      atomic.Bool

	mu            sync.Mutex // guards the fields below; taken before call.mu
	state         State
	changed       chan struct{} // closed and replaced at every state change
	conn          connState
	nidIdx        int
	lastCommitted uint64
	lastErr       error
	inflight      map[uint64]*call // calls waiting for their reply, by XID
	replay        []*call          // replied calls with transno > lastCommitted, by transno
	kept          map[uint64]*call // calls kept for replay until dropped (CallKeep), by Kept.id
	keptSeq       uint64           // the last Kept.id handed out
	replayDue     bool             // a replay was cut short: the next connection replays
	released      map[*call][]byte // new bodies of kept calls released while replaying (Kept.Release)
	evictions     uint64
	stats         importCounters
	// Attempts waiting for a reply (call.go: addWaitingLocked), and the one
	// timer that times them all out, armed for dlArmed (zero: stopped).
	waitHead, waitTail *call
	dlTimer            *time.Timer
	dlArmed            time.Time
	// stateSeq grows at every state change (under mu; read without it by
	// waiting attempts, which setStateLocked wakes).
	stateSeq atomic.Uint64
}

type importCounters struct {
	connects, timeouts, resends, early, replays, busy uint64
}

// NewImport returns an import in state NEW; Connect starts it.
func NewImport(cfg ImportConfig) (*Import, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	imp := &Import{
		cfg: cfg, ln: cfg.LNet,
		log:       cfg.Logger.With(zap.String("target", cfg.Target)),
		replyPool: newBufPool(earlyArea + cfg.MaxReplySize),
		sendPool:  newBufPool(4 << 10),
		svcAT:     newATEstimate(cfg.AT, 0),
		netAT:     newATEstimate(ATConfig{Min: 0, Max: cfg.AT.Max, History: cfg.AT.History}, 0),
		closed:    make(chan struct{}),
		kick:      make(chan struct{}, 1),
		changed:   make(chan struct{}),
		inflight:  map[uint64]*call{},
		kept:      map[uint64]*call{},
		released:  map[*call][]byte{},
	}
	imp.onReplyFn = imp.onReply
	imp.onSendFn = imp.onSend
	imp.onBulkFn = imp.onBulk
	imp.callPool.New = func() any {
		c := &call{imp: imp, wake: make(chan struct{}, 1)}
		c.parkFn = c.park
		return c
	}
	imp.dlTimer = time.AfterFunc(time.Hour, imp.onDeadline)
	imp.dlTimer.Stop()
	imp.xid.Store(rand.Uint64()>>8 + 1)
	imp.ctx, imp.cancel = context.WithCancel(context.Background())
	return imp, nil
}

// Target returns the import's target name.
func (imp *Import) Target() string { return imp.cfg.Target }

// ClientUUID returns the UUID the import connects with.
func (imp *Import) ClientUUID() string { return imp.cfg.ClientUUID }

// State returns the current state.
func (imp *Import) State() State {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	return imp.state
}

// setStateLocked changes the state and wakes everyone waiting on a change.
func (imp *Import) setStateLocked(s State) {
	if imp.state == s || imp.state == StateClosed {
		return
	}
	imp.log.Debug("ptlrpc: import state", zap.Stringer("from", imp.state), zap.Stringer("to", s))
	imp.state = s
	close(imp.changed)
	imp.changed = make(chan struct{})
	imp.stateSeq.Add(1)
	for c := imp.waitHead; c != nil; c = c.wnext {
		c.mu.Lock()
		c.signal()
		c.mu.Unlock()
	}
}

// Connect starts the import's state machine and waits until it is FULL (or
// ctx ends; the import keeps trying in the background until Close).
func (imp *Import) Connect(ctx context.Context) error {
	imp.startOnce.Do(func() {
		imp.mu.Lock()
		defer imp.mu.Unlock()
		if imp.state == StateClosed {
			return
		}
		imp.setStateLocked(StateDisconnected)
		imp.wg.Add(1)
		go imp.run()
	})
	for {
		imp.mu.Lock()
		st, ch, lastErr := imp.state, imp.changed, imp.lastErr
		imp.mu.Unlock()
		switch st {
		case StateFull:
			return nil
		case StateClosed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("ptlrpc: connect to %s: %w (last error: %w)", imp.cfg.Target, ctx.Err(), lastErr)
			}
			return fmt.Errorf("ptlrpc: connect to %s: %w", imp.cfg.Target, ctx.Err())
		}
	}
}

// disconnected reports that the connection of generation gen failed; the
// run loop reconnects.
func (imp *Import) disconnected(gen uint64, why error) {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	if imp.conn.gen != gen || imp.state != StateFull {
		return
	}
	imp.lastErr = why
	imp.log.Info("ptlrpc: connection lost", zap.Stringer("nid", imp.conn.peer.NID), zap.Error(why))
	imp.setStateLocked(StateDisconnected)
	select {
	case imp.kick <- struct{}{}:
	default:
	}
}

// run is the import's state machine: it (re)connects, rotating through the
// failover NIDs with back-off, replays after a server restart, and pings.
func (imp *Import) run() {
	defer imp.wg.Done()
	var ping <-chan time.Time
	if imp.cfg.PingInterval > 0 {
		t := time.NewTicker(imp.cfg.PingInterval)
		defer t.Stop()
		ping = t.C
	}
	backoff := imp.cfg.ReconnectBackoff
	failures := 0
	for {
		imp.mu.Lock()
		st := imp.state
		imp.mu.Unlock()
		if st == StateClosed {
			return
		}
		if st != StateFull {
			err := imp.connectOnce()
			if err == nil {
				failures, backoff = 0, imp.cfg.ReconnectBackoff
				continue
			}
			imp.mu.Lock()
			if imp.state == StateClosed {
				imp.mu.Unlock()
				return
			}
			imp.lastErr = err
			imp.log.Info("ptlrpc: connect failed", zap.Stringer("nid", imp.cfg.NIDs[imp.nidIdx]), zap.Error(err))
			imp.nidIdx = (imp.nidIdx + 1) % len(imp.cfg.NIDs)
			imp.setStateLocked(StateDisconnected)
			imp.mu.Unlock()
			failures++
			if failures%len(imp.cfg.NIDs) == 0 {
				t := time.NewTimer(backoff)
				select {
				case <-imp.closed:
					t.Stop()
					return
				case <-t.C:
				}
				backoff = min(2*backoff, 32*imp.cfg.ReconnectBackoff)
			}
			continue
		}
		select {
		case <-imp.closed:
			return
		case <-imp.kick:
		case <-ping:
			imp.maybePing()
		}
	}
}

// connectOnce tries the current NID of the failover list once.
func (imp *Import) connectOnce() error {
	imp.mu.Lock()
	nid := imp.cfg.NIDs[imp.nidIdx]
	prev := imp.conn
	imp.setStateLocked(StateConnecting)
	imp.mu.Unlock()
	peerNID, _, ok := imp.ln.PickNID([]lnet.NID{nid})
	if !ok {
		return fmt.Errorf("%w: %v", lnet.ErrNoRoute, nid)
	}
	peer := lnet.ProcessID{NID: peerNID, PID: imp.cfg.PID}
	if imp.cfg.NoConnect {
		imp.mu.Lock()
		imp.conn = connState{peer: peer, gen: prev.gen + 1}
		imp.stats.connects++
		imp.setStateLocked(StateFull)
		imp.mu.Unlock()
		return nil
	}
	c := imp.getCall(&Req{Opcode: imp.cfg.ConnectOpcode, Encode: &wire.ConnectRequest{
		Target: imp.cfg.Target, ClientUUID: imp.cfg.ClientUUID, Flags: imp.cfg.Flags,
		Handle: prev.handle, Incarnation: prev.incarnation,
	}}, Creds{})
	defer imp.putCall(c)
	c.setXID(imp.xid.Add(1))
	out, rep, err := c.attempt(imp.ctx, connState{peer: peer, connCnt: prev.connCnt, gen: prev.gen},
		0, imp.cfg.ConnectTimeout, false)
	if out != outReply {
		return err
	}
	defer rep.Release()
	if rep.Msg.Status != 0 {
		return fmt.Errorf("ptlrpc: connect refused: %w", rep.Msg.Status.Err())
	}
	var cr wire.ConnectReply
	if err := rep.Decode(&cr); err != nil {
		return fmt.Errorf("%w: connect reply: %w", ErrBadReply, err)
	}
	imp.mu.Lock()
	if imp.state == StateClosed {
		imp.mu.Unlock()
		return ErrClosed
	}
	restarted := prev.incarnation != 0 && cr.Incarnation != prev.incarnation
	evicted := prev.handle != 0 && !restarted && rep.Msg.OpFlags&wire.ConnectReconnect == 0
	imp.conn = connState{peer: peer, handle: cr.Handle, connCnt: cr.ConnCnt, gen: prev.gen + 1, incarnation: cr.Incarnation}
	imp.stats.connects++
	if restarted {
		imp.lastCommitted = cr.LastCommitted
	} else {
		imp.lastCommitted = max(imp.lastCommitted, cr.LastCommitted)
	}
	if evicted {
		imp.evictions++
		imp.log.Warn("ptlrpc: evicted by the server", zap.Stringer("nid", peer.NID))
		for _, rc := range imp.replay {
			imp.releaseLocked(rc)
		}
		imp.replay = imp.replay[:0]
		imp.dropKeptLocked()
	}
	imp.pruneReplayLocked()
	var toReplay []*call
	// A replay cut short (replayAll) is done again, whole, on the next
	// connection to the same instance: the target applies replays
	// idempotently.
	due := restarted || imp.replayDue && !evicted
	imp.replayDue = false
	if due && len(imp.replay)+len(imp.kept) > 0 {
		toReplay = append(toReplay, imp.replay...)
		for _, rc := range imp.kept {
			toReplay = append(toReplay, rc)
		}
		// Kept requests go in order too, committed or not (Lustre
		// replays opens with the uncommitted requests, by transno).
		// Ties (a kept request without a transno after the one whose
		// commit it followed) go by XID: in the order they were sent.
		sort.Slice(toReplay, func(i, j int) bool {
			a, b := toReplay[i], toReplay[j]
			return a.order < b.order || a.order == b.order && a.xid < b.xid
		})
		for _, rc := range toReplay {
			rc.replaying = true
		}
		imp.setStateLocked(StateReplay)
	} else {
		imp.setStateLocked(StateFull)
	}
	conn := imp.conn
	imp.mu.Unlock()
	imp.log.Info("ptlrpc: connected", zap.Stringer("nid", peer.NID), zap.Uint32("conn_cnt", cr.ConnCnt),
		zap.Bool("server_restarted", restarted), zap.Int("replay", len(toReplay)))
	if len(toReplay) == 0 {
		return nil
	}
	return imp.replayAll(conn, toReplay)
}

// replayAll re-sends, in transno order and one at a time, the requests a
// restarted server had answered but not committed.
func (imp *Import) replayAll(conn connState, calls []*call) error {
	var err error
	for i, c := range calls {
		if !c.prepareReplay() {
			imp.doneReplaying(calls[i : i+1]) // dropped meanwhile: nothing to restore
			continue
		}
		out, rep, aerr := c.attempt(imp.ctx, conn, wire.FlagReplay, imp.timeout(), false)
		if out != outReply {
			err = fmt.Errorf("ptlrpc: replay of transno %d: %w", c.transno, aerr)
			imp.doneReplaying(calls[i:])
			imp.mu.Lock()
			if imp.conn.gen == conn.gen {
				imp.replayDue = true
			}
			imp.setStateLocked(StateDisconnected)
			imp.mu.Unlock()
			return err
		}
		imp.mu.Lock()
		imp.stats.replays++
		imp.mu.Unlock()
		if rep.Msg.Status != 0 {
			imp.log.Warn("ptlrpc: replay failed on the server", zap.Uint64("xid", c.xid),
				zap.Uint64("transno", c.transno), zap.Error(rep.Msg.Status.Err()))
		}
		imp.noteReply(rep)
		rep.Release()
		imp.doneReplaying(calls[i : i+1])
	}
	imp.mu.Lock()
	if imp.state == StateReplay && imp.conn.gen == conn.gen {
		imp.setStateLocked(StateFull)
	}
	imp.mu.Unlock()
	return nil
}

// doneReplaying ends the replay of calls: those dropped meanwhile are
// released, those released (Kept.Release) take their new body. It waits
// for their sends first, so that no LNet send reads a body it changes.
func (imp *Import) doneReplaying(calls []*call) {
	for _, c := range calls {
		c.waitFor(func() bool { return c.sending == 0 })
	}
	imp.mu.Lock()
	defer imp.mu.Unlock()
	for _, c := range calls {
		c.replaying = false
		if b, ok := imp.released[c]; ok {
			delete(imp.released, c)
			if !c.dropped {
				c.setBody(b)
			}
		}
		if c.dropped {
			imp.putCall(c)
		}
	}
}

// maybePing sends OBD_PING if the import has been idle for a ping interval.
func (imp *Import) maybePing() {
	idle := time.Since(time.Unix(0, imp.lastActivity.Load()))
	if idle < imp.cfg.PingInterval || !imp.pinging.CompareAndSwap(false, true) {
		return
	}
	imp.wg.Add(1)
	go func() {
		defer imp.wg.Done()
		defer imp.pinging.Store(false)
		rep, err := imp.Call(imp.ctx, &Req{Opcode: wire.OBDPing})
		rep.Release()
		if err != nil {
			imp.log.Debug("ptlrpc: ping failed", zap.Error(err))
		}
	}()
}

// timeout is how long a request may wait for its reply: the service
// estimate plus the network latency estimate, within [at_min, at_max].
func (imp *Import) timeout() time.Duration {
	now := time.Now()
	return min(max(imp.svcAT.get(now)+imp.netAT.get(now), imp.cfg.AT.Min), imp.cfg.AT.Max)
}

// lastXIDLocked is the highest XID below which every request has its reply.
func (imp *Import) lastXIDLocked() uint64 {
	low := imp.xid.Load()
	for x := range imp.inflight {
		if x-1 < low {
			low = x - 1
		}
	}
	return low
}

// noteReply takes what every reply tells: last_committed and liveness.
func (imp *Import) noteReply(rep *Reply) {
	imp.lastActivity.Store(time.Now().UnixNano())
	imp.mu.Lock()
	if rep.Msg.LastCommitted > imp.lastCommitted && rep.Msg.Handle == imp.conn.handle {
		imp.lastCommitted = rep.Msg.LastCommitted
		imp.pruneReplayLocked()
	}
	imp.mu.Unlock()
}

// pruneReplayLocked drops replay entries that last_committed has passed.
func (imp *Import) pruneReplayLocked() {
	n := 0
	for _, c := range imp.replay {
		if c.transno > imp.lastCommitted {
			break
		}
		imp.releaseLocked(c)
		n++
	}
	if n > 0 {
		imp.replay = imp.replay[:copy(imp.replay, imp.replay[n:])]
	}
}

func (imp *Import) releaseLocked(c *call) {
	if c.replaying {
		c.dropped = true
		return
	}
	imp.putCall(c)
}

// dropKeptLocked releases every kept request (eviction, Close): the
// server has forgotten what they would restore.
func (imp *Import) dropKeptLocked() {
	for id, c := range imp.kept {
		delete(imp.kept, id)
		imp.releaseLocked(c)
	}
}

// addReplayLocked keeps c for replay, in transno order.
func (imp *Import) addReplayLocked(c *call) {
	i := sort.Search(len(imp.replay), func(i int) bool { return imp.replay[i].transno > c.transno })
	imp.replay = append(imp.replay, nil)
	copy(imp.replay[i+1:], imp.replay[i:])
	imp.replay[i] = c
}

// Close disconnects from the target (best effort), fails the calls in
// progress with ErrClosed and waits for them and for every goroutine the
// import started.
func (imp *Import) Close() error {
	imp.mu.Lock()
	if imp.state == StateClosed {
		imp.mu.Unlock()
		return nil
	}
	wasFull := imp.state == StateFull
	conn := imp.conn
	imp.mu.Unlock()
	if wasFull && !imp.cfg.NoConnect {
		imp.disconnect(conn)
	}
	imp.mu.Lock()
	imp.setStateLocked(StateClosed)
	for _, c := range imp.replay {
		imp.releaseLocked(c)
	}
	imp.replay = nil
	imp.dropKeptLocked()
	imp.mu.Unlock()
	close(imp.closed)
	imp.cancel()
	imp.wg.Wait()
	imp.calls.Wait()
	imp.dlTimer.Stop()
	imp.waiters.close()
	return nil
}

// disconnect sends the target type's DISCONNECT, waiting at most a connect
// timeout for the answer.
func (imp *Import) disconnect(conn connState) {
	c := imp.getCall(&Req{Opcode: imp.cfg.ConnectOpcode + 1}, Creds{})
	defer imp.putCall(c)
	c.setXID(imp.xid.Add(1))
	out, rep, err := c.attempt(imp.ctx, conn, 0, min(imp.cfg.ConnectTimeout, imp.timeout()), false)
	if out == outReply {
		rep.Release()
		return
	}
	imp.log.Debug("ptlrpc: disconnect not answered", zap.Error(err))
}

// ImportInfo is a snapshot of an import, for `lctl get_param *.import`.
type ImportInfo struct {
	Target          string
	State           State
	CurrentNID      lnet.NID
	FailoverNIDs    []lnet.NID
	ClientUUID      string
	Handle          uint64
	ConnCnt         uint32
	Incarnation     uint64
	LastCommitted   uint64
	InFlight        int
	ReplayQueue     int
	Kept            int // requests kept for replay until dropped (CallKeep)
	Connects        uint64
	Timeouts        uint64
	Resends         uint64
	EarlyReplies    uint64
	Replays         uint64
	Busy            uint64
	Evictions       uint64
	ServiceEstimate time.Duration
	NetworkLatency  time.Duration
	LastError       error
}

// Info returns a snapshot of the import.
func (imp *Import) Info() ImportInfo {
	now := time.Now()
	imp.mu.Lock()
	defer imp.mu.Unlock()
	return ImportInfo{
		Target: imp.cfg.Target, State: imp.state, CurrentNID: imp.conn.peer.NID,
		FailoverNIDs: append([]lnet.NID(nil), imp.cfg.NIDs...), ClientUUID: imp.cfg.ClientUUID,
		Handle: imp.conn.handle, ConnCnt: imp.conn.connCnt, Incarnation: imp.conn.incarnation,
		LastCommitted: imp.lastCommitted, InFlight: len(imp.inflight), ReplayQueue: len(imp.replay), Kept: len(imp.kept),
		Connects: imp.stats.connects, Timeouts: imp.stats.timeouts, Resends: imp.stats.resends,
		EarlyReplies: imp.stats.early, Replays: imp.stats.replays, Busy: imp.stats.busy,
		Evictions: imp.evictions, ServiceEstimate: imp.svcAT.get(now), NetworkLatency: imp.netAT.get(now),
		LastError: imp.lastErr,
	}
}
