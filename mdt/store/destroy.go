package store

import (
	"bytes"
	"fmt"

	"github.com/stria-fs/stria/wire"
)

// The OST destroy queue: objects of destroyed files that their OSTs have not
// yet destroyed. The MDT records them in the transaction that destroys the
// file, so a crash can lose neither the file's name nor its objects; the
// MDT's proxy of each OST (osp) sends the destroys and deletes the records
// once the OST answered.

// AddOSTDestroy records that object obj on OST ost is to be destroyed.
func (t *Tx) AddOSTDestroy(ost uint32, obj wire.FID, d OSTDestroy) error {
	return t.put(t.bk(bkOstDestroys), ostDestroyKey(ost, obj), AppendOSTDestroy(make([]byte, 0, ostDestroyRecSize), d))
}

// DeleteOSTDestroy forgets the pending destroy of obj on ost, or returns
// ErrNotFound.
func (t *Tx) DeleteOSTDestroy(ost uint32, obj wire.FID) error {
	k := ostDestroyKey(ost, obj)
	if t.bk(bkOstDestroys).Get(k) == nil {
		return fmt.Errorf("%w: pending destroy of %v on OST %04x", ErrNotFound, obj, ost)
	}
	return t.del(t.bk(bkOstDestroys), k)
}

// OSTDestroys calls fn for the pending destroys of OST ost in object FID
// order, from object from on (the zero FID: from the first), until fn
// returns false.
func (t *Tx) OSTDestroys(ost uint32, from wire.FID, fn func(obj wire.FID, d OSTDestroy) bool) error {
	prefix := ostDestroyPrefix(ost)
	c := t.bk(bkOstDestroys).Cursor()
	for k, v := c.Seek(ostDestroyKey(ost, from)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		_, obj, err := parseOSTDestroyKey(k)
		if err != nil {
			return err
		}
		d, err := DecodeOSTDestroy(v)
		if err != nil {
			return fmt.Errorf("pending destroy of %v on OST %04x: %w", obj, ost, err)
		}
		if !fn(obj, d) {
			return nil
		}
	}
	return nil
}

// AllOSTDestroys calls fn for every pending destroy, OST by OST, until fn
// returns false.
func (t *Tx) AllOSTDestroys(fn func(ost uint32, obj wire.FID, d OSTDestroy) bool) error {
	c := t.bk(bkOstDestroys).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		ost, obj, err := parseOSTDestroyKey(k)
		if err != nil {
			return err
		}
		d, err := DecodeOSTDestroy(v)
		if err != nil {
			return fmt.Errorf("pending destroy of %v on OST %04x: %w", obj, ost, err)
		}
		if !fn(ost, obj, d) {
			return nil
		}
	}
	return nil
}

// OSTLastUsed returns the highest object of OST ost that a committed
// layout referenced, and whether there is one.
func (t *Tx) OSTLastUsed(ost uint32) (wire.FID, bool, error) {
	v := t.bk(bkOstLastUsed).Get(ostDestroyPrefix(ost))
	if v == nil {
		return wire.FID{}, false, nil
	}
	if len(v) != wire.FIDSize {
		return wire.FID{}, false, fmt.Errorf("%w: last used object of OST %04x: %d bytes", ErrCorrupt, ost, len(v))
	}
	f, err := wire.DecodeFID(v)
	if err != nil {
		return wire.FID{}, false, fmt.Errorf("%w: last used object of OST %04x: %w", ErrCorrupt, ost, err)
	}
	return f, true, nil
}

// NoteOSTUsed records that a layout references object obj of OST ost: the
// last used object becomes obj if it is higher in the same sequence, or
// if obj is of another sequence than the one recorded.
func (t *Tx) NoteOSTUsed(ost uint32, obj wire.FID) error {
	cur, ok, err := t.OSTLastUsed(ost)
	if err != nil {
		return err
	}
	if ok && cur.Seq == obj.Seq && cur.Oid >= obj.Oid {
		return nil
	}
	return t.put(t.bk(bkOstLastUsed), ostDestroyPrefix(ost), obj.Append(make([]byte, 0, wire.FIDSize)))
}
