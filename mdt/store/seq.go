package store

import (
	"encoding/binary"
	"fmt"

	"github.com/stria-fs/stria/wire"
)

// Sequence allocation, as Lustre's: the sequence controller on MDT0000
// grants super-sequences (SuperSeqWidth sequences) to targets and records
// each grant in the FLD; a target's sequence server hands out single
// sequences from its super range (to itself for local FIDs and to clients);
// FIDs number objects within a sequence from 1 to MaxOid. All state is
// written in the transaction of the operation that consumes it, so a FID
// or a sequence is never handed out twice, across restarts included.
const (
	// SuperSeqWidth is the number of sequences in one controller grant
	// (MDT0000 gets [0x200000400, 0x240000400), MDT0001 the next, …).
	SuperSeqWidth uint64 = 1 << 30
	// MaxOid is the highest object id of a metadata sequence (Lustre's
	// LUSTRE_METADATA_SEQ_MAX_WIDTH).
	MaxOid uint32 = 0x20000
	// seqReservedStart..wire.SeqNormalStart holds the special sequences
	// (root, .lustre, local files, update logs), all on MDT0000.
	seqReservedStart uint64 = 0x200000000
)

// formatSeq sets up sequence state at format: MDT0000 becomes the
// controller and grants itself the first super range; other MDTs start
// with none and must be given one (SetSuperSeq) before allocating.
func (t *Tx) formatSeq() error {
	if t.s.label.Index != 0 {
		return nil
	}
	if err := t.put(t.bk(bkSeq), []byte(keySeqController), u64Key(wire.SeqNormalStart)); err != nil {
		return err
	}
	if err := t.FLDInsert(FLDRange{Start: seqReservedStart, End: wire.SeqNormalStart, Type: FLDMDT}); err != nil {
		return err
	}
	r, err := t.GrantSuperSeq(FLDMDT, 0)
	if err != nil {
		return err
	}
	return t.SetSuperSeq(r)
}

// IsController reports whether this store runs the sequence controller.
func (t *Tx) IsController() bool { return t.bk(bkSeq).Get([]byte(keySeqController)) != nil }

// GrantSuperSeq is the controller's grant of the next super-sequence to
// target (typ, index); it is recorded in the FLD. ErrNotController on a
// target other than MDT0000.
func (t *Tx) GrantSuperSeq(typ uint8, index uint32) (SeqRange, error) {
	v := t.bk(bkSeq).Get([]byte(keySeqController))
	if len(v) != 8 {
		return SeqRange{}, ErrNotController
	}
	start := binary.BigEndian.Uint64(v)
	end := start + SuperSeqWidth
	if end < start {
		return SeqRange{}, fmt.Errorf("%w: sequence space exhausted", ErrNoSequence)
	}
	if err := t.put(t.bk(bkSeq), []byte(keySeqController), u64Key(end)); err != nil {
		return SeqRange{}, err
	}
	r := FLDRange{Start: start, End: end, Type: typ, Index: index}
	if err := t.FLDInsert(r); err != nil {
		return SeqRange{}, err
	}
	return SeqRange{Start: start, End: end, Next: start}, nil
}

// SetSuperSeq installs a super range granted to this target. It must lie
// above the current one (a restart never goes back to old sequences). The
// range is also entered in this target's FLD, if not there yet.
func (t *Tx) SetSuperSeq(r SeqRange) error {
	if r.Next == 0 {
		r.Next = r.Start
	}
	if r.Start < wire.SeqNormalStart || r.Start >= r.End || r.Next < r.Start || r.Next > r.End {
		return fmt.Errorf("%w: super range %#x-%#x next %#x", ErrBadKey, r.Start, r.End, r.Next)
	}
	if old, ok, err := t.SeqServer(); err != nil {
		return err
	} else if ok && r.Start < old.End {
		return fmt.Errorf("%w: super range %#x-%#x below current %#x-%#x", ErrOverlap, r.Start, r.End, old.Start, old.End)
	}
	if _, err := t.FLDLookup(r.Start); err != nil {
		if err := t.FLDInsert(FLDRange{Start: r.Start, End: r.End, Type: FLDMDT, Index: t.s.label.Index}); err != nil {
			return err
		}
	}
	return t.put(t.bk(bkSeq), []byte(keySeqServer), AppendSeqRange(nil, r))
}

// SeqServer returns this target's super range and its next free sequence.
func (t *Tx) SeqServer() (SeqRange, bool, error) {
	v := t.bk(bkSeq).Get([]byte(keySeqServer))
	if v == nil {
		return SeqRange{}, false, nil
	}
	r, err := DecodeSeqRange(v)
	return r, err == nil, err
}

// AllocSeq hands out one sequence from the super range (to a client, or to
// the local allocator). ErrNoSequence when the range is missing or spent.
func (t *Tx) AllocSeq() (uint64, error) {
	r, ok, err := t.SeqServer()
	if err != nil {
		return 0, err
	}
	if !ok || r.Next >= r.End {
		return 0, fmt.Errorf("%w: target %s", ErrNoSequence, t.s.label.Name())
	}
	seq := r.Next
	r.Next++
	return seq, t.put(t.bk(bkSeq), []byte(keySeqServer), AppendSeqRange(nil, r))
}

func (t *Tx) local() (localSeq, bool, error) {
	v := t.bk(bkSeq).Get([]byte(keySeqLocal))
	if v == nil {
		return localSeq{}, false, nil
	}
	l, err := decodeLocalSeq(v)
	return l, err == nil, err
}

// AllocFID returns a new FID for an object created on this target.
func (t *Tx) AllocFID() (wire.FID, error) {
	if !t.writable {
		return wire.FID{}, ErrReadOnly
	}
	l, ok, err := t.local()
	if err != nil {
		return wire.FID{}, err
	}
	if !ok || l.NextOid > MaxOid || l.NextOid == 0 {
		seq, err := t.AllocSeq()
		if err != nil {
			return wire.FID{}, err
		}
		l = localSeq{Seq: seq, NextOid: 1}
	}
	f := wire.FID{Seq: l.Seq, Oid: l.NextOid}
	l.NextOid++
	return f, t.put(t.bk(bkSeq), []byte(keySeqLocal), appendLocalSeq(nil, l))
}

// ReserveFID keeps the local allocator from handing out f, a FID given
// by the caller (a create replayed after a restart gets the FID its
// first reply gave, which the allocator may not have recorded): a FID of
// the local sequence at or beyond the next one moves the allocator past it.
func (t *Tx) ReserveFID(f wire.FID) error {
	if !t.writable {
		return ErrReadOnly
	}
	l, ok, err := t.local()
	if err != nil {
		return err
	}
	if ok && f.Seq == l.Seq {
		if f.Oid < l.NextOid {
			return nil
		}
		l.NextOid = f.Oid + 1
		return t.put(t.bk(bkSeq), []byte(keySeqLocal), appendLocalSeq(nil, l))
	}
	// A sequence the server has not handed out: the lost transaction
	// gave it to the local allocator, which goes on from f.
	r, rok, err := t.SeqServer()
	if err != nil || !rok || f.Seq < r.Next || f.Seq >= r.End {
		return err
	}
	r.Next = f.Seq + 1
	if err := t.put(t.bk(bkSeq), []byte(keySeqServer), AppendSeqRange(nil, r)); err != nil {
		return err
	}
	return t.put(t.bk(bkSeq), []byte(keySeqLocal), appendLocalSeq(nil, localSeq{Seq: f.Seq, NextOid: f.Oid + 1}))
}

// FLDLookup returns the FLD range holding seq, or ErrNotFound.
func (t *Tx) FLDLookup(seq uint64) (FLDRange, error) {
	c := t.bk(bkFld).Cursor()
	k, v := c.Seek(u64Key(seq))
	switch {
	case k == nil:
		k, v = c.Last()
	case binary.BigEndian.Uint64(k) != seq:
		k, v = c.Prev()
	}
	if k == nil {
		return FLDRange{}, fmt.Errorf("%w: FLD sequence %#x", ErrNotFound, seq)
	}
	r, err := DecodeFLD(k, v)
	if err != nil {
		return FLDRange{}, err
	}
	if seq < r.Start || seq >= r.End {
		return FLDRange{}, fmt.Errorf("%w: FLD sequence %#x", ErrNotFound, seq)
	}
	return r, nil
}

// FLDInsert records a range; it must not overlap another.
func (t *Tx) FLDInsert(r FLDRange) error {
	if r.Start >= r.End || (r.Type != FLDMDT && r.Type != FLDOST) {
		return fmt.Errorf("%w: FLD range %#x-%#x type %d", ErrBadKey, r.Start, r.End, r.Type)
	}
	c := t.bk(bkFld).Cursor()
	k, v := c.Seek(u64Key(r.Start))
	if k != nil && binary.BigEndian.Uint64(k) < r.End {
		return fmt.Errorf("%w: %#x-%#x", ErrOverlap, r.Start, r.End)
	}
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k != nil {
		prev, err := DecodeFLD(k, v)
		if err != nil {
			return err
		}
		if prev.End > r.Start {
			return fmt.Errorf("%w: %#x-%#x with %#x-%#x", ErrOverlap, r.Start, r.End, prev.Start, prev.End)
		}
	}
	return t.put(t.bk(bkFld), u64Key(r.Start), appendFLD(nil, r))
}

// FLDRanges calls fn for every FLD range in sequence order.
func (t *Tx) FLDRanges(fn func(r FLDRange) bool) error {
	c := t.bk(bkFld).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, err := DecodeFLD(k, v)
		if err != nil {
			return err
		}
		if !fn(r) {
			return nil
		}
	}
	return nil
}
