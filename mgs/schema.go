package mgs

// This file is the whole on-disk schema of the MGS store (DIR/mgs.db, one
// bbolt file): every bucket, every key encoding, the storage version and
// the migrations between versions. Record (value) encodings live in
// records.go; nothing else in the package invents a key.
//
// Conventions: integers in keys and counters are big-endian so that bbolt's
// byte order is numeric order; values are little-endian records that start
// with a record-format byte (records.go).
//
//	meta                      version, gen, paramsgen, created
//	params                    key → Param record   (global `set_param -P`)
//	filesystems
//	  <fsname>                one nested bucket per file system
//	    gen, created          u64 BE, i64 BE
//	    targets               kind(1) ‖ index(4 BE) → Target record
//	    uuids                 UUID → kind(1) ‖ index(4 BE)
//	    params                key → Param record   (this file system's)
//
// Target keys sort MDTs before OSTs (KindMDT < KindOST), each by index: a
// cursor walk is the order ConfigReadReply lists them in.

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/stria-fs/stria/wire"
)

// StorageVersion is the schema version this code writes and understands.
// openStore migrates older files up to it and refuses newer ones.
const StorageVersion uint32 = 1

// DBFile is the store's file name inside Config.Dir.
const DBFile = "mgs.db"

// Top-level buckets.
const (
	bucketMeta   = "meta"
	bucketParams = "params"
	bucketFS     = "filesystems"
)

// allBuckets lists every top-level bucket; format creates them and
// migrations make sure they exist.
func allBuckets() []string { return []string{bucketMeta, bucketParams, bucketFS} }

// Keys of the meta bucket.
const (
	keyMetaVersion = "version"   // u32 BE: StorageVersion of the file
	keyMetaGen     = "gen"       // u64 BE: the last configuration generation handed out
	keyMetaParams  = "paramsgen" // u64 BE: generation of the last change to the global params
	keyMetaCreated = "created"   // i64 BE: format time, Unix nanoseconds
)

// Keys and nested buckets of one file system's bucket.
const (
	keyFSGen       = "gen"     // u64 BE: generation of the file system's last change
	keyFSCreated   = "created" // i64 BE: first registration, Unix nanoseconds
	bucketTargets  = "targets"
	bucketUUIDs    = "uuids"
	bucketFSParams = "params"
)

// fsBuckets lists the nested buckets of a file system's bucket.
func fsBuckets() []string { return []string{bucketTargets, bucketUUIDs, bucketFSParams} }

const targetKeySize = 1 + 4

// targetKey is the key of a target in its file system's targets bucket and
// the value of its UUID in the uuids bucket.
func targetKey(kind wire.TargetKind, index uint32) []byte {
	k := make([]byte, 0, targetKeySize)
	k = append(k, byte(kind))
	return binary.BigEndian.AppendUint32(k, index)
}

// parseTargetKey is the inverse of targetKey.
func parseTargetKey(k []byte) (wire.TargetKind, uint32, error) {
	if len(k) != targetKeySize || (k[0] != byte(wire.KindMDT) && k[0] != byte(wire.KindOST)) {
		return 0, 0, fmt.Errorf("%w: target key %x", ErrCorrupt, k)
	}
	return wire.TargetKind(k[0]), binary.BigEndian.Uint32(k[1:]), nil
}

func u64Bytes(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// getU64 reads a big-endian counter; a missing key is 0.
func getU64(b *bbolt.Bucket, key string) (uint64, error) {
	v := b.Get([]byte(key))
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("%w: counter %q of %d bytes", ErrCorrupt, key, len(v))
}

// migration upgrades a file from storage version from to from+1, inside the
// transaction openStore runs all pending migrations in.
type migration struct {
	from  uint32
	what  string
	apply func(tx *bbolt.Tx) error
}

// migrations lists the upgrades from every older storage version. Version 1
// is the first; a change of any key or record format adds an entry here and
// bumps StorageVersion.
func migrations() []migration { return nil }

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
