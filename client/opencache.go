package client

import (
	"context"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// Open cache (Lustre's open lock caching, och under an OPEN-bit lock).
//
// A file this client created comes with a PR lock holding the OPEN bit,
// which every other open for writing, and every unlink, rename or layout
// change of the file, calls back (their EX locks conflict with it). While
// that lock is held the MDT's open handle of a file this client did not
// write is worth nothing to anyone else, so the last close(2) does not
// send MDS_CLOSE: the handle stays open on the MDT, parked on the lock,
// and is closed when the lock goes — called back, converted without the
// OPEN bit, cancelled early with an unlink from this client, or pushed out
// of the LRU; at unmount the MDT closes the departed client's handles. A create then costs the MDT one RPC
// fewer, and the close is paid when the file is next changed, or never
// apart from the lock's own cancel. The open stays kept for replay until
// its close, so an MDT restart meanwhile restores the handle.
// llite.*.open_cache=0 (Config.NoOpenCache) closes at once again.

// parkedOpen is an MDT open handle whose close waits for its lock.
type parkedOpen struct {
	m      *mdc.MDC
	fid    wire.FID
	handle uint64
}

// parkClose parks the MDT handle of fid instead of closing it, if this
// client holds fid's lock with the OPEN bit as the file's creator. It
// reports whether it did; the caller closes the handle otherwise.
func (fs *FS) parkClose(m *mdc.MDC, fid wire.FID, handle uint64) bool {
	if fs.noOpenCache.Load() || m.Locks() == nil {
		return false
	}
	d := mdDesc(fid)
	d.Policy.Bits |= wire.InodeLockOpen
	l := m.Locks().Match(d)
	if l == nil {
		return false
	}
	// The reference taken by Match keeps the lock from being cancelled
	// until Release: its cancel hook finds the handle parked.
	defer l.Release()
	if e := entryOf(l); e == nil || !e.fresh || !fs.usable(m, e) {
		return false
	}
	c := &fs.md
	c.mu.Lock()
	if c.parked == nil {
		c.parked = map[*ldlm.Lock][]parkedOpen{}
	}
	c.parked[l] = append(c.parked[l], parkedOpen{m: m, fid: fid, handle: handle})
	c.mu.Unlock()
	fs.stats.count(opParkedClose)
	return true
}

// closeParked closes the handles parked on l, which goes or loses its
// OPEN bit; it runs in the lock's cancel or convert hook, before the
// cancel reaches the MDT.
func (c *mdCache) closeParked(ctx context.Context, l *ldlm.Lock) {
	c.mu.Lock()
	ps := c.parked[l]
	delete(c.parked, l)
	c.mu.Unlock()
	if c.unmount.Load() {
		return // the MDT closes a departed client's handles
	}
	for _, p := range ps {
		if err := p.m.CloseFile(ctx, p.fid, p.handle, wire.Attr{}); err != nil {
			c.log.Warn("closing a parked open failed", zap.Stringer("fid", p.fid), zap.Error(err))
		}
	}
}
