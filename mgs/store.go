package mgs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// maxParamsPerList bounds the global list and each file system's list, so
// that one file system's configuration never holds more than wire.MaxParams.
const maxParamsPerList = wire.MaxParams / 2

// store is the MGS's bbolt file. Every method is one bbolt transaction, so
// concurrent registrations serialize in bbolt's writer lock and a reader
// always sees a whole generation.
type store struct {
	db  *bbolt.DB
	now func() time.Time
}

// FormatOptions are the options of Format (mkfs.lustre --mgs).
type FormatOptions struct {
	// Reformat allows formatting over an existing MGS, losing its registry.
	Reformat bool
	// Params are persistent global parameters ("sys.timeout=40"), as if set
	// with `lctl set_param -P` right after formatting.
	Params []string
}

// Format makes dir an MGS: an empty store in dir/mgs.db, holding opts.Params.
// It refuses an already formatted dir unless opts.Reformat is set, and one
// that a running MGS holds in any case.
func Format(dir string, opts FormatOptions) error {
	for _, p := range opts.Params {
		if _, _, err := splitParam(p, false); err != nil {
			return err
		}
	}
	if len(opts.Params) > maxParamsPerList {
		return fmt.Errorf("%w: %d parameters", ErrTooMany, len(opts.Params))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mgs: format %s: %w", dir, err)
	}
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); err == nil {
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 100 * time.Millisecond, ReadOnly: true})
		if err != nil {
			if errors.Is(err, berrors.ErrTimeout) {
				return fmt.Errorf("%w: %s", ErrLocked, path)
			}
		} else {
			_ = db.Close()
		}
		if !opts.Reformat {
			return fmt.Errorf("%w: %s (use reformat to start over)", ErrFormatted, path)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("mgs: format %s: %w", path, err)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("mgs: format %s: %w", path, err)
	}
	now := time.Now()
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte(bucketMeta))
		if err := meta.Put([]byte(keyMetaVersion), binary.BigEndian.AppendUint32(nil, StorageVersion)); err != nil {
			return err
		}
		if err := meta.Put([]byte(keyMetaCreated), u64Bytes(uint64(now.UnixNano()))); err != nil {
			return err
		}
		var gen uint64
		params := tx.Bucket([]byte(bucketParams))
		for _, p := range opts.Params {
			key, value, _ := splitParam(p, false)
			gen++
			if err := params.Put([]byte(key), appendParam(nil, Param{Seq: gen, Value: value})); err != nil {
				return err
			}
		}
		if err := meta.Put([]byte(keyMetaParams), u64Bytes(gen)); err != nil {
			return err
		}
		return meta.Put([]byte(keyMetaGen), u64Bytes(gen))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mgs: format %s: %w", path, err)
	}
	return nil
}

// openStore opens dir/mgs.db, migrating an older storage version.
func openStore(dir string, lockTimeout time.Duration) (*store, error) {
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFormatted, dir, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFormatted, path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket([]byte(bucketMeta))
		if meta == nil {
			return fmt.Errorf("%w: %s has no meta bucket", ErrNotFormatted, path)
		}
		v := meta.Get([]byte(keyMetaVersion))
		if len(v) != 4 {
			return fmt.Errorf("%w: storage version of %d bytes", ErrCorrupt, len(v))
		}
		switch ver := binary.BigEndian.Uint32(v); {
		case ver > StorageVersion:
			return fmt.Errorf("%w: %s has version %d, this software %d", ErrNewerVersion, path, ver, StorageVersion)
		case ver < StorageVersion:
			return migrate(tx, ver, StorageVersion, migrations())
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &store{db: db, now: time.Now}, nil
}

func (s *store) close() error { return s.db.Close() }

// nextGen hands out the next configuration generation.
func nextGen(tx *bbolt.Tx) (uint64, error) {
	meta := tx.Bucket([]byte(bucketMeta))
	g, err := getU64(meta, keyMetaGen)
	if err != nil {
		return 0, err
	}
	g++
	return g, meta.Put([]byte(keyMetaGen), u64Bytes(g))
}

// regResult is what a registration did.
type regResult struct {
	Gen     uint64 // the file system's configuration generation now
	NewFS   bool   // the first target of its file system
	First   bool   // the target's first registration
	Changed bool   // the configuration changed (and Gen is new)
	Target  Target // the target as stored
}

// register records a registration from peer; see the package documentation
// for the rules.
func (s *store) register(req *wire.TargetRegRequest, peer lnet.NID) (regResult, error) {
	if err := checkRegistration(req); err != nil {
		return regResult{}, err
	}
	name := TargetName(req.FSName, req.Kind, req.Index)
	var res regResult
	err := s.db.Update(func(tx *bbolt.Tx) error {
		res = regResult{}
		now := s.now()
		all := tx.Bucket([]byte(bucketFS))
		fsb := all.Bucket([]byte(req.FSName))
		if fsb == nil {
			var err error
			if fsb, err = createFS(all, req.FSName, now); err != nil {
				return err
			}
			res.NewFS = true
		}
		targets, uuids := fsb.Bucket([]byte(bucketTargets)), fsb.Bucket([]byte(bucketUUIDs))
		key := targetKey(req.Kind, req.Index)
		if owned := uuids.Get([]byte(req.UUID)); owned != nil && !bytes.Equal(owned, key) {
			k, i, err := parseTargetKey(owned)
			if err != nil {
				return err
			}
			return fmt.Errorf("%w: %s: UUID %s already belongs to %s", ErrIndexInUse, name, req.UUID,
				TargetName(req.FSName, k, i))
		}
		t := Target{Kind: req.Kind, Index: req.Index, UUID: req.UUID, Registered: now}
		var oldParams []string
		if v := targets.Get(key); v != nil {
			old, err := decodeTarget(v)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if old.UUID != req.UUID {
				return fmt.Errorf("%w: %s is owned by %s (registered %s from %v); %s from %v may not take it",
					ErrIndexInUse, name, old.UUID, old.Registered.UTC().Format(time.RFC3339), old.From, req.UUID, peer)
			}
			if !listedNode(old.Nodes, req.Nodes, peer) {
				return fmt.Errorf("%w: %s is served by %s; a registration from %v listing none of them is refused "+
					"(list a registered node with --servicenode to move it)", ErrIndexInUse, name, nodesString(old.Nodes), peer)
			}
			t, oldParams = old, old.Params
			res.Changed = !slices.EqualFunc(old.Nodes, req.Nodes, func(a, b wire.ServiceNode) bool {
				return slices.Equal(a.NIDs, b.NIDs)
			}) || !slices.Equal(old.Params, req.Params)
		} else {
			n := targets.Stats().KeyN
			if n >= wire.MaxTargets {
				return fmt.Errorf("%w: %s already has %d targets", ErrTooMany, req.FSName, n)
			}
			res.First, res.Changed = true, true
		}
		t.Nodes = cloneNodes(req.Nodes)
		t.Params = slices.Clone(req.Params)
		t.From, t.LastSeen = peer, now
		gen, err := getU64(fsb, keyFSGen)
		if err != nil {
			return err
		}
		if res.Changed {
			if gen, err = nextGen(tx); err != nil {
				return err
			}
			t.Gen = gen
			if err := fsb.Put([]byte(keyFSGen), u64Bytes(gen)); err != nil {
				return err
			}
			if err := applyTargetParams(fsb.Bucket([]byte(bucketFSParams)), oldParams, req.Params, gen); err != nil {
				return err
			}
		}
		if err := targets.Put(key, appendTarget(nil, &t)); err != nil {
			return err
		}
		if err := uuids.Put([]byte(req.UUID), key); err != nil {
			return err
		}
		pg, err := getU64(tx.Bucket([]byte(bucketMeta)), keyMetaParams)
		if err != nil {
			return err
		}
		res.Gen, res.Target = max(gen, pg), t
		return nil
	})
	return res, err
}

func createFS(all *bbolt.Bucket, fs string, now time.Time) (*bbolt.Bucket, error) {
	fsb, err := all.CreateBucket([]byte(fs))
	if err != nil {
		return nil, err
	}
	for _, b := range fsBuckets() {
		if _, err := fsb.CreateBucket([]byte(b)); err != nil {
			return nil, err
		}
	}
	return fsb, fsb.Put([]byte(keyFSCreated), u64Bytes(uint64(now.UnixNano())))
}

// checkRegistration validates what the wire decoder cannot.
func checkRegistration(req *wire.TargetRegRequest) error {
	if err := ValidFSName(req.FSName); err != nil {
		return err
	}
	if err := checkIndex(req.Kind, req.Index); err != nil {
		return err
	}
	if err := checkUUID(req.UUID, req.FSName, req.Kind, req.Index); err != nil {
		return err
	}
	if len(req.Nodes) == 0 || len(req.Nodes) > wire.MaxServiceNodes {
		return fmt.Errorf("%w: %d service nodes", ErrBadTarget, len(req.Nodes))
	}
	for _, n := range req.Nodes {
		if len(n.NIDs) == 0 || len(n.NIDs) > wire.MaxNIDsPerNode {
			return fmt.Errorf("%w: service node with %d NIDs", ErrBadTarget, len(n.NIDs))
		}
		for _, nid := range n.NIDs {
			if nid.IsZero() {
				return fmt.Errorf("%w: zero NID", ErrBadTarget)
			}
		}
	}
	if len(req.Params) > maxParamsPerList {
		return fmt.Errorf("%w: %d parameters", ErrTooMany, len(req.Params))
	}
	for _, p := range req.Params {
		if _, _, err := splitParam(p, false); err != nil {
			return fmt.Errorf("%w: %w", ErrBadTarget, err)
		}
	}
	return nil
}

// listedNode reports whether a re-registration comes from a node the
// target was registered with: the peer is one of its NIDs, or the new node
// list shares a NID with the old one.
func listedNode(old, nodes []wire.ServiceNode, peer lnet.NID) bool {
	known := map[lnet.NID]bool{}
	for _, n := range old {
		for _, nid := range n.NIDs {
			known[nid] = true
		}
	}
	if known[peer] {
		return true
	}
	for _, n := range nodes {
		for _, nid := range n.NIDs {
			if known[nid] {
				return true
			}
		}
	}
	return false
}

func cloneNodes(nodes []wire.ServiceNode) []wire.ServiceNode {
	out := make([]wire.ServiceNode, len(nodes))
	for i, n := range nodes {
		out[i].NIDs = slices.Clone(n.NIDs)
	}
	return out
}

// applyTargetParams stores the target's --param settings that are new or
// changed since its last registration in its file system's parameters.
func applyTargetParams(b *bbolt.Bucket, old, cur []string, gen uint64) error {
	for _, p := range cur {
		if slices.Contains(old, p) {
			continue
		}
		key, value, err := splitParam(p, false)
		if err != nil {
			return err
		}
		if b.Get([]byte(key)) == nil && b.Stats().KeyN >= maxParamsPerList {
			return fmt.Errorf("%w: more than %d parameters", ErrTooMany, maxParamsPerList)
		}
		if err := b.Put([]byte(key), appendParam(nil, Param{Seq: gen, Value: value})); err != nil {
			return err
		}
	}
	return nil
}

// config returns fs's configuration, or only its generation (Unchanged)
// when that is not above since.
func (s *store) config(fs string, since uint64) (*wire.ConfigReadReply, error) {
	if err := ValidFSName(fs); err != nil {
		return nil, err
	}
	rep := &wire.ConfigReadReply{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		fsb := tx.Bucket([]byte(bucketFS)).Bucket([]byte(fs))
		if fsb == nil {
			return fmt.Errorf("%w: %q", ErrUnknownFS, fs)
		}
		gen, err := fsGen(tx, fsb)
		if err != nil {
			return err
		}
		rep.Gen = gen
		if gen <= since {
			rep.Unchanged = true
			return nil
		}
		ts, err := readTargets(fsb)
		if err != nil {
			return err
		}
		rep.Targets = make([]wire.TargetEntry, len(ts))
		for i := range ts {
			t := &ts[i]
			rep.Targets[i] = wire.TargetEntry{Kind: t.Kind, Index: t.Index, Name: t.Name(fs), UUID: t.UUID, Nodes: t.Nodes}
		}
		rep.Params, err = readParams(tx, fsb)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// fsGen is a file system's configuration generation: its own last change
// or the last change of the global parameters, whichever is later.
func fsGen(tx *bbolt.Tx, fsb *bbolt.Bucket) (uint64, error) {
	g, err := getU64(fsb, keyFSGen)
	if err != nil {
		return 0, err
	}
	pg, err := getU64(tx.Bucket([]byte(bucketMeta)), keyMetaParams)
	return max(g, pg), err
}

func readTargets(fsb *bbolt.Bucket) ([]Target, error) {
	var ts []Target
	err := fsb.Bucket([]byte(bucketTargets)).ForEach(func(k, v []byte) error {
		kind, index, err := parseTargetKey(k)
		if err != nil {
			return err
		}
		t, err := decodeTarget(v)
		if err != nil {
			return err
		}
		if t.Kind != kind || t.Index != index {
			return fmt.Errorf("%w: target record %s%04x under key %x", ErrCorrupt, t.Kind, t.Index, k)
		}
		ts = append(ts, t)
		return nil
	})
	return ts, err
}

// readParams lists the global and fsb's parameters as "key=value", in the
// order they were set.
func readParams(tx *bbolt.Tx, fsb *bbolt.Bucket) ([]string, error) {
	type kp struct {
		key string
		p   Param
	}
	var all []kp
	collect := func(b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			p, err := decodeParam(v)
			if err != nil {
				return fmt.Errorf("parameter %q: %w", k, err)
			}
			all = append(all, kp{string(k), p})
			return nil
		})
	}
	if err := collect(tx.Bucket([]byte(bucketParams))); err != nil {
		return nil, err
	}
	if fsb != nil {
		if err := collect(fsb.Bucket([]byte(bucketFSParams))); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(all, func(a, b kp) int {
		switch {
		case a.p.Seq < b.p.Seq:
			return -1
		case a.p.Seq > b.p.Seq:
			return 1
		}
		return 0
	})
	out := make([]string, len(all))
	for i, x := range all {
		out[i] = x.key + "=" + x.p.Value
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// setParam sets (or with del, deletes) a persistent parameter of fs, or a
// global one if fs is empty, and returns the new generation.
func (s *store) setParam(fs, param string, del bool) (uint64, error) {
	if fs != "" {
		if err := ValidFSName(fs); err != nil {
			return 0, err
		}
	}
	key, value, err := splitParam(param, del)
	if err != nil {
		return 0, err
	}
	var gen uint64
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucketParams))
		var fsb *bbolt.Bucket
		if fs != "" {
			if fsb = tx.Bucket([]byte(bucketFS)).Bucket([]byte(fs)); fsb == nil {
				return fmt.Errorf("%w: %q", ErrUnknownFS, fs)
			}
			b = fsb.Bucket([]byte(bucketFSParams))
		}
		exists := b.Get([]byte(key)) != nil
		switch {
		case del && !exists:
			return fmt.Errorf("%w: %s", ErrNoParam, key)
		case !del && !exists && b.Stats().KeyN >= maxParamsPerList:
			return fmt.Errorf("%w: more than %d parameters", ErrTooMany, maxParamsPerList)
		}
		var err error
		if gen, err = nextGen(tx); err != nil {
			return err
		}
		if del {
			err = b.Delete([]byte(key))
		} else {
			err = b.Put([]byte(key), appendParam(nil, Param{Seq: gen, Value: value}))
		}
		if err != nil {
			return err
		}
		if fsb != nil {
			return fsb.Put([]byte(keyFSGen), u64Bytes(gen))
		}
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyMetaParams), u64Bytes(gen))
	})
	return gen, err
}

// fsView is one file system as the MGS's parameters show it.
type fsView struct {
	Name    string
	Gen     uint64
	Created time.Time
	Targets []Target
	Params  []string
}

// filesystems lists the file systems, in name order.
func (s *store) filesystems() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucketFS)).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// view returns fs's registry.
func (s *store) view(fs string) (fsView, error) {
	v := fsView{Name: fs}
	err := s.db.View(func(tx *bbolt.Tx) error {
		fsb := tx.Bucket([]byte(bucketFS)).Bucket([]byte(fs))
		if fsb == nil {
			return fmt.Errorf("%w: %q", ErrUnknownFS, fs)
		}
		var err error
		if v.Gen, err = fsGen(tx, fsb); err != nil {
			return err
		}
		c, err := getU64(fsb, keyFSCreated)
		if err != nil {
			return err
		}
		v.Created = time.Unix(0, int64(c))
		if v.Targets, err = readTargets(fsb); err != nil {
			return err
		}
		v.Params, err = readParams(tx, fsb)
		return err
	})
	return v, err
}

// globalParams lists the global parameters in the order they were set.
func (s *store) globalParams() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		out, err = readParams(tx, nil)
		return err
	})
	return out, err
}
