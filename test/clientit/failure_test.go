package clientit

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
)

// TestOSTRestart stops the only OSS under a client: cached writes are
// accepted, fsync and reads wait while their context lives and never
// return wrong data, and once the OSS is back everything completes.
func TestOSTRestart(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1})
	fs := c.mount(t)
	ctx := tctx(t)
	f, fid, _, err := fs.Create(ctx, fs.Root(), "f", syscall.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	old := pattern(1<<20, 1)
	if _, err := f.WriteAt(ctx, old, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Fsync(ctx, false); err != nil {
		t.Fatal(err)
	}
	oss := c.oss[0]
	if err := oss.srv.Close(); err != nil {
		t.Fatal(err)
	}
	neu := pattern(64<<10, 2)
	done := make(chan error, 1)
	go func() {
		if _, err := f.WriteAt(ctx, neu, 0); err != nil {
			done <- err
			return
		}
		done <- f.Fsync(ctx, false)
	}()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	g, err := fs.Open(ctx, fid, syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 64<<10)
	if n, err := g.ReadAt(short, p, 512<<10); err == nil {
		t.Fatalf("read from a stopped OST returned %d bytes", n)
	}
	select {
	case err := <-done:
		t.Fatalf("write and fsync to a stopped OST ended: %v", err)
	default:
	}
	oss.start(t)
	if err := <-done; err != nil {
		t.Fatalf("fsync after the restart: %v", err)
	}
	if n, err := g.ReadAt(ctx, p, 0); err != nil || n != len(p) || !bytes.Equal(p, neu) {
		t.Fatalf("read after the restart: %d %v", n, err)
	}
	if n, err := g.ReadAt(ctx, p, 512<<10); err != nil || n != len(p) || !bytes.Equal(p, old[512<<10:576<<10]) {
		t.Fatalf("read after the restart: %d %v", n, err)
	}
	g.Release(ctx)
	if err := f.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUnmountWritesBack: data still cached in open files at unmount is
// written back, and another client reads it.
func TestUnmountWritesBack(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 2})
	cfg := c.clientConfig()
	cfg.MaxDirtyMB = 16
	fs := c.mountWith(t, cfg)
	ctx := tctx(t)
	f, fid := striped(t, fs, fs.Root(), "f", 2, 64<<10)
	data := pattern(3<<20+12345, 3)
	// Two writes, so that the second is cached (the first gets the grant).
	if _, err := f.WriteAt(ctx, data[:4096], 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(ctx, data[4096:], 4096); err != nil {
		t.Fatal(err)
	}
	if err := fs.Close(ctx); err != nil {
		t.Fatal(err)
	}
	other := c.mount(t)
	if a, err := other.GetAttr(ctx, fid); err != nil || a.Size != uint64(len(data)) {
		t.Fatalf("size %d (%v), want %d", a.Size, err, len(data))
	}
	g, err := other.Open(ctx, fid, syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release(ctx)
	p := make([]byte, len(data))
	if n, err := g.ReadAt(ctx, p, 0); err != nil || n != len(data) || !bytes.Equal(p, data) {
		t.Fatalf("read %d %v", n, err)
	}
}
