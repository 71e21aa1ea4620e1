package wire

// Bodies the OST serves beyond wire/ost.go: the MDT's object allocator
// (osp) learns an OST's last allocated object id, and after a restart
// destroys the objects it precreated but never handed out (Lustre's
// "resetting orphans").

// LastIDRequest is OST_GET_INFO (Lustre's KEY_LAST_ID): the highest object
// id the OST ever allocated in its sequence for MDT MDTIndex.
type LastIDRequest struct {
	MDTIndex uint32
}

// Encode implements Body.
func (r *LastIDRequest) Encode(e *Encoder) { e.U32(r.MDTIndex) }

// Decode implements Body.
func (r *LastIDRequest) Decode(d *Decoder) { r.MDTIndex = d.U32() }

// LastIDReply answers LastIDRequest: the FID of the last object allocated
// in the MDT's sequence (Oid 0: none yet). Precreation resumes after it.
type LastIDReply struct {
	LastID FID
}

// Encode implements Body.
func (r *LastIDReply) Encode(e *Encoder) { e.FID(r.LastID) }

// Decode implements Body.
func (r *LastIDReply) Decode(d *Decoder) { r.LastID = d.FID() }

// OrphanRequest is OST_SET_INFO from an MDT that (re)connected: destroy
// the objects of its sequence above LastUsed, the last object id the MDT
// handed out (0: none), as they were precreated and never used. Ids are
// never reused: precreation continues after the OST's LAST_ID.
type OrphanRequest struct {
	MDTIndex uint32
	LastUsed uint32
}

// Encode implements Body.
func (r *OrphanRequest) Encode(e *Encoder) { e.U32(r.MDTIndex); e.U32(r.LastUsed) }

// Decode implements Body.
func (r *OrphanRequest) Decode(d *Decoder) { r.MDTIndex = d.U32(); r.LastUsed = d.U32() }

// OrphanReply answers OrphanRequest: the sequence's last allocated object
// and how many orphans were destroyed.
type OrphanReply struct {
	LastID    FID
	Destroyed uint32
}

// Encode implements Body.
func (r *OrphanReply) Encode(e *Encoder) { e.FID(r.LastID); e.U32(r.Destroyed) }

// Decode implements Body.
func (r *OrphanReply) Decode(d *Decoder) { r.LastID = d.FID(); r.Destroyed = d.U32() }

// Modes of an OST_FALLOCATE, Linux's fallocate(2) flags as Lustre passes
// them through (falloc_mode).
const (
	FallocKeepSize  uint32 = 0x01 // FALLOC_FL_KEEP_SIZE: allocate, do not grow the size
	FallocPunchHole uint32 = 0x02 // FALLOC_FL_PUNCH_HOLE (with KEEP_SIZE): deallocate
)

// FallocateRequest is OST_FALLOCATE: allocate (or, with FallocPunchHole,
// free) [Offset, Offset+Length) of an object, as fallocate(2) with mode
// Mode. The OST answers with the object's attributes after
// (ObjectAttrRequest). Modes the OST does not serve are refused with
// EOPNOTSUPP by the handler, not the decoder.
type FallocateRequest struct {
	FID    FID
	Offset uint64
	Length uint64
	Mode   uint32
}

// Encode implements Body.
func (r *FallocateRequest) Encode(e *Encoder) {
	e.FID(r.FID)
	e.U64(r.Offset)
	e.U64(r.Length)
	e.U32(r.Mode)
}

// Decode implements Body.
func (r *FallocateRequest) Decode(d *Decoder) {
	r.FID = d.FID()
	r.Offset = d.U64()
	r.Length = d.U64()
	r.Mode = d.U32()
	if d.Err() == nil && r.Offset+r.Length < r.Offset {
		d.Fail("fallocate range overflows")
	}
}
