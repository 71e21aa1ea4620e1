package clientit

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/wire"
)

// mdcRPCs returns how many RPCs fs's MDCs sent (lctl get_param
// mdc.*.stats, every opcode).
func mdcRPCs(t *testing.T, fs *client.FS) uint64 { return rpcs(t, fs, "mdc.*.stats") }

// oscRPCs returns how many RPCs fs's OSCs sent.
func oscRPCs(t *testing.T, fs *client.FS) uint64 { return rpcs(t, fs, "osc.*.stats") }

func rpcs(t *testing.T, fs *client.FS, param string) uint64 {
	t.Helper()
	vals, err := fs.Node().Params.Get(param)
	if err != nil || len(vals) == 0 {
		t.Fatalf("mdc stats: %v %v", vals, err)
	}
	var n uint64
	for _, v := range vals {
		for _, line := range strings.Split(v.Value, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[2] == "samples" && f[3] == "[usec]" {
				c, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					t.Fatalf("stats line %q", line)
				}
				n += c
			}
		}
	}
	return n
}

// Attributes and names are cached under inode-bits locks: a repeated
// stat costs no RPC, and every change made on another client is seen at
// once (its lock was called back first).
func TestMetadataCacheUnderLocks(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1})
	a, b := c.mount(t), c.mount(t)
	ctx := tctx(t)
	dir, _, err := a.Mkdir(ctx, a.Root(), "d", 0o755)
	must(t, err)
	fid, _, err := a.Mknod(ctx, dir, "f", syscall.S_IFREG|0o644, 0)
	must(t, err)
	stat := func() wire.Attr {
		t.Helper()
		d, _, err := b.Lookup(ctx, b.Root(), "d")
		must(t, err)
		f, _, err := b.Lookup(ctx, d, "f")
		must(t, err)
		attr, err := b.GetAttr(ctx, f)
		must(t, err)
		return attr
	}
	// The first stat takes the locks in the background, a later one
	// caches under them; from then on a stat sends nothing.
	cached := false
	for range 100 {
		before := mdcRPCs(t, b)
		if got := stat(); got.Mode&0o7777 != 0o644 {
			t.Fatalf("mode %o", got.Mode)
		}
		if mdcRPCs(t, b) == before {
			cached = true
			break
		}
	}
	if !cached {
		t.Fatal("100 stats in a row, each sent MDC RPCs")
	}
	before := mdcRPCs(t, b)
	stat()
	if n := mdcRPCs(t, b) - before; n != 0 {
		t.Errorf("a cached stat sent %d MDC RPCs", n)
	}
	_, err = a.SetAttr(ctx, fid, wire.Attr{Valid: wire.AttrMode, Mode: 0o600})
	must(t, err)
	if got := stat(); got.Mode&0o7777 != 0o600 {
		t.Errorf("b sees mode %o after a's chmod", got.Mode&0o7777)
	}
	must(t, a.Rename(ctx, dir, "f", dir, "g", 0))
	d, _, err := b.Lookup(ctx, b.Root(), "d")
	must(t, err)
	if _, _, err := b.Lookup(ctx, d, "f"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("b looks up the renamed name: %v", err)
	}
	g, _, err := b.Lookup(ctx, d, "g")
	must(t, err)
	if g != fid {
		t.Errorf("b finds %v under the new name, want %v", g, fid)
	}
	// b caches the new name (the lock is taken in the background), then
	// a unlinks it.
	cached = false
	for range 100 {
		before := mdcRPCs(t, b)
		_, _, err = b.Lookup(ctx, d, "g")
		must(t, err)
		if mdcRPCs(t, b) == before {
			cached = true
			break
		}
	}
	if !cached {
		t.Fatal("the renamed file's name was never cached")
	}
	must(t, a.Unlink(ctx, dir, "g"))
	if _, _, err := b.Lookup(ctx, d, "g"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("b looks up the unlinked name: %v", err)
	}
	// A search permission taken away is seen at once, for a cached name.
	h, _, err := a.Mknod(ctx, dir, "h", syscall.S_IFREG|0o644, 0)
	must(t, err)
	alice := client.WithCreds(ctx, client.Creds{UID: 1000, GID: 1000})
	cached = false
	for range 100 {
		before := mdcRPCs(t, b)
		got, _, err := b.Lookup(alice, d, "h")
		must(t, err)
		if got != h {
			t.Fatalf("lookup h: %v", got)
		}
		if mdcRPCs(t, b) == before {
			cached = true
			break
		}
	}
	if !cached {
		t.Fatal("h never cached")
	}
	_, err = a.SetAttr(ctx, dir, wire.Attr{Valid: wire.AttrMode, Mode: 0o700})
	must(t, err)
	if _, _, err := b.Lookup(alice, d, "h"); !errors.Is(err, syscall.EACCES) {
		t.Errorf("alice looks up in a directory she may no longer search: %v", err)
	}
	vals, err := b.Node().Params.Get("ldlm.namespaces.*-mdc-*.lock_count")
	if err != nil || len(vals) != 1 || vals[0].Value == "0" {
		t.Errorf("lock_count: %v %v", vals, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Intent locks: a lookup takes the lock with its one RPC (MDS_GETATTR_NAME
// carries the lock request), and so does the open that creates a file, so
// the creator's next lookup and stat of it send nothing to the MDT, and
// another client's first lookup of a name in a known directory costs one
// RPC, its next ones none.
func TestIntentLocks(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1})
	a, b := c.mount(t), c.mount(t)
	ctx := tctx(t)
	dir, _, err := a.Mkdir(ctx, a.Root(), "d", 0o755)
	must(t, err)
	f, fid, _, err := a.Create(ctx, dir, "f", syscall.O_CREAT|syscall.O_WRONLY, 0o644)
	must(t, err)
	must(t, f.Release(ctx))
	before, obefore := mdcRPCs(t, a), oscRPCs(t, a)
	got, _, err := a.Lookup(ctx, dir, "f")
	must(t, err)
	attr, err := a.GetAttr(ctx, fid)
	must(t, err)
	// The creator knows the new file is empty: no glimpse either.
	if n, o := mdcRPCs(t, a)-before, oscRPCs(t, a)-obefore; n != 0 || o != 0 || got != fid || attr.Size != 0 {
		t.Errorf("the creator's lookup and stat of its new file: %v size %d, %d MDC RPCs, %d OST RPCs",
			got, attr.Size, n, o)
	}
	d, _, err := b.Lookup(ctx, b.Root(), "d")
	must(t, err)
	before = mdcRPCs(t, b)
	got, _, err = b.Lookup(ctx, d, "f")
	must(t, err)
	if n := mdcRPCs(t, b) - before; n != 1 || got != fid {
		t.Errorf("another client's first lookup: %v, %d MDC RPCs, want 1", got, n)
	}
	before = mdcRPCs(t, b)
	_, _, err = b.Lookup(ctx, d, "f")
	must(t, err)
	_, err = b.GetAttr(ctx, fid)
	must(t, err)
	if n := mdcRPCs(t, b) - before; n != 0 {
		t.Errorf("its next lookup and stat: %d MDC RPCs", n)
	}
	// Another client's write: the creator learns the size from the objects.
	w, err := b.Open(ctx, fid, syscall.O_WRONLY)
	must(t, err)
	if _, err := w.WriteAt(ctx, []byte("0123456789"), 0); err != nil {
		t.Fatal(err)
	}
	must(t, w.Flush(ctx))
	if attr, err := a.GetAttr(ctx, fid); err != nil || attr.Size != 10 {
		t.Errorf("the creator sees size %d after another client wrote 10 bytes (%v)", attr.Size, err)
	}
	must(t, w.Release(ctx))
	// And its own writes, to a file it created.
	f, fid2, _, err := a.Create(ctx, dir, "f2", syscall.O_CREAT|syscall.O_RDWR, 0o644)
	must(t, err)
	if _, err := f.WriteAt(ctx, []byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	if attr, err := a.GetAttr(ctx, fid2); err != nil || attr.Size != 3 {
		t.Errorf("the creator sees size %d after writing 3 bytes (%v)", attr.Size, err)
	}
	must(t, f.Release(ctx))
	if attr, err := a.GetAttr(ctx, fid2); err != nil || attr.Size != 3 {
		t.Errorf("the creator sees size %d after writing 3 bytes and closing (%v)", attr.Size, err)
	}
	if attr, err := b.GetAttr(ctx, fid2); err != nil || attr.Size != 3 {
		t.Errorf("another client sees size %d after the creator wrote 3 bytes (%v)", attr.Size, err)
	}
	// The lock is called back by a change as any other.
	_, err = a.SetAttr(ctx, fid, wire.Attr{Valid: wire.AttrMode, Mode: 0o600})
	must(t, err)
	if attr, err := b.GetAttr(ctx, fid); err != nil || attr.Mode&0o7777 != 0o600 {
		t.Errorf("b sees mode %o after a's chmod (%v)", attr.Mode&0o7777, err)
	}
	must(t, a.Unlink(ctx, dir, "f"))
	if _, _, err := b.Lookup(ctx, d, "f"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("b looks up the unlinked name: %v", err)
	}
	// Unlinking a file whose lock it holds, a client gives the lock up
	// with the request: the MDT calls nothing back.
	f, _, _, err = a.Create(ctx, dir, "f3", syscall.O_CREAT|syscall.O_WRONLY, 0o644)
	must(t, err)
	must(t, f.Release(ctx))
	asts := c.mds.Namespace().Stats().BLASTs
	must(t, a.Unlink(ctx, dir, "f3"))
	if n := c.mds.Namespace().Stats().BLASTs - asts; n != 0 {
		t.Errorf("unlink of a name the client caches: %d blocking callbacks", n)
	}
	if _, _, err := a.Lookup(ctx, dir, "f3"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("a looks up the name it unlinked: %v", err)
	}
}
