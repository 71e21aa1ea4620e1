package wire

// Limits on MDT bodies; a decoder rejects anything larger.
const (
	MaxFileNameLen = 255     // one path component
	MaxPathLen     = 4096    // symlink targets, fid2path results
	MaxLayoutLen   = 1 << 16 // an encoded layout (the lustre.lov xattr)
	MaxXattrLen    = 1 << 16 // one extended attribute value (XATTR_SIZE_MAX)
	MaxDirents     = 4096    // entries in one readpage reply
)

// ReintOp selects the modification an MDS_REINT request carries; the values
// are Lustre's REINT_*. The body of MDS_REINT is the op (u32) followed by
// the op's own body.
type ReintOp uint32

// The reint operations.
const (
	ReintSetattr  ReintOp = 1
	ReintCreate   ReintOp = 2
	ReintLink     ReintOp = 3
	ReintUnlink   ReintOp = 4
	ReintRename   ReintOp = 5
	ReintOpen     ReintOp = 6
	ReintSetxattr ReintOp = 7
)

func (o ReintOp) String() string {
	switch o {
	case ReintSetattr:
		return "setattr"
	case ReintCreate:
		return "create"
	case ReintLink:
		return "link"
	case ReintUnlink:
		return "unlink"
	case ReintRename:
		return "rename"
	case ReintOpen:
		return "open"
	case ReintSetxattr:
		return "setxattr"
	}
	return "reint?"
}

// AppendReint appends an MDS_REINT body: op, then body.
func AppendReint(b []byte, op ReintOp, body Body) []byte {
	e := Encoder{buf: b}
	e.U32(uint32(op))
	body.Encode(&e)
	return e.buf
}

// SplitReint returns the op of an MDS_REINT body and the op's own body.
func SplitReint(b []byte) (ReintOp, []byte, error) {
	d := NewDecoder(b)
	op := ReintOp(d.U32())
	if err := d.Err(); err != nil {
		return 0, nil, err
	}
	if op < ReintSetattr || op > ReintSetxattr {
		d.Fail("unknown reint op %d", op)
		return 0, nil, d.Err()
	}
	return op, b[4:], nil
}

// name reads a path component: 1..MaxFileNameLen bytes.
func name(d *Decoder) string {
	s := d.String(MaxFileNameLen)
	if d.Err() == nil && s == "" {
		d.Fail("empty name")
	}
	return s
}

// GetRootReply answers MDS_GET_ROOT (request body: Empty).
type GetRootReply struct {
	Root FID
}

// Encode implements Body.
func (r *GetRootReply) Encode(e *Encoder) { e.FID(r.Root) }

// Decode implements Body.
func (r *GetRootReply) Decode(d *Decoder) { r.Root = d.FID() }

// IntentBits are the inode bits of the intent locks MDS_GETATTR_NAME and
// REINT_OPEN grant (GetattrNameRequest.Lock, OpenRequest.Lock): a PR lock
// on the name's binding, the attributes and the layout, and the mode.
const IntentBits = InodeLockLookup | InodeLockUpdate | InodeLockPerm

// GetattrNameRequest is MDS_GETATTR_NAME: look a name up in a directory.
type GetattrNameRequest struct {
	Parent FID
	Name   string
	// Lock, when not zero, is the client's handle of an intent lock
	// (Lustre's IT_LOOKUP): the MDT grants it a PR inode-bits lock on
	// the inode found, if it can at once, and fetches the attributes
	// under it (InodeReply.Lock). When the name does not exist the MDT
	// may grant it instead a PR plain lock on the name's slot (NameSlot),
	// under which the client caches the name's absence, and answer with
	// an InodeReply of zero FID: no such name.
	Lock LockHandle
}

// Encode implements Body.
func (r *GetattrNameRequest) Encode(e *Encoder) {
	e.FID(r.Parent)
	e.String(r.Name)
	e.U64(uint64(r.Lock))
}

// Decode implements Body.
func (r *GetattrNameRequest) Decode(d *Decoder) {
	r.Parent = d.FID()
	r.Name = name(d)
	r.Lock = LockHandle(d.U64())
}

// InodeReply answers lookups, getattr, create, open, setattr and link: the
// inode's FID, its attributes, and for a regular file its layout (encoded by
// package layout; empty if the file has none yet), for a symlink its target.
type InodeReply struct {
	FID    FID
	Attr   Attr
	Layout []byte
	// Handle is the open handle (REINT_OPEN only; 0 otherwise).
	Handle uint64
	// Created says that REINT_OPEN with O_CREAT made the file.
	Created bool
	// Lock is the intent lock the request asked for, when the MDT
	// granted it (nil otherwise): a PR inode-bits lock on FID, under
	// which Attr and Layout were read; for a lookup answered with a zero
	// FID (no such name), a PR plain lock on the name's slot.
	Lock *LockReply
}

// Encode implements Body.
func (r *InodeReply) Encode(e *Encoder) {
	e.FID(r.FID)
	r.Attr.Encode(e)
	e.Bytes32(r.Layout)
	e.U64(r.Handle)
	e.Bool(r.Created)
	e.Bool(r.Lock != nil)
	if r.Lock != nil {
		r.Lock.Encode(e)
	}
}

// Decode implements Body.
func (r *InodeReply) Decode(d *Decoder) {
	r.FID = d.FID()
	r.Attr.Decode(d)
	r.Layout = d.Bytes32(MaxLayoutLen)
	r.Handle = d.U64()
	r.Created = d.Bool()
	r.Lock = nil
	if d.Bool() {
		r.Lock = &LockReply{}
		r.Lock.Decode(d)
	}
}

// SetattrRequest is REINT_SETATTR: change the attributes Attr.Valid names.
type SetattrRequest struct {
	FID  FID
	Attr Attr
}

// Encode implements Body.
func (r *SetattrRequest) Encode(e *Encoder) { e.FID(r.FID); r.Attr.Encode(e) }

// Decode implements Body.
func (r *SetattrRequest) Decode(d *Decoder) { r.FID = d.FID(); r.Attr.Decode(d) }

// CreateRequest is REINT_CREATE: mkdir, mknod, symlink, or a regular file
// created without opening it.
type CreateRequest struct {
	Parent FID
	Name   string
	Mode   uint32 // type and permissions (umask already applied by the client)
	Rdev   uint32
	// Target is a symlink's target.
	Target string
	// Layout is an explicit layout template for a regular file, or a
	// directory's default layout for mkdir (encoded by package layout); empty
	// means inherit.
	Layout []byte
	// MDTIndex places a new directory on that MDT (`lfs mkdir -i`); -1 lets
	// the MDT choose.
	MDTIndex int32
	// Lock, when not zero, is the client's handle of an intent lock on
	// the new inode, as GetattrNameRequest.Lock.
	Lock LockHandle
}

// Encode implements Body.
func (r *CreateRequest) Encode(e *Encoder) {
	e.FID(r.Parent)
	e.String(r.Name)
	e.U32(r.Mode)
	e.U32(r.Rdev)
	e.String(r.Target)
	e.Bytes32(r.Layout)
	e.U32(uint32(r.MDTIndex))
	e.U64(uint64(r.Lock))
}

// Decode implements Body.
func (r *CreateRequest) Decode(d *Decoder) {
	r.Parent = d.FID()
	r.Name = name(d)
	r.Mode = d.U32()
	r.Rdev = d.U32()
	r.Target = d.String(MaxPathLen)
	r.Layout = d.Bytes32(MaxLayoutLen)
	r.MDTIndex = int32(d.U32())
	r.Lock = LockHandle(d.U64())
}

// OpenRequest is REINT_OPEN: open Name in Parent (creating it with O_CREAT),
// or, when Name is empty, open FID itself.
type OpenRequest struct {
	Parent FID
	Name   string
	FID    FID
	Flags  uint32 // open(2) flags: O_CREAT, O_EXCL, O_TRUNC, O_APPEND, access mode
	Mode   uint32 // for O_CREAT, umask applied
	// Layout is an explicit layout template for a file O_CREAT makes
	// (`lfs setstripe FILE`); empty means inherit from the directory.
	Layout []byte
	// Lock, when not zero, is the client's handle of an intent lock
	// (Lustre's IT_OPEN), as GetattrNameRequest.Lock.
	Lock LockHandle
	// Handle is, in a replayed open (FlagReplay) of FID, the open handle
	// the MDT gave the original: the new MDT instance registers the open
	// under it, so that the client's later close finds it (Lustre's
	// mdc_replay_open). Zero in every other open.
	Handle uint64
}

// Encode implements Body.
func (r *OpenRequest) Encode(e *Encoder) {
	e.FID(r.Parent)
	e.String(r.Name)
	e.FID(r.FID)
	e.U32(r.Flags)
	e.U32(r.Mode)
	e.Bytes32(r.Layout)
	e.U64(uint64(r.Lock))
	e.U64(r.Handle)
}

// Decode implements Body.
func (r *OpenRequest) Decode(d *Decoder) {
	r.Parent = d.FID()
	r.Name = d.String(MaxFileNameLen)
	r.FID = d.FID()
	r.Flags = d.U32()
	r.Mode = d.U32()
	r.Layout = d.Bytes32(MaxLayoutLen)
	r.Lock = LockHandle(d.U64())
	r.Handle = d.U64()
	if d.Err() == nil && r.Name == "" && r.FID.IsZero() {
		d.Fail("open names neither a name nor a FID")
	}
}

// CloseRequest is MDS_CLOSE: the client closes an open handle and tells the
// MDT what it knows of the file (size and times after writes, Attr.Valid
// says which), so the MDT can keep a lazy size.
type CloseRequest struct {
	FID    FID
	Handle uint64
	Attr   Attr
}

// Encode implements Body.
func (r *CloseRequest) Encode(e *Encoder) { e.FID(r.FID); e.U64(r.Handle); r.Attr.Encode(e) }

// Decode implements Body.
func (r *CloseRequest) Decode(d *Decoder) { r.FID = d.FID(); r.Handle = d.U64(); r.Attr.Decode(d) }

// LinkRequest is REINT_LINK: a new name Parent/Name for FID.
type LinkRequest struct {
	FID    FID
	Parent FID
	Name   string
}

// Encode implements Body.
func (r *LinkRequest) Encode(e *Encoder) { e.FID(r.FID); e.FID(r.Parent); e.String(r.Name) }

// Decode implements Body.
func (r *LinkRequest) Decode(d *Decoder) { r.FID = d.FID(); r.Parent = d.FID(); r.Name = name(d) }

// UnlinkRequest is REINT_UNLINK: unlink(2), or rmdir(2) when Dir is set.
type UnlinkRequest struct {
	Parent FID
	Name   string
	Dir    bool
	// Cancels are the client's locks on the inode the name binds to,
	// given up with the request (Lustre's early lock cancel): the MDT
	// cancels them before it locks the inode, instead of calling them
	// back.
	Cancels CancelList
}

// Encode implements Body.
func (r *UnlinkRequest) Encode(e *Encoder) {
	e.FID(r.Parent)
	e.String(r.Name)
	e.Bool(r.Dir)
	r.Cancels.Encode(e)
}

// Decode implements Body.
func (r *UnlinkRequest) Decode(d *Decoder) {
	r.Parent = d.FID()
	r.Name = name(d)
	r.Dir = d.Bool()
	r.Cancels.Decode(d)
}

// Rename flags (renameat2).
const (
	RenameNoReplace uint32 = 1 << 0
	RenameExchange  uint32 = 1 << 1
)

// RenameRequest is REINT_RENAME.
type RenameRequest struct {
	SrcParent FID
	SrcName   string
	DstParent FID
	DstName   string
	Flags     uint32
}

// Encode implements Body.
func (r *RenameRequest) Encode(e *Encoder) {
	e.FID(r.SrcParent)
	e.String(r.SrcName)
	e.FID(r.DstParent)
	e.String(r.DstName)
	e.U32(r.Flags)
}

// Decode implements Body.
func (r *RenameRequest) Decode(d *Decoder) {
	r.SrcParent = d.FID()
	r.SrcName = name(d)
	r.DstParent = d.FID()
	r.DstName = name(d)
	r.Flags = d.U32()
	if d.Err() == nil && r.Flags&^(RenameNoReplace|RenameExchange) != 0 {
		d.Fail("rename flags %#x", r.Flags)
	}
}

// Setxattr flags (setxattr(2)), plus removal.
const (
	XattrCreate  uint32 = 1 // fail if it exists
	XattrReplace uint32 = 2 // fail if it does not
	XattrRemove  uint32 = 4 // removexattr(2)
)

// SetxattrRequest is REINT_SETXATTR: set or remove one extended attribute.
// The layout xattrs ("lustre.lov", and "lustre.lov.default" on directories)
// go through here too.
type SetxattrRequest struct {
	FID   FID
	Name  string
	Value []byte
	Flags uint32
}

// Encode implements Body.
func (r *SetxattrRequest) Encode(e *Encoder) {
	e.FID(r.FID)
	e.String(r.Name)
	e.Bytes32(r.Value)
	e.U32(r.Flags)
}

// Decode implements Body.
func (r *SetxattrRequest) Decode(d *Decoder) {
	r.FID = d.FID()
	r.Name = name(d)
	r.Value = d.Bytes32(MaxXattrLen)
	r.Flags = d.U32()
}

// GetxattrRequest is MDS_GETXATTR: one attribute's value, or with an empty
// Name the list of names (NUL-terminated each, as listxattr(2)).
type GetxattrRequest struct {
	FID  FID
	Name string
	// Size is the caller's buffer size; 0 asks only for the length.
	Size uint32
}

// Encode implements Body.
func (r *GetxattrRequest) Encode(e *Encoder) { e.FID(r.FID); e.String(r.Name); e.U32(r.Size) }

// Decode implements Body.
func (r *GetxattrRequest) Decode(d *Decoder) {
	r.FID = d.FID()
	r.Name = d.String(MaxFileNameLen)
	r.Size = d.U32()
}

// GetxattrReply answers MDS_GETXATTR: the value (empty when only the
// length was asked for) and its full length.
type GetxattrReply struct {
	Value []byte
	Len   uint32
}

// Encode implements Body.
func (r *GetxattrReply) Encode(e *Encoder) { e.Bytes32(r.Value); e.U32(r.Len) }

// Decode implements Body.
func (r *GetxattrReply) Decode(d *Decoder) { r.Value = d.Bytes32(MaxXattrLen); r.Len = d.U32() }

// ReadpageRequest is MDS_READPAGE: directory entries after Cookie (0 = from
// the start), at most Count of them; Plus asks for each entry's attributes
// (readdirplus).
type ReadpageRequest struct {
	FID    FID
	Cookie uint64
	Count  uint32
	Plus   bool
}

// Encode implements Body.
func (r *ReadpageRequest) Encode(e *Encoder) {
	e.FID(r.FID)
	e.U64(r.Cookie)
	e.U32(r.Count)
	e.Bool(r.Plus)
}

// Decode implements Body.
func (r *ReadpageRequest) Decode(d *Decoder) {
	r.FID = d.FID()
	r.Cookie = d.U64()
	r.Count = d.U32()
	r.Plus = d.Bool()
	if d.Err() == nil && (r.Count == 0 || r.Count > MaxDirents) {
		d.Fail("readpage count %d", r.Count)
	}
}

// Dirent is one directory entry. Cookie resumes the listing after it.
type Dirent struct {
	Name   string
	FID    FID
	Type   uint32 // S_IF* bits of the entry's mode
	Cookie uint64
	Attr   Attr // with ReadpageRequest.Plus
}

// ReadpageReply answers MDS_READPAGE; End says the directory has no more.
type ReadpageReply struct {
	Entries []Dirent
	End     bool
}

// Encode implements Body.
func (r *ReadpageReply) Encode(e *Encoder) {
	e.U32(uint32(len(r.Entries)))
	for i := range r.Entries {
		de := &r.Entries[i]
		e.String(de.Name)
		e.FID(de.FID)
		e.U32(de.Type)
		e.U64(de.Cookie)
		de.Attr.Encode(e)
	}
	e.Bool(r.End)
}

// Decode implements Body.
func (r *ReadpageReply) Decode(d *Decoder) {
	n := d.Count(4 + 1 + FIDSize + 4 + 8 + attrSize)
	if n > MaxDirents {
		d.Fail("%d dirents", n)
		return
	}
	r.Entries = make([]Dirent, n)
	for i := range r.Entries {
		de := &r.Entries[i]
		de.Name = name(d)
		de.FID = d.FID()
		de.Type = d.U32()
		de.Cookie = d.U64()
		de.Attr.Decode(d)
	}
	r.End = d.Bool()
}

// Fid2pathRequest is MDS_GET_INFO for fid2path: the LinkNo'th path of FID.
type Fid2pathRequest struct {
	FID    FID
	LinkNo uint32
}

// Encode implements Body.
func (r *Fid2pathRequest) Encode(e *Encoder) { e.FID(r.FID); e.U32(r.LinkNo) }

// Decode implements Body.
func (r *Fid2pathRequest) Decode(d *Decoder) { r.FID = d.FID(); r.LinkNo = d.U32() }

// Fid2pathReply is a path relative to the file system root, without a
// leading slash, and the number of the next link (for hard links).
type Fid2pathReply struct {
	Path       string
	NextLinkNo uint32
}

// Encode implements Body.
func (r *Fid2pathReply) Encode(e *Encoder) { e.String(r.Path); e.U32(r.NextLinkNo) }

// Decode implements Body.
func (r *Fid2pathReply) Decode(d *Decoder) { r.Path = d.String(MaxPathLen); r.NextLinkNo = d.U32() }
