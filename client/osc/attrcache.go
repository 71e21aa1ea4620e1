package osc

import (
	"context"
	"sync"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// attrCache keeps what the OSC knows of an object's attributes while it
// holds a lock on the whole object ([0, EOF], PR or PW): then no other
// client can change the object, and GetAttr answers without an RPC. An
// entry is made when such a lock is first returned by Lock (from the
// lock's LVB, the object as the OST knew it at the grant), follows the
// replies of this OSC's RPCs on the object (a write's or read's size, a
// punch's or setattr's attributes), and goes when the lock is cancelled
// (after the client's Cancel hook has written back). It is only used
// while its lock is granted with no callback pending.
type attrCache struct {
	mu sync.Mutex // a leaf
	m  map[wire.FID]*objAttr
}

type objAttr struct {
	lock *ldlm.Lock
	attr wire.Attr
}

// note records lock l's entry for fid if l covers the whole object and
// the entry is not l's already.
func (c *attrCache) note(fid wire.FID, l *ldlm.Lock) {
	if l == nil {
		return
	}
	d := l.Desc()
	if d.Policy.Start != 0 || d.Policy.End != wire.LockEOF {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[fid]; e != nil && e.lock == l {
		return
	}
	lvb := l.LVB()
	if c.m == nil {
		c.m = map[wire.FID]*objAttr{}
	}
	c.m[fid] = &objAttr{lock: l, attr: wire.Attr{Valid: wire.AttrSize | wire.AttrBlocks | wire.AttrMtime,
		Size: lvb.Size, Blocks: lvb.Blocks, Mtime: lvb.MTime}}
}

// get returns fid's attributes if its entry's lock still holds.
func (c *attrCache) get(fid wire.FID) (wire.Attr, bool) {
	c.mu.Lock()
	e := c.m[fid]
	c.mu.Unlock()
	if e == nil || e.lock.BlockPending() {
		return wire.Attr{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[fid] != e {
		return wire.Attr{}, false
	}
	return e.attr, true
}

// wrote accounts a write of n bytes with mtime (0: none) that left the
// object size long.
func (c *attrCache) wrote(fid wire.FID, n int, size uint64, mtime int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[fid]; e != nil {
		e.attr.Size = max(e.attr.Size, size)
		e.attr.Mtime = max(e.attr.Mtime, mtime) // the OST's, which moves forward only
		// Blocks: what was written, at most the size rounded to pages (an
		// overwrite allocates nothing; the OST's next answer corrects it).
		e.attr.Blocks = min(e.attr.Blocks+uint64(n+511)/512, (e.attr.Size+4095)/4096*8)
	}
}

// set replaces fid's attributes by the answer of a punch or setattr
// (this client's own, under its PW lock).
func (c *attrCache) set(fid wire.FID, a wire.Attr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[fid]; e != nil {
		e.attr = wire.Attr{Valid: wire.AttrSize | wire.AttrBlocks | wire.AttrMtime, Size: a.Size, Blocks: a.Blocks,
			Mtime: a.Mtime}
	}
}

// merge takes a getattr's answer, which may have left the OST before a
// write of ours that is already accounted: the size only grows.
func (c *attrCache) merge(fid wire.FID, a wire.Attr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[fid]; e != nil {
		e.attr.Size, e.attr.Blocks, e.attr.Mtime = max(e.attr.Size, a.Size), a.Blocks, max(e.attr.Mtime, a.Mtime)
	}
}

// drop forgets the entry made under l.
func (c *attrCache) drop(l *ldlm.Lock) {
	fid := l.Desc().Res.FID()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[fid]; e != nil && e.lock == l {
		delete(c.m, fid)
	}
}

// hooks wraps the client layer's hooks: a cancelled lock's attributes go
// once the client has written back under it.
func (o *OSC) hooks() ldlm.Hooks {
	h := o.cfg.LockHooks
	cancel := h.Cancel
	h.Cancel = func(ctx context.Context, l *ldlm.Lock, evicted bool) {
		if cancel != nil {
			cancel(ctx, l, evicted)
		}
		o.attrs.drop(l)
	}
	return h
}
