package mdc

import (
	"context"
	"fmt"
	"time"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// closeLocksTimeout bounds how long Close spends cancelling the MDC's
// locks on the MDT.
const closeLocksTimeout = 10 * time.Second

// newLocks makes the MDC's client lock namespace, "FSNAME-MDT0000-mdc-"
// followed by the client UUID, over the MDC's import.
func (m *MDC) newLocks() error {
	if m.cfg.Callbacks == nil {
		return nil
	}
	cl, err := ldlm.NewClient(ldlm.ClientConfig{Name: m.NamespaceName(), Import: m.imp,
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

// Flock runs one flock(2)/fcntl(2) request on fid's FLOCK resource on the
// MDT (see ldlm.Client.Flock): FlockWait waits until ctx ends, and then
// cancels the request.
func (m *MDC) Flock(ctx context.Context, fid wire.FID, cmd ldlm.FlockCmd, fl ldlm.Flock) (ldlm.Flock, error) {
	if m.locks == nil {
		return ldlm.Flock{}, fmt.Errorf("mdc: %s: flock: %w", m.cfg.Target, ErrNoLocks)
	}
	start := time.Now()
	got, err := m.locks.Flock(ctx, wire.ResIDOfFID(fid), cmd, fl)
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
