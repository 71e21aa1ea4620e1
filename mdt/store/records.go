package store

// Record (value) encodings. Every record is little-endian and starts with a
// record-format byte; a decoder refuses formats it does not know and
// records of the wrong length with ErrCorrupt, never panics (fuzzed in
// records_fuzz_test.go). A new field is appended under a new format byte and
// a migration in schema.go.

import (
	"encoding/binary"
	"fmt"

	"github.com/stria-fs/stria/wire"
)

const recV1 = 1

// Inode is the attribute record of one MDT object.
type Inode struct {
	// Mode is the file type and permission bits (syscall.S_IF* | 07777).
	Mode uint32
	UID  uint32
	GID  uint32
	// Nlink counts names; a directory counts 2 + its subdirectories.
	Nlink uint32
	// Flags are inode flags (chattr-style), opaque to the store.
	Flags uint32
	// LayoutGen is bumped each time the layout xattr changes.
	LayoutGen uint32
	// Rdev is the device number of a character or block device.
	Rdev uint64
	// Size is the size of a directory or symlink. For a regular file the
	// authoritative size lives on the OSTs; Size is then the "lazy size"
	// the MDT last learnt (truncate, close), and Blocks likewise.
	Size   uint64
	Blocks uint64
	// Times in nanoseconds since the Unix epoch.
	Atime, Mtime, Ctime, Btime int64
	// Version is the transno of the inode's last change (for VBR).
	Version uint64
}

// Type returns the file type bits of the mode.
func (i Inode) Type() uint32 { return i.Mode & TypeMask }

// IsDir reports whether the inode is a directory.
func (i Inode) IsDir() bool { return i.Type() == TypeDir }

// File type bits, as Linux (syscall.S_IF*), kept here so the schema does not
// depend on the build platform.
const (
	TypeMask  uint32 = 0o170000
	TypeSock  uint32 = 0o140000
	TypeLink  uint32 = 0o120000
	TypeReg   uint32 = 0o100000
	TypeBlock uint32 = 0o060000
	TypeDir   uint32 = 0o040000
	TypeChar  uint32 = 0o020000
	TypeFIFO  uint32 = 0o010000
)

// DirentType returns the d_type (DT_*) of a mode: its type bits >> 12.
func DirentType(mode uint32) uint8 { return uint8((mode & TypeMask) >> 12) }

const inodeRecSize = 1 + 6*4 + 8*8

// AppendInode appends the record form of ino.
func AppendInode(b []byte, ino *Inode) []byte {
	b = append(b, recV1)
	for _, v := range [...]uint32{ino.Mode, ino.UID, ino.GID, ino.Nlink, ino.Flags, ino.LayoutGen} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	for _, v := range [...]uint64{ino.Rdev, ino.Size, ino.Blocks, uint64(ino.Atime), uint64(ino.Mtime),
		uint64(ino.Ctime), uint64(ino.Btime), ino.Version} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// DecodeInode decodes a record written by AppendInode.
func DecodeInode(b []byte) (Inode, error) {
	if len(b) != inodeRecSize || b[0] != recV1 {
		return Inode{}, fmt.Errorf("%w: inode record of %d bytes", ErrCorrupt, len(b))
	}
	le := binary.LittleEndian
	u32 := func(i int) uint32 { return le.Uint32(b[1+4*i:]) }
	u64 := func(i int) uint64 { return le.Uint64(b[1+24+8*i:]) }
	return Inode{
		Mode: u32(0), UID: u32(1), GID: u32(2), Nlink: u32(3), Flags: u32(4), LayoutGen: u32(5),
		Rdev: u64(0), Size: u64(1), Blocks: u64(2),
		Atime: int64(u64(3)), Mtime: int64(u64(4)), Ctime: int64(u64(5)), Btime: int64(u64(6)),
		Version: u64(7),
	}, nil
}

// Dirent is the value of a directory entry: the child and its d_type.
type Dirent struct {
	FID  wire.FID
	Type uint8
}

const direntRecSize = 1 + wire.FIDSize + 1

// AppendDirent appends the record form of d.
func AppendDirent(b []byte, d Dirent) []byte {
	b = append(b, recV1)
	b = d.FID.Append(b)
	return append(b, d.Type)
}

// DecodeDirent decodes a record written by AppendDirent.
func DecodeDirent(b []byte) (Dirent, error) {
	if len(b) != direntRecSize || b[0] != recV1 {
		return Dirent{}, fmt.Errorf("%w: dirent record of %d bytes", ErrCorrupt, len(b))
	}
	f, err := wire.DecodeFID(b[1:])
	if err != nil {
		return Dirent{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return Dirent{FID: f, Type: b[1+wire.FIDSize]}, nil
}

// Orphan records an inode whose last name went while it was open.
type Orphan struct {
	// Time the inode became an orphan, ns since the epoch.
	Time int64
}

const orphanRecSize = 1 + 8

// AppendOrphan appends the record form of o.
func AppendOrphan(b []byte, o Orphan) []byte {
	b = append(b, recV1)
	return binary.LittleEndian.AppendUint64(b, uint64(o.Time))
}

// DecodeOrphan decodes a record written by AppendOrphan.
func DecodeOrphan(b []byte) (Orphan, error) {
	if len(b) != orphanRecSize || b[0] != recV1 {
		return Orphan{}, fmt.Errorf("%w: orphan record of %d bytes", ErrCorrupt, len(b))
	}
	return Orphan{Time: int64(binary.LittleEndian.Uint64(b[1:]))}, nil
}

// ReplyData is what a target keeps of a client's request so that a resent
// request is answered, not executed twice, and replay knows where the
// client stands (Lustre's last_rcvd / reply_data slot).
type ReplyData struct {
	XID     uint64
	Transno uint64
	// Result is the request's status (0 or a negative errno).
	Result int32
	// Reply is the saved reply body, opaque to the store.
	Reply []byte
}

// MaxReply bounds a saved reply body.
const MaxReply = 1 << 20

const replyHdrSize = 1 + 8 + 8 + 4 + 4

// AppendReply appends the record form of r.
func AppendReply(b []byte, r ReplyData) []byte {
	b = append(b, recV1)
	b = binary.LittleEndian.AppendUint64(b, r.XID)
	b = binary.LittleEndian.AppendUint64(b, r.Transno)
	b = binary.LittleEndian.AppendUint32(b, uint32(r.Result))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Reply)))
	return append(b, r.Reply...)
}

// DecodeReply decodes a record written by AppendReply. The reply bytes are
// copied.
func DecodeReply(b []byte) (ReplyData, error) {
	if len(b) < replyHdrSize || b[0] != recV1 {
		return ReplyData{}, fmt.Errorf("%w: reply record of %d bytes", ErrCorrupt, len(b))
	}
	le := binary.LittleEndian
	n := le.Uint32(b[21:])
	if n > MaxReply || uint64(len(b)-replyHdrSize) != uint64(n) {
		return ReplyData{}, fmt.Errorf("%w: reply record: body %d of %d bytes", ErrCorrupt, n, len(b)-replyHdrSize)
	}
	r := ReplyData{XID: le.Uint64(b[1:]), Transno: le.Uint64(b[9:]), Result: int32(le.Uint32(b[17:]))}
	if n > 0 {
		r.Reply = append([]byte(nil), b[replyHdrSize:]...)
	}
	return r, nil
}

// Label names the target a store holds. The daemon compares it with its
// configuration and refuses another file system's target.
type Label struct {
	// FSName is the file system name: 1-8 of [-_a-zA-Z0-9].
	FSName string
	// Index is the MDT index (0 for MDT0000, which holds the root and the
	// sequence controller).
	Index uint32
	// UUID is the target UUID, e.g. "testfs-MDT0000_UUID".
	UUID string
}

// MaxMDTIndex is the highest MDT index (Lustre allows 4096 MDTs).
const MaxMDTIndex = 4095

// Name is the target name, FSNAME-MDTxxxx.
func (l Label) Name() string { return fmt.Sprintf("%s-MDT%04x", l.FSName, l.Index) }

// Validate checks the label's fields.
func (l Label) Validate() error {
	if len(l.FSName) < 1 || len(l.FSName) > 8 {
		return fmt.Errorf("%w: fsname %q: want 1-8 characters", ErrBadLabel, l.FSName)
	}
	for _, c := range []byte(l.FSName) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: fsname %q: bad character %q", ErrBadLabel, l.FSName, c)
		}
	}
	if l.Index > MaxMDTIndex {
		return fmt.Errorf("%w: index %d > %d", ErrBadLabel, l.Index, MaxMDTIndex)
	}
	if l.UUID == "" || len(l.UUID) > 255 {
		return fmt.Errorf("%w: uuid of %d bytes", ErrBadLabel, len(l.UUID))
	}
	return nil
}

// AppendLabel appends the record form of l.
func AppendLabel(b []byte, l Label) []byte {
	b = append(b, recV1)
	b = binary.LittleEndian.AppendUint32(b, l.Index)
	b = append(b, byte(len(l.FSName)))
	b = append(b, l.FSName...)
	b = append(b, byte(len(l.UUID)))
	return append(b, l.UUID...)
}

// DecodeLabel decodes a record written by AppendLabel and validates it.
func DecodeLabel(b []byte) (Label, error) {
	if len(b) < 6 || b[0] != recV1 {
		return Label{}, fmt.Errorf("%w: label record of %d bytes", ErrCorrupt, len(b))
	}
	l := Label{Index: binary.LittleEndian.Uint32(b[1:])}
	rest := b[5:]
	n := int(rest[0])
	if len(rest) < 1+n+1 {
		return Label{}, fmt.Errorf("%w: label record truncated", ErrCorrupt)
	}
	l.FSName = string(rest[1 : 1+n])
	rest = rest[1+n:]
	m := int(rest[0])
	if len(rest) != 1+m {
		return Label{}, fmt.Errorf("%w: label record: uuid length %d of %d", ErrCorrupt, m, len(rest)-1)
	}
	l.UUID = string(rest[1:])
	if err := l.Validate(); err != nil {
		return Label{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return l, nil
}

// SeqRange is a range of FID sequences [Start, End) and, for a sequence
// server's super range, the next sequence not yet handed out.
type SeqRange struct {
	Start, End uint64
	Next       uint64
}

const seqRangeRecSize = 1 + 3*8

// AppendSeqRange appends the record form of r.
func AppendSeqRange(b []byte, r SeqRange) []byte {
	b = append(b, recV1)
	b = binary.LittleEndian.AppendUint64(b, r.Start)
	b = binary.LittleEndian.AppendUint64(b, r.End)
	return binary.LittleEndian.AppendUint64(b, r.Next)
}

// DecodeSeqRange decodes a record written by AppendSeqRange.
func DecodeSeqRange(b []byte) (SeqRange, error) {
	if len(b) != seqRangeRecSize || b[0] != recV1 {
		return SeqRange{}, fmt.Errorf("%w: sequence range record of %d bytes", ErrCorrupt, len(b))
	}
	le := binary.LittleEndian
	r := SeqRange{Start: le.Uint64(b[1:]), End: le.Uint64(b[9:]), Next: le.Uint64(b[17:])}
	if r.Start > r.End || r.Next < r.Start || r.Next > r.End {
		return SeqRange{}, fmt.Errorf("%w: sequence range %#x-%#x next %#x", ErrCorrupt, r.Start, r.End, r.Next)
	}
	return r, nil
}

// FLD target types.
const (
	FLDMDT uint8 = 1
	FLDOST uint8 = 2
)

// FLDRange maps the sequences [Start, End) to a target.
type FLDRange struct {
	Start, End uint64
	Type       uint8 // FLDMDT or FLDOST
	Index      uint32
}

const fldRecSize = 1 + 8 + 1 + 4

// appendFLD appends the value of an FLD entry (its key holds Start).
func appendFLD(b []byte, r FLDRange) []byte {
	b = append(b, recV1)
	b = binary.LittleEndian.AppendUint64(b, r.End)
	b = append(b, r.Type)
	return binary.LittleEndian.AppendUint32(b, r.Index)
}

// DecodeFLD decodes an FLD entry from its key and value.
func DecodeFLD(k, v []byte) (FLDRange, error) {
	if len(k) != 8 || len(v) != fldRecSize || v[0] != recV1 {
		return FLDRange{}, fmt.Errorf("%w: FLD entry of %d+%d bytes", ErrCorrupt, len(k), len(v))
	}
	r := FLDRange{
		Start: binary.BigEndian.Uint64(k),
		End:   binary.LittleEndian.Uint64(v[1:]),
		Type:  v[9],
		Index: binary.LittleEndian.Uint32(v[10:]),
	}
	if r.Start >= r.End || (r.Type != FLDMDT && r.Type != FLDOST) {
		return FLDRange{}, fmt.Errorf("%w: FLD range %#x-%#x type %d", ErrCorrupt, r.Start, r.End, r.Type)
	}
	return r, nil
}

// localSeq is the local FID allocator state: the sequence new FIDs come
// from and the next object id in it.
type localSeq struct {
	Seq     uint64
	NextOid uint32
}

func appendLocalSeq(b []byte, l localSeq) []byte {
	b = binary.BigEndian.AppendUint64(b, l.Seq)
	return binary.BigEndian.AppendUint32(b, l.NextOid)
}

func decodeLocalSeq(b []byte) (localSeq, error) {
	if len(b) != 12 {
		return localSeq{}, fmt.Errorf("%w: local sequence record of %d bytes", ErrCorrupt, len(b))
	}
	return localSeq{Seq: binary.BigEndian.Uint64(b), NextOid: binary.BigEndian.Uint32(b[8:])}, nil
}
