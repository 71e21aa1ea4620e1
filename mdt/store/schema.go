package store

// This file is the whole on-disk schema of an MDT store: every bucket, every
// key encoding, the storage version and the migrations between versions.
// Record (value) encodings live in records.go; nothing else in the package
// invents a key.
//
// Conventions: integers in keys are big-endian so that bbolt's byte order is
// numeric order; FIDs in keys are wire.FID.KeyBytes (big-endian seq, oid,
// ver) so a range scan walks FIDs in order and a FID prefix selects all
// records of one inode. Values are little-endian records that start with a
// record-format byte (records.go).

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// StorageVersion is the schema version this code writes and understands.
// Open migrates older files up to it and refuses newer ones.
//
// Version 2 added the ost_destroys bucket (OST objects waiting to be
// destroyed) and label records of format 2 (MGS nodes, service nodes and
// parameters); version 1 files gain the empty bucket and keep their label.
// Version 3 added the ost_lastused bucket.
const StorageVersion uint32 = 3

// Bucket names.
const (
	// meta: keyMeta* → fixed values (version, label, counters).
	bucketMeta = "meta"
	// inodes: FID(16) → Inode record.
	bucketInodes = "inodes"
	// dirents: parentFID(16) ‖ pos(8, BE) ‖ name → Dirent record. pos is
	// NamePos(name), the readdir cookie; a directory is the key range with
	// prefix parentFID, walked in cookie order.
	bucketDirents = "dirents"
	// xattrs: FID(16) ‖ name → value bytes.
	bucketXattrs = "xattrs"
	// symlinks: FID(16) → target bytes.
	bucketSymlinks = "symlinks"
	// links: FID(16) ‖ parentFID(16) ‖ name → empty. The link "xattr":
	// one key per name of the inode, for fid2path and rename.
	bucketLinks = "links"
	// orphans: FID(16) → Orphan record. Inodes with no name left that were
	// still open at their last unlink.
	bucketOrphans = "orphans"
	// last_rcvd: clientUUID ‖ 0x00 ‖ tag(2, BE) → ReplyData record. One
	// slot per client and reply tag, as Lustre's reply_data.
	bucketReplies = "last_rcvd"
	// seq: keySeq* → sequence controller / server / allocator state.
	bucketSeq = "seq"
	// fld: startSeq(8, BE) → FLDRange record (end, target). Ranges do not
	// overlap, so a lookup is one Seek plus one Prev.
	bucketFLD = "fld"
	// update_log: id(8, BE) → opaque bytes. Pending cross-MDT updates.
	bucketUpdates = "update_log"
	// ost_destroys: ostIndex(4, BE) ‖ objectFID(16) → OSTDestroy record.
	// OST objects of destroyed files, written in the transaction that
	// destroyed the file and deleted once the OST destroyed the object
	// (Lustre's unlink llog). One OST's objects are one key prefix.
	bucketOSTDestroys = "ost_destroys"
	// ost_lastused: ostIndex(4, BE) → FID record (16 bytes, little-endian
	// seq, oid, ver). The highest object of each OST that a committed
	// layout ever referenced (Lustre's lov_objids): after a restart the
	// MDT has the OST destroy its precreated objects above it.
	bucketOSTLastUsed = "ost_lastused"
)

// allBuckets lists every bucket; Format creates them and Open makes sure they
// exist after migrations.
func allBuckets() []string {
	return []string{bucketMeta, bucketInodes, bucketDirents, bucketXattrs, bucketSymlinks,
		bucketLinks, bucketOrphans, bucketReplies, bucketSeq, bucketFLD, bucketUpdates, bucketOSTDestroys,
		bucketOSTLastUsed}
}

// Keys of the meta bucket.
const (
	keyMetaVersion = "version"  // uint32 BE: StorageVersion of the file
	keyMetaLabel   = "label"    // Label record
	keyMetaTransno = "transno"  // uint64 BE: highest committed transno
	keyMetaInodes  = "inodes"   // uint64 BE: number of inode records
	keyMetaUpdates = "updateid" // uint64 BE: last update-log id
)

// Keys of the seq bucket.
const (
	keySeqController = "controller" // uint64 BE: next sequence the controller grants (MDT0000 only)
	keySeqServer     = "server"     // SeqRange record: this target's super range and its next free sequence
	keySeqLocal      = "local"      // local allocator: sequence (8 BE) ‖ next oid (4 BE)
)

// Key sizes.
const (
	direntPosSize = 8
	maxNameLen    = 255 // longest dirent or xattr name a key may hold
	maxClientUUID = 255 // longest client UUID in a last_rcvd key
)

// Readdir cookies. Cookies 0, 1 and 2 are reserved for the start of a
// directory and the "." and ".." entries; NamePos never returns them.
const (
	// CookieStart reads a directory from its beginning.
	CookieStart uint64 = 0
	// CookieDot is the cookie after ".".
	CookieDot uint64 = 1
	// CookieDotDot is the cookie after "..": the first stored entry.
	CookieDotDot uint64 = 2
	// cookieFirst is the smallest position of a stored entry.
	cookieFirst uint64 = 3
)

// NamePos is the position of name in its directory and the readdir cookie
// that resumes at it: the 64-bit FNV-1a hash of the name (the DNE default
// name hash) shifted into [3, 2^62+3). It fits a signed 64-bit off_t, so
// telldir/seekdir and FUSE offsets carry it unchanged, and it does not move
// when other names are inserted or removed.
func NamePos(name string) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= prime64
	}
	return h>>2 + cookieFirst
}

func fidKey(f wire.FID) []byte {
	k := f.KeyBytes()
	return k[:]
}

func direntPrefix(parent wire.FID) []byte { return fidKey(parent) }

func direntKey(parent wire.FID, name string) []byte {
	k := make([]byte, 0, wire.FIDSize+direntPosSize+len(name))
	pk := parent.KeyBytes()
	k = append(k, pk[:]...)
	k = binary.BigEndian.AppendUint64(k, NamePos(name))
	return append(k, name...)
}

func direntSeekKey(parent wire.FID, pos uint64) []byte {
	k := make([]byte, 0, wire.FIDSize+direntPosSize)
	pk := parent.KeyBytes()
	k = append(k, pk[:]...)
	return binary.BigEndian.AppendUint64(k, pos)
}

// parseDirentKey splits a dirent key into parent, position and name.
func parseDirentKey(k []byte) (parent wire.FID, pos uint64, name string, err error) {
	if len(k) <= wire.FIDSize+direntPosSize || len(k) > wire.FIDSize+direntPosSize+maxNameLen {
		return wire.FID{}, 0, "", fmt.Errorf("%w: dirent key of %d bytes", ErrCorrupt, len(k))
	}
	parent, _ = wire.FIDFromKey(k)
	pos = binary.BigEndian.Uint64(k[wire.FIDSize:])
	name = string(k[wire.FIDSize+direntPosSize:])
	if pos != NamePos(name) {
		return wire.FID{}, 0, "", fmt.Errorf("%w: dirent key %q: position %#x, want %#x", ErrCorrupt, name, pos, NamePos(name))
	}
	return parent, pos, name, nil
}

func xattrKey(f wire.FID, name string) []byte {
	k := make([]byte, 0, wire.FIDSize+len(name))
	fk := f.KeyBytes()
	k = append(k, fk[:]...)
	return append(k, name...)
}

func linkKey(f, parent wire.FID, name string) []byte {
	k := make([]byte, 0, 2*wire.FIDSize+len(name))
	fk, pk := f.KeyBytes(), parent.KeyBytes()
	k = append(k, fk[:]...)
	k = append(k, pk[:]...)
	return append(k, name...)
}

func parseLinkKey(k []byte) (f, parent wire.FID, name string, err error) {
	if len(k) <= 2*wire.FIDSize || len(k) > 2*wire.FIDSize+maxNameLen {
		return wire.FID{}, wire.FID{}, "", fmt.Errorf("%w: link key of %d bytes", ErrCorrupt, len(k))
	}
	f, _ = wire.FIDFromKey(k)
	parent, _ = wire.FIDFromKey(k[wire.FIDSize:])
	return f, parent, string(k[2*wire.FIDSize:]), nil
}

func replyKey(client string, tag uint16) []byte {
	k := make([]byte, 0, len(client)+3)
	k = append(k, client...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint16(k, tag)
}

func replyPrefix(client string) []byte {
	return append([]byte(client), 0)
}

func parseReplyKey(k []byte) (client string, tag uint16, err error) {
	i := bytes.IndexByte(k, 0)
	if i <= 0 || len(k) != i+3 {
		return "", 0, fmt.Errorf("%w: last_rcvd key %q", ErrCorrupt, k)
	}
	return string(k[:i]), binary.BigEndian.Uint16(k[i+1:]), nil
}

func u64Key(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

const ostDestroyKeySize = 4 + wire.FIDSize

func ostDestroyKey(ost uint32, obj wire.FID) []byte {
	k := make([]byte, 0, ostDestroyKeySize)
	k = binary.BigEndian.AppendUint32(k, ost)
	fk := obj.KeyBytes()
	return append(k, fk[:]...)
}

func ostDestroyPrefix(ost uint32) []byte { return binary.BigEndian.AppendUint32(nil, ost) }

func parseOSTDestroyKey(k []byte) (uint32, wire.FID, error) {
	if len(k) != ostDestroyKeySize {
		return 0, wire.FID{}, fmt.Errorf("%w: ost_destroys key of %d bytes", ErrCorrupt, len(k))
	}
	f, err := wire.FIDFromKey(k[4:])
	if err != nil {
		return 0, wire.FID{}, fmt.Errorf("%w: ost_destroys key: %w", ErrCorrupt, err)
	}
	return binary.BigEndian.Uint32(k), f, nil
}

func validName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("%w: name of %d bytes", ErrBadKey, len(name))
	}
	return nil
}

func validClient(uuid string) error {
	if uuid == "" || len(uuid) > maxClientUUID || bytes.IndexByte([]byte(uuid), 0) >= 0 {
		return fmt.Errorf("%w: client UUID %q", ErrBadKey, uuid)
	}
	return nil
}

// migration upgrades a file from storage version from to from+1, inside the
// transaction Open runs all pending migrations in.
type migration struct {
	from  uint32
	what  string
	apply func(tx *bbolt.Tx) error
}

// migrations lists the upgrades from every older storage version. Version 1
// is the first; a change of any key or record format adds an entry here and
// bumps StorageVersion.
func migrations() []migration {
	return []migration{
		// The new bucket is created by migrate (every bucket of allBuckets);
		// label records of format 1 stay readable.
		{from: 1, what: "add the ost_destroys bucket", apply: func(*bbolt.Tx) error { return nil }},
		{from: 2, what: "add the ost_lastused bucket, filled from the layouts", apply: fillOSTLastUsed},
	}
}

// migrate runs the migrations that take tx from version from to version to.
func migrate(tx *bbolt.Tx, from, to uint32, ms []migration) error {
	for v := from; v < to; v++ {
		var m *migration
		for i := range ms {
			if ms[i].from == v {
				m = &ms[i]
				break
			}
		}
		if m == nil {
			return fmt.Errorf("%w: no migration from storage version %d", ErrMigration, v)
		}
		if err := m.apply(tx); err != nil {
			return fmt.Errorf("%w: %d→%d (%s): %w", ErrMigration, v, v+1, m.what, err)
		}
	}
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("%w: bucket %s: %w", ErrMigration, name, err)
		}
	}
	return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyMetaVersion), binary.BigEndian.AppendUint32(nil, to))
}

// fillOSTLastUsed builds the ost_lastused bucket of a file from before
// version 3 from every file's layout, so that the orphan cleanup after the
// upgrade destroys no object a layout uses.
func fillOSTLastUsed(tx *bbolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketOSTLastUsed))
	if err != nil {
		return err
	}
	last := map[uint32]wire.FID{}
	c := tx.Bucket([]byte(bucketXattrs)).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) <= wire.FIDSize || string(k[wire.FIDSize:]) != xattrLOV {
			continue
		}
		l, err := layout.Decode(v)
		if err != nil {
			continue // an unreadable layout uses no object we could know
		}
		for i := range l.Components {
			for _, o := range l.Components[i].Stripe.Objects {
				if cur, ok := last[o.OSTIndex]; !ok || cur.Seq != o.FID.Seq || cur.Oid < o.FID.Oid {
					last[o.OSTIndex] = o.FID
				}
			}
		}
	}
	for ost, f := range last {
		if err := b.Put(ostDestroyPrefix(ost), f.Append(nil)); err != nil {
			return err
		}
	}
	return nil
}

// xattrLOV is the name of a file's layout xattr (mdd.XattrLOV), which the
// version 3 migration reads.
const xattrLOV = "lustre.lov"
