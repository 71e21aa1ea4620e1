package store

// Record (value) encodings. Every record is little-endian and starts with a
// record-format byte; a decoder refuses formats it does not know and
// records of the wrong length with ErrCorrupt, never panics (fuzzed in
// records_fuzz_test.go). A new field is appended under a new format byte and
// a migration in schema.go.

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/stria-fs/stria/lnet"
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

// Label names the target a store holds, with its mount data (what Lustre
// keeps in CONFIGS/mountdata): the MGS and service nodes and the --param
// settings given at format. The daemon compares it with its configuration
// and refuses another file system's target.
type Label struct {
	// FSName is the file system name: 1-8 of [-_a-zA-Z0-9].
	FSName string
	// Index is the MDT index (0 for MDT0000, which holds the root and the
	// sequence controller).
	Index uint32
	// UUID is the target UUID, e.g. "testfs-MDT0000_UUID".
	UUID string
	// MGSNodes are the MGS's nodes (--mgsnode), each the NIDs of one node.
	MGSNodes [][]lnet.NID
	// ServiceNodes are the nodes that may serve the target (--servicenode);
	// empty: whichever starts it.
	ServiceNodes [][]lnet.NID
	// Params are the --param settings, "key=value".
	Params []string
}

// Limits of a label's mount data.
const (
	MaxLabelNodes    = 8    // MGS or service nodes
	MaxLabelNodeNIDs = 16   // NIDs of one node
	MaxLabelParams   = 1024 // --param settings
	MaxLabelParamLen = 4096 // one "key=value"
)

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
	for _, nodes := range [][][]lnet.NID{l.MGSNodes, l.ServiceNodes} {
		if len(nodes) > MaxLabelNodes {
			return fmt.Errorf("%w: %d nodes", ErrBadLabel, len(nodes))
		}
		for _, n := range nodes {
			if len(n) == 0 || len(n) > MaxLabelNodeNIDs {
				return fmt.Errorf("%w: node with %d NIDs", ErrBadLabel, len(n))
			}
			for _, nid := range n {
				if nid.IsZero() {
					return fmt.Errorf("%w: zero NID", ErrBadLabel)
				}
			}
		}
	}
	if len(l.Params) > MaxLabelParams {
		return fmt.Errorf("%w: %d params", ErrBadLabel, len(l.Params))
	}
	for _, p := range l.Params {
		if len(p) > MaxLabelParamLen || strings.IndexByte(p, '=') <= 0 {
			return fmt.Errorf("%w: param %.40q: want key=value", ErrBadLabel, p)
		}
	}
	return nil
}

// Label record formats: 1 holds index, fsname and uuid; 2 adds the nodes
// and params.
const labelV2 = 2

// AppendLabel appends the record form of l (format 2).
func AppendLabel(b []byte, l Label) []byte {
	b = append(b, labelV2)
	b = binary.LittleEndian.AppendUint32(b, l.Index)
	b = append(b, byte(len(l.FSName)))
	b = append(b, l.FSName...)
	b = append(b, byte(len(l.UUID)))
	b = append(b, l.UUID...)
	for _, nodes := range [][][]lnet.NID{l.MGSNodes, l.ServiceNodes} {
		b = append(b, byte(len(nodes)))
		for _, n := range nodes {
			b = append(b, byte(len(n)))
			for _, nid := range n {
				b = lnet.AppendNID(b, nid)
			}
		}
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(l.Params)))
	for _, p := range l.Params {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b
}

// DecodeLabel decodes a record written by AppendLabel (or a format 1
// record of storage version 1) and validates it.
func DecodeLabel(b []byte) (Label, error) {
	if len(b) < 6 || (b[0] != recV1 && b[0] != labelV2) {
		return Label{}, fmt.Errorf("%w: label record of %d bytes", ErrCorrupt, len(b))
	}
	r := labelReader{b: b[5:]}
	l := Label{Index: binary.LittleEndian.Uint32(b[1:])}
	l.FSName = string(r.bytes(int(r.u8())))
	l.UUID = string(r.bytes(int(r.u8())))
	if b[0] == labelV2 {
		l.MGSNodes = r.nodes()
		l.ServiceNodes = r.nodes()
		if n := int(r.u16()); n > 0 && r.err == nil {
			if n > MaxLabelParams {
				r.fail()
			}
			for i := 0; i < n && r.err == nil; i++ {
				l.Params = append(l.Params, string(r.bytes(int(r.u16()))))
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return Label{}, fmt.Errorf("%w: label record truncated or trailing bytes", ErrCorrupt)
	}
	if err := l.Validate(); err != nil {
		return Label{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return l, nil
}

// labelReader reads a label record; the first failure sticks.
type labelReader struct {
	b   []byte
	err error
}

func (r *labelReader) fail() { r.err = ErrCorrupt; r.b = nil }

func (r *labelReader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *labelReader) u8() uint8 {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *labelReader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *labelReader) nodes() [][]lnet.NID {
	n := int(r.u8())
	if n > MaxLabelNodes {
		r.fail()
	}
	var nodes [][]lnet.NID
	for i := 0; i < n && r.err == nil; i++ {
		m := int(r.u8())
		if m > MaxLabelNodeNIDs {
			r.fail()
			break
		}
		node := make([]lnet.NID, 0, m)
		for j := 0; j < m && r.err == nil; j++ {
			p := r.bytes(lnet.NIDWireSize)
			if p == nil {
				break
			}
			nid, err := lnet.DecodeNID(p)
			if err != nil {
				r.fail()
				break
			}
			node = append(node, nid)
		}
		nodes = append(nodes, node)
	}
	return nodes
}

// OSTDestroy is a pending destroy of one OST object: the file it belonged
// to (for logs) and when the file was destroyed.
type OSTDestroy struct {
	File wire.FID
	Time int64 // ns since the epoch
}

const ostDestroyRecSize = 1 + wire.FIDSize + 8

// AppendOSTDestroy appends the record form of d.
func AppendOSTDestroy(b []byte, d OSTDestroy) []byte {
	b = append(b, recV1)
	b = d.File.Append(b)
	return binary.LittleEndian.AppendUint64(b, uint64(d.Time))
}

// DecodeOSTDestroy decodes a record written by AppendOSTDestroy.
func DecodeOSTDestroy(b []byte) (OSTDestroy, error) {
	if len(b) != ostDestroyRecSize || b[0] != recV1 {
		return OSTDestroy{}, fmt.Errorf("%w: ost destroy record of %d bytes", ErrCorrupt, len(b))
	}
	f, err := wire.DecodeFID(b[1:])
	if err != nil {
		return OSTDestroy{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return OSTDestroy{File: f, Time: int64(binary.LittleEndian.Uint64(b[1+wire.FIDSize:]))}, nil
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
