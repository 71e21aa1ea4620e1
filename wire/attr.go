package wire

// AttrValid says which fields of an Attr are meaningful (Lustre's
// OBD_MD_FL* / MDS_ATTR_* role). In a setattr request it says which to change.
type AttrValid uint32

// Attribute bits.
const (
	AttrMode AttrValid = 1 << iota
	AttrUID
	AttrGID
	AttrSize
	AttrBlocks
	AttrNlink
	AttrRdev
	AttrAtime
	AttrMtime
	AttrCtime
	AttrFlags
	// AttrAtimeNow and AttrMtimeNow, in a setattr, ask the server to use its
	// own clock (utimensat's UTIME_NOW).
	AttrAtimeNow
	AttrMtimeNow
)

// Attr is the attributes of an inode or an OST object.
type Attr struct {
	Valid  AttrValid
	Mode   uint32 // file type and permission bits, as syscall.S_IF* | 07777
	UID    uint32
	GID    uint32
	Size   uint64
	Blocks uint64 // 512-byte blocks allocated
	Nlink  uint32
	Rdev   uint32
	Atime  int64 // ns since the epoch
	Mtime  int64
	Ctime  int64
	Flags  uint32
}

// attrSize is the encoded size of an Attr.
const attrSize = 4*7 + 8*5

// Encode implements Body.
func (a *Attr) Encode(e *Encoder) {
	e.U32(uint32(a.Valid))
	e.U32(a.Mode)
	e.U32(a.UID)
	e.U32(a.GID)
	e.U64(a.Size)
	e.U64(a.Blocks)
	e.U32(a.Nlink)
	e.U32(a.Rdev)
	e.I64(a.Atime)
	e.I64(a.Mtime)
	e.I64(a.Ctime)
	e.U32(a.Flags)
}

// Decode implements Body.
func (a *Attr) Decode(d *Decoder) {
	a.Valid = AttrValid(d.U32())
	a.Mode = d.U32()
	a.UID = d.U32()
	a.GID = d.U32()
	a.Size = d.U64()
	a.Blocks = d.U64()
	a.Nlink = d.U32()
	a.Rdev = d.U32()
	a.Atime = d.I64()
	a.Mtime = d.I64()
	a.Ctime = d.I64()
	a.Flags = d.U32()
}

// StatFSState flags a target's condition in `lfs df` (D, N, R, S, I).
type StatFSState uint32

// Target state flags.
const (
	StateDegraded StatFSState = 1 << iota // D
	StateNoCreate                         // N
	StateReadOnly                         // R
	StateNoSpace                          // S
	StateNoInodes                         // I
)

// StatFS is a target's space and inode usage (Lustre's obd_statfs).
type StatFS struct {
	Blocks  uint64 // total, in BSize units
	BFree   uint64
	BAvail  uint64
	Files   uint64 // inodes (MDT) or objects (OST) total
	FFree   uint64
	BSize   uint32
	NameLen uint32
	State   StatFSState
}

// Encode implements Body.
func (s *StatFS) Encode(e *Encoder) {
	e.U64(s.Blocks)
	e.U64(s.BFree)
	e.U64(s.BAvail)
	e.U64(s.Files)
	e.U64(s.FFree)
	e.U32(s.BSize)
	e.U32(s.NameLen)
	e.U32(uint32(s.State))
}

// Decode implements Body.
func (s *StatFS) Decode(d *Decoder) {
	s.Blocks = d.U64()
	s.BFree = d.U64()
	s.BAvail = d.U64()
	s.Files = d.U64()
	s.FFree = d.U64()
	s.BSize = d.U32()
	s.NameLen = d.U32()
	s.State = StatFSState(d.U32())
}

// FIDRequest is the body of every request that names one object and nothing
// else (MDS_GETATTR, MDS_SYNC, OST_GETATTR, OST_DESTROY, OST_SYNC).
type FIDRequest struct {
	FID FID
}

// Encode implements Body.
func (r *FIDRequest) Encode(e *Encoder) { e.FID(r.FID) }

// Decode implements Body.
func (r *FIDRequest) Decode(d *Decoder) { r.FID = d.FID() }

// Empty is the body of requests and replies that carry nothing but the
// envelope (statfs requests, most modifying replies).
type Empty struct{}

// Encode implements Body.
func (*Empty) Encode(*Encoder) {}

// Decode implements Body.
func (*Empty) Decode(*Decoder) {}
