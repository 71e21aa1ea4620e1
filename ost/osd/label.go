package osd

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// FormatVersion is the on-disk format this package writes and reads.
const FormatVersion = 1

// Where attributes are kept, recorded in the label at Format time.
const (
	AttrsXattr = "xattr" // the user.stria.attr extended attribute of each object file
	AttrsFile  = "file"  // a sidecar file <oid>.attr beside each object file
)

// Names in a target directory.
const (
	labelName   = "LABEL"   // the label (superblock), JSON
	objectsName = "O"       // objects: O/<seq hex>/d<oid%32>/<oid hex>
	lastIDName  = "LAST_ID" // O/<seq hex>/LAST_ID: u64 little-endian
	probeName   = ".probe"  // scratch file of Format's xattr probe
	tmpSuffix   = ".tmp"    // a file being replaced by rename
	attrSuffix  = ".attr"   // sidecar attribute record (AttrsFile)
	xattrName   = "user.stria.attr"
	fanout      = 32 // d0 … d31, as Lustre's O/<seq>/dN
)

// Label is an OST's identity and the parameters it was formatted with: what
// Lustre keeps in CONFIGS/mountdata and the last_rcvd header.
type Label struct {
	FSName string `json:"fsname"`
	Index  uint32 `json:"index"`
	// UUID is the target UUID the protocol uses; Format fills in Lustre's
	// "<fsname>-OSTxxxx_UUID" when empty.
	UUID string `json:"uuid"`
	// Instance is a random id that Format draws, so a reformatted target is
	// told apart from its predecessor.
	Instance string `json:"instance"`
	// Format is the on-disk format version, set by Format.
	Format int `json:"format"`
	// Attrs is AttrsXattr or AttrsFile; Format picks xattr when the backing
	// file system takes user xattrs and Attrs is empty.
	Attrs string `json:"attrs"`

	MGSNodes     []string `json:"mgsnodes,omitempty"`     // --mgsnode
	ServiceNodes []string `json:"servicenodes,omitempty"` // --servicenode
	Params       []string `json:"params,omitempty"`       // --param KEY=VALUE
}

// Name is the target name, e.g. "testfs-OST000a".
func (l Label) Name() string { return fmt.Sprintf("%s-OST%04x", l.FSName, l.Index) }

// MaxIndex is the highest OST index.
const MaxIndex = 0xfffe

// Validate checks the fields an admin gives Format.
func (l Label) Validate() error {
	if n := len(l.FSName); n < 1 || n > 8 {
		return fmt.Errorf("%w: fsname %q must be 1-8 characters", ErrBadLabel, l.FSName)
	}
	for _, c := range l.FSName {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("%w: fsname %q: only [-_a-zA-Z0-9]", ErrBadLabel, l.FSName)
		}
	}
	if l.Index > MaxIndex {
		return fmt.Errorf("%w: index %d above %d", ErrBadLabel, l.Index, MaxIndex)
	}
	if l.UUID != "" && strings.ContainsFunc(l.UUID, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return fmt.Errorf("%w: uuid %q", ErrBadLabel, l.UUID)
	}
	if l.Attrs != "" && l.Attrs != AttrsXattr && l.Attrs != AttrsFile {
		return fmt.Errorf("%w: attrs %q", ErrBadLabel, l.Attrs)
	}
	return nil
}

func encodeLabel(l Label) ([]byte, error) {
	b, err := json.MarshalIndent(l, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func decodeLabel(b []byte) (Label, error) {
	var l Label
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		return Label{}, fmt.Errorf("%w: %w", ErrBadLabel, err)
	}
	if d.More() {
		return Label{}, fmt.Errorf("%w: trailing data", ErrBadLabel)
	}
	if l.Format != FormatVersion {
		return Label{}, fmt.Errorf("%w: format version %d, this build reads %d", ErrBadLabel, l.Format, FormatVersion)
	}
	if l.UUID == "" || l.Attrs == "" {
		return Label{}, fmt.Errorf("%w: uuid or attrs missing", ErrBadLabel)
	}
	if err := l.Validate(); err != nil {
		return Label{}, err
	}
	return l, nil
}

// ReadLabel reads the label of the target in dir, failing with
// ErrNotFormatted if there is none.
func ReadLabel(dir string) (Label, error) {
	b, err := os.ReadFile(filepath.Join(dir, labelName))
	if errors.Is(err, fs.ErrNotExist) {
		return Label{}, fmt.Errorf("%w: %s", ErrNotFormatted, dir)
	}
	if err != nil {
		return Label{}, mapErrno(err)
	}
	l, err := decodeLabel(b)
	if err != nil {
		return Label{}, fmt.Errorf("%s: %w", dir, err)
	}
	return l, nil
}

// Format makes dir an empty OST with label l and returns the label as
// written (UUID, Instance, Format and Attrs filled in). It refuses a
// formatted dir (ErrFormatted) or one holding other files (ErrNotEmpty)
// unless reformat is set; reformat deletes the target's objects and label
// and leaves files it does not own alone.
func Format(dir string, l Label, reformat bool) (Label, error) {
	if err := l.Validate(); err != nil {
		return Label{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Label{}, mapErrno(err)
	}
	if old, err := ReadLabel(dir); err == nil && !reformat {
		return Label{}, fmt.Errorf("%w: %s holds %s", ErrFormatted, dir, old.Name())
	} else if err != nil && !errors.Is(err, ErrNotFormatted) && !reformat {
		return Label{}, fmt.Errorf("%w: %s: %w", ErrFormatted, dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return Label{}, mapErrno(err)
	}
	for _, e := range ents {
		owned := slices.Contains([]string{labelName, labelName + tmpSuffix, objectsName, probeName}, e.Name())
		switch {
		case owned && reformat:
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return Label{}, mapErrno(err)
			}
		case !owned && !reformat && e.Name() != "lost+found":
			return Label{}, fmt.Errorf("%w: %s holds %s", ErrNotEmpty, dir, e.Name())
		}
	}
	if l.UUID == "" {
		l.UUID = l.Name() + "_UUID"
	}
	var inst [16]byte
	if _, err := rand.Read(inst[:]); err != nil {
		return Label{}, err
	}
	l.Instance = hex.EncodeToString(inst[:])
	l.Format = FormatVersion
	xattrs, err := probeXattr(dir)
	if err != nil {
		return Label{}, err
	}
	switch {
	case l.Attrs == "" && xattrs:
		l.Attrs = AttrsXattr
	case l.Attrs == "":
		l.Attrs = AttrsFile
	case l.Attrs == AttrsXattr && !xattrs:
		return Label{}, fmt.Errorf("%w: %s does not take user xattrs", ErrInvalid, dir)
	}
	if err := os.Mkdir(filepath.Join(dir, objectsName), 0o755); err != nil {
		return Label{}, mapErrno(err)
	}
	b, err := encodeLabel(l)
	if err != nil {
		return Label{}, err
	}
	if err := writeFileAtomic(dir, labelName, b); err != nil {
		return Label{}, err
	}
	return l, nil
}

// probeXattr reports whether dir's file system stores user xattrs.
func probeXattr(dir string) (bool, error) {
	p := filepath.Join(dir, probeName)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return false, mapErrno(err)
	}
	defer os.Remove(p)
	defer f.Close()
	err = unix.Fsetxattr(int(f.Fd()), xattrName, []byte{0}, 0)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EPERM):
		return false, nil
	default:
		return false, mapErrno(err)
	}
}

// writeFileAtomic replaces dir/name with b durably: write a temporary file,
// fsync it, rename it over name, fsync dir.
func writeFileAtomic(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return mapErrno(err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return mapErrno(err)
	}
	return nil
}

// syncDir fsyncs a directory so the entries created or removed in it are
// durable.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return mapErrno(&os.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return mapErrno(&os.PathError{Op: "fsync", Path: dir, Err: err})
	}
	return nil
}
