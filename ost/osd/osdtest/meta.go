package osdtest

import (
	"context"
	"errors"
	"io/fs"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

func metaCases() []testCase {
	return []testCase{
		{name: "Label", run: testLabel},
		{name: "CreateExists", run: testCreateExists},
		{name: "BadFID", run: testBadFID},
		{name: "NotFound", run: testNotFound},
		{name: "Attrs", run: testAttrs},
		{name: "AttrsTimesIfNewer", run: testAttrsIfNewer},
		{name: "AttrSize", run: testAttrSize},
		{name: "Destroy", run: testDestroy},
		{name: "Sync", run: testSync},
		{name: "Context", run: testContext},
		{name: "Closed", run: testClosed},
	}
}

func testLabel(t *testing.T, s osd.Store) {
	l := s.Label()
	if l.FSName == "" || l.UUID == "" || l.Format != osd.FormatVersion {
		t.Fatalf("label %+v: fsname, uuid or format missing", l)
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
}

// sampleAttr sets every stored field.
func sampleAttr() osd.Attr {
	return osd.Attr{
		UID: 500, GID: 501, ProjID: 7,
		Atime: time.Unix(1700000000, 123), Mtime: time.Unix(1700000100, 456), Ctime: time.Unix(1700000200, 789),
		FilterFID: osd.FilterFID{
			Parent: wire.FID{Seq: 0x200000401, Oid: 0x11f}, StripeIndex: 3, StripeCount: 4,
			StripeSize: 1 << 20, CompID: 2, CompStart: 1 << 20, CompEnd: 1<<64 - 1,
		},
		LayoutVersion: 9,
		Valid:         osd.SetMask,
	}
}

func wantStored(t *testing.T, what string, got, want osd.Attr) {
	t.Helper()
	if got.UID != want.UID || got.GID != want.GID || got.ProjID != want.ProjID ||
		!got.Atime.Equal(want.Atime) || !got.Mtime.Equal(want.Mtime) || !got.Ctime.Equal(want.Ctime) ||
		got.FilterFID != want.FilterFID || got.LayoutVersion != want.LayoutVersion || got.Valid != want.Valid {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testCreateExists(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	want := sampleAttr()
	if err := s.Create(ctx, f, want); err != nil {
		t.Fatal(err)
	}
	a := attr(t, s, f)
	if a.Size != 0 {
		t.Fatalf("new object: size %d", a.Size)
	}
	wantStored(t, "attributes given to Create", a, want)
	wantErr(t, "second Create", s.Create(ctx, f, osd.Attr{}), osd.ErrExists, syscall.EEXIST)

	// Without Valid, Create stores nothing, and the object takes no blocks.
	g := fid(2)
	create(t, s, g)
	a = attr(t, s, g)
	wantStored(t, "Create without Valid", a, osd.Attr{})
	if a.Size != 0 || a.Blocks != 0 {
		t.Fatalf("new object: size %d blocks %d", a.Size, a.Blocks)
	}
}

func testBadFID(t *testing.T, s osd.Store) {
	ctx := t.Context()
	for _, f := range []wire.FID{{Seq: testSeq}, {Seq: testSeq, Oid: 1, Ver: 1}} {
		wantErr(t, "Create "+f.String(), s.Create(ctx, f, osd.Attr{}), osd.ErrBadFID, syscall.EINVAL)
		_, err := s.ReadAt(ctx, f, make([]byte, 1), 0)
		wantErr(t, "ReadAt "+f.String(), err, osd.ErrBadFID, syscall.EINVAL)
		_, err = s.WriteAt(ctx, f, make([]byte, 1), 0)
		wantErr(t, "WriteAt "+f.String(), err, osd.ErrBadFID, syscall.EINVAL)
		wantErr(t, "Destroy "+f.String(), s.Destroy(ctx, f), osd.ErrBadFID, syscall.EINVAL)
	}
	_, _, err := s.Precreate(ctx, testSeq, 0)
	wantErr(t, "Precreate 0", err, osd.ErrInvalid, syscall.EINVAL)
}

func testNotFound(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(42)
	check := func(op string, err error) {
		t.Helper()
		wantErr(t, op, err, osd.ErrNotFound, syscall.ENOENT)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: %v is not fs.ErrNotExist", op, err)
		}
	}
	_, err := s.ReadAt(ctx, f, make([]byte, 10), 0)
	check("ReadAt", err)
	_, err = s.WriteAt(ctx, f, make([]byte, 10), 0)
	check("WriteAt", err)
	_, err = s.GetAttr(ctx, f)
	check("GetAttr", err)
	check("SetAttr", s.SetAttr(ctx, f, osd.Attr{UID: 1}, osd.AttrUID))
	check("Punch", s.Punch(ctx, f, 0, 10))
	check("Truncate", s.Truncate(ctx, f, 10))
	check("Destroy", s.Destroy(ctx, f))
	check("SyncObject", s.SyncObject(ctx, f))
	if n, err := s.LastID(ctx, 0x2ffffffff); n != 0 || err != nil {
		t.Fatalf("LastID of an unused sequence: %d %v", n, err)
	}
}

func testAttrs(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	write(t, s, f, pattern(8*kib, 8), 0)
	want := sampleAttr()
	if err := s.SetAttr(ctx, f, want, osd.SetMask); err != nil {
		t.Fatal(err)
	}
	got := attr(t, s, f)
	wantStored(t, "after SetAttr", got, want)
	if got.Size != 8*kib || got.Blocks*osd.BlockSize < 8*kib {
		t.Fatalf("size %d blocks %d after an 8 KiB write", got.Size, got.Blocks)
	}

	// A partial mask changes only its fields.
	if err := s.SetAttr(ctx, f, osd.Attr{UID: 1000, Mtime: time.Unix(5, 0)}, osd.AttrUID|osd.AttrMtime); err != nil {
		t.Fatal(err)
	}
	want.UID, want.Mtime = 1000, time.Unix(5, 0)
	wantStored(t, "after partial SetAttr", attr(t, s, f), want)

	// Fields set one at a time show up in Valid one at a time.
	g := fid(2)
	create(t, s, g)
	if err := s.SetAttr(ctx, g, osd.Attr{GID: 3}, osd.AttrGID); err != nil {
		t.Fatal(err)
	}
	wantStored(t, "one field", attr(t, s, g), osd.Attr{GID: 3, Valid: osd.AttrGID})
	if err := s.SetAttr(ctx, g, osd.Attr{LayoutVersion: 2}, osd.AttrLayoutVersion); err != nil {
		t.Fatal(err)
	}
	wantStored(t, "two fields", attr(t, s, g), osd.Attr{GID: 3, LayoutVersion: 2, Valid: osd.AttrGID | osd.AttrLayoutVersion})

	wantErr(t, "unknown mask bit", s.SetAttr(ctx, f, osd.Attr{}, 1<<30), osd.ErrInvalid, syscall.EINVAL)
	wantErr(t, "negative size", s.SetAttr(ctx, f, osd.Attr{Size: -1}, osd.AttrSize), osd.ErrInvalid, syscall.EINVAL)

	// A write leaves the stored times alone: clients send theirs.
	write(t, s, f, []byte("x"), 0)
	wantStored(t, "after write", attr(t, s, f), want)
}

func testAttrsIfNewer(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	t1, t2, t3 := time.Unix(100, 0), time.Unix(200, 0), time.Unix(300, 0)
	mask := osd.AttrMtime | osd.AttrCtime | osd.AttrTimesIfNewer
	// Unset times are always set.
	if err := s.SetAttr(ctx, f, osd.Attr{Mtime: t2, Ctime: t2}, mask); err != nil {
		t.Fatal(err)
	}
	// Older ones are ignored, newer ones taken, field by field.
	if err := s.SetAttr(ctx, f, osd.Attr{Mtime: t1, Ctime: t3}, mask); err != nil {
		t.Fatal(err)
	}
	a := attr(t, s, f)
	if !a.Mtime.Equal(t2) || !a.Ctime.Equal(t3) {
		t.Fatalf("mtime %v ctime %v, want %v %v", a.Mtime, a.Ctime, t2, t3)
	}
	// Without the flag, times move back too.
	if err := s.SetAttr(ctx, f, osd.Attr{Mtime: t1}, osd.AttrMtime); err != nil {
		t.Fatal(err)
	}
	if a := attr(t, s, f); !a.Mtime.Equal(t1) {
		t.Fatalf("mtime %v, want %v", a.Mtime, t1)
	}
}

func testAttrSize(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	model := pattern(32*kib, 9)
	write(t, s, f, model, 0)
	if err := s.SetAttr(ctx, f, osd.Attr{Size: 100, UID: 9}, osd.AttrSize|osd.AttrUID); err != nil {
		t.Fatal(err)
	}
	a := attr(t, s, f)
	if a.Size != 100 || a.UID != 9 {
		t.Fatalf("size %d uid %d, want 100 9", a.Size, a.UID)
	}
	wantBytes(t, "after SetAttr size", readEOF(t, s, f, 0, kib, 100), model[:100])
}

func testDestroy(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	write(t, s, f, pattern(64*kib, 10), 0)
	if err := s.SetAttr(ctx, f, sampleAttr(), osd.SetMask); err != nil {
		t.Fatal(err)
	}
	read(t, s, f, 0, 10) // the object is open now
	if err := s.Destroy(ctx, f); err != nil {
		t.Fatal(err)
	}
	_, err := s.ReadAt(ctx, f, make([]byte, 10), 0)
	wantErr(t, "ReadAt after Destroy", err, osd.ErrNotFound, syscall.ENOENT)
	wantErr(t, "second Destroy", s.Destroy(ctx, f), osd.ErrNotFound, syscall.ENOENT)

	// The same FID created again is a new, empty object.
	create(t, s, f)
	a := attr(t, s, f)
	if a.Size != 0 || a.Valid != 0 {
		t.Fatalf("recreated object: size %d valid %#x", a.Size, a.Valid)
	}
	readEOF(t, s, f, 0, 10, 0)
	write(t, s, f, []byte("new"), 0)
	wantBytes(t, "recreated", readEOF(t, s, f, 0, 10, 3), []byte("new"))
}

func testSync(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	write(t, s, f, pattern(4*kib, 11), 0)
	if err := s.SetAttr(ctx, f, osd.Attr{UID: 1}, osd.AttrUID); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncObject(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func testContext(t *testing.T, s osd.Store) {
	f := fid(1)
	create(t, s, f)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for op, err := range map[string]error{
		"Create":  s.Create(ctx, fid(2), osd.Attr{}),
		"Destroy": s.Destroy(ctx, f),
		"Punch":   s.Punch(ctx, f, 0, 1),
		"Sync":    s.Sync(ctx),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s with a cancelled context: %v", op, err)
		}
	}
	if _, err := s.ReadAt(ctx, f, make([]byte, 1), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAt with a cancelled context: %v", err)
	}
	if _, err := s.WriteAt(ctx, f, make([]byte, 1), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteAt with a cancelled context: %v", err)
	}
	if _, _, err := s.Precreate(ctx, testSeq, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Precreate with a cancelled context: %v", err)
	}
	attr(t, s, f) // still there
}

func testClosed(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.ReadAt(ctx, f, make([]byte, 1), 0)
	wantErr(t, "ReadAt after Close", err, osd.ErrClosed, syscall.ESHUTDOWN)
	_, err = s.WriteAt(ctx, f, make([]byte, 1), 0)
	wantErr(t, "WriteAt after Close", err, osd.ErrClosed, syscall.ESHUTDOWN)
	wantErr(t, "Create after Close", s.Create(ctx, fid(2), osd.Attr{}), osd.ErrClosed, syscall.ESHUTDOWN)
	_, err = s.StatFS(ctx)
	wantErr(t, "StatFS after Close", err, osd.ErrClosed, syscall.ESHUTDOWN)
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
