package wire

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// Bodies of the distributed lock manager (package ldlm): LDLM_ENQUEUE,
// LDLM_CANCEL and the three callbacks a server sends to a client's callback
// service (blocking, completion, glimpse), after Lustre's ldlm_request,
// ldlm_reply and ost_lvb. Modes, types, inode bits and flags carry Lustre's
// values.
//
// Decoders accept any mode and type value: refusing an unknown one is the
// lock manager's business (it answers EINVAL), not a framing error.

// LockMode is a lock mode (Lustre's enum ldlm_mode); the values are bits.
type LockMode uint32

// Lock modes.
const (
	LockEX    LockMode = 1  // exclusive
	LockPW    LockMode = 2  // protected write
	LockPR    LockMode = 4  // protected read
	LockCW    LockMode = 8  // concurrent write
	LockCR    LockMode = 16 // concurrent read
	LockNL    LockMode = 32 // null
	LockGroup LockMode = 64 // group lock (extent locks, with a group id)
)

// Valid reports whether m is one of the modes above.
func (m LockMode) Valid() bool {
	switch m {
	case LockEX, LockPW, LockPR, LockCW, LockCR, LockNL, LockGroup:
		return true
	}
	return false
}

// String returns Lustre's name of the mode ("PW"), or "mode(N)".
func (m LockMode) String() string {
	switch m {
	case LockEX:
		return "EX"
	case LockPW:
		return "PW"
	case LockPR:
		return "PR"
	case LockCW:
		return "CW"
	case LockCR:
		return "CR"
	case LockNL:
		return "NL"
	case LockGroup:
		return "GROUP"
	}
	return "mode(" + strconv.FormatUint(uint64(m), 10) + ")"
}

// LockType is a lock (resource) type (Lustre's enum ldlm_type).
type LockType uint32

// Lock types.
const (
	LockPlain  LockType = 10 // the whole resource
	LockExtent LockType = 11 // a byte range of an OST object
	LockFlock  LockType = 12 // POSIX and BSD record locks
	LockIBits  LockType = 13 // inode bits on an MDT object
)

// Valid reports whether t is one of the types above.
func (t LockType) Valid() bool { return t >= LockPlain && t <= LockIBits }

// String returns Lustre's name of the type ("EXT"), or "type(N)".
func (t LockType) String() string {
	switch t {
	case LockPlain:
		return "PLN"
	case LockExtent:
		return "EXT"
	case LockFlock:
		return "FLK"
	case LockIBits:
		return "IBT"
	}
	return "type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// Inode bits of IBITS locks (Lustre's MDS_INODELOCK_*).
const (
	InodeLockLookup uint64 = 0x01 // the name → inode binding (dentry)
	InodeLockUpdate uint64 = 0x02 // size, links, times, directory contents
	InodeLockOpen   uint64 = 0x04 // open handle caching
	InodeLockLayout uint64 = 0x08 // the file layout
	InodeLockPerm   uint64 = 0x10 // mode, owner, ACL
	InodeLockXattr  uint64 = 0x20 // extended attributes
	InodeLockDOM    uint64 = 0x40 // data on MDT
	// InodeLockFull is every bit above.
	InodeLockFull uint64 = 0x7f
)

// LockEOF is the end of an extent that runs to the end of the object
// (Lustre's OBD_OBJECT_EOF); extents are inclusive.
const LockEOF = ^uint64(0)

// LockFlags are Lustre's LDLM_FL_* bits that travel on the wire.
type LockFlags uint64

// Lock flags.
const (
	// LockFlagChanged (reply): the mode, extent or resource granted differs
	// from the request (extent expansion, F_GETLK's conflicting lock).
	LockFlagChanged LockFlags = 0x1
	// LockFlagBlockGranted, LockFlagBlockConv, LockFlagBlockWait (reply):
	// the lock was queued behind conflicting ones; a completion callback
	// will grant it.
	LockFlagBlockGranted LockFlags = 0x2
	LockFlagBlockConv    LockFlags = 0x4
	LockFlagBlockWait    LockFlags = 0x8
	// LockFlagASTSent (reply, completion callback): someone already waits
	// for this lock; cancel it as soon as it is unused.
	LockFlagASTSent LockFlags = 0x20
	// LockFlagReplay (request): a lock replayed after a server restart.
	LockFlagReplay LockFlags = 0x100
	// LockFlagFlockDeadlock (completion callback): the waiting flock
	// request was refused because granting it would deadlock.
	LockFlagFlockDeadlock LockFlags = 0x8000
	// LockFlagDiscardData (blocking callback): drop dirty data, do not
	// write it back.
	LockFlagDiscardData LockFlags = 0x10000
	// LockFlagBlockNoWait (request): fail with EAGAIN instead of waiting
	// (F_SETLK, try-locks).
	LockFlagBlockNoWait LockFlags = 0x40000
	// LockFlagTestLock (request): F_GETLK, report a conflicting flock
	// without granting anything.
	LockFlagTestLock LockFlags = 0x80000
	// LockFlagNoExpansion (request): grant exactly the requested extent.
	LockFlagNoExpansion LockFlags = 0x20000000
)

// lockFlagNames lists the flags in bit order for String.
var lockFlagNames = [...]struct {
	f    LockFlags
	name string
}{
	{LockFlagChanged, "lock_changed"}, {LockFlagBlockGranted, "block_granted"},
	{LockFlagBlockConv, "block_conv"}, {LockFlagBlockWait, "block_wait"},
	{LockFlagASTSent, "ast_sent"}, {LockFlagReplay, "replay"},
	{LockFlagFlockDeadlock, "flock_deadlock"}, {LockFlagDiscardData, "discard_data"},
	{LockFlagBlockNoWait, "block_nowait"}, {LockFlagTestLock, "test_lock"},
	{LockFlagNoExpansion, "no_expansion"},
}

// Blocked reports whether a reply's flags say the lock was queued.
func (f LockFlags) Blocked() bool {
	return f&(LockFlagBlockGranted|LockFlagBlockConv|LockFlagBlockWait) != 0
}

// String lists the flags' names ("block_granted|ast_sent"), with any
// unnamed bits in hex.
func (f LockFlags) String() string {
	var parts []string
	rest := f
	for _, n := range lockFlagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			rest &^= n.f
		}
	}
	if rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// ResID names a lock resource: four 64-bit words (Lustre's ldlm_res_id).
// For an object named by a FID they are {seq, oid, ver, 0}; the last word
// is free for a name hash (striped directories).
type ResID [4]uint64

// ResIDOfFID returns the resource name of the object fid.
func ResIDOfFID(fid FID) ResID { return ResID{fid.Seq, uint64(fid.Oid), uint64(fid.Ver), 0} }

// FID returns the FID a resource name built by ResIDOfFID holds (for a
// name slot, its directory's).
func (r ResID) FID() FID { return FID{Seq: r[0], Oid: uint32(r[1]), Ver: uint32(r[2])} }

// nameSlotMark marks a name slot's resource (its fourth word, which is 0
// for an inode's and LockFlock for its flocks).
const nameSlotMark = uint64(1) << 63

// NameSlot returns the resource of name in directory parent (Lustre's PDO
// lock on a name hash): the MDT takes EX plain locks on it before it makes
// or changes the name, and a client caches the name's absence under a PR
// plain lock on it (GetattrNameRequest.Lock). Names whose FNV-1a hashes
// agree in their low 63 bits share a slot.
func NameSlot(parent FID, name string) ResID {
	h := fnv.New64a()
	h.Write([]byte(name))
	r := ResIDOfFID(parent)
	r[3] = nameSlotMark | h.Sum64()>>1
	return r
}

// IsNameSlot reports whether r is a resource NameSlot built.
func (r ResID) IsNameSlot() bool { return r[3]&nameSlotMark != 0 }

// dirNamesMark is the fourth word of a directory's DirNames resource.
const dirNamesMark = uint64(1) << 62

// DirNames returns the resource of every name of directory dir. The MDT
// grants a PR plain lock on it, as the answer to a lookup of a missing
// name, to the client that made dir while that client made every name
// dir has had; any other client's operation on a name of dir takes EX
// on it first, which calls the lock back. Its holder knows all of dir's
// names (it made them) and answers the lookup of any other name itself.
func DirNames(dir FID) ResID {
	r := ResIDOfFID(dir)
	r[3] = dirNamesMark
	return r
}

// IsDirNames reports whether r is a resource DirNames built.
func (r ResID) IsDirNames() bool { return r[3] == dirNamesMark }

// String prints the name as Lustre's debug messages do:
// [0x200000401:0x1:0x0].0x0.
func (r ResID) String() string {
	h := func(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }
	return "[" + h(r[0]) + ":" + h(r[1]) + ":" + h(r[2]) + "]." + h(r[3])
}

func (r *ResID) encode(e *Encoder) {
	for _, v := range r {
		e.U64(v)
	}
}

func (r *ResID) decode(d *Decoder) {
	for i := range r {
		r[i] = d.U64()
	}
}

// LockHandle is a lock's cookie (Lustre's lustre_handle): the client's
// names its copy of a lock, the server's names the server's. 0 is none.
type LockHandle uint64

// Policy is a lock's type-specific data (Lustre's ldlm_wire_policy_data,
// without the union): Start and End bound an EXTENT or FLOCK range
// (inclusive, End LockEOF for "to the end"); GID is an extent group lock's
// group id; Bits are IBITS; Owner and PID name a FLOCK's owner (the
// client's lock owner, e.g. its open file, and the process for F_GETLK).
type Policy struct {
	Start, End uint64
	GID        uint64
	Bits       uint64
	Owner      uint64
	PID        uint32
}

// PolicySize is the encoded size of a Policy.
const PolicySize = 5*8 + 4

// Encode implements Body.
func (p *Policy) Encode(e *Encoder) {
	e.U64(p.Start)
	e.U64(p.End)
	e.U64(p.GID)
	e.U64(p.Bits)
	e.U64(p.Owner)
	e.U32(p.PID)
}

// Decode implements Body.
func (p *Policy) Decode(d *Decoder) {
	p.Start, p.End, p.GID, p.Bits, p.Owner = d.U64(), d.U64(), d.U64(), d.U64(), d.U64()
	p.PID = d.U32()
}

// LockDesc describes a lock: its resource, type, mode and policy (Lustre's
// ldlm_lock_desc).
type LockDesc struct {
	Res    ResID
	Type   LockType
	Mode   LockMode
	Policy Policy
}

// Encode implements Body.
func (l *LockDesc) Encode(e *Encoder) {
	l.Res.encode(e)
	e.U32(uint32(l.Type))
	e.U32(uint32(l.Mode))
	l.Policy.Encode(e)
}

// Decode implements Body.
func (l *LockDesc) Decode(d *Decoder) {
	l.Res.decode(d)
	l.Type = LockType(d.U32())
	l.Mode = LockMode(d.U32())
	l.Policy.Decode(d)
}

// LVB is a resource's lock value block as an OST returns it with extent
// locks and glimpses (Lustre's ost_lvb): the object's size, blocks and
// times (seconds).
type LVB struct {
	Size, Blocks        uint64
	MTime, ATime, CTime int64
}

// Encode implements Body.
func (v *LVB) Encode(e *Encoder) {
	e.U64(v.Size)
	e.U64(v.Blocks)
	e.I64(v.MTime)
	e.I64(v.ATime)
	e.I64(v.CTime)
}

// Decode implements Body.
func (v *LVB) Decode(d *Decoder) {
	v.Size, v.Blocks = d.U64(), d.U64()
	v.MTime, v.ATime, v.CTime = d.I64(), d.I64(), d.I64()
}

// MaxCancels bounds the handles of one cancel list.
const MaxCancels = 4096

// CancelList is a list of server lock handles being cancelled: the body of
// LDLM_CANCEL, and what a modifying request (an enqueue, later a reint or
// a punch) carries for early lock cancel.
type CancelList struct {
	Handles []LockHandle
}

// Encode implements Body.
func (c *CancelList) Encode(e *Encoder) {
	e.U32(uint32(len(c.Handles)))
	for _, h := range c.Handles {
		e.U64(uint64(h))
	}
}

// Decode implements Body.
func (c *CancelList) Decode(d *Decoder) {
	n := d.Count(8)
	if n > MaxCancels {
		d.Fail("%d lock handles, limit %d", n, MaxCancels)
		return
	}
	c.Handles = nil
	if n > 0 {
		c.Handles = make([]LockHandle, n)
	}
	for i := range c.Handles {
		c.Handles[i] = LockHandle(d.U64())
	}
}

// LockRequest is LDLM_ENQUEUE: the lock wanted, the client's handle for
// it, flags, and the early cancels of locks the client gives up first.
type LockRequest struct {
	Desc    LockDesc
	Flags   LockFlags
	Handle  LockHandle // the client's cookie; callbacks name the lock by it
	Cancels CancelList
}

// Encode implements Body.
func (r *LockRequest) Encode(e *Encoder) {
	r.Desc.Encode(e)
	e.U64(uint64(r.Flags))
	e.U64(uint64(r.Handle))
	r.Cancels.Encode(e)
}

// Decode implements Body.
func (r *LockRequest) Decode(d *Decoder) {
	r.Desc.Decode(d)
	r.Flags = LockFlags(d.U64())
	r.Handle = LockHandle(d.U64())
	r.Cancels.Decode(d)
}

// LockReply answers LDLM_ENQUEUE: the server's handle, the lock as granted
// (or as queued, with a Block flag), and the resource's LVB. For F_GETLK
// Desc is the conflicting lock, or mode NL when there is none.
type LockReply struct {
	Desc   LockDesc
	Flags  LockFlags
	Handle LockHandle // the server's cookie
	LVB    LVB
}

// Encode implements Body.
func (r *LockReply) Encode(e *Encoder) {
	r.Desc.Encode(e)
	e.U64(uint64(r.Flags))
	e.U64(uint64(r.Handle))
	r.LVB.Encode(e)
}

// Decode implements Body.
func (r *LockReply) Decode(d *Decoder) {
	r.Desc.Decode(d)
	r.Flags = LockFlags(d.U64())
	r.Handle = LockHandle(d.U64())
	r.LVB.Decode(d)
}

// LockCallback is the body of the callbacks a server sends to a client
// (LDLM_BL_CALLBACK, LDLM_CP_CALLBACK, LDLM_GL_CALLBACK): the client's and
// the server's handles of the lock, and a lock description — for a
// blocking callback the lock that conflicts, for a completion callback the
// lock as granted (with the LVB).
type LockCallback struct {
	Handle       LockHandle // the client's cookie
	ServerHandle LockHandle
	Desc         LockDesc
	Flags        LockFlags
	LVB          LVB
}

// Encode implements Body.
func (c *LockCallback) Encode(e *Encoder) {
	e.U64(uint64(c.Handle))
	e.U64(uint64(c.ServerHandle))
	c.Desc.Encode(e)
	e.U64(uint64(c.Flags))
	c.LVB.Encode(e)
}

// Decode implements Body.
func (c *LockCallback) Decode(d *Decoder) {
	c.Handle = LockHandle(d.U64())
	c.ServerHandle = LockHandle(d.U64())
	c.Desc.Decode(d)
	c.Flags = LockFlags(d.U64())
	c.LVB.Decode(d)
}
