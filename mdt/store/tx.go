package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/stria-fs/stria/wire"
)

// Tx is a transaction on the store: the read-only one of View, or one
// operation's view of a group transaction in Update. Byte slices it returns
// are copies unless a method says otherwise. A Tx is used only by the
// goroutine running the function it was passed to.
type Tx struct {
	tx       *bbolt.Tx // a read transaction, or Format's and migrations' write one
	s        *Store
	writable bool
	bks      [bkCount]*bucket // opened on first use (bk)

	// Operations and views of an open store read through the writes of
	// applied, uncommitted operations (overlay.go).
	pend  []*layer // captured with tx: the pending layers, oldest first
	buf   *layer   // the running operation's writes; nil in a view
	owner uint64   // WithOwner of the context
	dep   uint64   // highest transno of another owner's layer read

	cur *op // operation now running
}

// The buckets a Tx opens, by index.
const (
	bkMeta = iota
	bkInodes
	bkDirents
	bkXattrs
	bkSymlinks
	bkLinks
	bkOrphans
	bkReplies
	bkSeq
	bkFld
	bkUpdates
	bkOstDestroys
	bkOstLastUsed
	bkCount
)

var bucketNames = [bkCount][]byte{
	bkMeta: []byte(bucketMeta), bkInodes: []byte(bucketInodes), bkDirents: []byte(bucketDirents),
	bkXattrs: []byte(bucketXattrs), bkSymlinks: []byte(bucketSymlinks), bkLinks: []byte(bucketLinks),
	bkOrphans: []byte(bucketOrphans), bkReplies: []byte(bucketReplies), bkSeq: []byte(bucketSeq),
	bkFld: []byte(bucketFLD), bkUpdates: []byte(bucketUpdates), bkOstDestroys: []byte(bucketOSTDestroys),
	bkOstLastUsed: []byte(bucketOSTLastUsed),
}

// bk returns bucket i, opening it on first use: a read that needs two
// buckets opens two, not all of them.
func (t *Tx) bk(i int) *bucket {
	if t.bks[i] == nil {
		t.bks[i] = &bucket{t: t, i: i, b: t.tx.Bucket(bucketNames[i])}
	}
	return t.bks[i]
}

func (s *Store) newTx(btx *bbolt.Tx, writable bool) *Tx {
	return &Tx{tx: btx, s: s, writable: writable}
}

// beginOp makes o the running operation.
func (t *Tx) beginOp(o *op) {
	o.transno, o.onCommit, o.onRollback, o.onApply = 0, nil, nil, nil
	t.cur = o
}

// Label returns the store's label.
func (t *Tx) Label() Label { return t.s.label }

// Writable reports whether the transaction may write.
func (t *Tx) Writable() bool { return t.writable }

// Transno returns the transno of the running operation, assigning it on
// first call. Every operation that writes gets one (PutInode asks for it
// to stamp Inode.Version); a view has none (0). Transnos are assigned in
// the order operations are applied, which is commit order.
func (t *Tx) Transno() uint64 {
	if !t.writable || t.cur == nil {
		return 0
	}
	if t.cur.transno == 0 {
		t.cur.transno = t.s.lastApplied.Load() + 1
	}
	return t.cur.transno
}

// OnApply registers fn to run under the apply token once the
// operation succeeded, before any later operation runs (and before Apply
// or Update returns). In a view it never runs.
func (t *Tx) OnApply(fn func()) {
	if t.cur != nil {
		t.cur.onApply = append(t.cur.onApply, fn)
	}
}

// OnCommit registers fn to run once the operation is durable, on the
// flusher goroutine, in commit order (before Update returns; after Apply
// returned). In a view it never runs.
func (t *Tx) OnCommit(fn func()) {
	if t.cur != nil {
		t.cur.onCommit = append(t.cur.onCommit, fn)
	}
}

// OnRollback registers fn to run if the operation's effects are discarded:
// it failed, or the store failed before it was committed. Use it to undo
// in-memory effects made inside the operation.
func (t *Tx) OnRollback(fn func()) {
	if t.cur != nil {
		t.cur.onRollback = append(t.cur.onRollback, fn)
	}
}

func (t *Tx) put(b *bucket, k, v []byte) error {
	if !t.writable {
		return ErrReadOnly
	}
	if t.buf != nil {
		t.Transno()
	}
	return b.put(k, v)
}

func (t *Tx) del(b *bucket, k []byte) error {
	if !t.writable {
		return ErrReadOnly
	}
	if t.buf != nil {
		t.Transno()
	}
	return b.delete(k)
}

func (t *Tx) counter(key string) uint64 {
	v := t.bk(bkMeta).Get([]byte(key))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (t *Tx) setCounter(key string, v uint64) error {
	return t.put(t.bk(bkMeta), []byte(key), u64Key(v))
}

// InodeCount returns the number of inodes.
func (t *Tx) InodeCount() uint64 { return t.counter(keyMetaInodes) }

// Inode returns the attributes of f, or ErrNotFound.
func (t *Tx) Inode(f wire.FID) (Inode, error) {
	v := t.bk(bkInodes).Get(fidKey(f))
	if v == nil {
		return Inode{}, fmt.Errorf("%w: inode %v", ErrNotFound, f)
	}
	ino, err := DecodeInode(v)
	if err != nil {
		return Inode{}, fmt.Errorf("inode %v: %w", f, err)
	}
	return ino, nil
}

// HasInode reports whether f exists.
func (t *Tx) HasInode(f wire.FID) bool { return t.bk(bkInodes).Get(fidKey(f)) != nil }

// PutInode stores ino under f, creating or replacing it, and stamps
// ino.Version with the operation's transno.
func (t *Tx) PutInode(f wire.FID, ino *Inode) error {
	if !t.writable {
		return ErrReadOnly
	}
	k := fidKey(f)
	if t.bk(bkInodes).Get(k) == nil {
		if err := t.setCounter(keyMetaInodes, t.InodeCount()+1); err != nil {
			return err
		}
	}
	ino.Version = t.Transno()
	return t.put(t.bk(bkInodes), k, AppendInode(make([]byte, 0, inodeRecSize), ino))
}

// Inodes calls fn for every inode in FID order until fn returns false.
func (t *Tx) Inodes(fn func(f wire.FID, ino Inode) bool) error {
	c := t.bk(bkInodes).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		f, err := wire.FIDFromKey(k)
		if err != nil || len(k) != wire.FIDSize {
			return fmt.Errorf("%w: inode key %x", ErrCorrupt, k)
		}
		ino, err := DecodeInode(v)
		if err != nil {
			return fmt.Errorf("inode %v: %w", f, err)
		}
		if !fn(f, ino) {
			return nil
		}
	}
	return nil
}

// DestroyInode removes f and everything kept for it: xattrs, symlink
// target, link entries and orphan record. Directory entries naming it or
// held in it are the caller's business.
func (t *Tx) DestroyInode(f wire.FID) error {
	if !t.writable {
		return ErrReadOnly
	}
	k := fidKey(f)
	if t.bk(bkInodes).Get(k) == nil {
		return fmt.Errorf("%w: inode %v", ErrNotFound, f)
	}
	if err := t.del(t.bk(bkInodes), k); err != nil {
		return err
	}
	if err := t.setCounter(keyMetaInodes, t.InodeCount()-1); err != nil {
		return err
	}
	for _, b := range []*bucket{t.bk(bkXattrs), t.bk(bkLinks)} {
		if err := t.deletePrefix(b, k); err != nil {
			return err
		}
	}
	if err := t.del(t.bk(bkSymlinks), k); err != nil {
		return err
	}
	return t.del(t.bk(bkOrphans), k)
}

func (t *Tx) deletePrefix(b *bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := t.del(b, k); err != nil {
			return err
		}
	}
	return nil
}

// Dirent returns the entry name in directory parent, or ErrNotFound.
func (t *Tx) Dirent(parent wire.FID, name string) (Dirent, error) {
	if err := validName(name); err != nil {
		return Dirent{}, err
	}
	v := t.bk(bkDirents).Get(direntKey(parent, name))
	if v == nil {
		return Dirent{}, fmt.Errorf("%w: %v/%q", ErrNotFound, parent, name)
	}
	d, err := DecodeDirent(v)
	if err != nil {
		return Dirent{}, fmt.Errorf("dirent %v/%q: %w", parent, name, err)
	}
	return d, nil
}

// PutDirent creates or replaces the entry name in directory parent.
func (t *Tx) PutDirent(parent wire.FID, name string, d Dirent) error {
	if err := validName(name); err != nil {
		return err
	}
	return t.put(t.bk(bkDirents), direntKey(parent, name), AppendDirent(make([]byte, 0, direntRecSize), d))
}

// DeleteDirent removes the entry name from directory parent.
func (t *Tx) DeleteDirent(parent wire.FID, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	k := direntKey(parent, name)
	if t.bk(bkDirents).Get(k) == nil {
		return fmt.Errorf("%w: %v/%q", ErrNotFound, parent, name)
	}
	return t.del(t.bk(bkDirents), k)
}

// Dirents calls fn for the entries of directory parent whose position is at
// least from, in position (cookie) order, until fn returns false. An entry
// present for the whole walk is seen exactly once whatever is inserted or
// removed around it, because positions are hashes of names, not indexes.
func (t *Tx) Dirents(parent wire.FID, from uint64, fn func(pos uint64, name string, d Dirent) bool) error {
	prefix := direntPrefix(parent)
	c := t.bk(bkDirents).Cursor()
	for k, v := c.Seek(direntSeekKey(parent, max(from, cookieFirst))); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		_, pos, name, err := parseDirentKey(k)
		if err != nil {
			return err
		}
		d, err := DecodeDirent(v)
		if err != nil {
			return fmt.Errorf("dirent %v/%q: %w", parent, name, err)
		}
		if !fn(pos, name, d) {
			return nil
		}
	}
	return nil
}

// AllDirents calls fn for every directory entry of the store, directory by
// directory, until fn returns false (for checkers).
func (t *Tx) AllDirents(fn func(parent wire.FID, name string, d Dirent) bool) error {
	c := t.bk(bkDirents).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		parent, _, name, err := parseDirentKey(k)
		if err != nil {
			return err
		}
		d, err := DecodeDirent(v)
		if err != nil {
			return fmt.Errorf("dirent %v/%q: %w", parent, name, err)
		}
		if !fn(parent, name, d) {
			return nil
		}
	}
	return nil
}

// HasDirents reports whether directory parent has any entry.
func (t *Tx) HasDirents(parent wire.FID) bool {
	prefix := direntPrefix(parent)
	k, _ := t.bk(bkDirents).Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// Xattr returns the value of xattr name of f, or ErrNotFound.
func (t *Tx) Xattr(f wire.FID, name string) ([]byte, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	v := t.bk(bkXattrs).Get(xattrKey(f, name))
	if v == nil {
		return nil, fmt.Errorf("%w: xattr %q of %v", ErrNotFound, name, f)
	}
	return append([]byte{}, v...), nil
}

// SetXattr sets xattr name of f to v.
func (t *Tx) SetXattr(f wire.FID, name string, v []byte) error {
	if err := validName(name); err != nil {
		return err
	}
	if v == nil {
		v = []byte{}
	}
	return t.put(t.bk(bkXattrs), xattrKey(f, name), v)
}

// RemoveXattr removes xattr name of f, or returns ErrNotFound.
func (t *Tx) RemoveXattr(f wire.FID, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	k := xattrKey(f, name)
	if t.bk(bkXattrs).Get(k) == nil {
		return fmt.Errorf("%w: xattr %q of %v", ErrNotFound, name, f)
	}
	return t.del(t.bk(bkXattrs), k)
}

// Xattrs calls fn for every xattr of f in name order until fn returns
// false. value is valid only during the call.
func (t *Tx) Xattrs(f wire.FID, fn func(name string, value []byte) bool) error {
	prefix := fidKey(f)
	c := t.bk(bkXattrs).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !fn(string(k[wire.FIDSize:]), v) {
			return nil
		}
	}
	return nil
}

// Symlink returns the target of symlink f, or ErrNotFound.
func (t *Tx) Symlink(f wire.FID) (string, error) {
	v := t.bk(bkSymlinks).Get(fidKey(f))
	if v == nil {
		return "", fmt.Errorf("%w: symlink target of %v", ErrNotFound, f)
	}
	return string(v), nil
}

// PutSymlink stores the target of symlink f.
func (t *Tx) PutSymlink(f wire.FID, target string) error {
	return t.put(t.bk(bkSymlinks), fidKey(f), []byte(target))
}

// AddLink records that f is named name in directory parent.
func (t *Tx) AddLink(f, parent wire.FID, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	return t.put(t.bk(bkLinks), linkKey(f, parent, name), []byte{})
}

// RemoveLink forgets the name name in parent of f, or returns ErrNotFound.
func (t *Tx) RemoveLink(f, parent wire.FID, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	k := linkKey(f, parent, name)
	if t.bk(bkLinks).Get(k) == nil {
		return fmt.Errorf("%w: link %v/%q of %v", ErrNotFound, parent, name, f)
	}
	return t.del(t.bk(bkLinks), k)
}

// Links calls fn for every name of f (parent directory and name), ordered
// by parent FID then name, until fn returns false.
func (t *Tx) Links(f wire.FID, fn func(parent wire.FID, name string) bool) error {
	prefix := fidKey(f)
	c := t.bk(bkLinks).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		_, parent, name, err := parseLinkKey(k)
		if err != nil {
			return err
		}
		if !fn(parent, name) {
			return nil
		}
	}
	return nil
}

// AddOrphan records f as an orphan: no name left, kept while open.
func (t *Tx) AddOrphan(f wire.FID, o Orphan) error {
	return t.put(t.bk(bkOrphans), fidKey(f), AppendOrphan(nil, o))
}

// IsOrphan reports whether f is recorded as an orphan.
func (t *Tx) IsOrphan(f wire.FID) bool { return t.bk(bkOrphans).Get(fidKey(f)) != nil }

// Orphans calls fn for every orphan until fn returns false.
func (t *Tx) Orphans(fn func(f wire.FID, o Orphan) bool) error {
	c := t.bk(bkOrphans).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		f, err := wire.FIDFromKey(k)
		if err != nil || len(k) != wire.FIDSize {
			return fmt.Errorf("%w: orphan key %x", ErrCorrupt, k)
		}
		o, err := DecodeOrphan(v)
		if err != nil {
			return fmt.Errorf("orphan %v: %w", f, err)
		}
		if !fn(f, o) {
			return nil
		}
	}
	return nil
}

// SaveReply stores the reply data of client's slot tag, replacing what the
// slot held.
func (t *Tx) SaveReply(client string, tag uint16, r ReplyData) error {
	if err := validClient(client); err != nil {
		return err
	}
	if len(r.Reply) > MaxReply {
		return fmt.Errorf("%w: reply of %d bytes", ErrBadKey, len(r.Reply))
	}
	return t.put(t.bk(bkReplies), replyKey(client, tag), AppendReply(nil, r))
}

// Reply returns the reply data of client's slot tag, or ErrNotFound.
func (t *Tx) Reply(client string, tag uint16) (ReplyData, error) {
	if err := validClient(client); err != nil {
		return ReplyData{}, err
	}
	v := t.bk(bkReplies).Get(replyKey(client, tag))
	if v == nil {
		return ReplyData{}, fmt.Errorf("%w: reply slot %d of %q", ErrNotFound, tag, client)
	}
	return DecodeReply(v)
}

// Replies calls fn for every reply slot of client in tag order.
func (t *Tx) Replies(client string, fn func(tag uint16, r ReplyData) bool) error {
	if err := validClient(client); err != nil {
		return err
	}
	prefix := replyPrefix(client)
	c := t.bk(bkReplies).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		_, tag, err := parseReplyKey(k)
		if err != nil {
			return err
		}
		r, err := DecodeReply(v)
		if err != nil {
			return err
		}
		if !fn(tag, r) {
			return nil
		}
	}
	return nil
}

// Clients calls fn once for every client UUID with saved reply data, in
// byte order, until fn returns false (the known clients of recovery).
func (t *Tx) Clients(fn func(client string) bool) error {
	c := t.bk(bkReplies).Cursor()
	last := ""
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		client, _, err := parseReplyKey(k)
		if err != nil {
			return err
		}
		if client == last {
			continue
		}
		last = client
		if !fn(client) {
			return nil
		}
	}
	return nil
}

// DeleteClient forgets every reply slot of client (eviction, disconnect).
func (t *Tx) DeleteClient(client string) error {
	if err := validClient(client); err != nil {
		return err
	}
	return t.deletePrefix(t.bk(bkReplies), replyPrefix(client))
}

// PutUpdate appends an opaque record to the cross-MDT update log and
// returns its id.
func (t *Tx) PutUpdate(rec []byte) (uint64, error) {
	id := t.counter(keyMetaUpdates) + 1
	if err := t.setCounter(keyMetaUpdates, id); err != nil {
		return 0, err
	}
	return id, t.put(t.bk(bkUpdates), u64Key(id), append([]byte{}, rec...))
}

// Updates calls fn for every pending update record in id order. rec is
// valid only during the call.
func (t *Tx) Updates(fn func(id uint64, rec []byte) bool) error {
	c := t.bk(bkUpdates).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return fmt.Errorf("%w: update key %x", ErrCorrupt, k)
		}
		if !fn(binary.BigEndian.Uint64(k), v) {
			return nil
		}
	}
	return nil
}

// DeleteUpdate removes update record id, or returns ErrNotFound.
func (t *Tx) DeleteUpdate(id uint64) error {
	k := u64Key(id)
	if t.bk(bkUpdates).Get(k) == nil {
		return fmt.Errorf("%w: update %d", ErrNotFound, id)
	}
	return t.del(t.bk(bkUpdates), k)
}
