package clientit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// A randomized mix of metadata changes, lookups, stats and flocks from
// two clients on a few names neither deadlocks nor leaves the clients
// disagreeing: once both are done, every name looks up to the same object
// with the same mode on both, as the MDT has it.
func TestMetadataRandomMix(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1})
	clients := []*client.FS{c.mount(t), c.mount(t)}
	ctx := tctx(t)
	dir, _, err := clients[0].Mkdir(ctx, clients[0].Root(), "mix", 0o755)
	must(t, err)
	names := []string{"a", "b", "c", "d"}
	benign := func(err error) bool {
		for _, e := range []syscall.Errno{syscall.ENOENT, syscall.EEXIST, syscall.EAGAIN, syscall.EISDIR,
			syscall.ENOTDIR, syscall.ENOTEMPTY, syscall.EINVAL} {
			if errors.Is(err, e) {
				return true
			}
		}
		return err == nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for ci, fs := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(ci), 42))
			for i := range 300 {
				name, other := names[r.IntN(len(names))], names[r.IntN(len(names))]
				var err error
				switch r.IntN(8) {
				case 0:
					_, _, err = fs.Mknod(ctx, dir, name, syscall.S_IFREG|0o644, 0)
				case 1:
					err = fs.Unlink(ctx, dir, name)
				case 2:
					err = fs.Rename(ctx, dir, name, dir, other, 0)
				case 3:
					var f wire.FID
					if f, _, err = fs.Lookup(ctx, dir, name); err == nil {
						_, err = fs.SetAttr(ctx, f, wire.Attr{Valid: wire.AttrMode, Mode: uint32(0o600 + r.IntN(0o100))})
					}
				case 4:
					var f wire.FID
					if f, _, err = fs.Lookup(ctx, dir, name); err == nil {
						owner := uint64(ci + 1)
						_, err = fs.Flock(ctx, f, ldlm.FlockSet, ldlm.Flock{Mode: wire.LockPW, End: wire.LockEOF, Owner: owner})
						if err == nil {
							_, err = fs.Flock(ctx, f, ldlm.FlockSet, ldlm.Flock{Mode: wire.LockNL, End: wire.LockEOF, Owner: owner})
						}
					}
				default:
					var f wire.FID
					if f, _, err = fs.Lookup(ctx, dir, name); err == nil {
						_, err = fs.GetAttr(ctx, f)
					}
				}
				if !benign(err) {
					errs <- fmt.Errorf("client %d step %d: %w", ci, i, err)
					return
				}
				if ctx.Err() != nil {
					errs <- fmt.Errorf("client %d step %d: %w", ci, i, ctx.Err())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, name := range names {
		type view struct {
			fid  wire.FID
			mode uint32
			err  bool
		}
		var views []view
		for _, fs := range clients {
			for range 2 { // from the MDT, then from the cache
				f, a, err := fs.Lookup(ctx, dir, name)
				var v view
				if err != nil {
					v.err = errors.Is(err, syscall.ENOENT)
					if !v.err {
						t.Fatal(err)
					}
				} else {
					v.fid, v.mode = f, a.Mode
					if a2, err := fs.GetAttr(ctx, f); err != nil || a2.Mode != a.Mode {
						t.Errorf("%s: lookup says mode %o, getattr %o (%v)", name, a.Mode, a2.Mode, err)
					}
				}
				views = append(views, v)
			}
		}
		for _, v := range views[1:] {
			if v != views[0] {
				t.Errorf("%s: the clients disagree: %+v", name, views)
				break
			}
		}
	}
}
