package mdd

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/wire"
)

func TestReaddirBasics(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, wire.RootFID, "d", 0o700)
	sub := e.mkdir(alice, d.FID, "sub", 0o755)
	f := e.create(alice, d.FID, "f")
	ents, eof, err := e.m.Readdir(ctx, alice, d.FID, 0, 10)
	mustOK(t, "readdir", err)
	if !eof || len(ents) != 4 {
		t.Fatalf("entries %+v eof %v", ents, eof)
	}
	if ents[0].Name != "." || ents[0].FID != d.FID || ents[0].Cookie != 1 ||
		ents[1].Name != ".." || ents[1].FID != wire.RootFID || ents[1].Cookie != 2 {
		t.Fatalf("dot entries %+v", ents[:2])
	}
	types := map[string]uint8{}
	for _, en := range ents[2:] {
		types[en.Name] = en.Type
		if en.Cookie <= 2 {
			t.Fatalf("cookie %d", en.Cookie)
		}
	}
	if types["sub"] != syscall.DT_DIR || types["f"] != syscall.DT_REG {
		t.Fatalf("types %v", types)
	}
	_ = sub
	_ = f
	// One entry at a time, "." and ".." included.
	var names []string
	cookie := uint64(0)
	for range 10 {
		ents, eof, err := e.m.Readdir(ctx, alice, d.FID, cookie, 1)
		mustOK(t, "readdir 1", err)
		for _, en := range ents {
			names = append(names, en.Name)
			cookie = en.Cookie
		}
		if eof {
			break
		}
	}
	if len(names) != 4 || names[0] != "." || names[1] != ".." {
		t.Fatalf("one at a time: %v", names)
	}
	_, _, err = e.m.Readdir(ctx, bob, d.FID, 0, 10)
	wantErrno(t, "readdir without read permission", err, syscall.EACCES)
	_, _, err = e.m.Readdir(ctx, alice, f.FID, 0, 10)
	wantErrno(t, "readdir of a file", err, syscall.ENOTDIR)
	_, _, err = e.m.Readdir(ctx, alice, d.FID, 0, 0)
	wantErrno(t, "readdir of 0 entries", err, syscall.EINVAL)
	_, _, err = e.m.Readdir(ctx, alice, wire.FID{Seq: wire.SeqNormalStart, Oid: 999}, 0, 10)
	wantErrno(t, "readdir of missing", err, syscall.ENOENT)
}

// TestReaddirCookiesUnderChange lists a directory in small batches while
// names are inserted and removed between batches: every name present for
// the whole listing is returned exactly once, and no name twice.
func TestReaddirCookiesUnderChange(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(root, wire.RootFID, "d", 0o755)
	stable := map[string]bool{}
	for i := range 60 {
		n := fmt.Sprintf("stable-%d", i)
		e.create(root, d.FID, n)
		stable[n] = true
	}
	for i := range 30 {
		e.create(root, d.FID, fmt.Sprintf("doomed-%d", i))
	}
	seen := map[string]int{}
	cookie, batch, added := uint64(0), 0, 0
	for {
		ents, eof, err := e.m.Readdir(ctx, root, d.FID, cookie, 7)
		mustOK(t, "readdir", err)
		for _, en := range ents {
			seen[en.Name]++
			cookie = en.Cookie
		}
		if eof {
			break
		}
		// Between batches: remove a doomed name, add new ones.
		if batch < 30 {
			_, _, err := e.m.Unlink(ctx, root, d.FID, fmt.Sprintf("doomed-%d", batch))
			mustOK(t, "unlink", err)
		}
		for range 3 {
			e.create(root, d.FID, fmt.Sprintf("new-%d", added))
			added++
		}
		batch++
		if batch > 1000 {
			t.Fatal("readdir does not end")
		}
	}
	for n := range stable {
		if seen[n] != 1 {
			t.Errorf("stable %q seen %d times", n, seen[n])
		}
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("%q seen %d times", n, c)
		}
	}
	if seen["."] != 1 || seen[".."] != 1 || batch < 10 {
		t.Fatalf("dots %d %d, %d batches", seen["."], seen[".."], batch)
	}
}
