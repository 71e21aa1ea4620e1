package osd

import (
	"context"
	"fmt"

	"github.com/stria-fs/stria/wire"
)

// Allocate implements Store: the missing pages of the range are made
// (zeroed), all or none. An uncapped store still refuses to allocate past
// the total its StatFS reports.
func (m *Mem) Allocate(ctx context.Context, fid wire.FID, off, length int64, keepSize bool) error {
	if err := checkAllocate(off, length); err != nil {
		return err
	}
	o, err := m.get(ctx, fid)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead {
		return fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	first, last := off/memPage, (off+length-1)/memPage
	need := (last - first + 1 - o.pagesIn(first, last)) * memPage
	if m.opts.Capacity == 0 && need > memDefaultTotal-m.used.Load() || !m.reserve(need) {
		return fmt.Errorf("%w: %v: allocate %d bytes at %d", ErrNoSpace, fid, length, off)
	}
	for idx := first; idx <= last; idx++ {
		if o.pages[idx] == nil {
			o.pages[idx] = make([]byte, memPage)
		}
	}
	if !keepSize {
		o.size = max(o.size, off+length)
	}
	return nil
}

// Unallocated implements Store: the missing pages of the range.
func (m *Mem) Unallocated(ctx context.Context, fid wire.FID, off, length int64) (int64, error) {
	if err := checkRange(off, length); err != nil {
		return 0, err
	}
	o, err := m.get(ctx, fid)
	if err != nil {
		return 0, err
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.dead {
		return 0, fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	if length == 0 {
		return 0, nil
	}
	first, last := off/memPage, (off+length-1)/memPage
	return (last - first + 1 - o.pagesIn(first, last)) * memPage, nil
}

// pagesIn counts the object's pages with index in [first, last].
func (o *memObj) pagesIn(first, last int64) int64 {
	n := int64(0)
	for idx := range o.pages {
		if idx >= first && idx <= last {
			n++
		}
	}
	return n
}
