package store

import (
	"bytes"
	"context"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// A layer holds the writes of one applied operation that is not committed
// yet. The operation fills it while it runs (Tx.buf) and
// freezes it when the operation succeeded; from then on it is read-only,
// shared by every transaction that captured it, until the flusher has
// committed it and drops it from Store.pend.
type layer struct {
	transno uint64
	owner   uint64 // Owner of the operation's context; 0: the MDT itself
	kv      [bkCount]map[string]entry
	sorted  [bkCount][]string // the keys of kv, sorted, once frozen
	op      *op               // the operation, for its commit hooks and waiter
}

// entry is a layer's value of one key: a new value or a deletion.
type entry struct {
	v   []byte
	del bool
}

func (l *layer) empty() bool {
	for _, m := range l.kv {
		if len(m) > 0 {
			return false
		}
	}
	return true
}

func (l *layer) set(i int, k, v []byte, del bool) {
	if l.kv[i] == nil {
		l.kv[i] = map[string]entry{}
	}
	var e entry
	if del {
		e.del = true
	} else {
		e.v = append(make([]byte, 0, len(v)), v...)
	}
	l.kv[i][string(k)] = e
}

// freeze sorts the keys of every bucket the layer wrote, for cursors.
func (l *layer) freeze() {
	for i, m := range l.kv {
		if len(m) == 0 {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		l.sorted[i] = keys
	}
}

// ownerKey carries the Owner of a context.
type ownerKey struct{}

// WithOwner returns ctx carrying owner: the client on whose behalf the
// store is read and written (the MDT passes its export's handle). An
// operation or view that reads what an uncommitted operation of another
// owner wrote returns only once that is committed (Lustre's commit on
// share), so that no client is told of a change that a failure could
// take back without that client replaying it. Owner 0, the default, is
// the MDT itself, foreign to every client.
func WithOwner(ctx context.Context, owner uint64) context.Context {
	return context.WithValue(ctx, ownerKey{}, owner)
}

// OwnerOf returns the owner ctx carries (WithOwner); 0 for the MDT.
func OwnerOf(ctx context.Context) uint64 { return ownerOf(ctx) }

func ownerOf(ctx context.Context) uint64 {
	o, _ := ctx.Value(ownerKey{}).(uint64)
	return o
}

// touch notes that the transaction read what layer l wrote.
func (t *Tx) touch(l *layer) {
	if l.owner != t.owner || t.owner == 0 {
		t.dep = max(t.dep, l.transno)
	}
}

// bucket is one bucket as a transaction sees it: the running operation's
// writes over the pending layers over the committed bbolt bucket. A
// transaction of Format and of migrations writes to bbolt directly.
type bucket struct {
	t *Tx
	i int
	b *bbolt.Bucket
}

// Get returns the value of k, or nil. The value is valid for the life of
// the transaction and must not be modified.
func (b *bucket) Get(k []byte) []byte {
	t := b.t
	if t.buf != nil {
		if e, ok := t.buf.kv[b.i][string(k)]; ok {
			return e.value()
		}
	}
	for j := len(t.pend) - 1; j >= 0; j-- {
		l := t.pend[j]
		if e, ok := l.kv[b.i][string(k)]; ok {
			t.touch(l)
			return e.value()
		}
	}
	if b.b == nil {
		return nil
	}
	return b.b.Get(k)
}

func (e entry) value() []byte {
	if e.del {
		return nil
	}
	return e.v
}

func (b *bucket) put(k, v []byte) error {
	if b.t.buf == nil {
		return b.b.Put(k, v)
	}
	b.t.buf.set(b.i, k, v, false)
	return nil
}

func (b *bucket) delete(k []byte) error {
	if b.t.buf == nil {
		return b.b.Delete(k)
	}
	b.t.buf.set(b.i, k, nil, true)
	return nil
}

// ovEntry is one key of the merged pending layers, for a cursor.
type ovEntry struct {
	key string
	e   entry
	l   *layer // nil for the running operation's own writes
}

// Cursor returns a cursor over the bucket as the transaction sees it.
// Writes made after it was created are not seen by it.
func (b *bucket) Cursor() *cursor {
	c := &cursor{t: b.t}
	if b.b != nil {
		c.bc = b.b.Cursor()
	}
	c.ov = b.merged()
	return c
}

// merged returns the keys the pending layers and the running operation
// wrote in the bucket, sorted, the newest write of each key winning.
func (b *bucket) merged() []ovEntry {
	t := b.t
	n := 0
	for _, l := range t.pend {
		n += len(l.kv[b.i])
	}
	if t.buf != nil {
		n += len(t.buf.kv[b.i])
	}
	if n == 0 {
		return nil
	}
	m := make(map[string]ovEntry, n)
	for _, l := range t.pend {
		for k, e := range l.kv[b.i] {
			m[k] = ovEntry{key: k, e: e, l: l}
		}
	}
	if t.buf != nil {
		for k, e := range t.buf.kv[b.i] {
			m[k] = ovEntry{key: k, e: e}
		}
	}
	out := make([]ovEntry, 0, len(m))
	for _, oe := range m {
		out = append(out, oe)
	}
	slices.SortFunc(out, func(a, b ovEntry) int { return strings.Compare(a.key, b.key) })
	return out
}

// cursor merges a bbolt cursor with the pending writes of its bucket. It
// has bbolt's methods and semantics: nil key at either end; values valid
// for the life of the transaction.
type cursor struct {
	t   *Tx
	bc  *bbolt.Cursor // nil if the bucket is missing
	ov  []ovEntry
	bk  []byte // bbolt's current key and value
	bv  []byte
	oi  int  // current index in ov
	fwd bool // moving forward (else backward)
	key []byte
}

func (c *cursor) bFirst() {
	if c.bc != nil {
		c.bk, c.bv = c.bc.First()
	}
}

// First moves to the first key.
func (c *cursor) First() ([]byte, []byte) {
	c.bk, c.bv = nil, nil
	c.bFirst()
	c.oi, c.fwd = 0, true
	return c.settle()
}

// Last moves to the last key.
func (c *cursor) Last() ([]byte, []byte) {
	c.bk, c.bv = nil, nil
	if c.bc != nil {
		c.bk, c.bv = c.bc.Last()
	}
	c.oi, c.fwd = len(c.ov)-1, false
	return c.settle()
}

// Seek moves to the first key at or after k.
func (c *cursor) Seek(k []byte) ([]byte, []byte) {
	c.bk, c.bv = nil, nil
	if c.bc != nil {
		c.bk, c.bv = c.bc.Seek(k)
	}
	c.oi = c.lowerBound(k)
	c.fwd = true
	return c.settle()
}

func (c *cursor) lowerBound(k []byte) int {
	i, _ := slices.BinarySearchFunc(c.ov, k, func(e ovEntry, k []byte) int { return strings.Compare(e.key, string(k)) })
	return i
}

// Next moves to the key after the current one.
func (c *cursor) Next() ([]byte, []byte) {
	if c.key == nil {
		return nil, nil
	}
	if !c.fwd {
		return c.Seek(append(append([]byte(nil), c.key...), 0))
	}
	c.step()
	return c.settle()
}

// Prev moves to the key before the current one.
func (c *cursor) Prev() ([]byte, []byte) {
	if c.key == nil {
		return nil, nil
	}
	if c.fwd {
		cur := append([]byte(nil), c.key...)
		c.bk, c.bv = nil, nil
		if c.bc != nil {
			if k, _ := c.bc.Seek(cur); k == nil {
				c.bk, c.bv = c.bc.Last()
			} else {
				c.bk, c.bv = c.bc.Prev()
			}
		}
		c.oi, c.fwd = c.lowerBound(cur)-1, false
		return c.settle()
	}
	c.step()
	return c.settle()
}

// step moves every source that is at the current key past it.
func (c *cursor) step() {
	if c.bk != nil && bytes.Equal(c.bk, c.key) {
		c.bmove()
	}
	if c.oi >= 0 && c.oi < len(c.ov) && c.ov[c.oi].key == string(c.key) {
		c.omove()
	}
}

func (c *cursor) bmove() {
	if c.fwd {
		c.bk, c.bv = c.bc.Next()
	} else {
		c.bk, c.bv = c.bc.Prev()
	}
}

func (c *cursor) omove() {
	if c.fwd {
		c.oi++
	} else {
		c.oi--
	}
}

// settle returns the nearest live key in the cursor's direction, skipping
// keys the pending writes deleted.
func (c *cursor) settle() ([]byte, []byte) {
	for {
		haveO := c.oi >= 0 && c.oi < len(c.ov)
		if !haveO {
			c.key = c.bk
			return c.bk, c.bv
		}
		o := &c.ov[c.oi]
		if c.bk != nil {
			cmp := bytes.Compare(c.bk, []byte(o.key))
			if !c.fwd {
				cmp = -cmp
			}
			if cmp < 0 { // bbolt's key comes first
				c.key = c.bk
				return c.bk, c.bv
			}
		}
		if o.l != nil {
			c.t.touch(o.l)
		}
		if o.e.del {
			if c.bk != nil && string(c.bk) == o.key {
				c.bmove()
			}
			c.omove()
			continue
		}
		c.key = []byte(o.key)
		return c.key, o.e.v
	}
}
