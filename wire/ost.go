package wire

// MaxIOSize bounds one OST_READ / OST_WRITE (Lustre's 16 MiB brw maximum).
const MaxIOSize = 16 << 20

// MaxPrecreate bounds one OST_CREATE batch.
const MaxPrecreate = 1 << 16

// IORequest is OST_READ and OST_WRITE: Length bytes at Offset of object FID.
// The data moves as bulk: for a write the OST GETs it from the client's
// buffer, for a read it PUTs it into the client's buffer.
type IORequest struct {
	FID    FID
	Offset uint64
	Length uint32
	// Checksum is the crc32c (Castagnoli) of a write's data, computed by the
	// client; the OST checks it before the data reaches the disk.
	Checksum uint32
	// GrantWant asks the OST for more space grant (bytes).
	GrantWant uint64
	// Mtime is a write's modification time, ns since the epoch, by the
	// client's clock: when the application wrote the data, not when it
	// is written back (Lustre's obdo o_mtime). The OST moves the object's
	// mtime and ctime forward to it. 0: none (reads).
	Mtime int64
}

// Encode implements Body.
func (r *IORequest) Encode(e *Encoder) {
	e.FID(r.FID)
	e.U64(r.Offset)
	e.U32(r.Length)
	e.U32(r.Checksum)
	e.U64(r.GrantWant)
	e.U64(uint64(r.Mtime))
}

// Decode implements Body.
func (r *IORequest) Decode(d *Decoder) {
	r.FID = d.FID()
	r.Offset = d.U64()
	r.Length = d.U32()
	r.Checksum = d.U32()
	r.GrantWant = d.U64()
	r.Mtime = int64(d.U64())
	if d.Err() == nil && r.Length > MaxIOSize {
		d.Fail("io of %d bytes", r.Length)
	}
	if d.Err() == nil && r.Offset+uint64(r.Length) < r.Offset {
		d.Fail("io range overflows")
	}
}

// IOReply answers OST_READ and OST_WRITE: the bytes moved (a read past the
// object's end is short), the crc32c of a read's data, the object's size
// after the operation, and the client's grant now.
type IOReply struct {
	Length   uint32
	Checksum uint32
	Size     uint64
	Grant    uint64
}

// Encode implements Body.
func (r *IOReply) Encode(e *Encoder) {
	e.U32(r.Length)
	e.U32(r.Checksum)
	e.U64(r.Size)
	e.U64(r.Grant)
}

// Decode implements Body.
func (r *IOReply) Decode(d *Decoder) {
	r.Length = d.U32()
	r.Checksum = d.U32()
	r.Size = d.U64()
	r.Grant = d.U64()
}

// PunchRequest is OST_PUNCH: free [Start, End) of an object. End = ^0
// (to EOF) truncates the object to Start, as Lustre's punch to OBD_OBJECT_EOF.
type PunchRequest struct {
	FID   FID
	Start uint64
	End   uint64
}

// PunchToEOF is the End of a punch that truncates.
const PunchToEOF = ^uint64(0)

// Encode implements Body.
func (r *PunchRequest) Encode(e *Encoder) { e.FID(r.FID); e.U64(r.Start); e.U64(r.End) }

// Decode implements Body.
func (r *PunchRequest) Decode(d *Decoder) {
	r.FID = d.FID()
	r.Start = d.U64()
	r.End = d.U64()
	if d.Err() == nil && r.End < r.Start {
		d.Fail("punch [%d, %d)", r.Start, r.End)
	}
}

// ObjectAttrRequest is OST_SETATTR (Attr.Valid names what to change) and the
// reply to OST_GETATTR (request: FIDRequest).
type ObjectAttrRequest struct {
	FID  FID
	Attr Attr
}

// Encode implements Body.
func (r *ObjectAttrRequest) Encode(e *Encoder) { e.FID(r.FID); r.Attr.Encode(e) }

// Decode implements Body.
func (r *ObjectAttrRequest) Decode(d *Decoder) { r.FID = d.FID(); r.Attr.Decode(d) }

// PrecreateRequest is OST_CREATE from an MDT: create Count objects ahead of
// need in the OST's sequence for that MDT.
type PrecreateRequest struct {
	MDTIndex uint32
	Count    uint32
}

// Encode implements Body.
func (r *PrecreateRequest) Encode(e *Encoder) { e.U32(r.MDTIndex); e.U32(r.Count) }

// Decode implements Body.
func (r *PrecreateRequest) Decode(d *Decoder) {
	r.MDTIndex = d.U32()
	r.Count = d.U32()
	if d.Err() == nil && (r.Count == 0 || r.Count > MaxPrecreate) {
		d.Fail("precreate of %d objects", r.Count)
	}
}

// PrecreateReply names the objects made: Count consecutive object ids from
// First (same sequence, Oid increasing).
type PrecreateReply struct {
	First FID
	Count uint32
}

// Encode implements Body.
func (r *PrecreateReply) Encode(e *Encoder) { e.FID(r.First); e.U32(r.Count) }

// Decode implements Body.
func (r *PrecreateReply) Decode(d *Decoder) { r.First = d.FID(); r.Count = d.U32() }
