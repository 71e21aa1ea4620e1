package clientit

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// flock(2)/fcntl(2) locks of two mounts on one file exclude each other
// through the MDT's FLOCK locks; an interrupted wait gives up; the mount's
// lock namespace has its ldlm.namespaces parameters.
func TestFlockTwoMounts(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1})
	a, b := c.mount(t), c.mount(t)
	ctx := tctx(t)
	fid, _, err := a.Mknod(ctx, a.Root(), "locked", syscall.S_IFREG|0o644, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Both cache the file's attributes under inode-bits locks: flocks
	// live beside them, on a resource of their own.
	if _, err := a.GetAttr(ctx, fid); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetAttr(ctx, fid); err != nil {
		t.Fatal(err)
	}
	wr := func(owner uint64, s, e uint64) ldlm.Flock {
		return ldlm.Flock{Mode: wire.LockPW, Start: s, End: e, PID: uint32(owner), Owner: owner}
	}
	if _, err := a.Flock(ctx, fid, ldlm.FlockSet, wr(7, 0, 99)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flock(ctx, fid, ldlm.FlockSet, wr(7, 50, 50)); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("b's conflicting F_SETLK: %v", err)
	}
	got, err := b.Flock(ctx, fid, ldlm.FlockTest, wr(7, 0, wire.LockEOF))
	if err != nil || got.Mode != wire.LockPW || got.End != 99 {
		t.Fatalf("b's F_GETLK: %+v %v", got, err)
	}
	// Past a's range there is no conflict.
	if _, err := b.Flock(ctx, fid, ldlm.FlockSet, wr(7, 100, 199)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := b.Flock(wctx, fid, ldlm.FlockWait, wr(7, 0, 9))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, syscall.EINTR) && !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted F_SETLKW: %v", err)
	}
	// a unlocks: b's F_SETLKW is granted.
	if _, err := a.Flock(ctx, fid, ldlm.FlockSet, ldlm.Flock{Mode: wire.LockNL, End: wire.LockEOF, Owner: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flock(ctx, fid, ldlm.FlockWait, wr(7, 0, 9)); err != nil {
		t.Fatal(err)
	}
	vals, err := b.Node().Params.Get("ldlm.namespaces.*-mdc-*.lru_size")
	if err != nil || len(vals) != 1 || !strings.HasPrefix(vals[0].Name, "ldlm.namespaces."+fsname+"-MDT0000-mdc-") {
		t.Fatalf("lru_size: %v %v", vals, err)
	}
}
