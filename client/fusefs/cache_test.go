package fusefs

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/wire"
)

// cachingFS is a memFS that lets the kernel keep every name (and every
// absence) and every attribute for an hour (as a backend holding locks on
// everything would), and drops them when a test says.
type cachingFS struct {
	*memFS
	mu    sync.Mutex
	inval MetaInvalidator
	// onCreate, if set, runs inside Create (as a lock callback arriving
	// while the kernel holds the directory for the create).
	onCreate atomic.Pointer[func()]
}

var (
	_ MetaCacher = (*cachingFS)(nil)
	_ MetaCacher = (*client.FS)(nil)
)

func (c *cachingFS) Cacheable(parent wire.FID, name string, fid wire.FID, a *wire.Attr) (time.Duration, time.Duration) {
	return time.Hour, time.Hour
}

func (c *cachingFS) SetMetaInvalidator(i MetaInvalidator) {
	c.mu.Lock()
	c.inval = i
	c.mu.Unlock()
}

func (c *cachingFS) invalidate(names []Dentry, fids []wire.FID) {
	c.mu.Lock()
	i := c.inval
	c.mu.Unlock()
	i.Invalidate(names, fids)
}

func (c *cachingFS) Create(ctx context.Context, parent wire.FID, name string, flags, mode uint32) (File, wire.FID, wire.Attr, error) {
	if f := c.onCreate.Load(); f != nil {
		(*f)()
	}
	return c.memFS.Create(ctx, parent, name, flags, mode)
}

// TestKernelKeepsWhatTheBackendCovers: names and attributes the backend
// says are covered are served by the kernel without asking it again,
// until it invalidates them; then the kernel asks, and sees the change.
// The directory is looked up again in between, so that the kernel's inode
// for it is found by its number, whichever lookup made it.
func TestKernelKeepsWhatTheBackendCovers(t *testing.T) {
	c := &cachingFS{memFS: newMemFS()}
	tm := mountBackend(t, c, c.memFS, Options{})
	bg := context.Background()
	must(t, "mkdir", os.Mkdir(tm.path("d"), 0o755))
	p := tm.path("d", "f")
	must(t, "create", os.WriteFile(p, nil, 0o644))
	st1, err := os.Stat(p)
	must(t, "stat", err)
	lookups, getattrs := c.callCount("lookup"), c.callCount("getattr")
	for range 3 {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("stat: %v", err)
		}
	}
	if l, g := c.callCount("lookup"), c.callCount("getattr"); l != lookups || g != getattrs {
		t.Fatalf("cached stats reached the backend: lookups %d -> %d, getattrs %d -> %d", lookups, l, getattrs, g)
	}
	d, _, err := c.memFS.Lookup(bg, wire.RootFID, "d")
	must(t, "backend lookup d", err)
	fid, _, err := c.memFS.Lookup(bg, d, "f")
	must(t, "backend lookup f", err)
	// The name d goes and is looked up again.
	c.invalidate([]Dentry{{Parent: wire.RootFID, Name: "d"}}, []wire.FID{d})
	tm.srv.fsys.meta.waitIdle()
	lookups = c.callCount("lookup")
	_, err = os.Stat(p)
	must(t, "stat", err)
	// Dropping a directory's name drops the names under it too.
	if c.callCount("lookup") != lookups+2 {
		t.Fatalf("%d lookups after d was invalidated, want 2 (d and f)", c.callCount("lookup")-lookups)
	}
	// Another "client" changes f's mode: the kernel keeps the old one
	// until the backend drops it.
	_, err = c.memFS.SetAttr(bg, fid, wire.Attr{Valid: wire.AttrMode, Mode: 0o600})
	must(t, "backend chmod", err)
	if st, _ := os.Stat(p); st.Mode().Perm() != st1.Mode().Perm() {
		t.Fatalf("mode %v before the invalidation: the kernel was not caching", st.Mode())
	}
	c.invalidate([]Dentry{{Parent: d, Name: "f"}}, []wire.FID{fid})
	tm.srv.fsys.meta.waitIdle()
	st, err := os.Stat(p)
	must(t, "stat after invalidation", err)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after the invalidation, want 0600", st.Mode())
	}
	// The attributes alone, through an open descriptor.
	fd, err := os.Open(p)
	must(t, "open", err)
	defer fd.Close()
	_, err = c.memFS.SetAttr(bg, fid, wire.Attr{Valid: wire.AttrMode, Mode: 0o640})
	must(t, "backend chmod", err)
	c.invalidate(nil, []wire.FID{fid})
	tm.srv.fsys.meta.waitIdle()
	if st, err := fd.Stat(); err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("fstat after an attribute invalidation: %v %v, want 0640", st.Mode(), err)
	}
	// A name removed behind the kernel's back goes too.
	must(t, "backend unlink", c.memFS.Unlink(bg, d, "f"))
	c.invalidate([]Dentry{{Parent: d, Name: "f"}}, []wire.FID{fid})
	tm.srv.fsys.meta.waitIdle()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("stat of an invalidated removed name: %v", err)
	}
}

// TestInvalidationFromInsideARequest: a backend that invalidates a name of
// the directory the kernel is creating in, from inside the create (a lock
// callback arriving then), does not deadlock: the notification waits for
// the create, which does not wait for it.
func TestInvalidationFromInsideARequest(t *testing.T) {
	c := &cachingFS{memFS: newMemFS()}
	tm := mountBackend(t, c, c.memFS, Options{})
	must(t, "create a", os.WriteFile(tm.path("a"), nil, 0o644))
	_, err := os.Stat(tm.path("a"))
	must(t, "stat a", err)
	inval := func() { c.invalidate([]Dentry{{Parent: wire.RootFID, Name: "a"}}, nil) }
	c.onCreate.Store(&inval)
	done := make(chan error, 1)
	go func() { done <- os.WriteFile(tm.path("b"), nil, 0o644) }()
	select {
	case err := <-done:
		must(t, "create b", err)
	case <-time.After(time.Minute):
		t.Fatal("create with an invalidation from inside it still running after a minute")
	}
	c.onCreate.Store(nil)
	tm.srv.fsys.meta.waitIdle()
	lookups := c.callCount("lookup")
	_, err = os.Stat(tm.path("a"))
	must(t, "stat a", err)
	if c.callCount("lookup") != lookups+1 {
		t.Fatalf("the invalidated name was not looked up again (%d lookups, had %d)", c.callCount("lookup"), lookups)
	}
}

// TestNothingCachedWithoutMetaCacher: a backend that is not a MetaCacher
// is asked every time.
func TestNothingCachedWithoutMetaCacher(t *testing.T) {
	tm := mount(t, nil, Options{})
	p := tm.path("f")
	must(t, "create", os.WriteFile(p, nil, 0o644))
	_, err := os.Stat(p)
	must(t, "stat", err)
	n := tm.m.callCount("lookup") + tm.m.callCount("getattr")
	_, err = os.Stat(p)
	must(t, "stat", err)
	if tm.m.callCount("lookup")+tm.m.callCount("getattr") == n {
		t.Fatal("a stat was answered by the kernel without a MetaCacher")
	}
}

// TestKernelKeepsAbsentNames: a name the backend answers ENOENT for, with
// an entry timeout for its absence, is kept by the kernel as a negative
// entry (negRaw): stats do not reach the backend, a name made behind the
// kernel's back stays unseen until the backend invalidates it.
func TestKernelKeepsAbsentNames(t *testing.T) {
	c := &cachingFS{memFS: newMemFS()}
	tm := mountBackend(t, c, c.memFS, Options{})
	bg := context.Background()
	must(t, "mkdir", os.Mkdir(tm.path("d"), 0o755))
	p := tm.path("d", "x")
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("stat of a missing name: %v", err)
	}
	lookups := c.callCount("lookup")
	for range 3 {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("stat of a missing name: %v", err)
		}
	}
	if l := c.callCount("lookup"); l != lookups {
		t.Fatalf("stats of a kernel-cached missing name reached the backend: lookups %d -> %d", lookups, l)
	}
	d, _, err := c.memFS.Lookup(bg, wire.RootFID, "d")
	must(t, "backend lookup d", err)
	_, _, err = c.memFS.Mkdir(bg, d, "x", 0o755)
	must(t, "backend mkdir", err)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("stat before the invalidation: %v: the kernel was not caching the absence", err)
	}
	c.invalidate([]Dentry{{Parent: d, Name: "x"}}, nil)
	tm.srv.fsys.meta.waitIdle()
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		t.Fatalf("stat after the invalidation: %v %v", st, err)
	}
}
