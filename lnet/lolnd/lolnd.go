package lolnd

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
)

// Fabric is the switch that the lo NIs of several LNet instances in one
// process share.
type Fabric struct {
	mu  sync.Mutex     // guards nis; taken before any ni.mu
	nis map[uint32]*ni // live NIs by lo number
}

// NewFabric returns an empty fabric.
func NewFabric() *Fabric { return &Fabric{nis: map[uint32]*ni{}} }

// LND is the lo LND of one fabric. One value may serve many LNet instances.
type LND struct{ f *Fabric }

var _ lnet.LND = (*LND)(nil)

// New returns the LND that starts NIs on f.
func New(f *Fabric) *LND { return &LND{f: f} }

// Type implements lnet.LND.
func (*LND) Type() lnet.NetType { return lnet.LoLND }

// Startup implements lnet.LND: it brings up N@lo on the fabric.
func (l *LND) Startup(ctx context.Context, cfg lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Net.Type != lnet.LoLND {
		return nil, fmt.Errorf("%w: lolnd cannot run %v", lnet.ErrBadNetworks, cfg.Net)
	}
	if len(cfg.Interfaces) > 1 {
		return nil, fmt.Errorf("%w: lo takes one number, got %q", lnet.ErrBadNetworks, cfg.Interfaces)
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	f := l.f
	f.mu.Lock()
	defer f.mu.Unlock()
	var num uint32
	if len(cfg.Interfaces) == 1 {
		v, err := strconv.ParseUint(cfg.Interfaces[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: lo(%s): want a number", lnet.ErrBadNetworks, cfg.Interfaces[0])
		}
		num = uint32(v)
		if _, taken := f.nis[num]; taken {
			return nil, fmt.Errorf("%w: %d@lo", ErrInUse, num)
		}
	} else {
		for f.nis[num] != nil {
			num++
		}
	}
	n := &ni{
		f: f, num: num, nid: lnet.LoNID(num), host: host, log: log,
		closing: make(chan struct{}),
		pairs:   map[uint32]*pair{},
		peers:   map[lnet.NID]bool{},
	}
	f.nis[num] = n
	return n, nil
}

// acquire returns the live NI num, counted as receiving until its caller
// calls inflight.Done; nil if there is none.
func (f *Fabric) acquire(num uint32) *ni {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.nis[num]
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.inflight.Add(1)
	return n
}

// ni is one lo NI.
type ni struct {
	f       *Fabric
	num     uint32
	nid     lnet.NID
	host    lnet.Host
	log     *zap.Logger
	closing chan struct{}  // closed by Close
	wg      sync.WaitGroup // delivery goroutines of this NI's pairs
	// inflight counts Receive calls into host; Close waits for them.
	inflight sync.WaitGroup

	mu     sync.Mutex // guards the fields below
	closed bool
	pairs  map[uint32]*pair  // by destination number
	peers  map[lnet.NID]bool // peers told alive to host
	st     lnet.NIStatus     // counters
}

// pair is the ordered queue from one NI to one destination number.
type pair struct {
	src *ni
	dst uint32
	sig chan struct{} // cap 1: the message being delivered was received

	// Guarded by src.mu.
	queue   []*lnet.Tx
	head    int  // queue[head:] is waiting
	running bool // a goroutine is delivering the queue
}

func (n *ni) NID() lnet.NID { return n.nid }

// Send implements lnet.NI.
func (n *ni) Send(tx *lnet.Tx) {
	if tx.Dest.Net.Type != lnet.LoLND {
		tx.Complete(fmt.Errorf("%w: %v is not on lo", lnet.ErrPeerDown, tx.Dest))
		return
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		tx.Complete(fmt.Errorf("%w: %v", lnet.ErrClosed, n.nid))
		return
	}
	num := tx.Dest.LoNum()
	p := n.pairs[num]
	if p == nil {
		p = &pair{src: n, dst: num, sig: make(chan struct{}, 1)}
		n.pairs[num] = p
	}
	p.queue = append(p.queue, tx)
	if !p.running {
		p.running = true
		n.wg.Add(1)
		go p.run()
	}
	n.mu.Unlock()
}

func (p *pair) run() {
	n := p.src
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if p.head == len(p.queue) {
			p.running = false
			p.queue, p.head = p.queue[:0], 0
			n.mu.Unlock()
			return
		}
		tx := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		if p.head >= 64 && 2*p.head >= len(p.queue) {
			// Under steady traffic the queue never empties: reclaim the front.
			k := copy(p.queue, p.queue[p.head:])
			clear(p.queue[k:])
			p.queue, p.head = p.queue[:k], 0
		}
		n.mu.Unlock()
		n.deliver(p, tx)
	}
}

// deliver hands tx to the destination's host and waits until it is received.
func (n *ni) deliver(p *pair, tx *lnet.Tx) {
	dst := n.f.acquire(p.dst)
	if dst == nil {
		n.mu.Lock()
		n.st.DropCount++
		delete(n.peers, tx.Dest)
		n.mu.Unlock()
		err := fmt.Errorf("%w: nobody at %v", lnet.ErrPeerDown, tx.Dest)
		n.host.PeerState(n, tx.Dest, false, err)
		tx.Complete(err)
		return
	}
	n.notePeer(dst.nid)
	dst.notePeer(n.nid)
	r := &rx{tx: tx, hdr: tx.Hdr, sig: p.sig, src: n, dst: dst}
	dst.host.Receive(dst, n.nid, &r.hdr, r)
	dst.inflight.Done()
	select {
	case <-p.sig:
	case <-n.closing:
		if !r.abandon(fmt.Errorf("%w: %v closed before %v took the message", lnet.ErrClosed, n.nid, dst.nid)) {
			<-p.sig
		}
	case <-dst.closing:
		if !r.abandon(fmt.Errorf("%w: %v closed before taking the message", lnet.ErrPeerDown, dst.nid)) {
			<-p.sig
		}
	}
}

// notePeer tells the host about a peer the first time they talk.
func (n *ni) notePeer(peer lnet.NID) {
	n.mu.Lock()
	known := n.peers[peer] || n.closed
	n.peers[peer] = true
	n.mu.Unlock()
	if !known {
		n.host.PeerState(n, peer, true, nil)
	}
}

// peerGone tells the host that peer closed, if they had talked.
func (n *ni) peerGone(peer lnet.NID) {
	n.mu.Lock()
	known := n.peers[peer] && !n.closed
	delete(n.peers, peer)
	n.mu.Unlock()
	if known {
		n.host.PeerState(n, peer, false, fmt.Errorf("%w: %v closed", lnet.ErrPeerDown, peer))
	}
}

// Close implements lnet.NI.
func (n *ni) Close() error {
	f := n.f
	f.mu.Lock()
	if f.nis[n.num] == n {
		delete(f.nis, n.num)
	}
	others := make([]*ni, 0, len(f.nis))
	for _, o := range f.nis {
		others = append(others, o)
	}
	f.mu.Unlock()

	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.closing)
	var queued []*lnet.Tx
	for _, p := range n.pairs {
		queued = append(queued, p.queue[p.head:]...)
		clear(p.queue)
		p.queue, p.head = p.queue[:0], 0
	}
	n.mu.Unlock()
	for _, tx := range queued {
		tx.Complete(fmt.Errorf("%w: %v", lnet.ErrClosed, n.nid))
	}
	n.inflight.Wait()
	n.wg.Wait()
	for _, o := range others {
		o.peerGone(n.nid)
	}
	n.log.Debug("lolnd: NI closed", zap.Stringer("nid", n.nid))
	return nil
}

// Status implements lnet.NI.
func (n *ni) Status() lnet.NIStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.st
	st.NID = n.nid
	st.Up = !n.closed
	st.Interfaces = []string{strconv.FormatUint(uint64(n.num), 10)}
	st.Peers = len(n.peers)
	return st
}

// rx is one delivered message whose payload the receiver has not yet taken.
type rx struct {
	tx       *lnet.Tx
	hdr      lnet.Header   // the copy the host sees
	sig      chan struct{} // the pair's: signalled once Recv has completed tx
	src, dst *ni

	mu    sync.Mutex // guards state; held while copying so abandon waits for the copy
	state uint8      // 0 waiting, 1 received, 2 abandoned
}

// Recv implements lnet.Rx.
func (r *rx) Recv(sink []byte, done func(error)) {
	r.mu.Lock()
	if r.state != 0 {
		r.mu.Unlock()
		done(fmt.Errorf("%w: message abandoned", lnet.ErrClosed))
		return
	}
	copy(sink, r.tx.Payload)
	r.state = 1
	r.mu.Unlock()
	// Counted before done and Complete, so that whoever hears of the
	// message from either sees it counted.
	size := uint64(len(r.tx.Payload))
	r.src.mu.Lock()
	r.src.st.SendCount++
	r.src.st.SendBytes += size
	r.src.mu.Unlock()
	r.dst.mu.Lock()
	r.dst.st.RecvCount++
	r.dst.st.RecvBytes += size
	r.dst.mu.Unlock()
	done(nil)
	r.tx.Complete(nil)
	r.sig <- struct{}{}
}

// abandon gives up on a message the receiver has not taken, completing its
// Tx with err. It returns false if the receiver took it after all (its
// signal is then on its way).
func (r *rx) abandon(err error) bool {
	r.mu.Lock()
	waiting := r.state == 0
	if waiting {
		r.state = 2
	}
	r.mu.Unlock()
	if waiting {
		r.tx.Complete(err)
	}
	return waiting
}
