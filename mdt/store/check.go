package store

import (
	"encoding/binary"
	"fmt"

	"github.com/stria-fs/stria/wire"
)

// check verifies the store-level invariants inside one read transaction.
func (t *Tx) check() error {
	if _, err := readLabel(t.tx); err != nil {
		return fmt.Errorf("%w: label: %w", ErrInvariant, err)
	}
	var n uint64
	var ierr error
	if err := t.Inodes(func(f wire.FID, _ Inode) bool {
		n++
		ierr = t.checkAllocated(f)
		return ierr == nil
	}); err != nil {
		return fmt.Errorf("%w: %w", ErrInvariant, err)
	}
	if ierr != nil {
		return ierr
	}
	if c := t.InodeCount(); c != n {
		return fmt.Errorf("%w: inode counter %d, %d inodes", ErrInvariant, c, n)
	}
	// Records keyed by an inode's FID belong to an existing inode.
	for _, b := range []struct {
		name string
		b    *bucket
	}{{bucketXattrs, t.bk(bkXattrs)}, {bucketSymlinks, t.bk(bkSymlinks)}, {bucketLinks, t.bk(bkLinks)}, {bucketOrphans, t.bk(bkOrphans)}} {
		c := b.b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			f, err := wire.FIDFromKey(k)
			if err != nil {
				return fmt.Errorf("%w: %s key %x", ErrInvariant, b.name, k)
			}
			if !t.HasInode(f) {
				return fmt.Errorf("%w: %s record of missing inode %v", ErrInvariant, b.name, f)
			}
			switch b.name {
			case bucketLinks:
				_, _, _, err = parseLinkKey(k)
			case bucketOrphans:
				_, err = DecodeOrphan(v)
			}
			if err != nil {
				return fmt.Errorf("%w: %w", ErrInvariant, err)
			}
		}
	}
	c := t.bk(bkDirents).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if _, _, _, err := parseDirentKey(k); err != nil {
			return fmt.Errorf("%w: %w", ErrInvariant, err)
		}
		if _, err := DecodeDirent(v); err != nil {
			return fmt.Errorf("%w: %w", ErrInvariant, err)
		}
	}
	c = t.bk(bkReplies).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if _, _, err := parseReplyKey(k); err != nil {
			return fmt.Errorf("%w: %w", ErrInvariant, err)
		}
		if _, err := DecodeReply(v); err != nil {
			return fmt.Errorf("%w: %w", ErrInvariant, err)
		}
	}
	if err := t.AllOSTDestroys(func(uint32, wire.FID, OSTDestroy) bool { return true }); err != nil {
		return fmt.Errorf("%w: %w", ErrInvariant, err)
	}
	c = t.bk(bkOstLastUsed).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 4 {
			return fmt.Errorf("%w: ost_lastused key %x", ErrInvariant, k)
		}
		if _, _, err := t.OSTLastUsed(binary.BigEndian.Uint32(k)); err != nil {
			return fmt.Errorf("%w: %w", ErrInvariant, err)
		}
	}
	return t.checkSeq()
}

func (t *Tx) checkSeq() error {
	var prevEnd uint64
	if err := t.FLDRanges(func(r FLDRange) bool {
		if r.Start < prevEnd {
			return false
		}
		prevEnd = r.End
		return true
	}); err != nil {
		return fmt.Errorf("%w: %w", ErrInvariant, err)
	}
	srv, ok, err := t.SeqServer()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvariant, err)
	}
	l, lok, err := t.local()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvariant, err)
	}
	if lok && (!ok || l.Seq >= srv.Next) {
		return fmt.Errorf("%w: local sequence %#x not handed out by the server (%+v)", ErrInvariant, l.Seq, srv)
	}
	if lok && l.NextOid > MaxOid+1 {
		return fmt.Errorf("%w: local next oid %#x", ErrInvariant, l.NextOid)
	}
	if ok {
		r, err := t.FLDLookup(srv.Start)
		if err != nil || r.Index != t.s.label.Index || r.Type != FLDMDT {
			return fmt.Errorf("%w: super range %#x-%#x not in FLD as ours (%+v, %v)", ErrInvariant, srv.Start, srv.End, r, err)
		}
	}
	return nil
}
