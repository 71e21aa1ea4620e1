package ldlm

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

type astKind int

const (
	astBL astKind = iota // blocking callback
	astCP                // completion callback
)

// ast is a callback to send once the namespace's lock is released.
type ast struct {
	kind astKind
	lk   *lock
	cl   *client
	body wire.LockCallback
}

// dispatch sends each callback on a goroutine of its own: a client that
// does not answer holds up nobody else.
func (ns *Namespace) dispatch(work []ast) {
	if len(work) == 0 {
		return
	}
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return
	}
	ns.wg.Add(len(work))
	ns.mu.Unlock()
	for _, w := range work {
		go ns.sendAST(w)
	}
}

func (ns *Namespace) sendAST(w ast) {
	defer ns.wg.Done()
	ctx, cancel := context.WithTimeout(w.cl.ctx, ns.cfg.ASTTimeout)
	defer cancel()
	opc := wire.LDLMBLCallback
	if w.kind == astCP {
		opc = wire.LDLMCPCallback
		ns.stats.cpASTs.Add(1)
		if ns.cfg.LVB != nil && w.body.Desc.Type != wire.LockFlock {
			w.body.LVB = ns.cfg.LVB(w.body.Desc.Res)
		}
	} else {
		ns.stats.blASTs.Add(1)
	}
	err := ns.callClient(ctx, w.cl, opc, &w.body, nil)
	switch {
	case err == nil:
		if w.kind == astBL || w.body.Flags&wire.LockFlagASTSent != 0 {
			ns.mu.Lock()
			ns.armLocked(w.lk, ns.cfg.CancelTimeout)
			ns.mu.Unlock()
		}
	case remoteErrno(err) == syscall.EINVAL:
		// The client does not know the lock: its cancel crossed our
		// callback, or it gave the request up. Lustre calls this a normal
		// race; the lock goes.
		ns.log.Debug("ldlm: client does not know the lock", zap.String("client", w.cl.uuid),
			zap.Stringer("opc", opc), zap.Uint64("handle", uint64(w.lk.handle)))
		var work []ast
		ns.mu.Lock()
		ns.cancelLocked(w.lk, &work)
		ns.mu.Unlock()
		ns.dispatch(work)
	case w.cl.ctx.Err() != nil:
		// Evicted already, or the namespace is closing.
	default:
		ns.stats.timeouts.Add(1)
		ns.evict(w.cl, fmt.Sprintf("failed to reply to %v: %v", opc, err), true)
	}
}

// remoteErrno returns the errno a peer answered with, 0 if err is not one.
func remoteErrno(err error) syscall.Errno {
	var re *wire.RemoteError
	if errors.As(err, &re) {
		return syscall.Errno(re.Errno)
	}
	return 0
}

// astProbe bounds a callback attempt to a client whose sends fail, and
// astBackoff is the first pause after such an attempt (it doubles up to a
// second). ptlrpc resends a connectionless request at once when its send
// fails (the client's node is gone): without the pacing below, a dead
// client would cost a busy loop until its eviction.
const (
	astProbe   = 10 * time.Millisecond
	astBackoff = 20 * time.Millisecond
)

// callClient sends one callback to cl's callback service, until ctx ends,
// and decodes the reply body into reply (if not nil). The first attempt is
// bounded by astProbe; if the import saw its sends fail meanwhile, the
// next attempts are paced, else the next one waits as long as ctx allows
// (the client is slow, not gone). Callbacks are idempotent on the client,
// so a resend under a new XID is harmless.
func (ns *Namespace) callClient(ctx context.Context, cl *client, opc wire.Opcode, body, reply wire.Body) error {
	imp, err := ns.callbackImport(ctx, cl)
	if err != nil {
		return err
	}
	probe, backoff := astProbe, astBackoff
	for {
		before := imp.Info().Timeouts
		actx, cancel := ctx, context.CancelFunc(func() {})
		if probe > 0 {
			actx, cancel = context.WithTimeout(ctx, probe)
		}
		rep, err := imp.Call(actx, &ptlrpc.Req{Opcode: opc, Encode: body})
		cancel()
		if err == nil && reply != nil {
			err = rep.Decode(reply)
		}
		rep.Release()
		if errors.Is(err, ptlrpc.ErrClosed) && ctx.Err() == nil {
			// The import was replaced (the client moved): use the new one.
			if imp, err = ns.callbackImport(ctx, cl); err != nil {
				return err
			}
			continue
		}
		if err == nil || remoteErrno(err) != 0 || ctx.Err() != nil || actx.Err() == nil {
			return err
		}
		if imp.Info().Timeouts-before < 3 {
			probe = 0 // slow, not failing: wait for the answer
			continue
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// callbackImport returns cl's callback import: a connectionless import to
// the client's callback service at the address its export talks from.
// A client that reconnected from another address gets a new one.
func (ns *Namespace) callbackImport(ctx context.Context, cl *client) (*ptlrpc.Import, error) {
	peer := cl.exp.Peer()
	ns.mu.Lock()
	imp, gone := cl.imp, cl.gone || ns.closed
	var stale *ptlrpc.Import
	if imp != nil && cl.impPeer != peer {
		stale, imp, cl.imp = imp, nil, nil
	}
	ns.mu.Unlock()
	if stale != nil {
		ns.log.Info("ldlm: client moved, new callback import", zap.String("client", cl.uuid),
			zap.Stringer("nid", peer.NID))
		_ = stale.Close()
	}
	switch {
	case gone:
		return nil, fmt.Errorf("%w: client %s", ErrEvicted, cl.uuid)
	case imp != nil:
		return imp, nil
	}
	// Failed callbacks end in an eviction, logged here; the import's own
	// resend messages would only repeat it. (IncreaseLevel only where it
	// raises the level: zap reports an attempt to lower it as an error.)
	log := ns.log.Named("ast").With(zap.String("client", cl.uuid))
	if log.Core().Enabled(zap.WarnLevel) {
		log = log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))
	}
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{
		NIDs: []lnet.NID{peer.NID}, PID: peer.PID, LNet: ns.cfg.LNet,
		RequestPortal: wire.LDLMCBRequestPortal, ReplyPortal: wire.LDLMCBReplyPortal, NoConnect: true,
		PingInterval: -1, AT: ns.cfg.AT, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if err := imp.Connect(ctx); err != nil {
		_ = imp.Close()
		return nil, err
	}
	ns.mu.Lock()
	cur, gone := cl.imp, cl.gone || ns.closed
	if cur == nil && !gone {
		cl.imp, cl.impPeer = imp, peer
	}
	ns.mu.Unlock()
	switch {
	case gone:
		_ = imp.Close()
		return nil, fmt.Errorf("%w: client %s", ErrEvicted, cl.uuid)
	case cur != nil:
		_ = imp.Close()
		return cur, nil
	}
	return imp, nil
}

// timerLoop evicts the clients that answered a blocking callback but did
// not cancel the lock in time (Lustre's "lock callback timer expired"),
// and forgets evicted exports after a while.
func (ns *Namespace) timerLoop() {
	defer ns.wg.Done()
	tick := time.NewTicker(min(max(min(ns.cfg.CancelTimeout, ns.cfg.ASTTimeout)/10, 5*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ns.ctx.Done():
			return
		case now := <-tick.C:
			var late []*client
			seen := map[*client]bool{}
			ns.mu.Lock()
			for lk := range ns.armed {
				if now.After(lk.deadline) && !seen[lk.cl] {
					seen[lk.cl] = true
					late = append(late, lk.cl)
					ns.log.Warn("ldlm: lock callback timer expired", zap.String("client", lk.cl.uuid),
						zap.Stringer("res", lk.res.id), zap.Stringer("mode", lk.mode),
						zap.Duration("waited", now.Sub(lk.enqueued)))
				}
			}
			for exp, t := range ns.gone {
				if now.Sub(t) > goneMemory {
					delete(ns.gone, exp)
				}
			}
			ns.mu.Unlock()
			for _, cl := range late {
				ns.stats.timeouts.Add(1)
				ns.evict(cl, "lock callback timer expired", true)
			}
		}
	}
}

// goneMemory is how long an evicted export is remembered; its requests
// stop at the target long before (ENOTCONN).
const goneMemory = 10 * time.Minute

// Glimpse asks the holder of the granted write lock (PW, EX or GROUP)
// that reaches furthest on the extent resource res for what it knows of
// the object (its LVB: the size it has written), without revoking the
// lock: the OST's way to learn the size of a file a client holds dirty
// data of. ErrNoData: no client holds such a lock, or it had nothing to
// say. A holder that does not answer in time is evicted.
func (ns *Namespace) Glimpse(ctx context.Context, res wire.ResID) (wire.LVB, error) {
	ns.mu.Lock()
	var best *lock
	if r := ns.resources[res]; r != nil && r.typ == wire.LockExtent {
		for _, g := range r.granted {
			if g.cl == nil || (g.mode != wire.LockPW && g.mode != wire.LockEX && g.mode != wire.LockGroup) {
				continue
			}
			if best == nil || g.policy.End > best.policy.End {
				best = g
			}
		}
	}
	var body wire.LockCallback
	if best != nil {
		body = wire.LockCallback{Handle: best.remote, ServerHandle: best.handle, Desc: best.desc()}
	}
	ns.mu.Unlock()
	if best == nil {
		return wire.LVB{}, fmt.Errorf("%w: no write lock on %v", ErrNoData, res)
	}
	ns.stats.glASTs.Add(1)
	cctx, cancel := context.WithTimeout(ctx, ns.cfg.ASTTimeout)
	defer cancel()
	stop := context.AfterFunc(best.cl.ctx, cancel)
	defer stop()
	var lvb wire.LVB
	err := ns.callClient(cctx, best.cl, wire.LDLMGLCallback, &body, &lvb)
	switch {
	case err == nil:
		return lvb, nil
	case remoteErrno(err) != 0:
		return wire.LVB{}, fmt.Errorf("%w: %w", ErrNoData, err)
	case ctx.Err() != nil:
		return wire.LVB{}, ctx.Err()
	case best.cl.ctx.Err() != nil:
		return wire.LVB{}, fmt.Errorf("%w: the holder was evicted", ErrNoData)
	}
	ns.stats.timeouts.Add(1)
	ns.evict(best.cl, fmt.Sprintf("failed to reply to glimpse: %v", err), true)
	return wire.LVB{}, fmt.Errorf("%w: the holder did not answer", ErrNoData)
}
