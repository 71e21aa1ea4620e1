package fusefs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/wire"
)

// Tests that need no mount.

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.FsName != "stria" || o.Subtype != "stria" || o.MaxWrite != 1<<20 || o.ReadAhead != 4<<20 ||
		o.MaxBackground != 64 || o.Logger == nil || o.EntryTimeout != 0 || o.AttrTimeout != 0 {
		t.Errorf("defaults %+v", o)
	}
	for _, bad := range []Options{
		{MaxWrite: 2 << 20}, {MaxWrite: 100}, {ReadAhead: -2}, {MaxBackground: -1},
		{EntryTimeout: -time.Second}, {AttrTimeout: -1}, {NegativeTimeout: -1},
	} {
		if _, err := bad.withDefaults(); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%+v: %v, want ErrBadOptions", bad, err)
		}
	}
}

func TestParseGroups(t *testing.T) {
	status := "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 1000 \nNgid:\t0\n"
	if got := parseGroups([]byte(status)); !slices.Equal(got, []uint32{4, 24, 1000}) {
		t.Errorf("groups %v", got)
	}
	if got := parseGroups([]byte("Groups:\t\nPid:\t1\n")); got != nil {
		t.Errorf("no groups: %v", got)
	}
	if got := parseGroups([]byte("Groups:\tx\n")); got != nil {
		t.Errorf("garbage: %v", got)
	}
	if got := parseGroups(nil); got != nil {
		t.Errorf("empty: %v", got)
	}
}

func TestToErrno(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	fsys := &fileSystem{log: zap.New(core)}
	fid := wire.FID{Seq: wire.SeqNormalStart, Oid: 7}
	for _, c := range []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{syscall.ENOENT, syscall.ENOENT},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", syscall.ENOTEMPTY)), syscall.ENOTEMPTY},
		{wire.Errno(syscall.EDQUOT).Err(), syscall.EDQUOT},
		{errors.Join(errors.New("x"), syscall.EXDEV), syscall.EXDEV},
		{context.Canceled, syscall.EINTR},
		{context.DeadlineExceeded, syscall.EINTR},
		{syscall.Errno(0), syscall.EIO},
		{errors.New("surprise"), syscall.EIO},
	} {
		if got := fsys.toErrno(c.err, "op", fid); got != c.want {
			t.Errorf("toErrno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if n := logs.Len(); n != 2 {
		t.Errorf("%d errors logged, want the 2 that became EIO", n)
	}
	for _, e := range logs.All() {
		if e.ContextMap()["fid"] != fid.String() {
			t.Errorf("logged without the fid: %v", e.ContextMap())
		}
	}
}

func TestMayAccess(t *testing.T) {
	a := &wire.Attr{Mode: syscall.S_IFREG | 0640, UID: 10, GID: 20}
	for _, c := range []struct {
		uid, gid uint32
		groups   []uint32
		mask     uint32
		want     bool
	}{
		{10, 99, nil, 6, true},
		{10, 99, nil, 1, false},
		{11, 20, nil, 4, true},
		{11, 20, nil, 2, false},
		{11, 99, []uint32{20}, 4, true},
		{11, 99, nil, 4, false},
		{0, 0, nil, 6, true},
		{0, 0, nil, 1, false},
		{11, 99, nil, 0, true},
	} {
		cr := credsOf(c.uid, c.gid, c.groups)
		if got := mayAccess(cr, a, c.mask); got != c.want {
			t.Errorf("%+v on %o %d:%d: %v", c, a.Mode, a.UID, a.GID, got)
		}
	}
	dir := &wire.Attr{Mode: syscall.S_IFDIR}
	if !mayAccess(credsOf(0, 0, nil), dir, 1) {
		t.Error("root may search any directory")
	}
}

// TestReleaseAll checks that files the kernel never released are released
// when serving ends, and only once.
func TestReleaseAll(t *testing.T) {
	m := newMemFS()
	fsys := &fileSystem{b: m, log: zap.NewNop(), open: map[*handle]struct{}{}}
	ctx := context.Background()
	f, fid, _, err := m.Create(ctx, m.Root(), "f", syscall.O_RDWR, 0644)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{fsys: fsys, fid: fid}
	h1, _ := fsys.newHandle(n, f, syscall.O_RDWR)
	f2, _ := m.Open(ctx, fid, syscall.O_RDONLY)
	fsys.newHandle(n, f2, syscall.O_RDONLY)
	if e := h1.Release(ctx); e != 0 {
		t.Fatal(e)
	}
	fsys.releaseAll(ctx)
	if e := h1.Release(ctx); e != 0 {
		t.Fatal(e)
	}
	if opens, released := m.openCounts(); opens != 2 || released != 2 {
		t.Errorf("%d opens, %d releases", opens, released)
	}
}

func credsOf(uid, gid uint32, groups []uint32) client.Creds {
	return client.Creds{UID: uid, GID: gid, Groups: groups}
}
