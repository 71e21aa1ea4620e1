package osd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/wire"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"
)

func newDir(t *testing.T, attrs string, opts Options) (*Dir, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := Format(dir, Label{FSName: "testfs", Attrs: attrs}, false); err != nil {
		t.Fatal(err)
	}
	opts.Logger = zaptest.NewLogger(t)
	d, err := OpenDir(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir
}

func TestDirLayout(t *testing.T) {
	for _, attrs := range []string{AttrsXattr, AttrsFile} {
		t.Run(attrs, func(t *testing.T) {
			d, dir := newDir(t, attrs, Options{})
			ctx := t.Context()
			f := wire.FID{Seq: 0x2c0000400, Oid: 0x25}
			if err := d.Create(ctx, f, Attr{UID: 7, Valid: AttrUID}); err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(dir, "O", "2c0000400", "d5", "25")
			if d.Path(f) != want {
				t.Fatalf("Path = %s, want %s", d.Path(f), want)
			}
			if _, err := os.Stat(want); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "O", "2c0000400", "LAST_ID"))
			if err != nil || len(b) != 8 || binary.LittleEndian.Uint64(b) != 0x25 {
				t.Fatalf("LAST_ID = %x, %v", b, err)
			}
			sidecar := want + attrSuffix
			_, serr := os.Stat(sidecar)
			_, xerr := unix.Getxattr(want, xattrName, nil)
			if attrs == AttrsXattr && (xerr != nil || serr == nil) {
				t.Fatalf("xattr mode: getxattr %v, sidecar %v", xerr, serr)
			}
			if attrs == AttrsFile && (xerr == nil || serr != nil) {
				t.Fatalf("file mode: getxattr %v, sidecar %v", xerr, serr)
			}

			// Strangers in the fan-out directories are not objects.
			for _, name := range []string{"zzz", "045", "26", "25.tmp"} {
				if err := os.WriteFile(filepath.Join(dir, "O", "2c0000400", "d5", name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var got []wire.FID
			if err := d.List(ctx, f.Seq, func(f wire.FID) error { got = append(got, f); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != f {
				t.Fatalf("List = %v, want [%v]", got, f)
			}
		})
	}
}

func TestDirFDCacheBound(t *testing.T) {
	d, _ := newDir(t, "", Options{MaxOpenFiles: 4})
	ctx := t.Context()
	for i := uint32(1); i <= 50; i++ {
		f := wire.FID{Seq: 0x2c0000400, Oid: i}
		if err := d.Create(ctx, f, Attr{}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.WriteAt(ctx, f, []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		if n := d.fds.len(); n > 4 {
			t.Fatalf("%d files open with a bound of 4", n)
		}
	}
}

func TestDirCorruptAttr(t *testing.T) {
	d, _ := newDir(t, AttrsXattr, Options{})
	ctx := t.Context()
	f := wire.FID{Seq: 0x2c0000400, Oid: 1}
	if err := d.Create(ctx, f, Attr{}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(d.Path(f), xattrName, []byte("garbage"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := d.GetAttr(ctx, f)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, syscall.EUCLEAN) {
		t.Fatalf("GetAttr of a corrupt record: %v", err)
	}
}

func TestDirCorruptLastID(t *testing.T) {
	d, dir := newDir(t, "", Options{})
	ctx := t.Context()
	seq := uint64(0x2c0000400)
	if _, _, err := d.Precreate(ctx, seq, 1); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := os.WriteFile(filepath.Join(dir, "O", "2c0000400", "LAST_ID"), []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, _, err := d.Precreate(ctx, seq, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Precreate over a torn LAST_ID: %v", err)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		err   *Error
		errno syscall.Errno
	}{
		{ErrNotFound, syscall.ENOENT}, {ErrExists, syscall.EEXIST}, {ErrNoSpace, syscall.ENOSPC},
		{ErrQuota, syscall.EDQUOT}, {ErrBadFID, syscall.EINVAL}, {ErrTooBig, syscall.EFBIG},
		{ErrClosed, syscall.ESHUTDOWN}, {ErrNotFormatted, syscall.ENODEV}, {ErrSeqExhausted, syscall.ENOSPC},
	} {
		w := fmt.Errorf("op: %w", c.err)
		var e syscall.Errno
		if !errors.Is(w, c.errno) || !errors.As(w, &e) || e != c.errno || c.err.Errno() != c.errno {
			t.Errorf("%v does not map to %v", c.err, c.errno)
		}
	}
	if !errors.Is(ErrNotFound, fs.ErrNotExist) || errors.Is(ErrExists, syscall.ENOENT) {
		t.Error("errno matching is loose")
	}
	if errors.Is(ErrNoSpace, ErrQuota) {
		t.Error("distinct sentinels match each other")
	}
}

func TestMapErrno(t *testing.T) {
	for errno, want := range map[syscall.Errno]error{
		syscall.ENOSPC: ErrNoSpace, syscall.EDQUOT: ErrQuota, syscall.ENOENT: ErrNotFound,
		syscall.EEXIST: ErrExists, syscall.EFBIG: ErrTooBig, syscall.EROFS: ErrReadOnly, syscall.EIO: ErrIO,
	} {
		err := mapErrno(&os.PathError{Op: "write", Path: "x", Err: errno})
		if !errors.Is(err, want) || !errors.Is(err, errno) {
			t.Errorf("%v mapped to %v", errno, err)
		}
	}
	err := mapErrno(&os.PathError{Op: "open", Path: "x", Err: syscall.EPERM})
	var pe *os.PathError
	if !errors.Is(err, syscall.EPERM) || !errors.As(err, &pe) {
		t.Errorf("EPERM passed through as %v", err)
	}
	if mapErrno(nil) != nil {
		t.Error("nil mapped to an error")
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestDirNoFDLeak: after Close, every descriptor the store opened is closed.
func TestDirNoFDLeak(t *testing.T) {
	before := openFDs(t)
	dir := t.TempDir()
	if _, err := Format(dir, Label{FSName: "testfs"}, false); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir, Options{MaxOpenFiles: 8, Capacity: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := uint32(1); i <= 20; i++ {
		f := wire.FID{Seq: 0x2c0000400, Oid: i}
		if err := d.Create(ctx, f, Attr{UID: 1, Valid: AttrUID}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.WriteAt(ctx, f, []byte("data"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := d.GetAttr(ctx, f); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := d.Destroy(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := d.Precreate(ctx, 0x2c0000401, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DestroyOrphans(ctx, 0x2c0000401, 5); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Fatalf("%d descriptors open before, %d after Close", before, after)
	}
}

// TestOneServerAtATime: a target open in one store is refused to a second
// (two OSS processes on the same directories), and free again once closed.
func TestOneServerAtATime(t *testing.T) {
	d, dir := newDir(t, AttrsXattr, Options{})
	if _, err := OpenDir(dir, Options{}); !errors.Is(err, ErrLocked) || !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("second OpenDir of a target in use: %v, want ErrLocked (EBUSY)", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := OpenDir(dir, Options{})
	if err != nil {
		t.Fatalf("OpenDir after Close: %v", err)
	}
	d2.Close()
}
