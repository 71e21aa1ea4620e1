package mdc

import (
	"context"
	"fmt"
	"time"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// LRUSize is the default lru_size of an MDC's lock namespace: every
// cached attribute and name costs a lock, so a client walking a directory
// of a few thousand files keeps them all (Lustre's dynamic LRU grows as
// far); ldlm.namespaces.*-mdc-*.lru_size changes it.
const LRUSize = 16384

// closeLocksTimeout bounds how long Close spends cancelling the MDC's
// locks on the MDT.
const closeLocksTimeout = 10 * time.Second

// newLocks makes the MDC's client lock namespace, "FSNAME-MDT0000-mdc-"
// followed by the client UUID, over the MDC's import.
func (m *MDC) newLocks() error {
	if m.cfg.Callbacks == nil {
		return nil
	}
	cl, err := ldlm.NewClient(ldlm.ClientConfig{Name: m.NamespaceName(), Import: m.imp, LRUSize: LRUSize,
		Callbacks: m.cfg.Callbacks, Hooks: m.cfg.LockHooks, Logger: m.log.Named("ldlm")})
	if err != nil {
		return fmt.Errorf("%w: %s: lock namespace: %w", ErrBadConfig, m.cfg.Target, err)
	}
	m.locks = cl
	return nil
}

// NamespaceName is the name of the MDC's lock namespace, as in Lustre's
// ldlm.namespaces.<name>: the target, "-mdc-" and the client's UUID.
func (m *MDC) NamespaceName() string { return m.cfg.Target + "-mdc-" + m.imp.ClientUUID() }

// Locks returns the MDC's lock namespace: nil when Config.Callbacks was
// not set.
func (m *MDC) Locks() *ldlm.Client { return m.locks }

// FlockResID is the resource of fid's flock(2)/fcntl(2) locks: the FID's
// name with wire.LockFlock in its fourth word. A resource has one lock
// type, and the FID's own name carries the inode-bits locks the client
// caches metadata under.
func FlockResID(fid wire.FID) wire.ResID {
	r := wire.ResIDOfFID(fid)
	r[3] = uint64(wire.LockFlock)
	return r
}

// Flock runs one flock(2)/fcntl(2) request on fid's FLOCK resource on the
// MDT (see ldlm.Client.Flock): FlockWait waits until ctx ends, and then
// cancels the request.
func (m *MDC) Flock(ctx context.Context, fid wire.FID, cmd ldlm.FlockCmd, fl ldlm.Flock) (ldlm.Flock, error) {
	if m.locks == nil {
		return ldlm.Flock{}, fmt.Errorf("mdc: %s: flock: %w", m.cfg.Target, ErrNoLocks)
	}
	start := time.Now()
	got, err := m.locks.Flock(ctx, FlockResID(fid), cmd, fl)
	m.stats.RPC(wire.LDLMEnqueue, time.Since(start))
	if err != nil {
		return ldlm.Flock{}, fmt.Errorf("mdc: %s: flock: %w", m.cfg.Target, err)
	}
	return got, nil
}

// closeLocks cancels the MDC's locks (best effort) and stops its lock
// namespace.
func (m *MDC) closeLocks() {
	if m.locks == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeLocksTimeout)
	defer cancel()
	_ = m.locks.Close(ctx)
}

// Lock returns a lock serving d with a reference the caller releases: a
// cached one (no RPC), else one the MDT grants (LDLM_ENQUEUE, counted in
// Stats like the MDC's own RPCs).
func (m *MDC) Lock(ctx context.Context, d wire.LockDesc) (*ldlm.Lock, error) {
	if m.locks == nil {
		return nil, fmt.Errorf("mdc: %s: lock: %w", m.cfg.Target, ErrNoLocks)
	}
	if l := m.locks.Match(d); l != nil {
		return l, nil
	}
	start := time.Now()
	l, err := m.locks.Enqueue(ctx, d, 0)
	m.stats.RPC(wire.LDLMEnqueue, time.Since(start))
	if err != nil {
		return nil, fmt.Errorf("mdc: %s: lock: %w", m.cfg.Target, err)
	}
	return l, nil
}

// Incarnation returns the instance of the MDT the MDC is connected to: it
// changes when the MDT restarts, which forgets every lock (Stria does not
// replay locks yet), so what was cached under the old instance's locks is
// not covered any more.
func (m *MDC) Incarnation() uint64 { return m.imp.Info().Incarnation }
