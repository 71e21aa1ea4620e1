package lod

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/layout/qos"
	"github.com/stria-fs/stria/wire"
)

// Target is what the allocator needs of an OST proxy; *osp.Device is one.
type Target interface {
	// Index is the OST index; Target its name ("testfs-OST0001").
	Index() uint32
	Target() string
	// QOS reports free space and whether the OST takes new objects.
	QOS() qos.OST
	// Alloc hands out a precreated object; Release takes unused ones back.
	Alloc(ctx context.Context) (wire.FID, error)
	Release(objs ...wire.FID)
	// Ready is closed once the OST answered the proxy.
	Ready() <-chan struct{}
}

// Config configures a LOD.
type Config struct {
	// Name is the device name ("testfs-MDT0000-mdtlov").
	Name   string
	Logger *zap.Logger
	// ReadyTimeout bounds the wait for a first OST when none is available
	// yet (default 10 s).
	ReadyTimeout time.Duration
	// Rand seeds the OST picker (tests); nil uses the global source.
	Rand *rand.Rand
}

// LOD is the layout allocator of one MDT. Its methods are safe for
// concurrent use.
type LOD struct {
	cfg Config
	log *zap.Logger
	rr  qos.RoundRobin

	mu   sync.RWMutex // guards osts
	osts map[uint32]Target
}

// New returns a LOD with no OSTs.
func New(cfg Config) *LOD {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	return &LOD{cfg: cfg, log: cfg.Logger, rr: qos.RoundRobin{Rand: cfg.Rand}, osts: map[uint32]Target{}}
}

// Name returns the device name.
func (d *LOD) Name() string { return d.cfg.Name }

// AddOST adds (or replaces) the OST of t's index.
func (d *LOD) AddOST(t Target) {
	d.mu.Lock()
	d.osts[t.Index()] = t
	d.mu.Unlock()
}

// RemoveOST forgets OST idx and returns it (nil if unknown).
func (d *LOD) RemoveOST(idx uint32) Target {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.osts[idx]
	delete(d.osts, idx)
	return t
}

// OST returns OST idx, or nil.
func (d *LOD) OST(idx uint32) Target {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.osts[idx]
}

// OSTs returns the OSTs in index order.
func (d *LOD) OSTs() []Target {
	d.mu.RLock()
	out := make([]Target, 0, len(d.osts))
	for _, t := range d.osts {
		out = append(out, t)
	}
	d.mu.RUnlock()
	slices.SortFunc(out, func(a, b Target) int { return int(a.Index()) - int(b.Index()) })
	return out
}

// NumOSTs is the number of OSTs of the file system (lod.*.numobd).
func (d *LOD) NumOSTs() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.osts)
}

// ActiveOSTs is the number that take new objects now (lod.*.activeobd).
func (d *LOD) ActiveOSTs() int {
	n := 0
	for _, t := range d.OSTs() {
		if t.QOS().Avail {
			n++
		}
	}
	return n
}

// ostCount is what stripe counts and offsets are checked against: one
// more than the highest OST index, as OST indexes may have holes.
func (d *LOD) ostCount() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := 0
	for i := range d.osts {
		n = max(n, int(i)+1)
	}
	return n
}

// Effective computes a new file's layout (without objects) from the
// request's template, the parent directory's default and the root's; each
// may be nil. See the package documentation.
func Effective(explicit, parent, root *layout.Layout) (*layout.Layout, error) {
	for _, t := range []*layout.Layout{explicit, parent, root} {
		if t != nil {
			if err := t.ValidateTemplate(); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
	}
	var l *layout.Layout
	var err error
	switch {
	case explicit == nil:
		l, err = layout.Effective(parent, root, nil)
	case parent != nil && root != nil:
		var base *layout.Layout
		if base, err = layout.Effective(parent, root, nil); err == nil {
			l, err = layout.Effective(explicit, base, nil)
		}
	case parent != nil:
		l, err = layout.Effective(explicit, parent, nil)
	default:
		l, err = layout.Effective(explicit, root, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return l, nil
}

// Check checks l against the OSTs of the file system: no component may ask
// for more stripes than there are OSTs, or name an OST that does not
// exist.
func (d *LOD) Check(l *layout.Layout) error {
	n := d.ostCount()
	if err := l.CheckOSTCount(n); err != nil {
		d.log.Warn("layout refused", zap.String("target", d.cfg.Name), zap.Int("osts", n), zap.Error(err))
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// NewLayout computes a new file's layout (Effective), checks it against
// the OSTs and instantiates its initial components.
func (d *LOD) NewLayout(ctx context.Context, explicit, parent, root *layout.Layout) (*layout.Layout, error) {
	l, err := Effective(explicit, parent, root)
	if err != nil {
		return nil, err
	}
	if err := d.Check(l); err != nil {
		return nil, err
	}
	if err := d.Instantiate(ctx, l, l.InitialComponents()); err != nil {
		return nil, err
	}
	return l, nil
}

// Instantiate gives the components comps of l their objects. On error the
// objects it took are given back and l must be discarded.
func (d *LOD) Instantiate(ctx context.Context, l *layout.Layout, comps []int) error {
	for n, i := range comps {
		if i < 0 || i >= len(l.Components) {
			d.Release(l, comps[:n:n])
			return fmt.Errorf("%w: no component %d", ErrInvalid, i)
		}
		c := &l.Components[i]
		var objs []layout.Object
		if !c.IsDoM() {
			var err error
			if objs, err = d.allocStripe(ctx, &c.Stripe); err != nil {
				d.Release(l, comps[:n:n])
				return err
			}
		}
		if err := l.Instantiate(i, objs); err != nil {
			d.releaseObjects(objs)
			d.Release(l, comps[:n:n])
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return nil
}

// Release gives the objects of components comps of l (nil: of every
// component) back to their OSTs' pools: a create that failed after
// Instantiate.
func (d *LOD) Release(l *layout.Layout, comps []int) {
	if comps == nil {
		for i := range l.Components {
			d.releaseObjects(l.Components[i].Stripe.Objects)
		}
		return
	}
	for _, i := range comps {
		if i >= 0 && i < len(l.Components) {
			d.releaseObjects(l.Components[i].Stripe.Objects)
		}
	}
}

func (d *LOD) releaseObjects(objs []layout.Object) {
	for _, o := range objs {
		if t := d.OST(o.OSTIndex); t != nil {
			t.Release(o.FID)
		}
	}
}

// allocStripe takes one object per stripe of s.
func (d *LOD) allocStripe(ctx context.Context, s *layout.Stripe) ([]layout.Object, error) {
	if len(s.OSTs) > 0 {
		return d.allocOn(ctx, s.OSTs)
	}
	excluded := map[uint32]bool{}
	waited := false
	for {
		targets := d.OSTs()
		qs := make([]qos.OST, len(targets))
		for i, t := range targets {
			qs[i] = t.QOS()
			if excluded[qs[i].Index] {
				qs[i].Avail = false
			}
		}
		idxs, err := qos.PickMin(qs, int(s.Count), 1, int(s.Offset), s.Pool, &d.rr)
		switch {
		case errors.Is(err, qos.ErrNoOSTs) || errors.Is(err, qos.ErrNotEnough):
			if !waited && len(excluded) == 0 && d.waitReady(ctx, targets) {
				waited = true
				continue
			}
			return nil, fmt.Errorf("%w: %d OSTs, pool %q: %w", ErrNoSpace, len(targets), s.Pool, err)
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		objs, failed, err := d.take(ctx, idxs)
		if err == nil {
			return objs, nil
		}
		if failed == nil {
			return nil, err // the context ended
		}
		d.log.Info("OST failed to hand out an object; picking again without it",
			zap.String("target", failed.Target()), zap.Error(err))
		excluded[failed.Index()] = true
	}
}

// allocOn takes one object on each OST of an explicit list.
func (d *LOD) allocOn(ctx context.Context, osts []uint32) ([]layout.Object, error) {
	objs, failed, err := d.take(ctx, osts)
	if err != nil && failed != nil {
		return nil, fmt.Errorf("%w: OST list %v: %w", ErrNoSpace, osts, err)
	}
	return objs, err
}

// take allocates one object on each OST of idxs. On failure it gives back
// what it took and names the OST that failed (nil when ctx ended).
func (d *LOD) take(ctx context.Context, idxs []uint32) ([]layout.Object, Target, error) {
	objs := make([]layout.Object, 0, len(idxs))
	for _, idx := range idxs {
		t := d.OST(idx)
		if t == nil {
			d.releaseObjects(objs)
			return nil, nil, fmt.Errorf("%w: OST %04x does not exist", ErrInvalid, idx)
		}
		f, err := t.Alloc(ctx)
		if err != nil {
			d.releaseObjects(objs)
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, t, err
		}
		objs = append(objs, layout.Object{OSTIndex: idx, FID: f})
	}
	return objs, nil, nil
}

// waitReady waits until one of the OSTs that never answered their proxy
// does, at most ReadyTimeout. It reports whether one did.
func (d *LOD) waitReady(ctx context.Context, targets []Target) bool {
	var pending []<-chan struct{}
	for _, t := range targets {
		select {
		case <-t.Ready():
		default:
			pending = append(pending, t.Ready())
		}
	}
	if len(pending) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ReadyTimeout)
	defer cancel()
	first := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for _, ch := range pending {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-ch:
				once.Do(func() { close(first) })
			case <-ctx.Done():
			}
		}()
	}
	ok := false
	select {
	case <-first:
		ok = true
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	return ok
}
