package osd

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/stria-fs/stria/wire"
	"go.uber.org/zap"
)

// Store is an object storage target's object store: a flat space of objects
// named by FID, each a sparse byte array with a few attributes. Every method
// is safe for concurrent use. Errors wrap the sentinels of errors.go.
type Store interface {
	// Label is the target's identity, read from disk when the store opened.
	Label() Label

	// Create makes an empty object holding the stored attributes of a that
	// a.Valid names (within SetMask). It fails with ErrExists if the object exists. The new
	// directory entry is durable when Create returns.
	Create(ctx context.Context, fid wire.FID, a Attr) error
	// Precreate makes up to count empty objects in sequence seq, numbered
	// from LAST_ID+1, and advances LAST_ID durably before creating any.
	// It returns the FIDs of the first and last object made; it may make
	// fewer than count (short of space, or at the sequence's end) but never
	// none without an error.
	Precreate(ctx context.Context, seq uint64, count int) (first, last wire.FID, err error)
	// LastID is the highest object id ever allocated in seq (0 if none).
	LastID(ctx context.Context, seq uint64) (uint32, error)
	// Destroy removes an object; its space is freed once no reader holds it.
	// The removal is durable when Destroy returns.
	Destroy(ctx context.Context, fid wire.FID) error
	// DestroyOrphans destroys the objects of seq with lastUsed < oid <=
	// LastID (precreated objects the MDT never handed out) and reports how
	// many it destroyed. LAST_ID does not move back: ids are never reused.
	DestroyOrphans(ctx context.Context, seq uint64, lastUsed uint32) (int, error)

	// ReadAt reads len(p) bytes at off. Holes read as zeros. A read that
	// reaches the end of the object returns the bytes before it and io.EOF.
	ReadAt(ctx context.Context, fid wire.FID, p []byte, off int64) (int, error)
	// WriteAt writes p at off, growing the object as needed. A full target
	// fails with ErrNoSpace; n may then be short.
	WriteAt(ctx context.Context, fid wire.FID, p []byte, off int64) (int, error)
	// Punch deallocates [off, off+length): the range reads as zeros and its
	// blocks are freed; the size does not change. length == PunchToEOF
	// instead sets the size to off (Lustre's OST_PUNCH with end = EOF is a
	// truncate, growing or shrinking the object).
	Punch(ctx context.Context, fid wire.FID, off, length int64) error
	// Truncate sets the object's size, freeing blocks past it.
	Truncate(ctx context.Context, fid wire.FID, size int64) error
	// Allocate gives [off, off+length) blocks, so that writes there
	// cannot fail for space (fallocate(2) mode 0). The data does not
	// change: holes read as zeros still. Without keepSize the size grows
	// to off+length if shorter (never shrinks); with it (KEEP_SIZE) the
	// size stays and blocks past EOF are allocated too. length must be
	// positive. A target without room fails with ErrNoSpace (the dir
	// engine may then have allocated part of the range, as fallocate(2));
	// a file system that cannot preallocate with ErrNotSupported.
	Allocate(ctx context.Context, fid wire.FID, off, length int64, keepSize bool) error
	// Unallocated estimates the bytes of [off, off+length) that have no
	// blocks yet, in whole blocks: what a write there would allocate (an
	// overwrite, or a write into an Allocate'd range, needs none). The
	// OST asks it before refusing a write for space.
	Unallocated(ctx context.Context, fid wire.FID, off, length int64) (int64, error)

	// GetAttr returns the object's size, blocks and stored attributes.
	GetAttr(ctx context.Context, fid wire.FID) (Attr, error)
	// SetAttr stores the fields of a named by mask. AttrSize truncates.
	SetAttr(ctx context.Context, fid wire.FID, a Attr, mask AttrMask) error

	// SyncObject makes the object's data and attributes durable.
	SyncObject(ctx context.Context, fid wire.FID) error
	// Sync makes everything written to the store so far durable.
	Sync(ctx context.Context) error
	// StatFS reports the target's space and object counts.
	StatFS(ctx context.Context) (StatFS, error)

	// Sequences lists the sequences that hold objects or a LAST_ID.
	Sequences(ctx context.Context) ([]uint64, error)
	// List calls fn for each object of seq, in no particular order. An
	// error from fn stops the walk and is returned.
	List(ctx context.Context, seq uint64, fn func(wire.FID) error) error

	// Close waits for operations in flight and releases the store; later
	// calls fail with ErrClosed.
	Close() error
}

// PunchToEOF as Punch's length makes the punch a truncate at off, as
// Lustre's OST_PUNCH with end = OBD_OBJECT_EOF.
const PunchToEOF int64 = math.MaxInt64

// MaxOID is the highest object id of a sequence (a FID's oid is 32 bits).
const MaxOID uint32 = math.MaxUint32

// BlockSize is the unit of Attr.Blocks, as st_blocks: 512 bytes.
const BlockSize = 512

// AttrMask names attribute fields, in SetAttr and in Attr.Valid.
type AttrMask uint32

// Attribute fields.
const (
	AttrUID AttrMask = 1 << iota
	AttrGID
	AttrProjID
	AttrAtime
	AttrMtime
	AttrCtime
	AttrFilterFID     // Attr.FilterFID: parent FID, stripe and component
	AttrLayoutVersion // Attr.LayoutVersion
	AttrSize          // SetAttr only: truncate to Attr.Size

	// AttrTimesIfNewer modifies AttrAtime/AttrMtime/AttrCtime in SetAttr:
	// each time moves only forward, as the OST applies the times a client
	// sends with a write.
	AttrTimesIfNewer
)

// SetMask is every field Create stores and SetAttr may set apart from size.
const SetMask = AttrUID | AttrGID | AttrProjID | AttrAtime | AttrMtime | AttrCtime |
	AttrFilterFID | AttrLayoutVersion

// FilterFID is Lustre's filter_fid: which file, stripe and layout component
// an object belongs to, kept on the object for lfsck and fid2path.
type FilterFID struct {
	Parent      wire.FID // the MDT file's FID (its Ver is 0 here)
	StripeIndex uint32
	StripeCount uint32
	StripeSize  uint32
	CompID      uint32
	CompStart   uint64
	CompEnd     uint64
}

// Attr is an object's attributes. Size and Blocks come from the data;
// the rest are stored as clients set them and never change by themselves
// (a write does not touch mtime: the client sends its times with it).
type Attr struct {
	Size   int64 // bytes
	Blocks int64 // allocated, in BlockSize units

	UID, GID, ProjID    uint32
	Atime, Mtime, Ctime time.Time
	FilterFID           FilterFID
	LayoutVersion       uint32

	// Valid names the stored fields that have been set (GetAttr only).
	Valid AttrMask
}

// StatFS is a target's space, in bytes, and objects ("inodes").
type StatFS struct {
	Total, Free, Avail int64 // bytes; Avail is what writers may still use
	Files, FilesFree   int64 // objects
	BlockSize          int64 // allocation unit in bytes
}

// Options tune a store. The zero value is valid.
type Options struct {
	// Logger receives the store's logs; nil means zap.NewNop().
	Logger *zap.Logger
	// Capacity caps the target's space in bytes (0: the backing file
	// system's). Writes that would allocate past it fail with ErrNoSpace,
	// so a test can fill a target quickly.
	Capacity int64
	// MaxObjects caps the number of objects (0: the backing file system's
	// inodes). Creates past it fail with ErrNoSpace.
	MaxObjects int64
	// MaxOpenFiles bounds the dir engine's cache of open objects
	// (0: DefaultMaxOpenFiles).
	MaxOpenFiles int
	// SeqWidth is the highest oid Precreate hands out in a sequence
	// (0: MaxOID); past it Precreate fails with ErrSeqExhausted.
	SeqWidth uint32
	// BufferedWrites makes the dir engine write everything through the page
	// cache (no O_DIRECT for large aligned writes: dir_direct.go).
	BufferedWrites bool
	// BufferedReads makes the dir engine read everything through the page
	// cache (no O_DIRECT for large aligned reads: dir_direct.go).
	BufferedReads bool
	// Label is the identity of a NewMem store; OpenDir reads it from disk.
	Label Label
}

// DefaultMaxOpenFiles is the dir engine's default bound on open objects.
const DefaultMaxOpenFiles = 1024

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.SeqWidth == 0 {
		o.SeqWidth = MaxOID
	}
	return o
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	if o.Capacity < 0 || o.MaxObjects < 0 {
		return fmt.Errorf("%w: negative capacity or object limit", ErrInvalid)
	}
	return nil
}

// CheckFID reports whether fid can name an OST object: a non-zero oid and
// version 0.
func CheckFID(fid wire.FID) error {
	if fid.Oid == 0 || fid.Ver != 0 {
		return fmt.Errorf("%w: %v", ErrBadFID, fid)
	}
	return nil
}

func checkRange(off, length int64) error {
	if off < 0 || length < 0 {
		return fmt.Errorf("%w: offset %d length %d", ErrInvalid, off, length)
	}
	return nil
}

// applyAttr copies the fields of mask from src into dst, honouring
// AttrTimesIfNewer, and records them in dst.Valid.
func applyAttr(dst *Attr, src Attr, mask AttrMask) {
	newer := mask&AttrTimesIfNewer != 0
	setTime := func(bit AttrMask, d *time.Time, s time.Time) {
		if mask&bit == 0 {
			return
		}
		if newer && dst.Valid&bit != 0 && !s.After(*d) {
			return
		}
		*d = s
		dst.Valid |= bit
	}
	if mask&AttrUID != 0 {
		dst.UID = src.UID
		dst.Valid |= AttrUID
	}
	if mask&AttrGID != 0 {
		dst.GID = src.GID
		dst.Valid |= AttrGID
	}
	if mask&AttrProjID != 0 {
		dst.ProjID = src.ProjID
		dst.Valid |= AttrProjID
	}
	setTime(AttrAtime, &dst.Atime, src.Atime)
	setTime(AttrMtime, &dst.Mtime, src.Mtime)
	setTime(AttrCtime, &dst.Ctime, src.Ctime)
	if mask&AttrFilterFID != 0 {
		dst.FilterFID = src.FilterFID
		dst.Valid |= AttrFilterFID
	}
	if mask&AttrLayoutVersion != 0 {
		dst.LayoutVersion = src.LayoutVersion
		dst.Valid |= AttrLayoutVersion
	}
}
